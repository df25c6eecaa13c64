//! Where do records end in a stream of JSON Lines or CSV bytes? The one
//! record cutter, used by the import pipeline's splitter thread and by
//! [`csv_event::Reader`].
//!
//! A [`Cutter`] is fed the input's bytes as they are read and hands out
//! pieces that each start and end at a record boundary (a line feed for
//! JSON Lines; a line feed outside a quoted cell for CSV, found by
//! [`Splitter`]), each with the line number it starts on. A CSV header row
//! is taken off first, whole, before any record.
//!
//! [`csv_event::Reader`]: crate::csv_event::Reader

/// Record boundaries of one format.
#[derive(Debug)]
enum Boundaries {
    Lines,
    Csv {
        /// Finds the end of the header row; `None` once it was taken.
        header: Option<Splitter>,
        records: Splitter,
    },
}

/// Text cut at record boundaries, starting on line `first_line`.
#[derive(Debug)]
pub(crate) struct Piece {
    pub(crate) first_line: u64,
    pub(crate) text: Vec<u8>,
}

/// Collects text and cuts it at record boundaries (see the module docs).
#[derive(Debug)]
pub(crate) struct Cutter {
    bounds: Boundaries,
    /// Text not handed out yet; it starts at a record boundary on `line`.
    pending: Vec<u8>,
    line: u64,
    /// The part of `pending` scanned for record boundaries, the line feeds
    /// in it, and the last boundary in it.
    scanned: usize,
    newlines: u64,
    boundary: Option<usize>,
    /// Room to keep after a cut for the text that follows (about a read).
    reserve: usize,
}

impl Cutter {
    /// A cutter for CSV (`csv`: a header row first) or JSON Lines text,
    /// reserving room for `reserve` more bytes after each cut.
    pub(crate) fn new(csv: bool, reserve: usize) -> Cutter {
        let bounds = if csv {
            Boundaries::Csv {
                header: Some(Splitter::default()),
                records: Splitter::default(),
            }
        } else {
            Boundaries::Lines
        };
        Cutter {
            bounds,
            pending: Vec::new(),
            line: 1,
            scanned: 0,
            newlines: 0,
            boundary: None,
            reserve,
        }
    }

    /// Adds text that continues what came before.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        self.scan();
    }

    /// Scans the new text for boundaries (records only: not while a CSV
    /// header row is still incomplete).
    fn scan(&mut self) {
        if self.scanned >= self.pending.len() {
            return;
        }
        let new = self.pending.get(self.scanned..).unwrap_or_default();
        let found = match &mut self.bounds {
            Boundaries::Csv {
                header: Some(_), ..
            } => return,
            Boundaries::Lines => memchr::memrchr(b'\n', new).map(|k| k + 1),
            Boundaries::Csv { records, .. } => records.last_boundary(new),
        };
        self.newlines += memchr::memchr_iter(b'\n', new).count() as u64;
        if let Some(k) = found {
            self.boundary = Some(self.scanned + k);
        }
        self.scanned = self.pending.len();
    }

    /// CSV: takes the header row off once it is complete (at `eof`, all the
    /// text there is), with the number of lines it spans. `None` while it is
    /// incomplete, once it was taken, and for JSON Lines.
    pub(crate) fn take_header(&mut self, eof: bool) -> Option<(Vec<u8>, u64)> {
        let Boundaries::Csv {
            header: Some(scan), ..
        } = &mut self.bounds
        else {
            return None;
        };
        // The header's splitter has seen `pending[..scanned]` already.
        let from = self.scanned;
        let end = match scan.first_boundary(self.pending.get(from..).unwrap_or_default()) {
            Some(k) => from + k,
            None if eof => self.pending.len(),
            None => {
                self.scanned = self.pending.len();
                return None;
            }
        };
        let rest = self.pending.split_off(end);
        let row = std::mem::replace(&mut self.pending, rest);
        let lines = memchr::memchr_iter(b'\n', &row).count() as u64;
        self.line += lines;
        if let Boundaries::Csv { header, .. } = &mut self.bounds {
            *header = None;
        }
        self.scanned = 0;
        self.scan();
        Some((row, lines))
    }

    /// Whether the header row (CSV) is still to come.
    pub(crate) fn wants_header(&self) -> bool {
        matches!(
            self.bounds,
            Boundaries::Csv {
                header: Some(_),
                ..
            }
        )
    }

    /// Line feeds in the text not handed out yet.
    pub(crate) fn pending_lines(&self) -> u64 {
        self.newlines
    }

    /// Whether there is a complete record to hand out.
    pub(crate) fn has_boundary(&self) -> bool {
        self.boundary.is_some()
    }

    /// Hands out the text up to the last record boundary, if there is one.
    pub(crate) fn cut(&mut self) -> Option<Piece> {
        let end = self.boundary.take()?;
        let mut rest = Vec::with_capacity(end + self.reserve);
        rest.extend_from_slice(self.pending.get(end..).unwrap_or_default());
        self.pending.truncate(end);
        let text = std::mem::replace(&mut self.pending, rest);
        // The rest has no boundary (`end` was the last one).
        self.newlines = memchr::memchr_iter(b'\n', &self.pending).count() as u64;
        self.scanned = self.pending.len();
        Some(self.hand_out(text))
    }

    /// At the end of the input: hands out all the text left, if any.
    pub(crate) fn finish(&mut self) -> Option<Piece> {
        if self.pending.is_empty() {
            return None;
        }
        let text = std::mem::take(&mut self.pending);
        self.boundary = None;
        self.newlines = 0;
        self.scanned = 0;
        Some(self.hand_out(text))
    }

    fn hand_out(&mut self, text: Vec<u8>) -> Piece {
        let first_line = self.line;
        self.line += memchr::memchr_iter(b'\n', &text).count() as u64;
        Piece { first_line, text }
    }
}

/// Finds record boundaries in CSV text without parsing it, so that the text
/// can be cut into chunks that parse independently (and in parallel) with
/// exactly the records a parse of the whole would give.
///
/// A boundary is the position just after a line feed that ends a record (or
/// a blank line): one outside a quoted cell. Quoting follows RFC 4180 as the
/// `csv` crate reads it: a quote opens a quoted cell only at the start of a
/// cell, `""` inside one is a literal quote, and a quote inside an unquoted
/// cell is literal.
#[derive(Clone, Debug, Default)]
pub struct Splitter {
    scanner: Scanner,
}

impl Splitter {
    /// Scans `bytes`, which continue the text given to earlier calls, and
    /// returns the last boundary in them (an offset into `bytes`), if any.
    pub fn last_boundary(&mut self, bytes: &[u8]) -> Option<usize> {
        self.scanner.scan(bytes, |_| {})
    }

    /// Scans `bytes` (continuing earlier calls) up to the first boundary in
    /// them, and returns it: for example, the end of the header row. Once it
    /// has returned a boundary, the splitter is spent.
    pub fn first_boundary(&mut self, bytes: &[u8]) -> Option<usize> {
        self.scanner.first_boundary(bytes)
    }
}

/// The tokenizer's states, as far as record boundaries go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ScanState {
    /// Between records: line ends (blank lines) are skipped.
    #[default]
    RecordStart,
    /// At the start of a cell (or just after a quoted cell's closing quote,
    /// which behaves the same).
    CellStart,
    /// Inside an unquoted cell.
    Unquoted,
    /// Inside a quoted cell.
    Quoted,
}

/// Follows CSV text to find where records start and end.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scanner {
    state: ScanState,
    /// Line feeds seen so far.
    newlines: u64,
}

impl Scanner {
    /// Scans `bytes` (continuing earlier calls), calling `record_start` with
    /// the line (from 1) on which each record starts. Returns the last
    /// boundary in `bytes`.
    pub(crate) fn scan(&mut self, bytes: &[u8], record_start: impl FnMut(u64)) -> Option<usize> {
        self.scan_until(bytes, record_start, false)
    }

    /// The first boundary in `bytes`.
    fn first_boundary(&mut self, bytes: &[u8]) -> Option<usize> {
        self.scan_until(bytes, |_| {}, true)
    }

    fn scan_until(
        &mut self,
        bytes: &[u8],
        mut record_start: impl FnMut(u64),
        first: bool,
    ) -> Option<usize> {
        use ScanState::*;
        let mut last = None;
        let mut i = 0;
        let mut state = self.state;
        while i < bytes.len() {
            match state {
                Quoted => {
                    let rest = &bytes[i..];
                    let k = memchr::memchr(b'"', rest).unwrap_or(rest.len());
                    self.newlines += memchr::memchr_iter(b'\n', &rest[..k]).count() as u64;
                    i += k;
                    if i < bytes.len() {
                        i += 1;
                        state = CellStart;
                    }
                }
                Unquoted => match memchr::memchr3(b',', b'\n', b'\r', &bytes[i..]) {
                    Some(k) => {
                        i += k + 1;
                        state = match bytes[i - 1] {
                            b',' => CellStart,
                            b'\n' => {
                                self.newlines += 1;
                                last = Some(i);
                                if first {
                                    break;
                                }
                                RecordStart
                            }
                            _ => RecordStart,
                        };
                    }
                    None => i = bytes.len(),
                },
                RecordStart | CellStart => {
                    let b = bytes[i];
                    i += 1;
                    if state == RecordStart && b != b'\n' && b != b'\r' {
                        record_start(self.newlines + 1);
                    }
                    state = match b {
                        b'"' => Quoted,
                        b',' => CellStart,
                        b'\r' => RecordStart,
                        b'\n' => {
                            self.newlines += 1;
                            last = Some(i);
                            if first {
                                break;
                            }
                            RecordStart
                        }
                        _ => Unquoted,
                    };
                }
            }
        }
        self.state = state;
        last
    }
}

//! `csv_event`: bytes as a CSV stream (header row, then records) through
//! `daybook::csv_event`. It must not panic, and three ways of reading the
//! same text must agree record for record (line numbers, events, error
//! messages): `Reader` over the whole text; `Reader` over a source that
//! returns at most k bytes per read (k from the first input byte); and the
//! parallel path the CLI uses (`Splitter` fed in k-byte pieces, the text
//! cut into chunks at some of the boundaries it reports, each chunk parsed
//! on its own with `parse_chunk`). Line numbers never decrease. Every accepted
//! event is valid and comes back equal as a CSV row and as a JSON line.

use std::io::{self, Read};

use daybook::Event;
use daybook::csv_event::{
    CsvError, Header, Parsed, Reader, Splitter, event_to_csv_line, header_line, parse_chunk,
};
use daybook::json::{event_to_json_line, parse_event};

use super::Input;

/// A reader that hands out at most `k` bytes per call.
struct Trickle<'a> {
    text: &'a [u8],
    k: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.k.min(buf.len()).min(self.text.len());
        buf[..n].copy_from_slice(&self.text[..n]);
        self.text = &self.text[n..];
        Ok(n)
    }
}

type Outcome = Result<Vec<Parsed>, String>;

fn read_all<R: Read>(r: R) -> Outcome {
    let reader = Reader::new(r).map_err(|e| match e {
        CsvError::Header(h) => format!("line 1: {h}"),
        CsvError::Io(e) => panic!("reading a slice failed: {e}"),
        #[allow(unreachable_patterns)]
        other => other.to_string(),
    })?;
    let _ = reader.header().columns();
    Ok(reader
        .collect::<io::Result<Vec<Parsed>>>()
        .expect("reading a slice cannot fail"))
}

/// The CLI's way: header first, then chunks cut at reported boundaries.
fn parallel(text: &[u8], k: usize, cuts: &mut Input<'_>) -> Outcome {
    let mut hs = Splitter::default();
    let mut header_end = None;
    let mut pos = 0;
    while pos < text.len() {
        let end = (pos + k).min(text.len());
        if let Some(b) = hs.first_boundary(&text[pos..end]) {
            header_end = Some(pos + b);
            break;
        }
        pos = end;
    }
    let header_end = header_end.unwrap_or(text.len());
    let header = Header::parse_row(&text[..header_end]).map_err(|h| format!("line 1: {h}"))?;
    let body = &text[header_end..];
    let mut line = 1 + memchr::memchr_iter(b'\n', &text[..header_end]).count() as u64;
    let mut splitter = Splitter::default();
    let mut chunk_start = 0;
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < body.len() {
        let end = (pos + k).min(body.len());
        if let Some(b) = splitter.last_boundary(&body[pos..end])
            && cuts.bool()
        {
            let cut = pos + b;
            let chunk = &body[chunk_start..cut];
            parse_chunk(&header, chunk, line, |l, r| out.push((l, r)));
            line += memchr::memchr_iter(b'\n', chunk).count() as u64;
            chunk_start = cut;
        }
        pos = end;
    }
    parse_chunk(&header, &body[chunk_start..], line, |l, r| out.push((l, r)));
    Ok(out)
}

pub fn csv_event(data: &[u8]) {
    let mut inp = Input::new(data);
    let k = usize::from(inp.u8() % 64) + 1;
    let cut_bits = inp.bytes(8);
    let text = inp.rest();
    let whole = read_all(text);
    let trickled = read_all(Trickle { text, k });
    assert_eq!(
        whole, trickled,
        "reading {k} bytes at a time changed the result"
    );
    let par = parallel(text, k, &mut Input::new(cut_bits));
    assert_eq!(whole, par, "the parallel path (pieces of {k}) disagrees");
    let Ok(records) = whole else { return };
    let mut last = 1;
    for (line, r) in &records {
        // Non-decreasing: a lone carriage return ends a record (as in the
        // csv crate) but not a line, so two records can share a line.
        assert!(*line >= last, "line {line} after line {last}");
        last = *line;
        match r {
            Ok(e) => {
                e.validate().expect("a parsed event is valid");
                round_trip_csv(e);
                let json = event_to_json_line(e);
                assert_eq!(parse_event(&json).as_ref(), Ok(e), "JSON round trip");
            }
            Err(err) => {
                let _ = err.to_string();
            }
        }
    }
}

/// An event written as a CSV row under `header_line` reads back equal.
pub fn round_trip_csv(e: &Event) {
    let text = format!("{}\n{}\n", header_line(), event_to_csv_line(e));
    let records = read_all(text.as_bytes()).expect("the written header parses");
    assert_eq!(records.len(), 1, "one event, one record: {text:?}");
    assert_eq!(records[0].1.as_ref(), Ok(e), "CSV round trip: {text:?}");
    assert_eq!(records[0].0, 2);
}

//! `explain`: what the planner did for a query, and what each step cost.

use std::fmt;

use serde::Serialize;

use crate::time::{Day, format_ms};

/// The plan and its run: partitions kept and pruned, and per source (a
/// segment or the buffered events of a day) the steps in the order they
/// ran.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Explain {
    /// The resolved window `[from, to)`, RFC 3339 (`to` absent: open).
    pub window: (String, Option<String>),
    /// Predicates folded into the window (by `where` index and text).
    pub folded: Vec<String>,
    /// Days inside the window that hold data.
    pub partitions_kept: Vec<String>,
    /// Days outside the window: never touched.
    pub partitions_pruned: Vec<String>,
    /// Segments of kept days whose timestamps miss the window: never read.
    pub segments_pruned: u64,
    /// Each source scanned (a segment or a day's buffer), in order.
    pub sources: Vec<SourceTrace>,
    /// For listings sorted by time: sources whose timestamps were all
    /// worse than the page's, so they were only counted.
    pub sources_counted_only: u64,
    /// Worker threads the sources were spread over.
    pub threads: usize,
    /// Time to merge partial results, sort and page, in microseconds.
    pub merge_us: f64,
    /// Wall time of the whole query, in microseconds.
    pub total_us: f64,
    /// Rows the answer has.
    pub result_rows: u64,
}

/// One source's run.
#[derive(Clone, Debug, Serialize)]
pub struct SourceTrace {
    /// The segment's file name, or "buffer".
    pub source: String,
    /// The source's day.
    pub day: String,
    /// Rows in the source.
    pub rows: u64,
    /// Bitmap and window steps, in the order they ran.
    pub steps: Vec<Step>,
    /// Checks run on each candidate row.
    pub residual: Vec<String>,
    /// Candidate rows after the bitmaps: the rows residual checks and
    /// aggregation visited.
    pub rows_visited: u64,
    /// Rows that matched.
    pub matched: u64,
    /// Time spent on the source, in microseconds.
    pub time_us: f64,
}

impl SourceTrace {
    /// A source's trace before it runs.
    pub(crate) fn new(source: String, day: Day, rows: u64) -> SourceTrace {
        SourceTrace {
            source,
            day: day.to_string(),
            rows,
            steps: Vec::new(),
            residual: Vec::new(),
            rows_visited: 0,
            matched: 0,
            time_us: 0.0,
        }
    }
}

/// One step: a bitmap or a cut, with the cardinality it had.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The bitmap or cut ("event_type = Delete", "window").
    pub what: String,
    /// Rows it holds (a bitmap) or leaves (a cut).
    pub cardinality: u64,
    /// What the planner did with it: "intersect", "and-not", "skip", ...
    pub action: String,
}

impl Explain {
    pub(crate) fn set_window(&mut self, from_ms: i64, to_ms: i64) {
        let to = (to_ms < crate::time::MAX_TS_MS).then(|| format_ms(to_ms));
        self.window = (format_ms(from_ms), to);
    }

    /// As JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let to = self.window.1.as_deref().unwrap_or("(open)");
        writeln!(f, "window [{}, {to})", self.window.0)?;
        for p in &self.folded {
            writeln!(f, "  folded into the window: {p}")?;
        }
        writeln!(
            f,
            "partitions: {} kept, {} pruned; segments pruned by timestamp range: {}",
            self.partitions_kept.len(),
            self.partitions_pruned.len(),
            self.segments_pruned
        )?;
        for s in &self.sources {
            writeln!(
                f,
                "{} [{}] rows {}: visited {}, matched {}, {:.1} µs",
                s.source, s.day, s.rows, s.rows_visited, s.matched, s.time_us
            )?;
            for st in &s.steps {
                writeln!(
                    f,
                    "    {:<14} {:>9}  {}",
                    st.action, st.cardinality, st.what
                )?;
            }
            for r in &s.residual {
                writeln!(f, "    residual       {r}")?;
            }
        }
        if self.sources_counted_only > 0 {
            writeln!(
                f,
                "{} source(s) not listed: every timestamp worse than the page's (counted when that needs no row checks)",
                self.sources_counted_only
            )?;
        }
        writeln!(
            f,
            "{} source(s) on {} thread(s); merge {:.1} µs; total {:.1} µs; {} result row(s)",
            self.sources.len(),
            self.threads,
            self.merge_us,
            self.total_us,
            self.result_rows
        )
    }
}

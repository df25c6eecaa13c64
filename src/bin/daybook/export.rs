//! `daybook export --format parquet [--from --to | --last Nd] [--where ...]
//! OUT_DIR`: one Parquet file per day in a Hive-style layout,
//! `OUT_DIR/event_date=YYYY-MM-DD/part-0.parquet`, for data lakes
//! (docs/scaling.md). The files come from `daybook::export`.

use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use clap::{Args, ValueEnum};
use daybook::export::{DEFAULT_ROW_GROUP_ROWS, ExportOptions, ExportSummary, Exporter};
use daybook::{Day, Query};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{Failure, query, usage};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Apache Parquet: zstd, dictionary-encoded strings, the contract's types.
    Parquet,
}

#[derive(Args, Clone, Debug)]
pub struct ExportArgs {
    /// File format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Parquet)]
    format: ExportFormat,
    /// The last N UTC days, today included: `7d` or `7` [default: every day
    /// retained]. Not with --from or --to.
    #[arg(long)]
    last: Option<String>,
    /// Window start, included: a date (2026-11-20: from its start, UTC) or
    /// an RFC 3339 timestamp. Alone: from then on.
    #[arg(long)]
    from: Option<String>,
    /// Window end: a date, included (2026-11-26: through its end, UTC), or
    /// an RFC 3339 timestamp, excluded. Alone: everything retained before.
    #[arg(long)]
    to: Option<String>,
    /// Export only events matching a predicate, e.g. 'company_name =
    /// Redstone General Contracting' (as for `query`). Repeatable (ANDed).
    #[arg(long = "where", value_name = "PREDICATE")]
    filters: Vec<String>,
    /// Rows per Parquet row group.
    #[arg(long, default_value_t = DEFAULT_ROW_GROUP_ROWS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    row_group_rows: usize,
    /// zstd compression level (1 is faster, higher is smaller).
    #[arg(long, default_value_t = 1,
          value_parser = clap::value_parser!(i32).range(1..=22))]
    zstd_level: i32,
    /// Days written at once [default: one per core].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// Output directory: one `event_date=YYYY-MM-DD/part-0.parquet` per day
    /// of the window that holds events. Other files there are left alone; a
    /// day's file is replaced whole.
    out_dir: PathBuf,
}

/// The file of `day` under `out_dir`.
pub fn day_path(out_dir: &Path, day: Day) -> PathBuf {
    out_dir
        .join(format!("event_date={day}"))
        .join("part-0.parquet")
}

/// The caller's error (a bad query or option) is a usage error (exit 2);
/// anything else a failure.
fn export_error(e: daybook::Error) -> Failure {
    match e {
        e if e.is_caller_error() => usage(e.to_string()),
        other => Failure::from(other),
    }
}

/// `daybook export`.
/// The window and filters are checked before `open` runs: a usage error is
/// reported as one whatever the data directory.
pub fn run(
    open: impl FnOnce() -> Result<daybook::Reader, Failure>,
    a: &ExportArgs,
) -> Result<(), Failure> {
    let ExportFormat::Parquet = a.format;
    let q = query::window_and_filters(
        Query::events(),
        a.last.as_deref(),
        a.from.as_deref(),
        a.to.as_deref(),
        &a.filters,
    )?;
    let opts = ExportOptions {
        row_group_rows: a.row_group_rows,
        zstd_level: a.zstd_level,
        ..ExportOptions::default()
    };
    let snap = open()?.snapshot();
    let exporter = Exporter::new(&snap, &q, opts).map_err(export_error)?;
    let days = exporter.days();
    let work: u64 = days.iter().map(|d| exporter.day_events(*d)).sum();
    create_dir_durable(&a.out_dir)?;

    let started = Instant::now();
    let bar = progress(work);
    let threads = a
        .threads
        .map_or_else(crate::import::default_threads, usize::from)
        .clamp(1, days.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let done: Mutex<Vec<ExportSummary>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<Failure>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Some(&day) = days.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    match write_day_file(&exporter, &a.out_dir, day) {
                        Ok(summary) => {
                            bar.inc(exporter.day_events(day));
                            bar.set_message(day.to_string());
                            if let Ok(mut d) = done.lock() {
                                d.push(summary);
                            }
                        }
                        Err(f) => {
                            stop.store(true, Ordering::Relaxed);
                            if let Ok(mut slot) = failure.lock() {
                                slot.get_or_insert(f);
                            }
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(f) = failure.into_inner().ok().flatten() {
        return Err(f);
    }
    // The day directories created above are entries of OUT_DIR.
    sync_dir(&a.out_dir)?;
    let done = done.into_inner().unwrap_or_default();
    let rows: u64 = done.iter().map(|s| s.rows).sum();
    let bytes: u64 = done.iter().map(|s| s.bytes).sum();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "exported {} day(s), {rows} events, {:.1} MB to {} in {seconds:.2} s \
         ({:.0} events/s, {:.1} bytes/event)",
        done.len(),
        bytes as f64 / 1e6,
        a.out_dir.display(),
        rows as f64 / seconds.max(1e-9),
        if rows == 0 {
            0.0
        } else {
            bytes as f64 / rows as f64
        },
    );
    Ok(())
}

/// Writes one day's file through a hidden temporary name (engines skip
/// names starting with `.`), fsyncs it, renames it into place and fsyncs
/// the directory: a reader sees the old file or the whole new one.
fn write_day_file(ex: &Exporter, out_dir: &Path, day: Day) -> Result<ExportSummary, Failure> {
    let path = day_path(out_dir, day);
    let dir = path.parent().unwrap_or(out_dir);
    std::fs::create_dir_all(dir).map_err(|e| io_failure(dir, e))?;
    let tmp = dir.join(".part-0.parquet.tmp");
    let result = (|| {
        let mut file = File::create(&tmp).map_err(|e| io_failure(&tmp, e))?;
        let summary = ex.write_day(day, &mut file).map_err(|e| match e {
            daybook::Error::Io { source, .. } => io_failure(&tmp, source),
            other => Failure::from(other),
        })?;
        file.sync_all().map_err(|e| io_failure(&tmp, e))?;
        Ok(summary)
    })();
    let summary = match result {
        Ok(s) => s,
        Err(f) => {
            // Best effort: leave no partial file behind.
            let _ = std::fs::remove_file(&tmp);
            return Err(f);
        }
    };
    std::fs::rename(&tmp, &path).map_err(|e| io_failure(&path, e))?;
    sync_dir(dir)?;
    Ok(summary)
}

fn io_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::from(format!("{}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<(), Failure> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_failure(dir, e))
}

/// Creates `dir` and its missing parents, each made durable in its parent.
fn create_dir_durable(dir: &Path) -> Result<(), Failure> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.is_dir() {
            break;
        }
        missing.push(d);
        cur = d.parent();
    }
    std::fs::create_dir_all(dir).map_err(|e| io_failure(dir, e))?;
    for d in missing.iter().rev() {
        match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => sync_dir(p)?,
            _ => sync_dir(Path::new("."))?,
        }
    }
    Ok(())
}

/// A bar over the events of the days to export, on a terminal only.
fn progress(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{bar:40} {human_pos}/{human_len} events {per_sec:0} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

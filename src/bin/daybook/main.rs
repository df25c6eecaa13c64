//! The `daybook` command: generate, import, query, explain, stats, verify,
//! compact, retention and the end-to-end demo.

mod demo;
mod export;
mod import;
mod query;
#[cfg(feature = "grpc")]
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use daybook::generate::{GenConfig, Generator};
use daybook::time::parse_rfc3339_ms;
use daybook::{Clock, Engine, ManualClock, Options, SystemClock};

#[derive(Parser)]
#[command(
    name = "daybook",
    version,
    about = "A storage engine for user-activity audit events"
)]
struct Cli {
    /// Data directory (the store) [default: ./daybook-data; for demo:
    /// ./daybook-demo, which holds the demo's store in ./daybook-demo/store].
    #[arg(long, global = true, env = "DAYBOOK_DATA")]
    data: Option<PathBuf>,
    /// The engine's clock ("now"), RFC 3339, for reproducible runs.
    #[arg(long, global = true)]
    now: Option<String>,
    /// Days kept: today (UTC) and the N-1 before it.
    #[arg(long, global = true, default_value_t = 31)]
    retention_days: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate realistic synthetic activity as JSON Lines or CSV.
    Generate {
        #[arg(long, default_value_t = 31)]
        days: u32,
        #[arg(long, default_value_t = 10_000)]
        events_per_day: u64,
        #[arg(long, default_value_t = 5)]
        companies: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 0.02)]
        late_fraction: f64,
        #[arg(long, default_value_t = 0.01)]
        dup_fraction: f64,
        /// Output file, or - for standard output.
        #[arg(long, default_value = "-")]
        out: String,
        /// Output format: JSON Lines, or CSV with a header row.
        #[arg(long, value_enum, default_value_t = import::Format::Jsonl)]
        format: import::Format,
    },
    /// Import JSON Lines or CSV files (- for standard input); .gz files are
    /// decompressed.
    Import {
        /// Files to import, in order; - reads standard input.
        files: Vec<String>,
        /// Stop at the first bad record (exit 1); what came before is stored.
        #[arg(long)]
        strict: bool,
        /// The format of every file [default: by extension: .csv and .csv.gz
        /// are CSV; .jsonl, .ndjson, .json, anything else and - are JSON Lines].
        #[arg(long, value_enum)]
        format: Option<import::Format>,
        /// Parser threads [default: one per core].
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: Option<u16>,
        /// What to do with a JSON key or CSV column that is not an event
        /// field.
        #[arg(long, value_enum, default_value_t = import::UnknownFieldsArg::Reject)]
        unknown_fields: import::UnknownFieldsArg,
    },
    /// Answer a report: a JSON query document (--json) or flags.
    Query(query::QueryArgs),
    /// Answer a report and show the plan, with the time of each step.
    Explain(query::QueryArgs),
    /// Write days as Apache Parquet files for data lakes:
    /// OUT_DIR/event_date=YYYY-MM-DD/part-0.parquet.
    Export(export::ExportArgs),
    /// Serve the gRPC API (ingest, query, explain, stats) with per-company
    /// tokens.
    #[cfg(feature = "grpc")]
    Serve(serve::ServeArgs),
    /// Partitions, segments, events, bytes.
    Stats,
    /// Check every checksum and structure; exit 1 on any problem.
    Verify,
    /// Merge each day's segments into one.
    Compact,
    /// Drop partitions older than the retention horizon now.
    Retention,
    /// The main job, end to end: generate a month, import it, reopen,
    /// verify, report. Its directory (--data, default ./daybook-demo) is
    /// replaced on each run; the store is DIR/store.
    Demo {
        /// Events per day to generate.
        #[arg(long, default_value_t = 30_000)]
        events_per_day: u64,
        #[arg(long, default_value_t = 31)]
        days: u32,
        #[arg(long, default_value_t = 8)]
        companies: u32,
    },
}

/// A user-facing failure: one line, and the exit code.
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

pub fn usage(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: 2,
    }
}

fn clock(now: &Option<String>) -> Result<Arc<dyn Clock>, Failure> {
    match now {
        None => Ok(Arc::new(SystemClock)),
        Some(s) => {
            let ms = parse_rfc3339_ms(s).map_err(|e| usage(format!("--now: {e}")))?;
            Ok(Arc::new(ManualClock::new(ms)))
        }
    }
}

fn open(cli: &Cli) -> Result<Engine, Failure> {
    let opts = Options {
        retention_days: cli.retention_days,
        clock: clock(&cli.now)?,
        ..Options::default()
    };
    let data = cli.data.as_deref().unwrap_or(Path::new(DEFAULT_DATA));
    Ok(Engine::open(data, opts)?)
}

/// `--data` when not given (the demo has its own: `demo::DEFAULT_DIR`).
const DEFAULT_DATA: &str = "./daybook-data";

fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Generate {
            days,
            events_per_day,
            companies,
            seed,
            late_fraction,
            dup_fraction,
            out,
            format,
        } => {
            let now_ms = clock(&cli.now)?.now_ms();
            let cfg = GenConfig {
                days: *days,
                events_per_day: *events_per_day,
                companies: *companies,
                seed: *seed,
                late_fraction: *late_fraction,
                dup_fraction: *dup_fraction,
                now_ms,
            };
            import::write_events(Generator::new(cfg), out, *format)?;
        }
        Command::Import {
            files,
            strict,
            format,
            threads,
            unknown_fields,
        } => {
            if files.is_empty() {
                return Err(usage(
                    "import: name at least one file (or - for standard input)",
                ));
            }
            let engine = open(&cli)?;
            import::catch_interrupt()?;
            let opts = import::ImportOptions {
                format: *format,
                strict: *strict,
                threads: threads.map_or_else(import::default_threads, usize::from),
                unknown_fields: (*unknown_fields).into(),
            };
            let mut summary = import::import(&engine, files, &opts);
            // Seal what was stored, also after a stop or a failure.
            let flushed = engine.flush();
            if summary.failure.is_none() || summary.lines > 0 {
                summary.print();
            }
            flushed?;
            if let Some(f) = summary.failure.take() {
                return Err(f);
            }
            match summary.stop {
                Some(import::Stop::Strict) => {
                    return Err(Failure {
                        message: "import stopped at the first bad record (--strict)".into(),
                        code: 1,
                    });
                }
                Some(import::Stop::Interrupted) => {
                    return Err(Failure {
                        message: "import interrupted".into(),
                        code: 130,
                    });
                }
                None => {}
            }
        }
        Command::Query(args) => query::run(&open(&cli)?, args, false)?,
        Command::Explain(args) => query::run(&open(&cli)?, args, true)?,
        Command::Export(args) => export::run(&open(&cli)?, args)?,
        #[cfg(feature = "grpc")]
        Command::Serve(args) => serve::run(open(&cli)?, args)?,
        Command::Stats => demo::print_stats(&open(&cli)?),
        Command::Verify => {
            let engine = open(&cli)?;
            let problems = engine.verify();
            for p in &problems {
                println!("{p}");
            }
            if !problems.is_empty() {
                return Err(Failure {
                    message: format!("{} damaged file(s)", problems.len()),
                    code: 1,
                });
            }
            println!("ok: {} segments verified", engine.stats().segments());
        }
        Command::Compact => println!("compacted {} day(s)", open(&cli)?.compact()?),
        Command::Retention => println!("dropped {} day(s)", open(&cli)?.enforce_retention()?),
        Command::Demo {
            events_per_day,
            days,
            companies,
        } => {
            demo::run(
                cli.data.as_deref().unwrap_or(Path::new(demo::DEFAULT_DIR)),
                cli.now.as_deref(),
                *events_per_day,
                *days,
                *companies,
            )?;
        }
    }
    Ok(())
}

/// A usage error from the argument parser in one line: its first paragraph,
/// plus a "similar argument" tip (the usage that follows is for `--help`).
fn one_line(text: &str) -> String {
    let mut paragraphs = text.trim().split("\n\n");
    let first = paragraphs.next().unwrap_or_default();
    let mut line = first.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    if let Some(rest) = line.strip_prefix("error: ") {
        line = rest.to_string();
    }
    for tip in paragraphs.filter_map(|p| p.trim().strip_prefix("tip: a similar")) {
        line.push_str(&format!("; a similar{tip}"));
    }
    line
}

fn main() -> ExitCode {
    // Rust starts programs with SIGPIPE ignored, so printing to a closed
    // pipe (`daybook query ... | head`) makes println! panic. A command-line
    // tool should end quietly there, as cat and grep do.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread is spawned;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("daybook: {} (see --help)", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("daybook: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

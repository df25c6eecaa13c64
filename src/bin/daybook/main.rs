//! The `daybook` command: generate, import, query, explain, stats, verify,
//! compact, retention and the end-to-end demo.

mod demo;
mod import;
mod query;

use std::path::PathBuf;
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
    /// Data directory.
    #[arg(
        long,
        global = true,
        env = "DAYBOOK_DATA",
        default_value = "./daybook-data"
    )]
    data: PathBuf,
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
    /// Generate realistic synthetic activity as JSON Lines.
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
    },
    /// Import JSON Lines files (- for standard input).
    Import {
        files: Vec<String>,
        /// Stop at the first bad record.
        #[arg(long)]
        strict: bool,
    },
    /// Answer a report: a JSON query document (--json) or flags.
    Query(query::QueryArgs),
    /// Answer a report and show the plan, with the time of each step.
    Explain(query::QueryArgs),
    /// Partitions, segments, events, bytes.
    Stats,
    /// Check every checksum and structure; exit 1 on any problem.
    Verify,
    /// Merge each day's segments into one.
    Compact,
    /// Drop partitions older than the retention horizon now.
    Retention,
    /// The main job, end to end: generate a month, import it, reopen,
    /// verify, report.
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
    Ok(Engine::open(&cli.data, opts)?)
}

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
            import::write_jsonl(Generator::new(cfg), out)?;
        }
        Command::Import { files, strict } => {
            if files.is_empty() {
                return Err(usage(
                    "import: name at least one file (or - for standard input)",
                ));
            }
            let engine = open(&cli)?;
            let summary = import::import_files(&engine, files, *strict)?;
            engine.flush()?;
            summary.print();
            if *strict && summary.rejected > 0 {
                return Err(Failure {
                    message: "import stopped at the first bad record (--strict)".into(),
                    code: 1,
                });
            }
        }
        Command::Query(args) => query::run(&open(&cli)?, args, false)?,
        Command::Explain(args) => query::run(&open(&cli)?, args, true)?,
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
                &cli.data,
                cli.now.as_deref(),
                *events_per_day,
                *days,
                *companies,
            )?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
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

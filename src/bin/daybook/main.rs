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
use daybook::time::format_ms;
use daybook::time::parse_rfc3339_ms;
use daybook::{Clock, Day, Engine, ManualClock, Options, Reader, SystemClock};

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
    /// The clock ("now"), RFC 3339, for reproducible runs. Commands that
    /// read only see the days it keeps; a writer (import, serve, compact,
    /// retention) ahead of this machine's clock needs --yes, because it
    /// deletes the days its clock puts out of retention.
    #[arg(long, global = true)]
    now: Option<String>,
    /// Days kept: today (UTC) and the N-1 before it. Commands that read only
    /// hide older days; a writer given fewer than 31 needs --yes, because it
    /// deletes the older days.
    #[arg(long, global = true, default_value_t = 31)]
    retention_days: u32,
    /// Confirm a writer's --now ahead of this machine's clock or
    /// --retention-days below 31: the days outside its retention are deleted
    /// for good.
    #[arg(long, global = true)]
    yes: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate realistic synthetic activity as JSON Lines or CSV.
    Generate {
        /// Days of activity, ending today (or --now).
        #[arg(long, default_value_t = 31)]
        days: u32,
        /// Events per day (weekends are quieter).
        #[arg(long, default_value_t = 10_000)]
        events_per_day: u64,
        /// Companies (tenants) the activity is spread over.
        #[arg(long, default_value_t = 5)]
        companies: u32,
        /// Random seed: the same seed, sizes and clock give the same output.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Share of events that arrive late (written after later days).
        #[arg(long, default_value_t = 0.02)]
        late_fraction: f64,
        /// Share of events re-sent (the same event_id again).
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
        /// Days of activity, ending today (or --now).
        #[arg(long, default_value_t = 31)]
        days: u32,
        /// Companies (tenants) the activity is spread over.
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

fn options(cli: &Cli) -> Result<Options, Failure> {
    Ok(Options {
        retention_days: cli.retention_days,
        clock: clock(&cli.now)?,
        ..Options::default()
    })
}

/// Opens the directory read-only: no lock, nothing written or deleted, so it
/// works beside a running import or server, and any clock or retention only
/// changes what is shown.
fn read(cli: &Cli) -> Result<Reader, Failure> {
    Ok(Reader::open(data_dir(cli), options(cli)?)?)
}

/// Opens the directory's writer (creating the directory only for `import`,
/// `serve` and `demo`), after checking that its clock and retention drop
/// nothing the operator did not confirm.
fn write(cli: &Cli, create: bool) -> Result<Engine, Failure> {
    let engine = write_quiet(cli, create)?;
    report_drops(&engine);
    Ok(engine)
}

/// [`write`] without reporting the days the open dropped (the caller does).
fn write_quiet(cli: &Cli, create: bool) -> Result<Engine, Failure> {
    let opts = Options {
        create_if_missing: create,
        ..options(cli)?
    };
    confirm_drops(cli, &opts)?;
    Ok(Engine::open(data_dir(cli), opts)?)
}

/// The data directory: `--data`, else the default.
fn data_dir(cli: &Cli) -> &Path {
    cli.data.as_deref().unwrap_or(Path::new(DEFAULT_DATA))
}

/// `--data` when not given (the demo has its own: `demo::DEFAULT_DIR`).
const DEFAULT_DATA: &str = "./daybook-data";

/// The days a writer opened with `opts` would delete: those its horizon
/// hides (day directories and days only in the log), as a read-only look
/// finds them. None when there is no data directory yet.
fn days_to_drop(cli: &Cli, opts: &Options) -> Result<Vec<Day>, Failure> {
    match Reader::open(data_dir(cli), opts.clone()) {
        Ok(r) => Ok(r.hidden_days().to_vec()),
        Err(daybook::Error::NoDataDir { .. }) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// A writer deletes the days its clock and retention put out of retention.
/// A clock ahead of this machine's, or a retention narrower than the
/// default, deletes more than the operator may think: refused without
/// --yes, naming what would go.
fn confirm_drops(cli: &Cli, opts: &Options) -> Result<(), Failure> {
    /// Clock skew tolerated before --now counts as "ahead".
    const SLACK_MS: i64 = 60_000;
    if cli.yes {
        return Ok(());
    }
    let wall_ms = SystemClock.now_ms();
    let now_ms = opts.clock.now_ms();
    let why = if now_ms > wall_ms + SLACK_MS {
        format!(
            "--now {} is ahead of this machine's clock ({})",
            format_ms(now_ms),
            format_ms(wall_ms)
        )
    } else if opts.retention_days < Options::default().retention_days {
        format!(
            "--retention-days {} is below the default {}",
            opts.retention_days,
            Options::default().retention_days
        )
    } else {
        return Ok(());
    };
    let days = days_to_drop(cli, opts)?;
    let what = match (days.first(), days.last()) {
        (Some(first), Some(last)) => format!(
            "it would delete {} day(s) here for good ({first} .. {last})",
            days.len()
        ),
        _ => "nothing here is that old now, but this writer would delete days as they age"
            .to_string(),
    };
    Err(usage(format!(
        "{why}: a writer keeps only the days its clock and retention allow, and {what}; add --yes to go ahead (commands that only read never delete)"
    )))
}

/// Prints the days a writer dropped (a drop deletes data, so it is never
/// silent); returns how many.
pub fn report_drops(engine: &Engine) -> usize {
    let days = engine.take_dropped_days();
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let s = engine.snapshot();
        eprintln!(
            "dropped {} day(s) older than the retention horizon {} (today {}, {} days kept): {}",
            days.len(),
            s.horizon,
            s.today,
            engine.options().retention_days,
            if days.len() == 1 {
                first.to_string()
            } else {
                format!("{first} .. {last}")
            }
        );
    }
    days.len()
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
            let engine = write(&cli, true)?;
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
            if summary.failure.is_none() || summary.counts.lines > 0 {
                summary.print();
            }
            report_drops(&engine);
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
        Command::Query(args) => query::run(|| read(&cli), args, false)?,
        Command::Explain(args) => query::run(|| read(&cli), args, true)?,
        Command::Export(args) => export::run(|| read(&cli), args)?,
        #[cfg(feature = "grpc")]
        Command::Serve(args) => serve::run(write(&cli, true)?, args)?,
        Command::Stats => demo::print_stats_of(&read(&cli)?.stats()),
        Command::Verify => {
            let reader = read(&cli)?;
            let problems = reader.verify();
            for p in &problems {
                println!("{p}");
            }
            if !problems.is_empty() {
                return Err(Failure {
                    message: format!("{} damaged file(s)", problems.len()),
                    code: 1,
                });
            }
            println!("ok: {} segments verified", reader.stats().segments());
        }
        Command::Compact => {
            let engine = write(&cli, false)?;
            println!("compacted {} day(s)", engine.compact()?);
            report_drops(&engine);
        }
        Command::Retention => {
            // Opening drops the expired days already; this drops any that
            // expired since, and the report counts both.
            let engine = write_quiet(&cli, false)?;
            engine.enforce_retention()?;
            println!("dropped {} day(s)", report_drops(&engine));
        }
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

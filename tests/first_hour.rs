//! The first hour of a new user: every `daybook query` and `daybook
//! explain` command of README.md and docs/queries.md runs, as written,
//! against the demo's data and finds events; `--where`, the time flags, the
//! output formats, the notes on absent values and the help behave as
//! docs/queries.md ("On the command line") says.
//!
//! The data is made once per run by `daybook demo` itself (its seed, eight
//! companies, 30,000 events a day: the companies and users of the docs;
//! two days, with the clock of the docs' examples).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_daybook");
/// The clock of the docs' examples.
const NOW: &str = "2026-11-27T12:00:00Z";

/// The demo's data directory, made on first use.
fn store() -> &'static Path {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE.get_or_init(|| {
        // Under the target directory's scratch space, replaced each run.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("first_hour_demo");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove the last run's demo");
        }
        let out = Command::new(BIN)
            .arg("demo")
            .arg("--data")
            .arg(&dir)
            .args(["--days", "2", "--now", NOW])
            .output()
            .expect("run daybook demo");
        assert!(
            out.status.success(),
            "daybook demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The demo keeps its store in DIR/store (or in DIR itself).
        let nested = dir.join("store");
        if nested.is_dir() { nested } else { dir }
    })
}

/// `daybook --data STORE --now NOW ARGS...`.
fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(store())
        .args(["--now", NOW])
        .args(args)
        .output()
        .expect("run daybook")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command that must succeed with nothing on standard error but
/// the next page's cursor; its standard output.
fn ok(args: &[&str]) -> String {
    let out = run(args);
    let quiet = text(&out.stderr)
        .lines()
        .all(|l| l.starts_with("next page: --cursor "));
    assert!(
        out.status.success() && quiet,
        "daybook {args:?}: exit {:?}\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs a command that must fail with a usage error (exit 2); its message.
fn usage_error(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "daybook {args:?}");
    assert!(out.stdout.is_empty(), "daybook {args:?} printed a result");
    text(&out.stderr)
}

// ---- The docs' commands ----

/// Splits a command line as a POSIX shell does for the quoting the docs
/// use ('...', "...", a trailing # comment). Anything else a shell would
/// act on (a pipe, a redirection, a variable) fails: the test could not
/// run the line as a reader would.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '|' | '<' | '>' | ';' | '&' | '$' | '`' | '\\') => {
                panic!("{line}\nuses shell syntax ({c}) this test does not run")
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "{line}\nhas an unclosed quote");
    if in_word {
        out.push(word);
    }
    out
}

/// The `daybook query` and `daybook explain` commands of a markdown file's
/// ```sh blocks, continuation lines joined: (line, the arguments after
/// `daybook` without the global --data and --now, which the test sets).
fn doc_commands(file: &str) -> Vec<(usize, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let doc = std::fs::read_to_string(&path).expect("read the doc");
    let mut out = Vec::new();
    let mut in_sh = None::<bool>;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_sh = match in_sh {
                None => Some(info.trim() == "sh"),
                Some(_) => None,
            };
            continue;
        }
        if in_sh != Some(true) {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
                pending = Some((start, joined));
                continue;
            }
            None => joined.push_str(line),
        }
        // Other programs' lines (`zcat x | daybook import -`) are not ours.
        if joined.split_whitespace().next() != Some("daybook") {
            continue;
        }
        let w = words(&joined);
        let mut args = Vec::new();
        let mut it = w.into_iter().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--data" | "--now" => {
                    it.next();
                }
                _ => args.push(a),
            }
        }
        let sub = args.iter().find(|a| !a.starts_with('-')).cloned();
        if matches!(sub.as_deref(), Some("query" | "explain")) {
            out.push((start, args));
        }
    }
    out
}

/// Runs a docs command as written (it must succeed, print something, and
/// raise no note: every value it names is in the data), then as a `query
/// --format json` to check that it finds events.
fn check_doc_command(file: &str, line: usize, args: &[String]) {
    let shown = format!("{file}:{line}: daybook {}", args.join(" "));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&argv);
    assert!(
        out.status.success(),
        "{shown}\nexit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "{shown}\nprints nothing");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("note:"), "{shown}\n{stderr}");
    // The same query, as JSON: its rows and matched events.
    let mut json: Vec<&str> = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match *a {
            "explain" => json.push("query"),
            "--format" => {
                it.next();
            }
            other => json.push(other),
        }
    }
    json.extend(["--format", "json"]);
    let doc: Value = serde_json::from_str(&ok(&json)).expect("json output");
    let rows = doc["rows"].as_array().map_or(0, Vec::len);
    let matched = &doc["matched_events"];
    assert!(
        rows > 0 && (matched.is_null() || matched.as_u64() > Some(0)),
        "{shown}\nfinds no events: {doc}"
    );
}

#[test]
fn every_readme_command_finds_events() {
    let commands = doc_commands("README.md");
    assert_eq!(commands.len(), 3, "README.md's query/explain commands");
    for (line, args) in &commands {
        check_doc_command("README.md", *line, args);
    }
}

#[test]
fn every_queries_md_command_finds_events() {
    let commands = doc_commands("docs/queries.md");
    assert_eq!(
        commands.len(),
        5,
        "docs/queries.md's query/explain commands"
    );
    for (line, args) in &commands {
        check_doc_command("docs/queries.md", *line, args);
    }
}

#[test]
fn the_shell_splitter_reads_the_docs_quoting() {
    assert_eq!(
        words("daybook query --where 'a = b c' --where \"x=y\" --limit 2   # why"),
        [
            "daybook", "query", "--where", "a = b c", "--where", "x=y", "--limit", "2"
        ]
    );
}

// ---- --where ----

/// Counts by device type for one predicate, as CSV.
fn by_device(predicate: &str) -> String {
    ok(&[
        "query",
        "--where",
        predicate,
        "--group-by",
        "device_type",
        "--format",
        "csv",
    ])
}

#[test]
fn where_parses_without_spaces_and_with_the_json_names() {
    let spaced = by_device("tool_name = RFIs");
    assert!(
        spaced.starts_with("device_type,count\n") && spaced.lines().count() == 5,
        "{spaced}"
    );
    for p in [
        "tool_name=RFIs",
        "tool_name==RFIs",
        "tool_name eq RFIs",
        "tool_name EQ 'RFIs'",
        "tool_name in (RFIs)",
        "tool_name  =  \"RFIs\"",
    ] {
        assert_eq!(by_device(p), spaced, "--where {p:?}");
    }
    let pairs = [
        ("project_name is_null", "project_name is null"),
        ("project_name not_null", "project_name is not null"),
        (
            "user_id not_in (12070, 10295)",
            "user_id not in (12070,10295)",
        ),
        ("user_id!=12070", "user_id ne 12070"),
        ("user_id<>12070", "user_id != 12070"),
    ];
    for (a, b) in pairs {
        let (x, y) = (by_device(a), by_device(b));
        assert_eq!(x, y, "{a:?} and {b:?}");
        assert!(x.lines().count() > 1, "{a:?} finds events");
    }
    // The two null tests split the events.
    let total = |csv: &str| -> u64 {
        csv.lines()
            .skip(1)
            .filter_map(|l| l.rsplit(',').next()?.parse::<u64>().ok())
            .sum()
    };
    let all = total(&ok(&[
        "query",
        "--group-by",
        "device_type",
        "--format",
        "csv",
    ]));
    assert_eq!(
        total(&by_device("project_name is_null")) + total(&by_device("project_name not_null")),
        all
    );
}

#[test]
fn an_unknown_field_names_the_closest() {
    assert_eq!(
        usage_error(&["query", "--where", "toolname = RFIs"]),
        "daybook: --where \"toolname = RFIs\": unknown field \"toolname\" (did you mean tool_name?)\n"
    );
    assert_eq!(
        usage_error(&["query", "--where", "company=Redstone"]),
        "daybook: --where \"company=Redstone\": unknown field \"company\" (did you mean company_name?)\n"
    );
    let none = usage_error(&["query", "--where", "zzz = 1"]);
    assert!(
        none.starts_with(
            "daybook: --where \"zzz = 1\": unknown field \"zzz\" (fields: event_id, event_timestamp, "
        ) && none.ends_with(", user_last_login_date)\n"),
        "{none}"
    );
}

#[test]
fn an_unknown_operator_lists_the_operators() {
    let ops = "=, !=, <, <=, >, >=, in (a, b), not in (a, b), contains, starts_with, \
               is null, is not null (or as in a query document: eq, ne, lt, le, gt, ge, in, \
               not_in, contains, starts_with, is_null, not_null)";
    assert_eq!(
        usage_error(&["query", "--where", "tool_name ~ RFIs"]),
        format!(
            "daybook: --where \"tool_name ~ RFIs\": unknown operator \"~\" after tool_name; use one of {ops}\n"
        )
    );
    assert_eq!(
        usage_error(&["query", "--where", "tool_name like RFI%"]),
        format!(
            "daybook: --where \"tool_name like RFI%\": unknown operator \"like\" after tool_name; use one of {ops}\n"
        )
    );
    assert_eq!(
        usage_error(&["query", "--where", "tool_name"]),
        format!(
            "daybook: --where \"tool_name\": unknown operator none after tool_name; use one of {ops}\n"
        )
    );
    assert_eq!(
        usage_error(&["query", "--where", "tool_name ="]),
        "daybook: --where \"tool_name =\": = takes a value (is null matches missing values)\n"
    );
    assert_eq!(
        usage_error(&["query", "--where", "url is_null x"]),
        "daybook: --where \"url is_null x\": is_null takes no value\n"
    );
}

#[test]
fn a_value_no_event_has_gets_a_note_with_the_closest() {
    let out = run(&[
        "query",
        "--last",
        "7d",
        "--where",
        "tool_name=RFI",
        "--format",
        "csv",
    ]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "count\n0\n");
    assert_eq!(
        text(&out.stderr),
        "note: no event has tool_name = \"RFI\" in the window; closest: \"RFIs\"\n"
    );
    let out = run(&[
        "query",
        "--where",
        "company_name in (Redstone General Contractors, Blue Mesa Construction)",
        "--where",
        "tool_name = Submitals",
        "--format",
        "csv",
    ]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stderr),
        "note: no event has company_name = \"Redstone General Contractors\" in the window; \
         closest: \"Redstone General Contracting\"\n\
         note: no event has tool_name = \"Submitals\" in the window; closest: \"Submittals\"\n"
    );
    // Nothing close: the most frequent values instead.
    let out = run(&["query", "--where", "device_type = Fax", "--format", "csv"]);
    assert_eq!(
        text(&out.stderr),
        "note: no event has device_type = \"Fax\" in the window; most frequent: \"Web\", \"iOS\", \"API\"\n"
    );
    // In the data, but not in the window.
    let out = run(&[
        "query",
        "--from",
        "2026-11-27T11:59:59.900Z",
        "--where",
        "user_id = 12070",
        "--where",
        "tool_name = RFIs",
        "--format",
        "csv",
    ]);
    assert!(
        text(&out.stderr).starts_with("note: no event has tool_name = \"RFIs\" in the window"),
        "{}",
        text(&out.stderr)
    );
}

// ---- Time flags ----

fn count(args: &[&str]) -> u64 {
    let mut all = vec!["query"];
    all.extend(args);
    all.extend(["--format", "csv"]);
    let csv = ok(&all);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("count"), "{args:?}");
    lines
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{args:?}: {csv}"))
}

#[test]
fn dates_are_whole_utc_days_and_from_alone_runs_to_now() {
    let day26 = count(&["--where", "event_date = 2026-11-26"]);
    let day27 = count(&["--where", "event_date = 2026-11-27"]);
    assert!(day26 > 0 && day27 > 0);
    assert_eq!(
        count(&["--from", "2026-11-26", "--to", "2026-11-26"]),
        day26
    );
    assert_eq!(
        count(&[
            "--from",
            "2026-11-26T00:00:00Z",
            "--to",
            "2026-11-27T00:00:00Z"
        ]),
        day26
    );
    assert_eq!(
        count(&["--from", "2026-11-26", "--to", "2026-11-27"]),
        day26 + day27
    );
    // A timestamp --to is excluded, a date --to included.
    assert_eq!(
        count(&["--from", "2026-11-26", "--to", "2026-11-27T00:00:00Z"]),
        day26
    );
    assert_eq!(count(&["--from", "2026-11-27"]), day27);
    assert_eq!(count(&["--from", "2026-11-26"]), day26 + day27);
    assert_eq!(
        count(&["--to", "2026-11-26"]),
        count(&["--where", "event_date <= 2026-11-26"])
    );
    // The query document's dates mean the same.
    let doc = r#"{"time": {"from": "2026-11-26", "to": "2026-11-26"}}"#;
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("first_hour_day26.json");
    std::fs::write(&path, doc).expect("write the document");
    let p = path.to_str().expect("utf-8 path");
    assert_eq!(count(&["--json", p]), day26);
    // --from alone replaces the document's window.
    assert_eq!(count(&["--json", p, "--from", "2026-11-27"]), day27);
    // Explained: the window is open after --from.
    let plan: Value = serde_json::from_str(&ok(&[
        "explain",
        "--from",
        "2026-11-27",
        "--format",
        "jsonl",
    ]))
    .expect("plan");
    assert_eq!(
        plan["window"],
        serde_json::json!(["2026-11-27T00:00:00.000Z", null])
    );
}

#[test]
fn last_with_from_or_to_is_a_usage_error_naming_both() {
    assert_eq!(
        usage_error(&["query", "--last", "7d", "--from", "2026-11-26"]),
        "daybook: --last 7d and --from 2026-11-26 both set the window: give --last, or --from and --to\n"
    );
    assert_eq!(
        usage_error(&["query", "--last", "7", "--to", "2026-11-26T00:00:00Z"]),
        "daybook: --last 7 and --to 2026-11-26T00:00:00Z both set the window: give --last, or --from and --to\n"
    );
}

#[test]
fn a_bad_time_names_the_flag_and_the_value() {
    assert_eq!(
        usage_error(&["query", "--from", "2026-11-31"]),
        "daybook: --from: not a date YYYY-MM-DD: \"2026-11-31\"\n"
    );
    assert_eq!(
        usage_error(&["query", "--from", "2026-11-01", "--to", "yesterday"]),
        "daybook: --to: expected a date YYYY-MM-DD or an RFC 3339 timestamp with offset, got \"yesterday\" (premature end of input)\n"
    );
    assert_eq!(
        usage_error(&["query", "--last", "week"]),
        "daybook: --last \"week\": expected a number of days, e.g. 7d\n"
    );
    assert_eq!(
        usage_error(&["query", "--from", "2026-11-27", "--to", "2026-11-26"]),
        "daybook: time: from 2026-11-27 is not before to 2026-11-26\n"
    );
    assert_eq!(
        usage_error(&["query", "--to", "2026-09-30"]),
        "daybook: time: the window [1970-01-01T00:00:00Z, 2026-09-30] ends before the retention horizon 2026-10-28: older days are dropped\n"
    );
}

// ---- Output ----

#[test]
fn json_keys_keep_the_query_column_order() {
    let jsonl = ok(&[
        "query",
        "--events",
        "--fields",
        "user_id,event_timestamp,tool_name",
        "--limit",
        "3",
        "--format",
        "jsonl",
    ]);
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines.len(), 3);
    for l in &lines {
        let (a, b, c) = (
            l.find("\"user_id\":"),
            l.find("\"event_timestamp\":"),
            l.find("\"tool_name\":"),
        );
        assert!(a == Some(1) && a < b && b < c, "{l}");
        let v: Value = serde_json::from_str(l).expect("a JSON object");
        assert_eq!(v.as_object().map(|o| o.len()), Some(3));
    }
    let json = ok(&[
        "query",
        "--group-by",
        "tool_name,device_type",
        "--order-by",
        "count:desc",
        "--limit",
        "2",
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&json).expect("a JSON document");
    assert_eq!(doc["rows"].as_array().map(Vec::len), Some(2));
    assert!(doc["matched_events"].as_u64() > Some(0));
    assert!(doc["next_cursor"].is_null());
    let first = json
        .lines()
        .find(|l| l.contains("\"tool_name\""))
        .expect("a row");
    assert!(
        first.trim_start().starts_with("{\"tool_name\": ")
            && first.find("\"device_type\"") < first.find("\"count\""),
        "{first}"
    );
}

#[test]
fn table_numbers_are_right_aligned() {
    let table = ok(&[
        "query",
        "--group-by",
        "user_id,tool_name",
        "--order-by",
        "count:desc",
        "--limit",
        "4",
        "--format",
        "table",
    ]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 7, "{table}"); // header, rule, 4 rows, footer
    let rule = lines[1];
    let widths: Vec<usize> = rule.split("  ").map(str::len).collect();
    assert_eq!(widths.len(), 3, "{table}");
    // user_id: right-aligned, so its digits end at the column's edge.
    for l in &lines[..6] {
        let id = &l[..widths[0]];
        assert!(
            !id.ends_with(' ') && id.trim_start().len() <= widths[0],
            "{table}"
        );
    }
    // count, the last column: every line ends at the rule's end.
    for l in &lines[..6] {
        assert_eq!(l.len(), rule.len(), "{table}");
    }
    // tool_name, text: left-aligned.
    let tool_start = widths[0] + 2;
    for l in &lines[2..6] {
        assert!(!l[tool_start..].starts_with(' '), "{table}");
    }
    assert!(lines[6].starts_with("(4 row(s); "), "{table}");
}

#[test]
fn explain_jsonl_is_one_line_with_rounded_times() {
    let args = [
        "explain",
        "--last",
        "7d",
        "--where",
        "tool_name=RFIs",
        "--group-by",
        "device_type",
    ];
    let mut jsonl = args.to_vec();
    jsonl.extend(["--format", "jsonl"]);
    let line = ok(&jsonl);
    assert_eq!(line.lines().count(), 1, "{line}");
    let plan: Value = serde_json::from_str(&line).expect("the plan");
    assert_eq!(plan["result_rows"], 4);
    // Every time has at most one decimal.
    let mut times = 0;
    for key in ["\"time_us\":", "\"merge_us\":", "\"total_us\":"] {
        for (at, _) in line.match_indices(key) {
            let number: String = line[at + key.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(!number.is_empty() && decimals <= 1, "{key} {number}");
            times += 1;
        }
    }
    assert_eq!(times, 2 + plan["sources"].as_array().map_or(0, Vec::len));
    // --format json: the same plan, indented.
    let mut json = args.to_vec();
    json.extend(["--format", "json"]);
    let pretty = ok(&json);
    assert!(pretty.lines().count() > 10);
    let again: Value = serde_json::from_str(&pretty).expect("the plan");
    assert_eq!(again["partitions_kept"], plan["partitions_kept"]);
}

// ---- Help ----

/// Every option in `daybook SUB --help` has a description line.
fn undocumented_flags(sub: &str) -> Vec<String> {
    let out = Command::new(BIN)
        .args([sub, "--help"])
        .output()
        .expect("run daybook --help");
    assert!(out.status.success());
    let help = text(&out.stdout);
    let lines: Vec<&str> = help.lines().collect();
    let mut missing = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        // Options (`-h, --help`, `--limit <LIMIT>`), not the `- value:`
        // lines of a list of possible values.
        let option = t.starts_with("--")
            || (t.starts_with('-') && t.chars().nth(1).is_some_and(|c| c.is_ascii_alphabetic()));
        if !option {
            continue;
        }
        let next = lines.get(i + 1).map_or("", |n| n.trim());
        if next.is_empty() || next.starts_with('-') {
            missing.push(t.to_string());
        }
    }
    missing
}

#[test]
fn every_query_explain_and_export_flag_has_help() {
    for sub in ["query", "explain", "export"] {
        assert_eq!(undocumented_flags(sub), Vec::<String>::new(), "{sub}");
    }
}

// ---- The library's value lookup ----

/// `Snapshot::field_values` against counts taken from the generated events
/// themselves, sealed and buffered, with a scope, a prefix and a limit.
#[test]
fn field_values_counts_the_values_of_the_scope() {
    use daybook::generate::{GenConfig, Generator};
    use daybook::{Engine, Field, ManualClock, Op, Options, Query};
    use std::collections::HashMap;

    const NOW_MS: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(
        dir.path(),
        Options {
            clock: std::sync::Arc::new(ManualClock::new(NOW_MS)),
            ..Options::default()
        },
    )
    .expect("open");
    let events: Vec<_> = Generator::new(GenConfig {
        days: 3,
        events_per_day: 3000,
        companies: 3,
        dup_fraction: 0.0,
        now_ms: NOW_MS,
        ..GenConfig::default()
    })
    .collect();
    let (old, new) = events.split_at(events.len() * 2 / 3);
    engine.append(old.to_vec()).expect("append");
    engine.flush().expect("flush");
    engine.append(new.to_vec()).expect("append");
    let company = events[0].company_name.clone();

    // The expected answer: count, most frequent first, ties by value.
    let expect = |keep: &dyn Fn(&daybook::Event) -> bool,
                  value: &dyn Fn(&daybook::Event) -> Option<String>,
                  prefix: &str,
                  limit: usize| {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for e in events.iter().filter(|e| keep(e)) {
            if let Some(v) = value(e).filter(|v| v.starts_with(prefix)) {
                *counts.entry(v).or_default() += 1;
            }
        }
        let mut list: Vec<(String, u64)> = counts.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(limit);
        list
    };
    let snap = engine.snapshot();
    let all = Query::count();
    let tools = snap
        .field_values(&all, Field::ToolName, "", usize::MAX)
        .expect("values");
    assert!(tools.len() > 10);
    assert_eq!(
        tools,
        expect(&|_| true, &|e| Some(e.tool_name.clone()), "", usize::MAX)
    );
    // A tenant's scope, a prefix, a limit.
    let scope = Query::count().filter(Field::CompanyName, Op::Eq, company.as_str());
    let mine = |e: &daybook::Event| e.company_name == company;
    assert_eq!(
        snap.field_values(&scope, Field::ProjectName, "", 5)
            .expect("values"),
        expect(&mine, &|e| e.project_name.clone(), "", 5)
    );
    let d = snap
        .field_values(&scope, Field::UserEmail, "d", 3)
        .expect("values");
    assert!(!d.is_empty());
    assert_eq!(d, expect(&mine, &|e| Some(e.user_email.clone()), "d", 3));
    // A window: the last day only.
    let today = Query::count().last_days(1);
    let from = NOW_MS - NOW_MS.rem_euclid(86_400_000);
    assert_eq!(
        snap.field_values(&today, Field::DeviceType, "", 10)
            .expect("values"),
        expect(
            &|e| e.event_timestamp_ms >= from,
            &|e| Some(e.device_type.clone()),
            "",
            10
        )
    );
    // Integers match the prefix on their digits.
    let ids = snap
        .field_values(&scope, Field::UserId, "101", 4)
        .expect("values");
    assert_eq!(ids.len(), 4);
    assert_eq!(
        ids,
        expect(&mine, &|e| Some(e.user_id.to_string()), "101", 4)
    );
    // Nothing there: an empty list; a bad scope: the query's error.
    assert_eq!(
        snap.field_values(&all, Field::ToolName, "zzz", 5)
            .expect("values"),
        Vec::new()
    );
    let bad = Query::count().filter_named("company", Op::Eq, "x");
    let err = snap.field_values(&bad, Field::ToolName, "", 5).unwrap_err();
    assert!(
        matches!(err, daybook::Error::InvalidQuery(_)) && err.to_string().contains("company"),
        "{err}"
    );
}

//! Parquet export (issue 8): generated data exported and read back with the
//! Parquet crate. Rows, types, nulls and counts per day equal the engine's;
//! a filtered export holds exactly the events the same query lists; the
//! `daybook export` command writes the Hive layout and leaves no temporary
//! file behind.
#![cfg(feature = "parquet")]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use daybook::event::MAX_ID;
use daybook::export::{self, ExportOptions, ExportSummary, Exporter};
use daybook::generate::{GenConfig, Generator};
use daybook::{
    Day, Direction, Engine, Error, Event, EventType, Field, FieldKind, ManualClock, Op, Options,
    Query, Scalar, Snapshot, Value,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, LogicalType, Repetition, Type as Physical};
use parquet::file::metadata::ParquetMetaData;

const NOW_MS: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z
const NOW: &str = "2026-11-27T12:00:00Z";

/// Events a generator does not make: ids at the top of the contract's range,
/// every optional field missing, non-ASCII text, and two events at the same
/// millisecond (ordered by event_id in the file).
fn edge_events() -> Vec<Event> {
    let ts = NOW_MS - 3 * 3_600_000;
    let mut full = Event::blank();
    full.event_id = "edge-b".into();
    full.event_timestamp_ms = ts;
    full.event_type = EventType::WithdrawVoid;
    full.event_name = "Voided Contract — “draft”".into();
    full.event_subtype = Some("Prime Contract".into());
    full.tool_name = "Prime Contracts".into();
    full.company_name = "Édifice Québec".into();
    full.project_name = Some("Tour 北".into());
    full.project_number = Some("Q-7".into());
    full.project_is_demo = Some(true);
    full.object_id = Some(MAX_ID);
    full.url = Some("https://app.example.com/q/Tour%20北".into());
    full.device_type = "Android".into();
    full.is_api = true;
    full.user_id = MAX_ID;
    full.user_email = "zoë@example.com".into();
    full.user_login_email = Some("zoe@sso.example.com".into());
    full.user_name = "Zoë Ñúñez".into();
    full.user_job_title = Some("Estimator".into());
    full.user_role = Some("Admin".into());
    full.user_type = Some("Employee".into());
    full.user_default_permission_template = Some("Standard".into());
    full.user_is_active = Some(false);
    full.user_is_authorized_bidder = Some(true);
    full.user_last_login_date = Some(Day(0));
    let mut bare = Event::blank();
    bare.event_id = "edge-a".into();
    bare.event_timestamp_ms = ts;
    bare.event_name = "Other".into();
    bare.tool_name = "Admin".into();
    bare.company_name = "Édifice Québec".into();
    bare.device_type = "API".into();
    bare.user_id = 0;
    bare.user_email = "bot@example.com".into();
    bare.user_name = "Bot".into();
    vec![full, bare]
}

/// A week of generated activity, several segments a day (no compaction),
/// plus buffered events the export must read too.
fn engine(dir: &Path) -> Engine {
    let engine = Engine::open(
        dir,
        Options {
            clock: Arc::new(ManualClock::new(NOW_MS)),
            max_buffered_events: 1000,
            compact_min_segments: 0,
            ..Options::default()
        },
    )
    .expect("open");
    let events: Vec<Event> = Generator::new(GenConfig {
        days: 7,
        events_per_day: 1500,
        companies: 4,
        seed: 21,
        now_ms: NOW_MS,
        ..GenConfig::default()
    })
    .collect();
    let (old, new) = events.split_at(events.len() - 200);
    for chunk in old.chunks(1000) {
        engine.append(chunk.to_vec()).expect("append");
    }
    engine.flush().expect("flush");
    engine.append(new.to_vec()).expect("append");
    engine.append(edge_events()).expect("append");
    engine
}

fn sorted(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by(|a, b| {
        (a.event_timestamp_ms, &a.event_id).cmp(&(b.event_timestamp_ms, &b.event_id))
    });
    events
}

fn write(
    path: &Path,
    f: impl FnOnce(&mut File) -> daybook::Result<ExportSummary>,
) -> ExportSummary {
    let mut file = File::create(path).expect("create");
    let summary = f(&mut file).expect("export");
    assert_eq!(
        summary.bytes,
        std::fs::metadata(path).expect("stat").len(),
        "summary bytes = file size"
    );
    summary
}

/// A file read back: its metadata, and its rows as events (`event_date`,
/// when present, checked against the timestamp's day).
fn read(path: &Path) -> (ParquetMetaData, Vec<RecordBatch>, Vec<Event>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).expect("open"))
        .expect("parquet file");
    let meta = builder.metadata().as_ref().clone();
    let batches: Vec<RecordBatch> = builder
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("batches");
    let mut events = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let mut e = Event::blank();
            let mut date = None;
            for (i, column) in batch.schema().fields().iter().enumerate() {
                let field = Field::parse(column.name()).expect("a contract field");
                let a = batch.column(i);
                let v = if a.is_null(row) {
                    Value::Null
                } else {
                    match field.kind() {
                        FieldKind::Str => Value::Str(a.as_string::<i32>().value(row)),
                        FieldKind::EventType => Value::EventType(
                            EventType::parse(a.as_string::<i32>().value(row)).expect("a type"),
                        ),
                        FieldKind::Int => Value::Int(
                            u64::try_from(a.as_primitive::<Int64Type>().value(row))
                                .expect("non-negative"),
                        ),
                        FieldKind::Bool => Value::Bool(a.as_boolean().value(row)),
                        FieldKind::Timestamp => Value::Timestamp(
                            a.as_primitive::<TimestampMillisecondType>().value(row),
                        ),
                        FieldKind::Date => {
                            Value::Date(Day(a.as_primitive::<Date32Type>().value(row)))
                        }
                    }
                };
                if field == Field::EventDate {
                    date = Some(v);
                }
                e.set(field, v).expect("value of the field's kind");
            }
            if let Some(d) = date {
                assert_eq!(d, Value::Date(e.day()), "event_date of {}", e.event_id);
            }
            events.push(e);
        }
    }
    (meta, batches, events)
}

fn expected_type(f: Field) -> (Physical, Option<LogicalType>) {
    match f.kind() {
        FieldKind::Str | FieldKind::EventType => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
        FieldKind::Int => (Physical::INT64, None),
        FieldKind::Bool => (Physical::BOOLEAN, None),
        FieldKind::Timestamp => (
            Physical::INT64,
            Some(LogicalType::timestamp(
                true,
                parquet::basic::TimeUnit::MILLIS,
            )),
        ),
        FieldKind::Date => (Physical::INT32, Some(LogicalType::Date)),
    }
}

/// The file's schema, encodings and metadata are those documented in
/// `daybook::export`.
fn check_layout(meta: &ParquetMetaData, with_date: bool) {
    let names: Vec<&str> = export::fields(with_date).iter().map(|f| f.name()).collect();
    let schema = meta.file_metadata().schema_descr();
    let got: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(got, names);
    for (c, f) in schema.columns().iter().zip(export::fields(with_date)) {
        let (physical, logical) = expected_type(f);
        assert_eq!(c.physical_type(), physical, "{f}");
        assert_eq!(c.logical_type_ref(), logical.as_ref(), "{f}");
        let repetition = c.self_type().get_basic_info().repetition();
        let want = if f.required() {
            Repetition::REQUIRED
        } else {
            Repetition::OPTIONAL
        };
        assert_eq!(repetition, want, "{f}");
    }
    let ts = names
        .iter()
        .position(|n| *n == "event_timestamp")
        .expect("event_timestamp");
    for rg in meta.row_groups() {
        let sorting = rg.sorting_columns().expect("sorting columns");
        assert_eq!(sorting.len(), 1);
        assert_eq!(sorting[0].column_idx as usize, ts);
        assert!(!sorting[0].descending);
        for (c, f) in rg.columns().iter().zip(export::fields(with_date)) {
            assert!(matches!(c.compression(), Compression::ZSTD(_)), "{f}");
            // Booleans have no dictionary encoding in Parquet (they are
            // bit-packed); columns with a value per event have none by choice.
            let dict = c.encodings().any(|e| e == Encoding::RLE_DICTIONARY);
            let plain = f.kind() == FieldKind::Bool
                || matches!(
                    f,
                    Field::EventId | Field::EventTimestamp | Field::Url | Field::ObjectId
                );
            assert_eq!(dict, !plain, "{f}: dictionary encoding");
        }
    }
    let kv = meta
        .file_metadata()
        .key_value_metadata()
        .expect("key-value metadata");
    assert!(kv.iter().any(|k| k.key == "daybook.export"));
}

#[test]
fn each_day_reads_back_as_the_engines_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(&dir.path().join("data"));
    let snap = engine.snapshot();
    let days = snap.days();
    assert_eq!(days.len(), 7);
    let today = Day::of_ms(NOW_MS);
    let segments: Vec<usize> = days
        .iter()
        .map(|d| snap.day(*d).map_or(0, |p| p.segment_count()))
        .collect();
    assert!(
        segments.iter().all(|n| *n >= 1) && segments.iter().filter(|n| **n >= 2).count() >= 5,
        "segments a day: {segments:?}"
    );
    assert!(
        snap.day(today).is_some_and(|p| p.mem_events() > 0),
        "buffered events today"
    );

    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let mut total = 0;
    for day in &days {
        let path = out.join(format!("{day}.parquet"));
        let summary = write(&path, |f| export::export_day(&snap, *day, f));
        let (meta, batches, events) = read(&path);
        check_layout(&meta, false);
        let want = sorted(snap.day_events(*day).expect("day events"));
        assert_eq!(summary.rows, want.len() as u64, "{day}");
        assert_eq!(meta.file_metadata().num_rows(), want.len() as i64, "{day}");
        assert_eq!(events, want, "{day}: rows, values, nulls and order");
        // Nulls exactly where events have no value.
        for (i, f) in export::fields(false).into_iter().enumerate() {
            let nulls: usize = batches.iter().map(|b| b.column(i).null_count()).sum();
            let missing = want.iter().filter(|e| e.get(f).is_null()).count();
            assert_eq!(nulls, missing, "{day} {f}: nulls");
            if f.required() {
                assert_eq!(nulls, 0);
            }
        }
        // The Arrow types the file says it holds.
        let s = batches[0].schema();
        assert_eq!(
            s.field_with_name("event_timestamp")
                .expect("ts")
                .data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
        );
        assert_eq!(
            s.field_with_name("user_id").expect("user_id").data_type(),
            &DataType::Int64
        );
        assert_eq!(
            s.field_with_name("user_last_login_date")
                .expect("date")
                .data_type(),
            &DataType::Date32
        );
        total += summary.rows;
    }
    assert_eq!(total, snap.event_count());

    // The edge events came back exactly, ties ordered by event_id.
    let path = out.join(format!("{today}.parquet"));
    let (_, _, events) = read(&path);
    let edges: Vec<&Event> = events
        .iter()
        .filter(|e| e.event_id.starts_with("edge-"))
        .collect();
    let want = edge_events();
    assert_eq!(edges, [&want[1], &want[0]]);
    assert_eq!(edges[1].object_id, Some(i64::MAX as u64));
}

/// The events a query lists, oldest first, as the export orders them.
fn listed(snap: &Snapshot, q: &Query) -> Vec<String> {
    let mut l = q.clone();
    l.select = daybook::Select::Events;
    l.fields = vec!["event_id".into()];
    l.order_by = vec![
        ("event_timestamp".into(), Direction::Asc),
        ("event_id".into(), Direction::Asc),
    ];
    let r = snap.query(&l).expect("query");
    r.rows
        .into_iter()
        .map(|row| match row.as_slice() {
            [Scalar::Str(id)] => id.clone(),
            other => panic!("row {other:?}"),
        })
        .collect()
}

#[test]
fn a_filtered_export_holds_exactly_what_the_query_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(&dir.path().join("data"));
    let snap = engine.snapshot();
    let by_id: BTreeMap<String, Event> = snap
        .days()
        .into_iter()
        .flat_map(|d| snap.day_events(d).expect("day events"))
        .map(|e| (e.event_id.clone(), e))
        .collect();
    let company = match &snap
        .query(
            &Query::count()
                .group_by(&[Field::CompanyName])
                .order_by_count(Direction::Desc)
                .limit(1),
        )
        .expect("busiest company")
        .rows[0][0]
    {
        Scalar::Str(s) => s.clone(),
        other => panic!("{other:?}"),
    };
    let today = Day::of_ms(NOW_MS);
    let queries = [
        // Every event retained.
        Query::events(),
        // A window not on day boundaries, a dictionary column and a list.
        Query::events()
            .between("2026-11-23T06:30:00+01:00", "2026-11-26T18:00:00Z")
            .filter(Field::CompanyName, Op::Eq, company.as_str())
            .filter(Field::EventType, Op::In, vec!["View", "Download", "Export"]),
        // Block columns (url, object_id, event_id), nulls and a mapped column.
        Query::events()
            .last_days(5)
            .filter(Field::Url, Op::Contains, "/rfis/")
            .filter(Field::ObjectId, Op::Gt, 1000)
            .filter(Field::UserJobTitle, Op::Ne, "Foreman"),
        Query::events()
            .filter(Field::ProjectName, Op::IsNull, ())
            .filter(Field::EventId, Op::NotIn, vec!["edge-a"]),
        // event_date and event_timestamp predicates that are not folded.
        Query::events()
            .filter(Field::EventDate, Op::Ne, today.add_days(-1).to_string())
            .filter(
                Field::EventTimestamp,
                Op::Ne,
                daybook::time::format_ms(NOW_MS - 3 * 3_600_000),
            )
            .filter(Field::IsApi, Op::Eq, false),
        // Nothing matches.
        Query::events().filter(Field::CompanyName, Op::Eq, "No Such Company"),
    ];
    for (i, q) in queries.iter().enumerate() {
        let want = listed(&snap, q);
        assert_eq!(
            want.is_empty(),
            i + 1 == queries.len(),
            "query {i} finds events"
        );
        let ex = Exporter::new(&snap, q, ExportOptions::default()).expect("exporter");
        let path = dir.path().join(format!("q{i}.parquet"));
        let summary = write(&path, |f| ex.write_all(f));
        let (meta, _, events) = read(&path);
        check_layout(&meta, false);
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, want, "query {i}: {}", q.to_json());
        assert_eq!(summary.rows, want.len() as u64);
        for e in &events {
            assert_eq!(Some(e), by_id.get(&e.event_id), "query {i}");
        }
        // Per day, the same rows as the whole window.
        let mut per_day = Vec::new();
        for day in ex.days() {
            let path = dir.path().join(format!("q{i}-{day}.parquet"));
            write(&path, |f| ex.write_day(day, f));
            per_day.extend(read(&path).2);
        }
        assert_eq!(per_day, events, "query {i}: days");
    }
}

#[test]
fn options_event_date_column_and_row_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(&dir.path().join("data"));
    let snap = engine.snapshot();
    let opts = ExportOptions {
        row_group_rows: 1000,
        event_date_column: true,
        ..ExportOptions::default()
    };
    let ex = Exporter::new(&snap, &Query::events().last_days(3), opts).expect("exporter");
    assert_eq!(ex.schema().as_ref(), &export::schema(true));
    let path = dir.path().join("window.parquet");
    let summary = write(&path, |f| ex.write_all(f));
    let (meta, _, events) = read(&path);
    check_layout(&meta, true);
    let first = Day::of_ms(NOW_MS).add_days(-2);
    let want: Vec<Event> = snap
        .days()
        .into_iter()
        .filter(|d| *d >= first)
        .flat_map(|d| sorted(snap.day_events(d).expect("day events")))
        .collect();
    assert_eq!(events, want);
    let rows = want.len();
    assert_eq!(summary.rows, rows as u64);
    assert_eq!(meta.num_row_groups(), rows.div_ceil(1000));
    for (i, rg) in meta.row_groups().iter().enumerate() {
        let n = if i + 1 < meta.num_row_groups() {
            1000
        } else {
            rows - 1000 * i
        };
        assert_eq!(rg.num_rows(), n as i64);
    }
    // One day in one file: row groups of equal size (the last one fewer
    // rows by less than the number of groups), none above the maximum.
    let day = Day::of_ms(NOW_MS).add_days(-1);
    let n = snap.day_events(day).expect("day events").len();
    let path = dir.path().join("day.parquet");
    write(&path, |f| ex.write_day(day, f));
    let (meta, _, _) = read(&path);
    let groups = n.div_ceil(1000);
    assert!(groups >= 2 && !n.is_multiple_of(groups), "{n} rows");
    let sizes: Vec<i64> = meta.row_groups().iter().map(|g| g.num_rows()).collect();
    let big = n.div_ceil(groups) as i64;
    assert_eq!(sizes.len(), groups);
    assert_eq!(sizes.iter().sum::<i64>(), n as i64);
    let (last, full) = sizes.split_last().expect("groups");
    assert!(full.iter().all(|s| *s == big), "{sizes:?}");
    assert!(*last <= big && *last > big - groups as i64, "{sizes:?}");

    // A day outside the window: a valid file with no rows.
    let path = dir.path().join("empty.parquet");
    let summary = write(&path, |f| ex.write_day(first.add_days(-1), f));
    assert_eq!(summary.rows, 0);
    let (meta, _, events) = read(&path);
    assert_eq!((meta.file_metadata().num_rows(), events.len()), (0, 0));
}

#[test]
fn what_an_export_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(&dir.path().join("data"));
    let snap = engine.snapshot();
    let err = |q: Query, opts: ExportOptions| match Exporter::new(&snap, &q, opts) {
        Err(e) => e,
        Ok(_) => panic!("accepted {}", q.to_json()),
    };
    let d = ExportOptions::default;
    let msg =
        "an export writes every selected event, whole, in time order; give only time and where";
    for (q, part) in [
        (Query::count().group_by(&[Field::UserId]), "group_by"),
        (Query::events().limit(10), "limit"),
        (
            Query::events().order_by(Field::UserId, Direction::Asc),
            "order_by",
        ),
        (
            Query {
                fields: vec!["user_id".into()],
                ..Query::events()
            },
            "fields",
        ),
    ] {
        match err(q, d()) {
            Error::InvalidQuery(m) => assert_eq!(m, format!("{part}: {msg}")),
            other => panic!("{other:?}"),
        }
    }
    // The query is checked as a query is.
    match err(Query::events().filter_named("company", Op::Eq, "x"), d()) {
        Error::InvalidQuery(m) => assert_eq!(
            m,
            "where[0].field: unknown field \"company\" (fields are the contract's, plus event_date)"
        ),
        other => panic!("{other:?}"),
    }
    match err(
        Query::events(),
        ExportOptions {
            row_group_rows: 0,
            ..d()
        },
    ) {
        Error::InvalidOptions(m) => assert_eq!(m, "export: row_group_rows must be at least 1"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err(
            Query::events(),
            ExportOptions {
                zstd_level: 99,
                ..d()
            }
        ),
        Error::InvalidOptions(_)
    ));
}

/// The output's write errors are I/O errors.
#[test]
fn a_failing_writer_is_an_io_error() {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(&dir.path().join("data"));
    let snap = engine.snapshot();
    match export::export_day(&snap, Day::of_ms(NOW_MS), Full) {
        Err(Error::Io { path, source }) => {
            assert_eq!(path, Path::new(export::OUTPUT));
            assert_eq!(source.to_string(), "disk full");
        }
        other => panic!("{other:?}"),
    }
}

#[cfg(feature = "cli")]
#[test]
fn the_command_writes_the_hive_layout() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (days, counts) = {
        let engine = engine(&data);
        let snap = engine.snapshot();
        let days = snap.days();
        let counts: Vec<usize> = days
            .iter()
            .map(|d| snap.day_events(*d).expect("day events").len())
            .collect();
        (days, counts)
    }; // closed: the command opens the directory
    let bin = env!("CARGO_BIN_EXE_daybook");
    let run = |args: &[&str]| {
        Command::new(bin)
            .arg("--data")
            .arg(&data)
            .args(["--now", NOW, "export"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run daybook")
    };
    let out = dir.path().join("lake");
    let o = run(&["--format", "parquet", out.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let total: usize = counts.iter().sum();
    assert!(
        stdout.starts_with(&format!("exported {} day(s), {total} events, ", days.len())),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    // Exactly one file per day, under event_date=YYYY-MM-DD, nothing else.
    let mut found = Vec::new();
    for entry in walk(&out) {
        found.push(entry.strip_prefix(&out).expect("under out").to_path_buf());
    }
    let want: Vec<_> = days
        .iter()
        .map(|d| Path::new(&format!("event_date={d}")).join("part-0.parquet"))
        .collect();
    assert_eq!(found, want);
    for (d, n) in days.iter().zip(&counts) {
        let (_, _, events) = read(&out.join(format!("event_date={d}/part-0.parquet")));
        assert_eq!(events.len(), *n, "{d}");
    }

    // A filtered re-export replaces the days it writes, atomically.
    let o = run(&[
        "--last",
        "2d",
        "--where",
        "is_api = true",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(walk(&out).len(), days.len(), "no temporary files left");
    let today = Day::of_ms(NOW_MS);
    let (_, _, events) = read(&out.join(format!("event_date={today}/part-0.parquet")));
    assert!(!events.is_empty() && events.iter().all(|e| e.is_api));

    // A bad predicate is a usage error.
    let o = run(&["--where", "colour = red", out.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "daybook: --where \"colour = red\": unknown field \"colour\" (fields: {})\n",
            daybook::Field::ALL.map(daybook::Field::name).join(", ")
        )
    );
}

/// Every file under `dir`, hidden ones included, sorted.
#[cfg(feature = "cli")]
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

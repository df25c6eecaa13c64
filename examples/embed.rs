//! A service's whole day with daybook embedded as a library: open the data
//! directory, take the day's activity in batches (some records invalid,
//! some re-sent by a pipeline that retries), answer an administrator's
//! report by column name, page through an audit listing with the cursor,
//! stop a report that is no longer wanted, let a second, read-only handle
//! look while the writer works, and close, learning whether the last work
//! reached the disk.
//!
//! `cargo run --example embed [DIR]` (a temporary directory by default).

use std::sync::Arc;

use daybook::{
    CancelToken, Direction, Engine, Error, Event, EventType, Field, ManualClock, Op, Options,
    Query, QueryOptions, Reader, RejectReason,
};

/// "Now" for the example: a fixed clock, so that every run prints the same.
const NOW: &str = "2026-11-27T18:00:00Z";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| tmp.path().join("data"), std::path::PathBuf::from);
    let now_ms = daybook::time::parse_rfc3339_ms(NOW)?;
    let options = Options {
        clock: Arc::new(ManualClock::new(now_ms)),
        ..Options::default()
    };

    // Morning: open. The engine is the directory's one writer.
    let engine = Engine::open(&dir, options.clone())?;

    // All day: batches arrive. Each append is one fsync; Ok means durable.
    let users = [
        (70211, "m.ortiz@graniteridge.example", "Maria Ortiz"),
        (70212, "j.chen@graniteridge.example", "Jun Chen"),
        (70213, "a.okafor@graniteridge.example", "Ada Okafor"),
    ];
    let mut sent = Vec::new();
    for i in 0..300u64 {
        let (user_id, email, name) = users[(i % 3) as usize];
        let (kind, what) = match i % 5 {
            0 => (EventType::Delete, "Deleted RFI"),
            1 | 2 => (EventType::View, "Viewed RFI"),
            _ => (EventType::Submit, "Submitted RFI"),
        };
        let ts = now_ms - 8 * 3_600_000 + i as i64 * 60_000;
        let event = Event::builder(format!("evt-{i:04}"), ts, kind, "Granite Ridge Builders")
            .event_name(what)
            .tool_name("RFIs")
            .device_type(if i % 4 == 0 { "iOS" } else { "web" })
            .is_api(false)
            .user_id(user_id)
            .user_email(email)
            .user_name(name)
            .object_id(5_000 + i % 17)
            .project_name("Harbor Point Tower")
            .build()?;
        sent.push(event);
    }
    let mut stored = 0;
    for batch in sent.chunks(100) {
        stored += engine.append(batch.to_vec())?.stored;
    }
    // The pipeline retries its last batch; nothing is stored twice.
    let retry = engine.append(sent[200..].to_vec())?;
    // A record from a device whose clock runs a week ahead is refused,
    // with its index in the batch and the reason.
    let mut early = sent[0].clone();
    early.event_id = "evt-future".into();
    early.event_timestamp_ms = now_ms + 7 * 86_400_000;
    let refused = engine.append(vec![early])?;
    println!(
        "stored {stored}; the retried batch: {} duplicates, {} stored",
        retry.duplicates, retry.stored
    );
    if let Some(r) = refused.rejected.first() {
        assert!(matches!(r.reason, RejectReason::Future { .. }));
        println!("refused record {}: {}", r.index, r.reason);
    }

    // Afternoon: an administrator's report, read by column name.
    let report = Query::count()
        .last_days(1)
        .filter(
            Field::EventType,
            Op::In,
            [EventType::Delete, EventType::Submit],
        )
        .group_by(&[Field::UserName, Field::EventType])
        .order_by_count(Direction::Desc)
        .limit(10);
    println!("\nwho deleted or submitted RFIs today:");
    for row in engine.query(&report)?.rows() {
        println!(
            "  {:<12} {:<8} {}",
            row.get_field(Field::UserName)
                .and_then(|v| v.as_str())
                .unwrap_or("-"),
            row.get("event_type")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            row.count().unwrap_or(0)
        );
    }

    // An audit listing of one object's history, newest first, 10 a page.
    let history = Query::events()
        .last_days(1)
        .filter(Field::ObjectId, Op::Eq, 5_003u64)
        .fields(&[Field::EventTimestamp, Field::UserName, Field::EventName])
        .order_by(Field::EventTimestamp, Direction::Desc)
        .limit(10);
    let (mut pages, mut rows, mut cursor) = (0, 0, None::<String>);
    loop {
        let q = match &cursor {
            Some(c) => history.clone().after_cursor(c.clone()),
            None => history.clone(),
        };
        let page = engine.query(&q)?;
        pages += 1;
        rows += page.rows.len();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    println!("\nobject 5003: {rows} events over {pages} pages");

    // A report the caller gave up on: cancelled, it returns no answer.
    let token = CancelToken::new();
    token.cancel();
    let opts = QueryOptions::new().with_cancel(token).with_max_threads(1);
    match engine.snapshot().query_with(&report, &opts) {
        Err(Error::Cancelled) => println!("\na cancelled report stopped without an answer"),
        other => return Err(format!("expected a cancelled query, got {other:?}").into()),
    }

    // A second handle looks at the directory without writing to it, while
    // the engine is open (a dashboard process, a backup check).
    let look = Reader::open(&dir, options)?;
    let seen = look.query(&Query::count())?.matched_events;
    println!("a read-only look sees {seen:?} events");

    // Evening: close. Ok means everything acknowledged is on disk and the
    // directory's lock is released.
    engine.close()?;
    println!("closed cleanly");
    Ok(())
}

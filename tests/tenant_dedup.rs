//! Deduplication is per company (issue 13, item 2, "Deduplication crosses
//! tenants"): an event's identity is (`company_name`, `event_id`). A company
//! that sends another company's `event_id` gets its own event stored (not
//! "stored 0, duplicates 1", which told it the id exists elsewhere and, had
//! it come first, dropped the other company's real event); a re-send by the
//! same company is still a duplicate. Checked with the first copy buffered,
//! sealed, compacted and reopened, on log replay, in a model-based property
//! test of random interleavings, and through a company token over gRPC.

mod common;
#[cfg(feature = "grpc")]
#[path = "common/grpc_server.rs"]
mod grpc_server;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;

use common::*;
use daybook::{Engine, Event, Field, ManualClock, Op, Options, Query, Scalar};
use proptest::prelude::*;

const COMPANIES: [&str; 3] = ["Granite Ridge", "Harbor Point", "Summit Works"];

/// `common::event` (fields varied by `n`) for `company`.
fn of(company: &str, id: &str, ts_ms: i64, n: u64) -> Event {
    Event {
        company_name: company.to_string(),
        ..event(id, ts_ms, n)
    }
}

/// (stored, duplicates, rejected) of one append.
fn append(engine: &Engine, events: Vec<Event>) -> (usize, usize, usize) {
    let r = engine.append(events).unwrap();
    (r.stored, r.duplicates, r.rejected.len())
}

/// Every stored event of `company`, sorted by id: read back from the
/// buffers and the segments (every field compared).
fn stored_of(engine: &Engine, company: &str) -> Vec<Event> {
    let mut out: Vec<Event> = contents(engine)
        .into_values()
        .flatten()
        .filter(|e| e.company_name == company)
        .collect();
    out.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    out
}

/// What a company's listing (`company_name eq company`, every field) must
/// return for `events`: the default order (newest first, then `event_id`).
fn listing_rows(columns: &[String], events: &[Event]) -> Vec<Vec<Scalar>> {
    let mut evs = events.to_vec();
    evs.sort_by(|a, b| {
        b.event_timestamp_ms
            .cmp(&a.event_timestamp_ms)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    evs.iter()
        .map(|e| {
            columns
                .iter()
                .map(|c| Scalar::from(e.get(Field::parse(c).unwrap())))
                .collect()
        })
        .collect()
}

/// Checks, through a query listing and through the stored events, that
/// `company` holds exactly `want`.
fn assert_company_holds(engine: &Engine, company: &str, want: &[Event], what: &str) {
    let mut want = want.to_vec();
    want.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(stored_of(engine, company), want, "{what}: {company}");
    let r = engine
        .query(&Query::events().filter(Field::CompanyName, Op::Eq, company))
        .unwrap();
    assert_eq!(r.rows, listing_rows(&r.columns, &want), "{what}: {company}");
    assert_eq!(r.matched_events, Some(want.len() as u64), "{what}");
}

/// Where the first copy is when the second company sends the same id.
#[derive(Clone, Copy, Debug)]
enum Stage {
    Buffered,
    Sealed,
    Compacted,
    Reopened,
}

#[test]
fn deduplication_does_not_cross_tenants() {
    let [a, b, _] = COMPANIES;
    for stage in [
        Stage::Buffered,
        Stage::Sealed,
        Stage::Compacted,
        Stage::Reopened,
    ] {
        let what = format!("{stage:?}");
        let dir = tempfile::tempdir().unwrap();
        let c = clock();
        let mut engine = Engine::open(dir.path(), options(&c)).unwrap();
        let first = of(a, "shared-1", day_ms(1, 1000), 1);
        let mut want_a = vec![first.clone()];
        assert_eq!(append(&engine, vec![first.clone()]), (1, 0, 0), "{what}");
        match stage {
            Stage::Buffered => {}
            Stage::Sealed => engine.flush().unwrap(),
            Stage::Compacted => {
                engine.flush().unwrap();
                let filler = of(a, "filler", day_ms(1, 2000), 3);
                assert_eq!(append(&engine, vec![filler.clone()]), (1, 0, 0));
                want_a.push(filler);
                engine.flush().unwrap();
                assert_eq!(engine.compact().unwrap(), 1, "{what}");
                let snap = engine.snapshot();
                let day = snap.day(first.day()).unwrap();
                assert_eq!((day.segment_count(), day.buffer_chunks()), (1, 0), "{what}");
            }
            Stage::Reopened => {
                drop(engine);
                engine = Engine::open(dir.path(), options(&c)).unwrap();
            }
        }
        // The other company's event with the same id: stored, no duplicate.
        let theirs = of(b, "shared-1", day_ms(1, 5000), 2);
        assert_eq!(append(&engine, vec![theirs.clone()]), (1, 0, 0), "{what}");
        let mut want_b = vec![theirs.clone()];
        // True re-sends (other fields differ) are duplicates of each
        // company's own first copy, and change nothing.
        let mut resend_a = first.clone();
        resend_a.user_name = "Re-sent by A".into();
        let mut resend_b = theirs.clone();
        resend_b.user_name = "Re-sent by B".into();
        assert_eq!(append(&engine, vec![resend_a]), (0, 1, 0), "{what}");
        assert_eq!(append(&engine, vec![resend_b]), (0, 1, 0), "{what}");
        // Within one batch: both companies' copies of a new id are stored,
        // the second copy of one of them is a duplicate.
        let a2 = of(a, "shared-2", day_ms(0, 100), 5);
        let b2 = of(b, "shared-2", day_ms(0, 100), 6);
        let mut a2_again = a2.clone();
        a2_again.user_name = "Again".into();
        assert_eq!(
            append(&engine, vec![a2.clone(), b2.clone(), a2_again]),
            (2, 1, 0),
            "{what}"
        );
        want_a.push(a2);
        want_b.push(b2);
        assert_company_holds(&engine, a, &want_a, &what);
        assert_company_holds(&engine, b, &want_b, &what);
        // Both companies' copies survive a seal, a compaction and a reopen
        // that replays the log (the buffered ones) against the segments.
        drop(engine);
        let engine = Engine::open(dir.path(), options(&c)).unwrap();
        assert_company_holds(&engine, a, &want_a, &format!("{what}, reopened"));
        assert_company_holds(&engine, b, &want_b, &format!("{what}, reopened"));
        let mut late = of(b, "shared-2", day_ms(0, 100), 9);
        late.user_name = "Late re-send".into();
        assert_eq!(append(&engine, vec![late]), (0, 1, 0), "{what}");
        engine.compact().unwrap();
        assert_company_holds(&engine, a, &want_a, &format!("{what}, compacted"));
        assert_company_holds(&engine, b, &want_b, &format!("{what}, compacted"));
        assert!(engine.verify().is_empty());
    }
}

/// The log files of a data directory, by name.
fn log_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn replaying_a_sealed_log_skips_each_company_s_own_copy_only() {
    // A crash between a seal and the log rotation leaves a log whose events
    // are already in segments: replay must skip exactly those (company, id)
    // pairs, and keep a buffered event of another company with the same id.
    let [a, b, c3] = COMPANIES;
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    let x_a = of(a, "x", day_ms(0, 10), 1);
    let x_b = of(b, "x", day_ms(0, 20), 2);
    assert_eq!(append(&engine, vec![x_a.clone(), x_b.clone()]), (2, 0, 0));
    let sealed_log = log_files(dir.path());
    engine.flush().unwrap();
    let x_c = of(c3, "x", day_ms(0, 30), 4);
    assert_eq!(append(&engine, vec![x_c.clone()]), (1, 0, 0));
    drop(engine);
    // Put the sealed log back, as if its unlink had not happened.
    for (name, bytes) in &sealed_log {
        std::fs::write(dir.path().join("log").join(name), bytes).unwrap();
    }
    let engine = Engine::open(dir.path(), options(&c)).unwrap();
    assert_eq!(engine.stats().counters.replayed_events, 1);
    assert_company_holds(&engine, a, &[x_a], "replayed");
    assert_company_holds(&engine, b, &[x_b], "replayed");
    assert_company_holds(&engine, c3, &[x_c], "replayed");
}

// ---------------------------------------------------------------------------
// Found while replaying the fuzzers' raw crash inputs with this change (the
// different events stored took the ops model down another path): recovery
// replayed the newest log without syncing it, then created a newer log.
// Records written by an append whose fsync failed were still unsynced; a
// power loss before the open's seal finished tore them, in a log that was no
// longer the newest, and every later open failed with "corrupted ... log
// record". Recovery now syncs the newest log it replays.

#[test]
fn an_unsynced_log_tail_replayed_at_open_is_made_durable_first() {
    use daybook::storage::{CrashPolicy, FaultOp, SimStorage};
    use std::sync::Arc;
    let sim_opts = |sim: &SimStorage| Options {
        clock: Arc::new(clock()),
        storage: Arc::new(sim.clone()),
        sealed_id_filter_keys: 4096,
        ..Options::default()
    };
    let root = "/sim/data";
    let acked = of(COMPANIES[0], "acked", day_ms(0, 10), 1);
    let unacked = of(COMPANIES[0], "unacked", day_ms(0, 20), 2);
    for seed in 0..16 {
        let sim = SimStorage::new();
        let engine = Engine::open(root, sim_opts(&sim)).unwrap();
        assert_eq!(append(&engine, vec![acked.clone()]), (1, 0, 0));
        // The record is written, its fsync fails: not acknowledged.
        sim.fail(FaultOp::Sync, 1, false, std::io::ErrorKind::Other);
        let err = engine.append(vec![unacked.clone()]).unwrap_err();
        assert!(
            matches!(err, daybook::Error::Fsync { .. }),
            "seed {seed}: {err}"
        );
        drop(engine);
        sim.heal();
        // The next open replays it, creates a new log, and fails sealing.
        sim.fail(FaultOp::Rename, 1, false, std::io::ErrorKind::Other);
        match Engine::open(root, sim_opts(&sim)) {
            Err(daybook::Error::Io { .. }) => {}
            Err(e) => panic!("seed {seed}: the failed rename is an I/O error: {e}"),
            Ok(_) => panic!("seed {seed}: opened although a rename failed"),
        }
        // Power loss: what was not synced is garbled.
        let rebooted = sim.crash_image(CrashPolicy::GarbleAll { seed });
        let engine = Engine::open(root, sim_opts(&rebooted))
            .unwrap_or_else(|e| panic!("seed {seed}: no open after the power loss: {e}"));
        // The replayed record was made durable by the open that read it.
        assert_eq!(
            stored_of(&engine, COMPANIES[0]),
            vec![acked.clone(), unacked.clone()],
            "seed {seed}"
        );
    }
}

// ---------------------------------------------------------------------------
// The property: random interleavings of three companies' ingests.

#[derive(Clone, Debug)]
struct Spec {
    company: usize,
    id: usize,
    days_ago: i64,
    ms: i64,
    n: u64,
}

#[derive(Clone, Debug)]
enum Step {
    Append(Vec<Spec>),
    Flush,
    Compact,
    Reopen,
}

/// A small shared pool of ids (UUIDs, stored in UUID blocks, and short
/// ones): the same id under several companies, and re-sends by one company,
/// are both frequent.
const IDS: [&str; 6] = [
    "0b0e2c64-6f51-4b7e-9a2e-3f1d5c7a9b01",
    "0b0e2c64-6f51-4b7e-9a2e-3f1d5c7a9b02",
    "0b0e2c64-6f51-4b7e-9a2e-3f1d5c7a9b03",
    "e-1",
    "e-2",
    "E-3",
];

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..COMPANIES.len(),
        0..IDS.len(),
        0i64..3,
        0i64..86_400_000,
        0u64..1000,
    )
        .prop_map(|(company, id, days_ago, ms, n)| Spec {
            company,
            id,
            days_ago,
            ms,
            n,
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(spec(), 0..8).prop_map(Step::Append),
        1 => Just(Step::Flush),
        1 => Just(Step::Compact),
        1 => Just(Step::Reopen),
    ]
}

fn prop_options(c: &ManualClock, filter_keys: usize) -> Options {
    Options {
        // Small: appends start background seals, so copies are also
        // checked against the frozen (sealing) ids, and seals compact.
        max_buffered_events: 5,
        compact_min_segments: 3,
        sealed_id_filter_keys: filter_keys,
        ..options(c)
    }
}

/// The model: the first copy of each (company, id).
type Model = BTreeMap<(usize, &'static str), Event>;

fn run(steps: &[Step], filter_keys: usize) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Some(Engine::open(dir.path(), prop_options(&c, filter_keys)).unwrap());
    let mut model = Model::new();
    for (i, s) in steps.iter().enumerate() {
        match s {
            Step::Append(specs) => {
                let mut batch = Vec::new();
                let (mut stored, mut dups) = (0, 0);
                for p in specs {
                    let id = IDS[p.id];
                    let e = of(COMPANIES[p.company], id, day_ms(p.days_ago, p.ms), p.n);
                    match model.entry((p.company, id)) {
                        Entry::Occupied(_) => dups += 1,
                        Entry::Vacant(v) => {
                            v.insert(e.clone());
                            stored += 1;
                        }
                    }
                    batch.push(e);
                }
                let e = engine.as_ref().unwrap();
                prop_assert_eq!(append(e, batch), (stored, dups, 0), "step {}: {:?}", i, s);
            }
            Step::Flush => engine.as_ref().unwrap().flush().unwrap(),
            Step::Compact => {
                engine.as_ref().unwrap().compact().unwrap();
            }
            Step::Reopen => {
                drop(engine.take());
                engine = Some(Engine::open(dir.path(), prop_options(&c, filter_keys)).unwrap());
            }
        }
        let e = engine.as_ref().unwrap();
        for (k, company) in COMPANIES.iter().enumerate() {
            let want: Vec<Event> = model
                .iter()
                .filter(|((m, _), _)| *m == k)
                .map(|(_, e)| e.clone())
                .collect();
            let mut want = want;
            want.sort_by(|a, b| a.event_id.cmp(&b.event_id));
            prop_assert_eq!(stored_of(e, company), want, "after step {}: {:?}", i, s);
        }
    }
    // And through the query path, per company.
    let e = engine.as_ref().unwrap();
    for (k, company) in COMPANIES.iter().enumerate() {
        let want: Vec<Event> = model
            .iter()
            .filter(|((m, _), _)| *m == k)
            .map(|(_, e)| e.clone())
            .collect();
        let r = e
            .query(&Query::events().filter(Field::CompanyName, Op::Eq, *company))
            .unwrap();
        prop_assert_eq!(r.rows, listing_rows(&r.columns, &want), "{}", company);
    }
    prop_assert!(e.verify().is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn each_company_keeps_exactly_its_own_first_copies(
        steps in prop::collection::vec(step(), 1..30),
        filter_keys in prop_oneof![Just(16usize), Just(4096usize)],
    ) {
        run(&steps, filter_keys)?;
    }
}

// ---------------------------------------------------------------------------
// Through the gRPC server: a company token ingests another company's id.

#[cfg(feature = "grpc")]
mod grpc {
    use super::grpc_server::{Server, authed, start_with_tokens};
    use super::*;
    use daybook::grpc::Limits;
    use daybook::grpc::pb::{self, IngestRequest, QueryRequest, ingest_request, query_request};

    const ACME: &str = "acme-token-0123456789ab";
    const GLOBEX: &str = "globex-token-0123456789";
    const ADMIN: &str = "admin-token-0123456789";

    fn start() -> Server {
        let tokens = format!(
            r#"[{{"token": "{ADMIN}", "admin": true}},
                {{"token": "{ACME}", "company": "Acme", "rights": ["ingest", "query"]}},
                {{"token": "{GLOBEX}", "company": "Globex", "rights": ["ingest", "query"]}}]"#
        );
        start_with_tokens(&tokens, Limits::default(), |_| {})
    }

    impl Server {
        /// (stored, duplicates, rejected) of one ingest message.
        fn ingest(&self, token: &str, events: &[Event]) -> (u64, u64, u64) {
            let mut client = self.client();
            let req = IngestRequest {
                payload: Some(ingest_request::Payload::Batch(pb::EventBatch {
                    events: events.iter().map(daybook::grpc::event_to_pb).collect(),
                })),
            };
            self.rt.block_on(async move {
                let stream = tokio_stream::iter(vec![req]);
                let mut out = client
                    .ingest(authed(stream, token))
                    .await
                    .unwrap()
                    .into_inner();
                let r = out.message().await.unwrap().unwrap();
                assert!(out.message().await.unwrap().is_none());
                (r.stored, r.duplicates, r.rejected)
            })
        }

        /// The `user_name`s a token's listing returns, in order.
        fn user_names(&self, token: &str, id: &str) -> Vec<String> {
            let mut client = self.client();
            let json = format!(
                r#"{{"select": "events", "fields": ["user_name"], "where": [{{"field": "event_id", "op": "eq", "value": "{id}"}}], "order_by": [["user_name", "asc"]]}}"#
            );
            let req = QueryRequest {
                query: Some(query_request::Query::Json(json)),
            };
            self.rt.block_on(async move {
                let mut out = client.query(authed(req, token)).await.unwrap().into_inner();
                let mut names = Vec::new();
                while let Some(m) = out.message().await.unwrap() {
                    for row in m.rows {
                        names.push(format!("{:?}", row.values[0].kind));
                    }
                }
                names
            })
        }
    }

    fn named(company: &str, id: &str, user: &str) -> Event {
        Event {
            user_name: user.into(),
            ..of(company, id, day_ms(0, 1000), 1)
        }
    }

    #[test]
    fn a_company_token_sending_another_company_s_id_stores_its_own_event() {
        let mut s = start();
        let id = "9a1c3898-b98d-4564-b907-fbaa418abaf6";
        assert_eq!(s.ingest(ACME, &[named("Acme", id, "Ann")]), (1, 0, 0));
        // Globex learns nothing about Acme's id and suppresses nothing.
        assert_eq!(s.ingest(GLOBEX, &[named("Globex", id, "Gus")]), (1, 0, 0));
        // Each company's re-send is a duplicate of its own event.
        assert_eq!(s.ingest(GLOBEX, &[named("Globex", id, "Gil")]), (0, 1, 0));
        assert_eq!(s.ingest(ACME, &[named("Acme", id, "Abe")]), (0, 1, 0));
        // A company token still may not ingest for another company.
        assert_eq!(
            s.ingest(GLOBEX, &[named("Acme", "other", "Gus")]),
            (0, 0, 1)
        );
        let name = |n: &str| format!("Some(String({n:?}))");
        assert_eq!(s.user_names(ACME, id), vec![name("Ann")]);
        assert_eq!(s.user_names(GLOBEX, id), vec![name("Gus")]);
        assert_eq!(s.user_names(ADMIN, id), vec![name("Ann"), name("Gus")]);
        s.shutdown();
    }
}

//! Model-based property test: random sequences of appends (late, duplicate,
//! expired, future and invalid events), flushes, compactions, reopens and
//! clock advances, run on the engine and on a naive in-memory model. After
//! every step the stored events per day must be exactly equal.
//!
//! `PROPTEST_CASES=1000 cargo test --test model` for a longer run.

mod common;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use common::*;
use daybook::{Day, Engine, Event, ManualClock, Options};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Spec {
    id: u8,
    days_ago: i64,
    ms: i64,
    n: u64,
    invalid: bool,
    future: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Spec>),
    Flush,
    Compact,
    Reopen,
    AdvanceHours(i64),
    Retention,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..60,
        0i64..34,
        0i64..86_400_000,
        0u64..1000,
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(id, days_ago, ms, n, invalid, future)| Spec {
            id,
            days_ago,
            ms,
            n,
            invalid,
            future,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec(spec(), 0..12).prop_map(Op::Append),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        1 => (1i64..60).prop_map(Op::AdvanceHours),
        1 => Just(Op::Retention),
    ]
}

fn make(spec: &Spec, now_ms: i64) -> Event {
    let ts = if spec.future {
        now_ms + 86_400_000 + 1 + spec.ms
    } else {
        Day::of_ms(now_ms).start_ms() - spec.days_ago * 86_400_000 + spec.ms
    };
    let mut e = event(&format!("id{}", spec.id), ts, spec.n);
    if spec.invalid {
        e.tool_name = String::new();
    }
    e
}

/// An event's identity, ordered as `common::contents` sorts.
fn key(e: &Event) -> (String, String) {
    (e.event_id.clone(), e.company_name.clone())
}

/// The naive model: a map from identity (event id, company) to the first
/// stored copy. `make` draws the company from `n`, so the same id often
/// arrives under both companies: two events.
#[derive(Default)]
struct Model {
    events: BTreeMap<(String, String), Event>,
}

impl Model {
    fn horizon(now_ms: i64) -> Day {
        Day::of_ms(now_ms).add_days(-30)
    }

    fn expire(&mut self, now_ms: i64) {
        let h = Self::horizon(now_ms);
        self.events.retain(|_, e| e.day() >= h);
    }

    /// Returns (stored, duplicates, rejected).
    fn append(&mut self, evs: &[Event], now_ms: i64) -> (usize, usize, usize) {
        self.expire(now_ms);
        let h = Self::horizon(now_ms);
        let (mut s, mut d, mut r) = (0, 0, 0);
        for e in evs {
            if e.validate().is_err() || e.day() < h || e.event_timestamp_ms > now_ms + 86_400_000 {
                r += 1;
            } else if let Entry::Vacant(v) = self.events.entry(key(e)) {
                v.insert(e.clone());
                s += 1;
            } else {
                d += 1;
            }
        }
        (s, d, r)
    }

    fn contents(&self, now_ms: i64) -> BTreeMap<Day, Vec<Event>> {
        let h = Self::horizon(now_ms);
        let mut out: BTreeMap<Day, Vec<Event>> = BTreeMap::new();
        for e in self.events.values().filter(|e| e.day() >= h) {
            out.entry(e.day()).or_default().push(e.clone());
        }
        out
    }
}

fn opts(c: &ManualClock) -> Options {
    Options {
        max_buffered_events: 7,
        compact_min_segments: 4,
        ..options(c)
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Some(Engine::open(dir.path(), opts(&c)).unwrap());
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        let e = engine.as_ref().unwrap();
        match op {
            Op::Append(specs) => {
                let now = c.now();
                let evs: Vec<Event> = specs.iter().map(|s| make(s, now)).collect();
                let want = model.append(&evs, now);
                let r = e.append(evs).unwrap();
                prop_assert_eq!(
                    (r.stored, r.duplicates, r.rejected.len()),
                    want,
                    "step {}: {:?}",
                    step,
                    op
                );
            }
            Op::Flush => e.flush().unwrap(),
            Op::Compact => {
                e.compact().unwrap();
            }
            Op::Reopen => {
                drop(engine.take());
                engine = Some(Engine::open(dir.path(), opts(&c)).unwrap());
            }
            Op::AdvanceHours(h) => c.advance_ms(h * 3_600_000),
            Op::Retention => {
                e.enforce_retention().unwrap();
            }
        }
        let e = engine.as_ref().unwrap();
        prop_assert_eq!(
            contents(e),
            model.contents(c.now()),
            "after step {}: {:?}",
            step,
            op
        );
    }
    Ok(())
}

trait Now {
    fn now(&self) -> i64;
}
impl Now for ManualClock {
    fn now(&self) -> i64 {
        daybook::Clock::now_ms(self)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}

//! Tests of the generator.

use super::*;
use crate::time::parse_rfc3339_ms;
use std::collections::{HashMap, HashSet};

fn small(seed: u64) -> GenConfig {
    GenConfig {
        seed,
        events_per_day: 3_000,
        ..GenConfig::default()
    }
}

#[test]
fn uuid_shape() {
    let id = uuid4(&mut Rng::new(1), id_key(&GenConfig::default()));
    let b = id.as_bytes();
    assert_eq!(
        (id.len(), b[8], b[13], b[14], b[18], b[23]),
        (36, b'-', b'-', b'4', b'-', b'-')
    );
    assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "{id}");
    assert!(
        id.bytes()
            .all(|c| c == b'-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

/// The ids of a run, and how many of its events re-send an earlier id.
fn ids(cfg: GenConfig) -> (HashSet<String>, usize) {
    let mut ids = HashSet::new();
    let mut resent = 0;
    for e in Generator::new(cfg) {
        resent += usize::from(!ids.insert(e.event_id));
    }
    (ids, resent)
}

#[test]
fn runs_that_differ_in_any_setting_share_no_id() {
    let base = GenConfig {
        days: 2,
        events_per_day: 2_000,
        ..GenConfig::default()
    };
    let runs = [
        base.clone(),
        GenConfig {
            events_per_day: 3_000,
            ..base.clone()
        },
        GenConfig {
            days: 3,
            ..base.clone()
        },
        GenConfig {
            now_ms: base.now_ms + MS_PER_DAY,
            ..base.clone()
        },
        GenConfig {
            now_ms: base.now_ms + 1,
            ..base.clone()
        },
        GenConfig {
            seed: 43,
            ..base.clone()
        },
        GenConfig {
            companies: 6,
            ..base.clone()
        },
        GenConfig {
            late_fraction: 0.03,
            ..base.clone()
        },
        GenConfig {
            dup_fraction: 0.02,
            ..base.clone()
        },
    ];
    let all: Vec<(HashSet<String>, usize)> = runs.iter().cloned().map(ids).collect();
    for (i, (a, resent)) in all.iter().enumerate() {
        // Within a run, only the planted re-sends repeat an id.
        let n = Generator::new(runs[i].clone()).count();
        assert_eq!(a.len() + resent, n, "run {i}");
        assert!(*resent > 0, "run {i} planted no duplicates");
        for (j, (b, _)) in all.iter().enumerate().skip(i + 1) {
            assert_eq!(a.intersection(b).count(), 0, "runs {i} and {j} share ids");
        }
    }
    // The same configuration: the same ids.
    assert_eq!(ids(base.clone()).0, all[0].0);
}

#[test]
fn default_now_and_tool_names() {
    assert_eq!(
        GenConfig::default().now_ms,
        parse_rfc3339_ms("2026-11-27T12:00:00Z").unwrap()
    );
    for t in EventType::ALL {
        for name in tools_for(t).unwrap_or(&[]) {
            assert!(TOOLS.iter().any(|x| x.0 == *name), "{name}");
        }
    }
    assert_eq!(TYPE_WEIGHTS.iter().map(|t| t.1).sum::<u32>(), 100_000);
    for (i, (t, _)) in TYPE_WEIGHTS.iter().enumerate() {
        assert!(TYPE_WEIGHTS[..i].iter().all(|(u, _)| u != t));
    }
}

#[test]
fn valid_deterministic_and_realistic() {
    let cfg = small(7);
    let a: Vec<Event> = Generator::new(cfg.clone()).collect();
    let b: Vec<Event> = Generator::new(cfg.clone()).collect();
    assert_eq!(a, b);
    let c: Vec<Event> = Generator::new(small(8)).take(100).collect();
    assert_ne!(a[..100], c[..]);
    let total = a.len() as f64;
    assert!(
        (total / total_hint(&cfg) as f64 - 1.0).abs() < 0.01,
        "{total}"
    );
    let mut seen: HashMap<&str, &Event> = HashMap::new();
    let (mut dups, mut changed, mut late) = (0, 0, false);
    let mut max_day = Day(i32::MIN);
    for e in &a {
        e.validate().unwrap();
        assert!(e.event_timestamp_ms <= cfg.now_ms);
        assert_eq!(e.is_api, e.device_type == "API");
        late |= e.day() < max_day;
        max_day = max_day.max(e.day());
        if let Some(first) = seen.insert(&e.event_id, e) {
            dups += 1;
            changed += usize::from(*first != *e);
        }
    }
    assert!(late, "no late events");
    let frac = dups as f64 / (total - dups as f64);
    assert!((0.007..0.013).contains(&frac), "dup fraction {frac}");
    assert!(changed > 0 && changed < dups / 3, "{changed} of {dups}");
    let views = a.iter().filter(|e| e.event_type == EventType::View).count() as f64;
    assert!((0.5..0.6).contains(&(views / total)), "{views}");
    assert!(a.iter().any(|e| e.user_id > 1 << 53));
    assert!(
        a.iter().any(|e| e.project_name.is_none()
            && e.url.as_deref().is_some_and(|u| u.contains("/companies/")))
    );
}

#[test]
fn all_types_in_200k_and_partial_last_day() {
    let cfg = GenConfig {
        days: 10,
        events_per_day: 20_000,
        seed: 1,
        ..GenConfig::default()
    };
    let mut counts = [0u64; 24];
    let mut n = 0;
    for e in Generator::new(cfg.clone()) {
        counts[e.event_type as usize] += 1;
        assert!(e.event_timestamp_ms <= cfg.now_ms);
        n += 1;
    }
    assert!(n >= 200_000);
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
}

#[test]
fn in_order_within_day_without_late_or_dups() {
    let cfg = GenConfig {
        late_fraction: 0.0,
        dup_fraction: 0.0,
        ..small(3)
    };
    let ts: Vec<i64> = Generator::new(cfg.clone())
        .map(|e| e.event_timestamp_ms)
        .collect();
    assert_eq!(ts.len() as u64, total_hint(&cfg));
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    // Working hours dominate: most events fall in 11:00-03:00 UTC (6-19 local).
    let work = ts
        .iter()
        .filter(|&&t| !(4..11).contains(&(t.rem_euclid(MS_PER_DAY) / 3_600_000)))
        .count();
    assert!(work as f64 > 0.9 * ts.len() as f64);
    assert_eq!(Generator::new(GenConfig { days: 0, ..cfg }).count(), 0);
}

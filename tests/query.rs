//! Differential tests of the query engine against the naive full-scan
//! oracle in `tests/common/oracle.rs`.
//!
//! - `queries_match_oracle_in_every_state`: random small data sets (late,
//!   duplicate and partly-missing events over several days, non-ASCII
//!   strings, ids above 2^53) and random queries from the whole model,
//!   checked while the data is buffered, sealed, mixed, compacted, reopened
//!   and after the clock moved on; listings are paged through with cursors.
//! - `large_segments_match_oracle`: one larger data set (segments of more
//!   than one block, mapped dictionary columns, more distinct values than a
//!   predicate ORs bitmaps for) and many random queries over it.
//!
//! `PROPTEST_CASES=500 cargo test --release --test query` for a longer run
//! (the large test runs 4x that many queries).

mod common;

use std::cell::Cell;
use std::sync::Arc;

use common::oracle::{Answer, Oracle, comparable, fmt_ts};
use common::{NOW_MS, clock};
use daybook::query::{Direction, Op, Predicate, Query, Select, TimeWindow};
use daybook::{Day, Engine, Event, EventType, Field, FieldKind, ManualClock, Options};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value as J, json};

const MS_PER_DAY: i64 = 86_400_000;
const MAX_ID: u64 = i64::MAX as u64;
const RETENTION: u32 = 31;

/// Test cases: `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Vocabularies: small, so that predicates and groups hit.

const COMPANIES: &[&str] = &[
    "Granite Ridge",
    "Bâtiments Ødegård",
    "建設",
    "Granite Ridge Builders",
    "granite ridge",
    "Zeta Å",
];
const EVENT_NAMES: &[&str] = &[
    "Viewed RFI",
    "Viewed Drawing",
    "Created RFI",
    "Signed Form",
    "Exported Log",
];
const SUBTYPES: &[Option<&str>] = &[None, Some("Detail"), Some("List"), Some("détail")];
const TOOLS: &[&str] = &["RFIs", "Drawings", "Daily Log", "Submittals"];
const PROJECTS: &[Option<&str>] = &[
    None,
    Some("Harbor Point Tower"),
    Some("Harbor"),
    Some("Ørsted Park"),
    Some("Project 1"),
];
const PROJECT_NUMBERS: &[Option<&str>] = &[None, Some("2026-014"), Some("2026-015"), Some("A-1")];
const OPT_BOOLS: &[Option<bool>] = &[None, Some(true), Some(false)];
const OBJECT_IDS: &[Option<u64>] = &[
    None,
    Some(0),
    Some(845_512),
    Some(1 << 53),
    Some((1 << 53) + 1),
    Some(MAX_ID),
];
const URLS: &[Option<&str>] = &[
    None,
    Some("https://app.example.com/p/1"),
    Some("https://app.example.com/p/1/rfis/9"),
    Some("https://app.example.com/é?q=建設"),
];
const DEVICES: &[&str] = &["Web", "iOS", "Android", "API"];
const USER_IDS: &[u64] = &[0, 70_211, (1 << 53) - 1, (1 << 53) + 1, MAX_ID, 4_242];
const EMAILS: &[&str] = &["a@x.example", "b@x.example", "Ä@x.example", "zed@y.example"];
const LOGIN_EMAILS: &[Option<&str>] = &[None, Some("a@sso.example"), Some("b@sso.example")];
const USER_NAMES: &[&str] = &["Maria Ortiz", "Jörg Ødegård", "李伟", "maria ortiz"];
const JOB_TITLES: &[Option<&str>] = &[None, Some("Superintendent"), Some("PM")];
const ROLES: &[Option<&str>] = &[None, Some("Project Manager"), Some("Admin")];
const USER_TYPES: &[Option<&str>] = &[None, Some("Employee"), Some("Contractor")];
const TEMPLATES: &[Option<&str>] = &[None, Some("Standard"), Some("Standard Plus")];
/// `user_last_login_date`, in days before today.
const LOGIN_DAYS_AGO: &[Option<i64>] = &[None, Some(0), Some(1), Some(3), Some(400)];
const TYPES: &[EventType] = &[
    EventType::View,
    EventType::CreateUpdate,
    EventType::Close,
    EventType::Delete,
    EventType::Download,
    EventType::WithdrawVoid,
    EventType::Sign,
    EventType::Submit,
];
/// Event days, in days before today (-1: tomorrow, within the future
/// allowance; 30: the oldest retained day).
const DAYS_AGO: &[i64] = &[0, 1, -1, 2, 6, 29, 30, 1, 0];
/// Milliseconds into the day, boundaries first.
const MS_POINTS: &[i64] = &[
    0, 86_399_999, 1, 43_200_000, 86_399_998, 43_199_999, 999, 3_600_000,
];
/// UTC offsets (minutes) timestamps are written at.
const OFFSETS: &[i32] = &[0, 120, -300, 330, -720, 840, -30];

fn today() -> Day {
    Day::of_ms(NOW_MS)
}

fn day_ago(n: i64) -> Day {
    today().add_days(-(n as i32))
}

fn pick<T: Copy>(list: &[T], i: usize) -> T {
    list[i % list.len()]
}

fn opt_s(list: &[Option<&str>], i: usize) -> Option<String> {
    pick(list, i).map(str::to_string)
}

// ---------------------------------------------------------------------------
// Events.

#[derive(Clone, Debug)]
struct EvSpec {
    /// Re-send the id of an earlier event (by index, modulo).
    dup: Option<u16>,
    id_style: u8,
    day: usize,
    ms_point: usize,
    ms_raw: i64,
    attrs: [u8; 24],
}

fn ev_spec() -> impl Strategy<Value = EvSpec> {
    (
        prop::option::weighted(0.15, any::<u16>()),
        0u8..4,
        0..DAYS_AGO.len(),
        0usize..12,
        0i64..MS_PER_DAY,
        prop::array::uniform24(0u8..32),
    )
        .prop_map(|(dup, id_style, day, ms_point, ms_raw, attrs)| EvSpec {
            dup,
            id_style,
            day,
            ms_point,
            ms_raw,
            attrs,
        })
}

/// Fresh event ids: canonical lowercase UUIDs (stored in UUID blocks) and
/// others.
fn id_for(n: usize, style: u8) -> String {
    match style {
        0 | 1 => {
            let h = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                h >> 32,
                (h >> 16) & 0xffff,
                h & 0xfff,
                (h >> 20) & 0xfff,
                n
            )
        }
        2 => format!("ev-{n:03}"),
        _ => format!("évt/{n}"),
    }
}

fn make_event(id: String, ts: i64, a: &[u8; 24]) -> Event {
    let i = |k: usize| a[k] as usize;
    Event {
        event_id: id,
        event_timestamp_ms: ts,
        event_type: pick(TYPES, i(0)),
        event_name: pick(EVENT_NAMES, i(1)).into(),
        event_subtype: opt_s(SUBTYPES, i(2)),
        tool_name: pick(TOOLS, i(3)).into(),
        company_name: pick(COMPANIES, i(4)).into(),
        project_name: opt_s(PROJECTS, i(5)),
        project_number: opt_s(PROJECT_NUMBERS, i(6)),
        project_is_demo: pick(OPT_BOOLS, i(7)),
        object_id: pick(OBJECT_IDS, i(8)),
        url: opt_s(URLS, i(9)),
        device_type: pick(DEVICES, i(10)).into(),
        is_api: i(11) % 2 == 1,
        user_id: pick(USER_IDS, i(12)),
        user_email: pick(EMAILS, i(13)).into(),
        user_login_email: opt_s(LOGIN_EMAILS, i(14)),
        user_name: pick(USER_NAMES, i(15)).into(),
        user_job_title: opt_s(JOB_TITLES, i(16)),
        user_role: opt_s(ROLES, i(17)),
        user_type: opt_s(USER_TYPES, i(18)),
        user_default_permission_template: opt_s(TEMPLATES, i(19)),
        user_is_active: pick(OPT_BOOLS, i(20)),
        user_is_authorized_bidder: pick(OPT_BOOLS, i(21)),
        user_last_login_date: pick(LOGIN_DAYS_AGO, i(22)).map(day_ago),
    }
}

/// Builds the batches' events: ids fresh or re-sent, timestamps on the
/// chosen days (tomorrow's no later than now + 1 day).
fn build_batches(specs: &[Vec<EvSpec>], uuid_only: bool) -> Vec<Vec<Event>> {
    let mut ids: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for batch in specs {
        let mut evs = Vec::new();
        for s in batch {
            let id = match s.dup {
                Some(d) if !ids.is_empty() => ids[d as usize % ids.len()].clone(),
                _ => id_for(ids.len(), if uuid_only { 0 } else { s.id_style }),
            };
            ids.push(id.clone());
            let days_ago = DAYS_AGO[s.day];
            let mut ms = if s.ms_point < MS_POINTS.len() {
                MS_POINTS[s.ms_point]
            } else {
                s.ms_raw
            };
            if days_ago < 0 {
                ms %= MS_PER_DAY / 2 + 1;
            }
            evs.push(make_event(id, day_ago(days_ago).start_ms() + ms, &s.attrs));
        }
        out.push(evs);
    }
    out
}

// ---------------------------------------------------------------------------
// Operands: values present in the data (mostly) and absent ones.

fn date_json(d: Day) -> J {
    J::String(d.to_string())
}

/// Values of `field` that occur in generated data. Timestamps are written
/// at offset `off`.
fn present(field: Field, off: i32, extra: bool) -> Vec<J> {
    let strs = |l: &[&str]| l.iter().map(|s| json!(s)).collect::<Vec<_>>();
    let ostrs = |l: &[Option<&str>]| l.iter().flatten().map(|s| json!(s)).collect::<Vec<_>>();
    match field {
        Field::EventId => (0..24)
            .map(|n| json!(id_for(n, [0, 2, 3][n % 3])))
            .collect(),
        Field::EventTimestamp => {
            let mut v = Vec::new();
            for d in DAYS_AGO {
                for ms in MS_POINTS {
                    v.push(json!(fmt_ts(day_ago(*d).start_ms() + ms, off, extra)));
                }
            }
            v
        }
        Field::EventDate => DAYS_AGO.iter().map(|d| date_json(day_ago(*d))).collect(),
        Field::EventType => TYPES.iter().map(|t| json!(t.as_str())).collect(),
        Field::EventName => strs(EVENT_NAMES),
        Field::EventSubtype => ostrs(SUBTYPES),
        Field::ToolName => strs(TOOLS),
        Field::CompanyName => strs(COMPANIES),
        Field::ProjectName => ostrs(PROJECTS),
        Field::ProjectNumber => ostrs(PROJECT_NUMBERS),
        Field::ProjectIsDemo
        | Field::IsApi
        | Field::UserIsActive
        | Field::UserIsAuthorizedBidder => vec![json!(true), json!(false)],
        Field::ObjectId => OBJECT_IDS.iter().flatten().map(|n| json!(n)).collect(),
        Field::Url => ostrs(URLS),
        Field::DeviceType => strs(DEVICES),
        Field::UserId => USER_IDS.iter().map(|n| json!(n)).collect(),
        Field::UserEmail => strs(EMAILS),
        Field::UserLoginEmail => ostrs(LOGIN_EMAILS),
        Field::UserName => strs(USER_NAMES),
        Field::UserJobTitle => ostrs(JOB_TITLES),
        Field::UserRole => ostrs(ROLES),
        Field::UserType => ostrs(USER_TYPES),
        Field::UserDefaultPermissionTemplate => ostrs(TEMPLATES),
        Field::UserLastLoginDate => LOGIN_DAYS_AGO
            .iter()
            .flatten()
            .map(|d| date_json(day_ago(*d)))
            .collect(),
    }
}

/// Values of `field`'s type that occur in no generated event.
fn absent(field: Field, off: i32) -> Vec<J> {
    match field.kind() {
        FieldKind::Str => vec![json!("Nope"), json!("granite"), json!("Ærø"), json!("")],
        FieldKind::EventType => vec![json!("Publish"), json!("Allow"), json!("View")],
        FieldKind::Int => vec![json!(1), json!(999), json!(MAX_ID - 1)],
        FieldKind::Bool => vec![json!(true)],
        FieldKind::Date => vec![
            date_json(day_ago(45)),
            date_json(day_ago(4)),
            date_json(day_ago(-3)),
        ],
        FieldKind::Timestamp => vec![
            json!(fmt_ts(day_ago(3).start_ms() + 12_345_678, off, false)),
            json!(fmt_ts(day_ago(40).start_ms(), off, false)),
            json!(fmt_ts(day_ago(-5).start_ms(), off, true)),
        ],
    }
}

/// A prefix (`starts`) or substring of one of `s`'s values, cut on char
/// boundaries.
fn cut(s: &str, a: usize, b: usize, starts: bool) -> String {
    let cs: Vec<char> = s.chars().collect();
    let i = if starts { 0 } else { a % (cs.len() + 1) };
    let j = i + b % (cs.len() - i + 1);
    cs[i..j].iter().collect()
}

#[derive(Clone, Debug)]
struct PredSeed {
    field: usize,
    op: usize,
    a: usize,
    b: usize,
    n: usize,
    absent: bool,
    /// 0: generate an invalid predicate.
    invalid: u8,
}

fn pred_seed() -> impl Strategy<Value = PredSeed> {
    (
        0usize..26,
        0usize..12,
        any::<usize>(),
        any::<usize>(),
        0usize..5,
        prop::bool::weighted(0.15),
        0u8..60,
    )
        .prop_map(|(field, op, a, b, n, absent, invalid)| PredSeed {
            field,
            op,
            a,
            b,
            n,
            absent,
            invalid,
        })
}

const NON_TEXT_OPS: [Op; 10] = [
    Op::Eq,
    Op::Ne,
    Op::Lt,
    Op::Le,
    Op::Gt,
    Op::Ge,
    Op::In,
    Op::NotIn,
    Op::IsNull,
    Op::NotNull,
];

fn build_pred(s: &PredSeed) -> Predicate {
    let field = Field::ALL[s.field];
    let p = |f: &str, op: Op, value: Option<J>| Predicate {
        field: f.into(),
        op,
        value,
    };
    if s.invalid == 0 {
        let name = field.name();
        return match s.a % 8 {
            0 => p("colour", Op::Eq, Some(json!("red"))),
            1 => {
                let wrong = match field.kind() {
                    FieldKind::Str | FieldKind::EventType => json!(5),
                    FieldKind::Int => json!("5"),
                    FieldKind::Bool => json!("true"),
                    FieldKind::Timestamp => json!("yesterday"),
                    FieldKind::Date => json!("2026-13-45"),
                };
                p(name, Op::Eq, Some(wrong))
            }
            2 => p(name, Op::Ge, None),
            3 => p(name, Op::IsNull, Some(json!(1))),
            4 => p("user_id", Op::Contains, Some(json!("7"))),
            5 => p(name, Op::In, Some(json!("x"))),
            6 => p("object_id", Op::Eq, Some(json!(1u64 << 63))),
            _ => p("event_type", Op::Eq, Some(json!("Viewed"))),
        };
    }
    let kind = field.kind();
    let text = matches!(kind, FieldKind::Str | FieldKind::EventType);
    let op = if text {
        Op::ALL[s.op]
    } else {
        NON_TEXT_OPS[s.op % NON_TEXT_OPS.len()]
    };
    let off = OFFSETS[s.b % OFFSETS.len()];
    let extra = s.b.is_multiple_of(5);
    let pool = |k: usize, absent_too: bool| -> J {
        let pres = present(field, off, extra);
        if absent_too {
            let abs = absent(field, off);
            abs[k % abs.len()].clone()
        } else {
            pres[k % pres.len()].clone()
        }
    };
    let one = |k: usize| -> J {
        if field == Field::EventType
            && matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge)
            && k.is_multiple_of(3)
        {
            // Any string orders against the spellings.
            let any = ["D", "Create", "Create/", "Withdraw/", "/", "Z", "", "Sign"];
            return json!(any[k % any.len()]);
        }
        pool(k, s.absent)
    };
    let value = match op {
        Op::IsNull | Op::NotNull => None,
        Op::In | Op::NotIn => Some(J::Array(
            (0..s.n)
                .map(|k| pool(s.a.wrapping_add(k * 7), s.absent && k == 0))
                .collect(),
        )),
        Op::Contains | Op::StartsWith => {
            let J::String(src) = pool(s.a, false) else {
                unreachable!("text field")
            };
            Some(json!(cut(&src, s.a / 7, s.b / 7, op == Op::StartsWith)))
        }
        _ => Some(one(s.a)),
    };
    p(field.name(), op, value)
}

// ---------------------------------------------------------------------------
// Windows.

#[derive(Clone, Debug)]
struct WinSeed {
    kind: u8,
    days_ago: i64,
    ms: i64,
    dur: usize,
    off_from: usize,
    off_to: usize,
    extra: bool,
    last_days: u32,
}

fn win_seed() -> impl Strategy<Value = WinSeed> {
    (
        0u8..10,
        prop_oneof![
            4 => prop::sample::select(DAYS_AGO.to_vec()),
            1 => prop::sample::select(vec![31i64, 33, 45, -2]),
        ],
        prop_oneof![prop::sample::select(MS_POINTS.to_vec()), 0i64..MS_PER_DAY,],
        0usize..12,
        0usize..OFFSETS.len(),
        0usize..OFFSETS.len(),
        any::<bool>(),
        prop_oneof![10 => 1u32..=31, 1 => Just(0u32), 1 => Just(32u32)],
    )
        .prop_map(
            |(kind, days_ago, ms, dur, off_from, off_to, extra, last_days)| WinSeed {
                kind,
                days_ago,
                ms,
                dur,
                off_from,
                off_to,
                extra,
                last_days,
            },
        )
}

/// Window lengths: some empty or negative (errors), some crossing days.
const DURATIONS: [i64; 12] = [
    -5 * 3_600_000,
    0,
    1,
    1000,
    3_600_000,
    MS_PER_DAY - 1,
    MS_PER_DAY,
    MS_PER_DAY + 1,
    3 * MS_PER_DAY,
    3 * MS_PER_DAY + 7_654_321,
    40 * MS_PER_DAY,
    12 * 3_600_000,
];

fn build_window(w: &WinSeed) -> Option<TimeWindow> {
    match w.kind {
        0..=2 => None,
        3 | 4 => Some(TimeWindow::LastDays {
            last_days: w.last_days,
        }),
        _ => {
            let from = day_ago(w.days_ago).start_ms() + w.ms;
            let to = from + DURATIONS[w.dur];
            Some(TimeWindow::Range {
                from: fmt_ts(from, OFFSETS[w.off_from], w.extra),
                to: fmt_ts(to, OFFSETS[w.off_to], false),
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Queries.

/// Group-by fields, common ones more often.
const GROUP_POOL: &[Field] = &[
    Field::CompanyName,
    Field::EventType,
    Field::ToolName,
    Field::DeviceType,
    Field::IsApi,
    Field::ProjectName,
    Field::UserRole,
    Field::UserIsActive,
    Field::ProjectIsDemo,
    Field::UserLastLoginDate,
    Field::EventDate,
    Field::UserId,
    Field::EventSubtype,
    Field::UserEmail,
    Field::EventName,
    Field::ProjectNumber,
    Field::UserType,
    Field::CompanyName,
    Field::EventType,
    Field::EventDate,
    Field::ObjectId,
    Field::Url,
    Field::EventId,
    Field::EventTimestamp,
];

#[derive(Clone, Debug)]
struct QSeed {
    window: WinSeed,
    preds: Vec<PredSeed>,
    events: bool,
    group: Vec<usize>,
    order: Vec<(usize, bool)>,
    fields: Vec<usize>,
    limit: Option<u64>,
    offset: Option<u64>,
    /// 0..6: one shape error.
    bad: u8,
}

fn q_seed() -> impl Strategy<Value = QSeed> {
    (
        win_seed(),
        prop::collection::vec(pred_seed(), 0..=3),
        prop::bool::weighted(0.45),
        prop::collection::vec(0..GROUP_POOL.len(), 0..=3),
        prop::collection::vec((0usize..64, any::<bool>()), 0..=2),
        prop_oneof![
            2 => Just(Vec::new()),
            3 => prop::collection::vec(0usize..26, 1..=5),
        ],
        prop_oneof![2 => Just(None), 3 => (1u64..16).prop_map(Some)],
        prop_oneof![3 => Just(None), 1 => (0u64..6).prop_map(Some)],
        0u8..90,
    )
        .prop_map(
            |(window, preds, events, group, order, fields, limit, offset, bad)| QSeed {
                window,
                preds,
                events,
                group,
                order,
                fields,
                limit,
                offset,
                bad,
            },
        )
}

fn build_query(s: &QSeed) -> Query {
    let mut q = Query {
        time: build_window(&s.window),
        filters: s.preds.iter().map(build_pred).collect(),
        ..Query::default()
    };
    if s.events {
        q.select = Select::Events;
        let mut fields: Vec<Field> = Vec::new();
        for i in &s.fields {
            let f = Field::ALL[*i];
            if !fields.contains(&f) {
                fields.push(f);
            }
        }
        q.fields = fields.iter().map(|f| f.name().to_string()).collect();
        q.order_by = s
            .order
            .iter()
            .map(|(i, d)| (Field::ALL[i % 26].name().to_string(), dir(*d)))
            .collect();
        q.limit = s.limit;
    } else {
        let mut group: Vec<Field> = Vec::new();
        for i in &s.group {
            let f = GROUP_POOL[*i];
            if !group.contains(&f) {
                group.push(f);
            }
        }
        q.group_by = group.iter().map(|f| f.name().to_string()).collect();
        q.order_by = s
            .order
            .iter()
            .map(|(i, d)| {
                let k = i % (group.len() + 1);
                let name = group.get(k).map_or("count", |f| f.name());
                (name.to_string(), dir(*d))
            })
            .collect();
        // Counts are usually read whole.
        q.limit = s.limit.filter(|l| l % 3 == 0);
    }
    q.offset = s.offset;
    match s.bad {
        0 => q.group_by.push("tool_name".into()),
        1 => q.fields.push("user_id".into()),
        2 => q.order_by.push(("url".into(), Direction::Asc)),
        3 => q.order_by.insert(0, ("count".into(), Direction::Desc)),
        4 => q.group_by.insert(0, "colour".into()),
        5 if !s.events => q.cursor = Some("00".into()),
        _ => {}
    }
    q
}

fn dir(desc: bool) -> Direction {
    if desc {
        Direction::Desc
    } else {
        Direction::Asc
    }
}

// ---------------------------------------------------------------------------
// Checking.

/// What the checks of one test saw, to make sure its random queries are
/// not trivial.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    errors: usize,
    ok: usize,
    nonempty: usize,
    filtered: usize,
    pages: usize,
}

thread_local! {
    static SEEN: Cell<Seen> = Cell::new(Seen::default());
}

fn bump(f: impl FnOnce(&mut Seen)) {
    SEEN.with(|s| {
        let mut v = s.get();
        f(&mut v);
        s.set(v);
    });
}

/// Fails unless at least `min_percent` of queries were answered with some
/// events (and some with filters), some rejected, and some paged. (Not
/// checked on short runs.)
fn assert_coverage(name: &str, min_percent: usize) {
    let s = SEEN.with(Cell::get);
    eprintln!("{name}: {s:?}");
    if s.ok + s.errors < 200 {
        return;
    }
    assert!(s.errors > 0, "{name}: no query was rejected: {s:?}");
    assert!(s.pages > 0, "{name}: no listing was paged: {s:?}");
    assert!(
        s.nonempty * 100 >= s.ok * min_percent,
        "{name}: too few queries matched anything: {s:?}"
    );
    assert!(s.filtered * 100 >= s.ok * min_percent / 3, "{name}: {s:?}");
}

/// Runs `q` on the engine and the oracle, and compares; for a listing
/// with a limit, also pages through it with cursors.
fn check(
    engine: &Engine,
    oracle: &Oracle,
    now_ms: i64,
    q: &Query,
    state: &str,
) -> Result<(), TestCaseError> {
    let want = oracle.query(q, now_ms, RETENTION, None);
    let got = engine.query(q);
    let json = q.to_json();
    let want = match (want, got) {
        (Err(part), Err(e)) => {
            bump(|s| s.errors += 1);
            let msg = e.to_string();
            prop_assert!(
                part.named_by(&msg),
                "[{}] error {:?} does not name {:?}; query {}",
                state,
                msg,
                part,
                json
            );
            return Ok(());
        }
        (Err(part), Ok(r)) => {
            return Err(TestCaseError::fail(format!(
                "[{state}] engine accepted a query the oracle rejects at {part}: {json}\n-> {r:?}"
            )));
        }
        (Ok(_), Err(e)) => {
            return Err(TestCaseError::fail(format!(
                "[{state}] engine failed: {e}; query {json}"
            )));
        }
        (Ok(want), Ok(got)) => {
            bump(|s| s.ok += 1);
            if want.result.matched_events > 0 {
                bump(|s| s.nonempty += 1);
                if !q.filters.is_empty() {
                    bump(|s| s.filtered += 1);
                }
            }
            prop_assert_eq!(&comparable(got), &want.result, "[{}] query {}", state, json);
            want
        }
    };
    let (explained, _) = engine
        .explain(q)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        &comparable(explained),
        &want.result,
        "[{}] explain of {}",
        state,
        json
    );
    if q.select == Select::Events && q.limit.is_some() {
        page_through(engine, oracle, now_ms, q, &want, state)?;
    }
    Ok(())
}

/// Follows `next_cursor` from the first page; each page must be the
/// oracle's, and all pages together the whole listing from the offset.
fn page_through(
    engine: &Engine,
    oracle: &Oracle,
    now_ms: i64,
    q: &Query,
    first: &Answer,
    state: &str,
) -> Result<(), TestCaseError> {
    let mut seen = first.result.rows.clone();
    let mut cursor = engine
        .query(q)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .next_cursor;
    let mut last_key = first.last_key.clone();
    let mut pages = 1;
    while let Some(c) = cursor {
        if pages >= 40 {
            return Ok(());
        }
        let mut next = q.clone();
        next.cursor = Some(c);
        next.offset = None;
        let want = oracle
            .query(&next, now_ms, RETENTION, last_key.as_deref())
            .map_err(|e| TestCaseError::fail(format!("oracle: {e}")))?;
        let got = engine
            .query(&next)
            .map_err(|e| TestCaseError::fail(format!("[{state}] page {pages}: {e}")))?;
        cursor = got.next_cursor.clone();
        prop_assert_eq!(
            &comparable(got),
            &want.result,
            "[{}] page {} of {}",
            state,
            pages,
            next.to_json()
        );
        bump(|s| s.pages += 1);
        seen.extend(want.result.rows.iter().cloned());
        last_key = want.last_key;
        pages += 1;
    }
    let offset = q.offset.unwrap_or(0) as usize;
    let whole: Vec<_> = first.all_rows.iter().skip(offset).cloned().collect();
    prop_assert_eq!(seen, whole, "[{}] pages of {}", state, q.to_json());
    Ok(())
}

fn check_all(
    engine: &Engine,
    oracle: &Oracle,
    now_ms: i64,
    queries: &[Query],
    state: &str,
) -> Result<(), TestCaseError> {
    // A few fixed queries every state runs, then the random ones.
    let fixed = [
        Query::count(),
        Query::count().group_by(&["event_date"]),
        Query::events().limit(7),
    ];
    // (Only the random queries count for coverage.)
    let before = SEEN.with(Cell::get);
    for q in &fixed {
        check(engine, oracle, now_ms, q, state)?;
    }
    SEEN.with(|s| s.set(before));
    for q in queries {
        check(engine, oracle, now_ms, q, state)?;
    }
    Ok(())
}

fn opts(c: &ManualClock) -> Options {
    Options {
        clock: Arc::new(c.clone()),
        max_buffered_events: 1 << 20,
        compact_min_segments: 0,
        ..Options::default()
    }
}

fn append(engine: &Engine, oracle: &mut Oracle, batch: &[Event]) -> Result<(), TestCaseError> {
    let want = oracle.append(batch);
    let r = engine
        .append(batch.to_vec())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(r.rejected.is_empty(), "rejected: {:?}", r.rejected);
    prop_assert_eq!((r.stored, r.duplicates), want);
    Ok(())
}

fn run_case(
    batches: &[Vec<Event>],
    queries: &[Query],
    advance_hours: i64,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let mut engine = Engine::open(dir.path(), opts(&c)).unwrap();
    let mut oracle = Oracle::new();
    let n = batches.len();
    let (g1, rest) = batches.split_at(n.div_ceil(3));
    let (g2, g3) = rest.split_at(rest.len().div_ceil(2));

    for b in g1 {
        append(&engine, &mut oracle, b)?;
    }
    check_all(&engine, &oracle, NOW_MS, queries, "buffered")?;

    engine.flush().unwrap();
    check_all(&engine, &oracle, NOW_MS, queries, "sealed")?;

    for b in g2 {
        append(&engine, &mut oracle, b)?;
    }
    check_all(&engine, &oracle, NOW_MS, queries, "mixed")?;

    engine.flush().unwrap();
    engine.compact().unwrap();
    check_all(&engine, &oracle, NOW_MS, queries, "compacted")?;

    for b in g3 {
        append(&engine, &mut oracle, b)?;
    }
    drop(engine);
    engine = Engine::open(dir.path(), opts(&c)).unwrap();
    check_all(&engine, &oracle, NOW_MS, queries, "reopened")?;

    c.advance_ms(advance_hours * 3_600_000);
    let later = NOW_MS + advance_hours * 3_600_000;
    check_all(&engine, &oracle, later, queries, "clock advanced")?;
    Ok(())
}

#[test]
fn queries_match_oracle_in_every_state() {
    let strategy = (
        prop::collection::vec(prop::collection::vec(ev_spec(), 0..30), 1..6),
        prop::bool::weighted(0.25),
        prop::collection::vec(q_seed(), 1..7),
        1i64..80,
    );
    let mut runner = TestRunner::new(config(cases(256)));
    let result = runner.run(&strategy, |(specs, uuid_only, qseeds, advance)| {
        let batches = build_batches(&specs, uuid_only);
        let queries: Vec<Query> = qseeds.iter().map(build_query).collect();
        run_case(&batches, &queries, advance)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_coverage("queries_match_oracle_in_every_state", 40);
}

// ---------------------------------------------------------------------------
// One larger data set: segments over several blocks, mapped dictionary
// columns (user attributes of `user_id`, `event_type`/`tool_name` of
// `event_name`, ...), 60 users (more than a predicate ORs bitmaps for).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const BIG_USERS: u64 = 60;

/// An event whose user attributes are functions of its user (when
/// `functional`), and type and tool functions of its name.
fn big_event(rng: &mut Rng, id: String, ts: i64, functional: bool) -> Event {
    let mut a = [0u8; 24];
    for x in a.iter_mut() {
        *x = rng.below(32) as u8;
    }
    let mut e = make_event(id, ts, &a);
    let u = rng.below(BIG_USERS);
    e.user_id = match u {
        0 => MAX_ID,
        1 => (1 << 53) + 1,
        2 => 1 << 53,
        _ => 1000 + u * 7,
    };
    if functional {
        let k = u as usize;
        e.user_email = format!("user{u}@{}", ["x.example", "y.example", "ü.example"][k % 3]);
        e.user_name = format!("{} {u}", pick(USER_NAMES, k));
        e.user_login_email = (!k.is_multiple_of(4)).then(|| format!("u{u}@sso.example"));
        e.user_job_title = opt_s(JOB_TITLES, k);
        e.user_role = opt_s(ROLES, k / 3);
        e.user_type = opt_s(USER_TYPES, k / 2);
        e.user_default_permission_template = opt_s(TEMPLATES, k / 5);
        e.user_is_active = pick(OPT_BOOLS, k);
        e.user_is_authorized_bidder = pick(OPT_BOOLS, k / 4);
        e.user_last_login_date = pick(LOGIN_DAYS_AGO, k).map(day_ago);
        e.company_name = pick(COMPANIES, k / 7).into();
        let name = a[1] as usize;
        e.event_type = pick(TYPES, name);
        e.tool_name = pick(TOOLS, name).into();
        e.is_api = e.device_type == "API";
        e.project_is_demo = e.project_name.as_ref().map(|p| p.len() % 2 == 0);
    }
    if rng.below(3) == 0 {
        e.object_id = Some(rng.below(5000) * 104_729);
    }
    e
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    oracle: Oracle,
}

fn big_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let engine = Engine::open(dir.path(), opts(&c)).unwrap();
    let mut oracle = Oracle::new();
    let mut rng = Rng(7);
    let mut n = 0usize;
    let mut batch = |rng: &mut Rng, days_ago: i64, count: usize, functional: bool| {
        let mut evs = Vec::with_capacity(count);
        for _ in 0..count {
            let ms = match rng.below(10) {
                0 => pick(MS_POINTS, rng.below(8) as usize),
                _ => rng.below(MS_PER_DAY as u64) as i64,
            };
            let id = if n > 0 && rng.below(40) == 0 {
                id_for(rng.below(n as u64) as usize, 0)
            } else {
                n += 1;
                id_for(n - 1, 0)
            };
            evs.push(big_event(
                rng,
                id,
                day_ago(days_ago).start_ms() + ms,
                functional,
            ));
        }
        evs
    };
    let mut add = |b: Vec<Event>| {
        let want = oracle.append(&b);
        let r = engine.append(b).unwrap();
        assert_eq!((r.stored, r.duplicates), want);
        assert!(r.rejected.is_empty());
    };
    // Day 3: one segment of 2,600 rows (three blocks), mapped columns.
    add(batch(&mut rng, 3, 2600, true));
    engine.flush().unwrap();
    // Day 2: two segments, compacted into one of 3,000 rows.
    add(batch(&mut rng, 2, 1500, true));
    engine.flush().unwrap();
    add(batch(&mut rng, 2, 1500, true));
    engine.flush().unwrap();
    engine.compact().unwrap();
    // Older days, sealed.
    add(batch(&mut rng, 30, 300, true));
    add(batch(&mut rng, 29, 200, false));
    add(batch(&mut rng, 6, 200, true));
    // Day 1: attributes not functional (per-row codes), sealed, plus
    // late events for days 1-3 buffered.
    add(batch(&mut rng, 1, 1200, false));
    engine.flush().unwrap();
    add(batch(&mut rng, 1, 150, false));
    add(batch(&mut rng, 2, 100, true));
    add(batch(&mut rng, 3, 100, false));
    // Today: buffered only.
    add(batch(&mut rng, 0, 300, true));
    // The fixture exercises what it is for: segments of several blocks,
    // mapped columns, and buffered events next to segments.
    let snap = engine.snapshot();
    let (mut multi_block, mut mapped, mut mixed) = (0, 0, 0);
    for (_, d) in snap.partitions() {
        for seg in &d.segments {
            multi_block += usize::from(seg.rows() > 1024);
            mapped += usize::from(seg.dict(Field::UserEmail).unwrap().parent().is_some());
        }
        mixed += usize::from(!d.segments.is_empty() && !d.mem.is_empty());
    }
    assert!(
        multi_block >= 2 && mapped >= 2 && mixed >= 2,
        "{multi_block} {mapped} {mixed}"
    );
    Fixture {
        _dir: dir,
        engine,
        oracle,
    }
}

#[test]
fn large_segments_match_oracle() {
    let fx = big_fixture();
    // Operands of the big data set's own values, besides the vocabularies.
    let users: Vec<u64> = fx.oracle.events().iter().map(|e| e.user_id).collect();
    let emails: Vec<String> = fx
        .oracle
        .events()
        .iter()
        .map(|e| e.user_email.clone())
        .collect();
    let strategy = (
        q_seed(),
        prop::collection::vec((any::<prop::sample::Index>(), 0usize..4), 0..3),
    );
    let mut runner = TestRunner::new(config(cases(256) * 4));
    let result = runner.run(&strategy, |(seed, extra)| {
        let mut q = build_query(&seed);
        for (ix, kind) in extra {
            let (field, op, value) = match kind {
                0 => ("user_id", Op::Eq, json!(users[ix.index(users.len())])),
                1 => (
                    "user_id",
                    Op::NotIn,
                    json!([users[ix.index(users.len())], users[0]]),
                ),
                2 => ("user_email", Op::Eq, json!(emails[ix.index(emails.len())])),
                _ => ("user_email", Op::Gt, json!(emails[ix.index(emails.len())])),
            };
            q = q.filter(field, op, value);
        }
        check(&fx.engine, &fx.oracle, NOW_MS, &q, "large")
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_coverage("large_segments_match_oracle", 40);
}

#[test]
fn fmt_ts_round_trips() {
    for ms in [
        0,
        NOW_MS,
        day_ago(30).start_ms() - 1,
        day_ago(-1).start_ms(),
        951_868_800_000, // 2000-03-01
        951_782_400_000, // 2000-02-29
    ] {
        for off in OFFSETS {
            let s = fmt_ts(ms, *off, true);
            assert_eq!(daybook::time::parse_rfc3339_ms(&s), Ok(ms), "{s}");
        }
    }
    assert_eq!(fmt_ts(NOW_MS, 0, false), "2026-11-27T12:00:00.000Z");
    assert_eq!(fmt_ts(NOW_MS, -330, false), "2026-11-27T06:30:00.000-05:30");
}

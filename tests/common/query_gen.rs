//! Generators of the differential query tests (`query.rs`): random
//! events over small vocabularies (so predicates and groups hit), random
//! predicates, windows and queries over the whole query model.
#![allow(dead_code)]

use super::common::NOW_MS;
use super::common::oracle::fmt_ts;
use daybook::query::{Direction, Op, Predicate, Query, Select, TimeWindow};
use daybook::{Day, Event, EventType, Field, FieldKind};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value as J, json};

pub const MS_PER_DAY: i64 = 86_400_000;
pub const MAX_ID: u64 = i64::MAX as u64;
pub const RETENTION: u32 = 31;

/// Test cases: `PROPTEST_CASES` if set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

pub fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Vocabularies: small, so that predicates and groups hit.

pub const COMPANIES: &[&str] = &[
    "Granite Ridge",
    "Bâtiments Ødegård",
    "建設",
    "Granite Ridge Builders",
    "granite ridge",
    "Zeta Å",
];
pub const EVENT_NAMES: &[&str] = &[
    "Viewed RFI",
    "Viewed Drawing",
    "Created RFI",
    "Signed Form",
    "Exported Log",
];
pub const SUBTYPES: &[Option<&str>] = &[None, Some("Detail"), Some("List"), Some("détail")];
pub const TOOLS: &[&str] = &["RFIs", "Drawings", "Daily Log", "Submittals"];
pub const PROJECTS: &[Option<&str>] = &[
    None,
    Some("Harbor Point Tower"),
    Some("Harbor"),
    Some("Ørsted Park"),
    Some("Project 1"),
];
pub const PROJECT_NUMBERS: &[Option<&str>] =
    &[None, Some("2026-014"), Some("2026-015"), Some("A-1")];
pub const OPT_BOOLS: &[Option<bool>] = &[None, Some(true), Some(false)];
pub const OBJECT_IDS: &[Option<u64>] = &[
    None,
    Some(0),
    Some(845_512),
    Some(1 << 53),
    Some((1 << 53) + 1),
    Some(MAX_ID),
];
pub const URLS: &[Option<&str>] = &[
    None,
    Some("https://app.example.com/p/1"),
    Some("https://app.example.com/p/1/rfis/9"),
    Some("https://app.example.com/é?q=建設"),
];
pub const DEVICES: &[&str] = &["Web", "iOS", "Android", "API"];
pub const USER_IDS: &[u64] = &[0, 70_211, (1 << 53) - 1, (1 << 53) + 1, MAX_ID, 4_242];
pub const EMAILS: &[&str] = &["a@x.example", "b@x.example", "Ä@x.example", "zed@y.example"];
pub const LOGIN_EMAILS: &[Option<&str>] = &[None, Some("a@sso.example"), Some("b@sso.example")];
pub const USER_NAMES: &[&str] = &["Maria Ortiz", "Jörg Ødegård", "李伟", "maria ortiz"];
pub const JOB_TITLES: &[Option<&str>] = &[None, Some("Superintendent"), Some("PM")];
pub const ROLES: &[Option<&str>] = &[None, Some("Project Manager"), Some("Admin")];
pub const USER_TYPES: &[Option<&str>] = &[None, Some("Employee"), Some("Contractor")];
pub const TEMPLATES: &[Option<&str>] = &[None, Some("Standard"), Some("Standard Plus")];
/// `user_last_login_date`, in days before today.
pub const LOGIN_DAYS_AGO: &[Option<i64>] = &[None, Some(0), Some(1), Some(3), Some(400)];
pub const TYPES: &[EventType] = &[
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
pub const DAYS_AGO: &[i64] = &[0, 1, -1, 2, 6, 29, 30, 1, 0];
/// Milliseconds into the day, boundaries first.
pub const MS_POINTS: &[i64] = &[
    0, 86_399_999, 1, 43_200_000, 86_399_998, 43_199_999, 999, 3_600_000,
];
/// UTC offsets (minutes) timestamps are written at.
pub const OFFSETS: &[i32] = &[0, 120, -300, 330, -720, 840, -30];

pub fn today() -> Day {
    Day::of_ms(NOW_MS)
}

pub fn day_ago(n: i64) -> Day {
    today().add_days(-(n as i32))
}

pub fn pick<T: Copy>(list: &[T], i: usize) -> T {
    list[i % list.len()]
}

pub fn opt_s(list: &[Option<&str>], i: usize) -> Option<String> {
    pick(list, i).map(str::to_string)
}

// ---------------------------------------------------------------------------
// Events.

#[derive(Clone, Debug)]
pub struct EvSpec {
    /// Re-send the id of an earlier event (by index, modulo).
    pub dup: Option<u16>,
    pub id_style: u8,
    pub day: usize,
    pub ms_point: usize,
    pub ms_raw: i64,
    pub attrs: [u8; 24],
}

pub fn ev_spec() -> impl Strategy<Value = EvSpec> {
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
pub fn id_for(n: usize, style: u8) -> String {
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

pub fn make_event(id: String, ts: i64, a: &[u8; 24]) -> Event {
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
pub fn build_batches(specs: &[Vec<EvSpec>], uuid_only: bool) -> Vec<Vec<Event>> {
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

pub fn date_json(d: Day) -> J {
    J::String(d.to_string())
}

/// Values of `field` that occur in generated data. Timestamps are written
/// at offset `off`.
pub fn present(field: Field, off: i32, extra: bool) -> Vec<J> {
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
pub fn absent(field: Field, off: i32) -> Vec<J> {
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
pub fn cut(s: &str, a: usize, b: usize, starts: bool) -> String {
    let cs: Vec<char> = s.chars().collect();
    let i = if starts { 0 } else { a % (cs.len() + 1) };
    let j = i + b % (cs.len() - i + 1);
    cs[i..j].iter().collect()
}

#[derive(Clone, Debug)]
pub struct PredSeed {
    pub field: usize,
    pub op: usize,
    pub a: usize,
    pub b: usize,
    pub n: usize,
    pub absent: bool,
    /// 0: generate an invalid predicate.
    pub invalid: u8,
}

pub fn pred_seed() -> impl Strategy<Value = PredSeed> {
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

pub const NON_TEXT_OPS: [Op; 10] = [
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

pub fn build_pred(s: &PredSeed) -> Predicate {
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
pub struct WinSeed {
    pub kind: u8,
    pub days_ago: i64,
    pub ms: i64,
    pub dur: usize,
    pub off_from: usize,
    pub off_to: usize,
    pub extra: bool,
    pub last_days: u32,
}

pub fn win_seed() -> impl Strategy<Value = WinSeed> {
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
pub const DURATIONS: [i64; 12] = [
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

pub fn build_window(w: &WinSeed) -> Option<TimeWindow> {
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
pub const GROUP_POOL: &[Field] = &[
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
pub struct QSeed {
    pub window: WinSeed,
    pub preds: Vec<PredSeed>,
    pub events: bool,
    pub group: Vec<usize>,
    pub order: Vec<(usize, bool)>,
    pub fields: Vec<usize>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// 0..6: one shape error.
    pub bad: u8,
}

pub fn q_seed() -> impl Strategy<Value = QSeed> {
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

pub fn build_query(s: &QSeed) -> Query {
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

pub fn dir(desc: bool) -> Direction {
    if desc {
        Direction::Desc
    } else {
        Direction::Asc
    }
}

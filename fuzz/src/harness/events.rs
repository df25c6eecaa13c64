//! Valid events for the targets: a varied but predictable one per number
//! (as in tests/common), and one shaped by fuzz input (non-ASCII and
//! maximum-length strings, UUID and odd ids, extreme integers and dates).

use daybook::event::{MAX_EVENT_ID_BYTES, MAX_ID, MAX_STRING_BYTES, MAX_URL_BYTES};
use daybook::time::{MAX_TS_MS, MS_PER_DAY};
use daybook::{Day, Event, EventType};

use super::Input;

/// A valid event with the given id and timestamp; other fields derived from
/// `n` so that events differ (some optional fields missing).
pub fn varied(id: &str, ts_ms: i64, n: u64) -> Event {
    let every = |k: u64| n.is_multiple_of(k);
    Event {
        event_id: id.to_string(),
        event_timestamp_ms: ts_ms,
        event_type: EventType::ALL[(n % 24) as usize],
        event_name: format!("Did thing {}", n % 5),
        event_subtype: every(3).then(|| "Detail".to_string()),
        tool_name: ["RFIs", "Drawings", "Daily Log", "Submittals"][(n % 4) as usize].to_string(),
        company_name: ["Granite Ridge", "Harbor Point"][(n % 2) as usize].to_string(),
        project_name: (!every(7)).then(|| format!("Project {}", n % 3)),
        project_number: (!every(7)).then(|| format!("2026-0{}", n % 3)),
        project_is_demo: every(5).then_some(every(2)),
        object_id: (!every(11)).then_some(n * 7919),
        url: (!every(13)).then(|| format!("https://app.example.com/p/{}/rfis/{}", n % 3, n * 7919)),
        device_type: ["Web", "iOS", "Android", "API"][(n % 4) as usize].to_string(),
        is_api: n % 4 == 3,
        user_id: if every(17) { MAX_ID - n } else { 1000 + n % 50 },
        user_email: format!("user{}@example.com", n % 50),
        user_login_email: every(2).then(|| format!("u{}@sso.example.com", n % 50)),
        user_name: format!("User {}", n % 50),
        user_job_title: (!every(4)).then(|| "Superintendent".to_string()),
        user_role: Some("Project Manager".to_string()),
        user_type: (!every(6)).then(|| "Employee".to_string()),
        user_default_permission_template: None,
        user_is_active: Some(!every(9)),
        user_is_authorized_bidder: (n % 3 == 1).then_some(true),
        user_last_login_date: (n % 2 == 1).then(|| Day::of_ms(ts_ms)),
    }
}

const WORDS: [&str; 8] = [
    "RFIs",
    "Drawings",
    "Daily Log",
    "Zürich Straße",
    "日本語のプロジェクト",
    "a",
    "a\u{0}b",
    "emoji 🏗️ site",
];

/// A non-empty string of at most `max` bytes: a common word (so dictionaries
/// get repeats), fuzz bytes read as UTF-8, or a long string at the limit.
pub fn text(inp: &mut Input<'_>, max: usize) -> String {
    let mut s = match inp.u8() % 8 {
        0..=3 => WORDS[inp.below(WORDS.len() as u64) as usize].to_string(),
        4..=6 => {
            let n = inp.below(40) as usize;
            String::from_utf8_lossy(inp.bytes(n)).into_owned()
        }
        _ => {
            let c = char::from(b'a' + inp.below(26) as u8);
            std::iter::repeat_n(c, max).collect()
        }
    };
    while s.len() > max {
        s.pop();
    }
    if s.is_empty() {
        s.push('x');
    }
    s
}

fn opt_text(inp: &mut Input<'_>, max: usize) -> Option<String> {
    inp.bool().then(|| text(inp, max))
}

fn opt_bool(inp: &mut Input<'_>) -> Option<bool> {
    match inp.u8() % 3 {
        0 => None,
        1 => Some(false),
        _ => Some(true),
    }
}

fn int(inp: &mut Input<'_>) -> u64 {
    match inp.u8() % 6 {
        0 => 0,
        1 => MAX_ID,
        2 => (1 << 53) + 1,
        3 => inp.u64() & MAX_ID,
        _ => 1000 + inp.below(8),
    }
}

fn hex(b: &[u8], upper: bool) -> String {
    let mut s = String::new();
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        if upper {
            s.push_str(&format!("{x:02X}"));
        } else {
            s.push_str(&format!("{x:02x}"));
        }
    }
    s
}

/// An event id: canonical UUIDs (stored as 16 bytes), near-UUIDs that must
/// round-trip as text, short ids, fuzz text, the longest allowed.
pub fn event_id(inp: &mut Input<'_>, i: usize) -> String {
    match inp.u8() % 6 {
        0 | 1 => {
            let mut b = [0u8; 16];
            for (k, x) in b.iter_mut().enumerate() {
                *x = inp.u8() ^ (i as u8).wrapping_mul(31).wrapping_add(k as u8);
            }
            hex(&b, false)
        }
        2 => {
            let b: Vec<u8> = (0..16).map(|k| (i + k) as u8).collect();
            hex(&b, true)
        }
        3 => format!("e-{i}"),
        4 => format!("{}-{i}", text(inp, MAX_EVENT_ID_BYTES - 8)),
        _ => {
            let mut s = format!("{i}-");
            while s.len() < MAX_EVENT_ID_BYTES {
                s.push('z');
            }
            s
        }
    }
}

/// A valid event on `day`, shaped by the input; `i` keeps ids apart.
pub fn from_input(inp: &mut Input<'_>, day: Day, i: usize) -> Event {
    let ts = match inp.u8() % 8 {
        0 => day.start_ms(),
        1 => day.end_ms() - 1,
        _ => day.start_ms() + i64::from(inp.u32()) % MS_PER_DAY,
    }
    .min(MAX_TS_MS);
    Event {
        event_id: event_id(inp, i),
        event_timestamp_ms: ts,
        event_type: EventType::ALL[inp.below(24) as usize],
        event_name: text(inp, MAX_STRING_BYTES),
        event_subtype: opt_text(inp, MAX_STRING_BYTES),
        tool_name: text(inp, MAX_STRING_BYTES),
        company_name: text(inp, MAX_STRING_BYTES),
        project_name: opt_text(inp, MAX_STRING_BYTES),
        project_number: opt_text(inp, MAX_STRING_BYTES),
        project_is_demo: opt_bool(inp),
        object_id: inp.bool().then(|| int(inp)),
        url: match inp.u8() % 4 {
            0 => None,
            1 => Some(std::iter::repeat_n('u', MAX_URL_BYTES).collect()),
            _ => Some(format!("https://x.example/{}", text(inp, 200))),
        },
        device_type: text(inp, MAX_STRING_BYTES),
        is_api: inp.bool(),
        user_id: int(inp),
        user_email: text(inp, MAX_STRING_BYTES),
        user_login_email: opt_text(inp, MAX_STRING_BYTES),
        user_name: text(inp, MAX_STRING_BYTES),
        user_job_title: opt_text(inp, MAX_STRING_BYTES),
        user_role: opt_text(inp, MAX_STRING_BYTES),
        user_type: opt_text(inp, MAX_STRING_BYTES),
        user_default_permission_template: opt_text(inp, MAX_STRING_BYTES),
        user_is_active: opt_bool(inp),
        user_is_authorized_bidder: opt_bool(inp),
        user_last_login_date: match inp.u8() % 4 {
            0 => None,
            1 => Some(Day(0)),
            2 => Some(Day::of_ms(MAX_TS_MS)),
            _ => Some(day),
        },
    }
}

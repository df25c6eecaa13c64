//! Starting inputs for every target: what `gen-seeds` writes into
//! `fuzz/corpus/<target>/` and what tests/fuzz_regressions.rs replays.
//! Built from the code (not stored), so they follow format changes.

use daybook::Event;
use daybook::codec::encode_event;
use daybook::csv_event::{event_to_csv_line, header_line};
use daybook::json::{event_to_json, event_to_json_line};
use daybook::log::{LOG_HEADER_LEN, LOG_MAGIC, LOG_VERSION, RECORD_MAGIC};

use super::events::varied;
use super::segment::small_segment;
use super::{Input, NOW_MS};

/// The example of docs/event-format.md.
pub const EXAMPLE_EVENT: &str = r#"{"event_id":"6f1c0c9e-3b2a-4c55-9a57-0b1f7c2d9e11","event_timestamp":"2026-11-26T14:03:22.123Z","event_type":"View","event_name":"Viewed RFI","event_subtype":"Detail","tool_name":"RFIs","company_name":"Granite Ridge Builders","project_name":"Harbor Point Tower","project_number":"2026-014","project_is_demo":false,"object_id":845512,"url":"https://app.example.com/projects/311/rfis/845512","device_type":"iOS","is_api":false,"user_id":70211,"user_email":"m.ortiz@graniteridge.example","user_login_email":"mortiz@sso.graniteridge.example","user_name":"Maria Ortiz","user_job_title":"Superintendent","user_role":"Project Manager","user_type":"Employee","user_default_permission_template":"Standard","user_is_active":true,"user_is_authorized_bidder":false,"user_last_login_date":"2026-11-26"}"#;

/// A few byte strings that drive the input-decoding targets down different
/// paths (all zeros, all ones, a counting pattern, a pseudo-random run).
fn patterns() -> Vec<Vec<u8>> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let random: Vec<u8> = (0..512)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    vec![
        vec![0; 64],
        vec![0xff; 64],
        (0..=255).collect(),
        random.clone(),
        random[..100].to_vec(),
    ]
}

fn events() -> Vec<Event> {
    (0..6u64)
        .map(|i| {
            varied(
                &format!("seed-{i}"),
                NOW_MS - 3_600_000 * i as i64,
                i * 7 + 1,
            )
        })
        .collect()
}

pub fn segment_bytes() -> Vec<Vec<u8>> {
    patterns()
        .iter()
        .map(|p| small_segment(&mut Input::new(&p[..p.len().min(48)])).0)
        .collect()
}

pub fn segment_mutated() -> Vec<Vec<u8>> {
    let mut out = patterns();
    for (base, flags) in [(0u8, 0u8), (0, 1), (7, 0), (7, 1)] {
        let mut v = vec![base, flags];
        v.extend_from_slice(&patterns()[3][..200]);
        out.push(v);
    }
    out
}

/// A log file as the engine writes it: header, then one record per batch.
pub fn log_file(batches: &[Vec<Event>]) -> Vec<u8> {
    let mut h = vec![0u8; LOG_HEADER_LEN];
    h[0..8].copy_from_slice(&LOG_MAGIC);
    h[8..12].copy_from_slice(&LOG_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&1u64.to_le_bytes());
    let crc = crc32fast::hash(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    for b in batches {
        let mut p = (b.len() as u32).to_le_bytes().to_vec();
        for e in b {
            encode_event(&mut p, e);
        }
        let len = p.len() as u32;
        let mut c = crc32fast::Hasher::new();
        c.update(&len.to_le_bytes());
        c.update(&p);
        h.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
        h.extend_from_slice(&len.to_le_bytes());
        h.extend_from_slice(&c.finalize().to_le_bytes());
        h.extend_from_slice(&p);
    }
    h
}

pub fn log_bytes() -> Vec<Vec<u8>> {
    let evs = events();
    let file = log_file(&[evs[..2].to_vec(), evs[2..].to_vec()]);
    let mut raw = vec![0u8];
    raw.extend_from_slice(&file);
    let mut torn = raw.clone();
    torn.truncate(raw.len() - 7);
    let mut after_header = vec![1u8];
    after_header.extend_from_slice(&file[LOG_HEADER_LEN..]);
    let mut out = vec![raw, torn, after_header];
    for (i, p) in patterns().into_iter().enumerate() {
        let mut v = vec![2 + i as u8 * 2];
        v.extend_from_slice(&p);
        out.push(v);
    }
    out
}

pub fn json_event() -> Vec<Vec<u8>> {
    let mut out = vec![EXAMPLE_EVENT.as_bytes().to_vec()];
    for e in events() {
        out.push(event_to_json_line(&e).into_bytes());
        out.push(event_to_json(&e).to_string().into_bytes());
    }
    out.push(br#"{"event_id":"x","event_timestamp":"2026-11-25T23:10:00-01:00","event_date":"2026-11-26","event_type":"Withdraw/Void","event_name":"n","tool_name":"t","company_name":"c","device_type":"d","is_api":true,"user_id":9223372036854775807,"user_email":"e","user_name":"\u00e9\ud83c\udfd7"}"#.to_vec());
    out
}

pub fn csv_event() -> Vec<Vec<u8>> {
    let evs = events();
    let mut text = format!("\u{feff}{}\r\n", header_line());
    for e in &evs {
        text.push_str(&event_to_csv_line(e));
        text.push_str("\r\n");
    }
    text.push_str("\n\"quoted, \"\"cell\"\"\nwith a line feed\",x\n");
    let mut out = Vec::new();
    for k in [0u8, 7, 63] {
        let mut v = vec![k, 0x55, 0xaa, 0xff, 0, 1, 2, 3, 4];
        v.extend_from_slice(text.as_bytes());
        out.push(v);
    }
    let short = "event_id,event_timestamp,event_type,event_name,tool_name,company_name,device_type,is_api,user_id,user_email,user_name\n\
                 e-1,2026-11-26T14:03:22.123Z,View,Viewed RFI,RFIs,Granite Ridge,iOS,false,7,m@x.example,Maria\n\
                 \n\
                 e-2,2026-11-26T14:03:23Z,View,Viewed RFI,RFIs,Granite Ridge,iOS,maybe,7,m@x.example,Maria\n";
    let mut v = vec![3u8, 1, 2, 3, 4, 5, 6, 7, 8];
    v.extend_from_slice(short.as_bytes());
    out.push(v);
    out
}

/// Every JSON block of docs/queries.md, plus a few built here.
pub fn query_doc(queries_md: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in queries_md.lines() {
        match (&mut block, line.trim_start()) {
            (None, l) if l.starts_with("```json") => block = Some(String::new()),
            (Some(b), l) if l.starts_with("```") => {
                out.push(std::mem::take(b).into_bytes());
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    for q in [
        r#"{"group_by":["event_date","device_type"],"order_by":[["count","desc"]],"limit":3,"offset":1}"#,
        r#"{"select":"events","where":[{"field":"url","op":"contains","value":"rfis"},{"field":"user_id","op":"not_in","value":[1000,1001]}],"order_by":[["user_id","asc"]],"limit":4}"#,
        r#"{"time":{"from":"2026-11-26T00:00:00+05:00","to":"2026-11-27T12:00:00Z"},"where":[{"field":"project_name","op":"is_null"},{"field":"event_timestamp","op":"ge","value":"2026-11-26T10:00:00Z"}],"group_by":["user_email"]}"#,
        r#"{"select":"events","fields":["event_id","company_name"],"where":[{"field":"company_name","op":"starts_with","value":"B"}],"limit":0}"#,
    ] {
        out.push(q.as_bytes().to_vec());
    }
    out
}

pub fn ops_model() -> Vec<Vec<u8>> {
    let mut out = patterns();
    // Appends, a fault, appends, a power loss, a query: for each config.
    for cfg in [0u8, 1, 5, 0x13, 0x26] {
        let mut v = vec![cfg];
        for i in 0..6u8 {
            v.extend_from_slice(&[0, 4, i, 0, 1, 2, 3, 4, i, 9, i + 1, 1, 9, 9, 9, 9, i, 9]);
        }
        v.extend_from_slice(&[22, 1, 2, 0, 0]);
        v.extend_from_slice(&[0, 3, 7, 0, 5, 5, 5, 5, 1, 9, 8, 1, 9, 9, 9, 9, 2, 9]);
        v.extend_from_slice(&[
            26, 5, 0, 2, 1, 9, 9, 9, 9, 3, 9, 28, 3, 1, 2, 3, 4, 5, 6, 7, 8, 18,
        ]);
        out.push(v);
    }
    out
}

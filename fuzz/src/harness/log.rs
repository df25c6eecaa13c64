//! `log_bytes`: bytes as the write-ahead log of a fresh data directory
//! (`log/00000000000000000001.log`, and sometimes a second, newer log),
//! then `Engine::open` on an in-memory file system. It must return `Ok` or
//! an error, never panic.
//!
//! Byte 0 picks how the file is made: the raw input; a valid header then the
//! raw input; or (most often) records framed from events derived from the
//! input, some damaged (with or without a re-forged checksum), some with raw
//! payloads, then a torn tail, garbage or a cut. For the framed files the
//! expected outcome is computed independently from docs/format.md ("Log
//! file"): records are replayed in order; a bad record with no valid record
//! anywhere after it is a torn tail, cut off in the newest file and
//! corruption in an older one; any other bad record is corruption. When every
//! record the rules accept is one this harness framed from known events, the
//! open must succeed with exactly those events (first copy of each id,
//! expired days dropped), or fail with `Corrupted` when the rules say so.
//! Whatever opens must read back, verify clean, reopen to the same contents
//! and accept a new append.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use daybook::codec::encode_event;
use daybook::log::{LOG_HEADER_LEN, LOG_MAGIC, LOG_VERSION, RECORD_HEADER_LEN, RECORD_MAGIC};
use daybook::storage::{SimStorage, Storage};
use daybook::{Day, Engine, Error, Event, ManualClock, Options};

use super::events::{from_input, varied};
use super::{Input, NOW_MS};

const ROOT: &str = "/sim/data";

fn header(seq: u64) -> Vec<u8> {
    let mut h = vec![0u8; LOG_HEADER_LEN];
    h[0..8].copy_from_slice(&LOG_MAGIC);
    h[8..12].copy_from_slice(&LOG_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(payload);
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The end of a valid record at `pos` (docs/format.md: magic, length at
/// most 2^30, all bytes present, CRC of the length and payload).
fn valid_record(bytes: &[u8], pos: usize) -> Option<usize> {
    let h = bytes.get(pos..pos.checked_add(RECORD_HEADER_LEN)?)?;
    let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let crc = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if magic != RECORD_MAGIC || len > 1 << 30 {
        return None;
    }
    let end = pos + RECORD_HEADER_LEN + len as usize;
    let payload = bytes.get(pos + RECORD_HEADER_LEN..end)?;
    let mut c = crc32fast::Hasher::new();
    c.update(&len.to_le_bytes());
    c.update(payload);
    (c.finalize() == crc).then_some(end)
}

/// One log file as built: its bytes, and the events of each record this
/// harness framed intact, by the record's offset.
struct LogFile {
    seq: u64,
    bytes: Vec<u8>,
    known: BTreeMap<usize, Vec<Event>>,
    header_ok: bool,
}

/// What the format's rules say opening these files gives.
enum Expect {
    /// Open succeeds; the batches replayed, in order.
    Replayed(Vec<Vec<Event>>),
    /// Open fails with `Corrupted`.
    Corrupt,
    /// The rules accept bytes whose meaning this harness does not know.
    Unknown,
}

fn expect(files: &[LogFile]) -> Expect {
    let mut batches = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let newest = i + 1 == files.len();
        let b = &f.bytes;
        if b.len() < LOG_HEADER_LEN {
            if newest {
                continue;
            }
            return Expect::Corrupt;
        }
        if !f.header_ok {
            return Expect::Unknown;
        }
        let mut pos = LOG_HEADER_LEN;
        while pos < b.len() {
            match valid_record(b, pos) {
                Some(end) => match f.known.get(&pos) {
                    Some(evs) if pos + RECORD_HEADER_LEN + payload_len(evs) == end => {
                        batches.push(evs.clone());
                        pos = end;
                    }
                    _ => return Expect::Unknown,
                },
                None => {
                    let later = (pos + 1..b.len()).any(|q| valid_record(b, q).is_some());
                    if later || !newest {
                        return Expect::Corrupt;
                    }
                    break;
                }
            }
        }
    }
    Expect::Replayed(batches)
}

fn payload(evs: &[Event]) -> Vec<u8> {
    let mut p = (evs.len() as u32).to_le_bytes().to_vec();
    for e in evs {
        encode_event(&mut p, e);
    }
    p
}

fn payload_len(evs: &[Event]) -> usize {
    payload(evs).len()
}

/// Builds one log file of framed records from the input.
fn framed(inp: &mut Input<'_>, seq: u64, ids: &mut Vec<String>) -> LogFile {
    let mut bytes = header(seq);
    let mut known = BTreeMap::new();
    let mut header_ok = true;
    let today = Day::of_ms(NOW_MS);
    for r in 0..inp.below(6) {
        let at = bytes.len();
        let kind = inp.u8();
        if kind % 8 == 7 {
            // A raw payload: a count and bytes that may or may not decode.
            let n = inp.below(96) as usize;
            let raw = inp.bytes(n).to_vec();
            bytes.extend_from_slice(&frame(&raw));
            continue;
        }
        let mut evs = Vec::new();
        for j in 0..inp.below(5) {
            let day = today.add_days(1 - inp.below(40) as i32);
            let e = if !ids.is_empty() && inp.chance(48) {
                // The same id again: a re-sent event (possibly different), or,
                // under the other company, another event.
                let id = ids[inp.below(ids.len() as u64) as usize].clone();
                let mut e = varied(&id, day.start_ms() + i64::from(inp.u16()), j);
                e.user_id = inp.u8().into();
                e
            } else if inp.bool() {
                let i = ids.len();
                from_input(inp, day, i)
            } else {
                varied(
                    &format!("s{seq}r{r}e{j}"),
                    day.start_ms() + i64::from(inp.u32() % 86_400_000),
                    u64::from(inp.u8()),
                )
            };
            ids.push(e.event_id.clone());
            evs.push(e);
        }
        let mut rec = frame(&payload(&evs));
        match inp.u8() % 8 {
            // Damage one byte, leaving the checksum: the record is now bad.
            0 => {
                let i = inp.below(rec.len() as u64) as usize;
                rec[i] ^= 1 << (inp.u8() % 8);
            }
            // Damage the payload and re-forge the checksum: it decodes (or
            // not) as something else.
            1 => {
                let i =
                    RECORD_HEADER_LEN + inp.below((rec.len() - RECORD_HEADER_LEN) as u64) as usize;
                rec[i] = inp.u8();
                rec = frame(&rec[RECORD_HEADER_LEN..]);
            }
            _ => {
                known.insert(at, evs);
            }
        }
        bytes.extend_from_slice(&rec);
    }
    match inp.u8() % 8 {
        // A torn tail: the start of one more record.
        0 | 1 => {
            let e = varied("torn", NOW_MS, 1);
            let rec = frame(&payload(&[e]));
            let n = inp.below(rec.len() as u64) as usize;
            bytes.extend_from_slice(&rec[..n]);
        }
        2 => {
            let n = inp.below(48) as usize;
            let g = inp.bytes(n).to_vec();
            bytes.extend_from_slice(&g);
        }
        // A cut anywhere, header included.
        3 => {
            let n = inp.below(bytes.len() as u64 + 1) as usize;
            bytes.truncate(n);
            known.retain(|at, _| *at < n);
        }
        // Header damage, with the header checksum re-forged or not.
        4 if inp.chance(64) => {
            let i = inp.below(LOG_HEADER_LEN as u64) as usize;
            bytes[i] ^= 1 << (inp.u8() % 8);
            if inp.bool() {
                let crc = crc32fast::hash(&bytes[..28]);
                bytes[28..32].copy_from_slice(&crc.to_le_bytes());
            }
            header_ok = false;
        }
        _ => {}
    }
    LogFile {
        seq,
        bytes,
        known,
        header_ok,
    }
}

fn opts(sim: &SimStorage) -> Options {
    Options {
        clock: Arc::new(ManualClock::new(NOW_MS)),
        storage: Arc::new(sim.clone()),
        // The default (8M keys, a 10 MB filter zeroed at every open) would
        // dominate a fuzz run.
        sealed_id_filter_keys: 4096,
        ..Options::default()
    }
}

fn write(sim: &SimStorage, path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        sim.create_dir_all(dir).expect("sim mkdir");
    }
    let f = sim.create(path, true).expect("sim create");
    if !bytes.is_empty() {
        f.write_all_at(bytes, 0).expect("sim write");
    }
}

fn log_path(seq: u64) -> PathBuf {
    Path::new(ROOT).join("log").join(format!("{seq:020}.log"))
}

/// Every stored event, by identity (`company_name`, `event_id`: dedup is per
/// company); panics on an identity stored twice.
fn contents(engine: &Engine) -> Result<BTreeMap<(String, String), Event>, Error> {
    let snap = engine.snapshot();
    let mut out = BTreeMap::new();
    for day in snap.days() {
        for e in snap.day_events(day)? {
            assert_eq!(e.day(), day, "event {} stored under day {day}", e.event_id);
            let id = (e.company_name.clone(), e.event_id.clone());
            assert!(
                out.insert(id.clone(), e).is_none(),
                "event {id:?} stored twice"
            );
        }
    }
    Ok(out)
}

pub fn log_bytes(data: &[u8]) {
    let mut inp = Input::new(data);
    let mode = inp.u8();
    let files: Vec<LogFile> = match mode % 8 {
        0 => vec![LogFile {
            seq: 1,
            bytes: inp.rest().to_vec(),
            known: BTreeMap::new(),
            header_ok: false,
        }],
        1 => {
            let mut bytes = header(1);
            bytes.extend_from_slice(inp.rest());
            vec![LogFile {
                seq: 1,
                bytes,
                known: BTreeMap::new(),
                header_ok: true,
            }]
        }
        m => {
            let mut ids = Vec::new();
            let mut files = vec![framed(&mut inp, 1, &mut ids)];
            if m >= 6 {
                files.push(framed(&mut inp, 2, &mut ids));
            }
            files
        }
    };
    let sim = SimStorage::new();
    for f in &files {
        write(&sim, &log_path(f.seq), &f.bytes);
    }
    let want = if mode % 8 >= 2 {
        expect(&files)
    } else {
        Expect::Unknown
    };
    super::trace(|| match &want {
        Expect::Replayed(b) => format!(
            "expect {} batches, {} events",
            b.len(),
            b.iter().flatten().count()
        ),
        Expect::Corrupt => "expect corruption".into(),
        Expect::Unknown => "expect unknown".into(),
    });
    let opened = Engine::open(ROOT, opts(&sim));
    let engine = match (opened, &want) {
        (Ok(engine), Expect::Corrupt) => {
            panic!(
                "damaged log opened: {:?}",
                contents(&engine).map(|c| c.len())
            )
        }
        (Err(e), Expect::Replayed(_)) => panic!("a log the format accepts failed to open: {e}"),
        (Err(e), Expect::Corrupt) => {
            assert!(
                e.is_corruption(),
                "damaged log: expected Corrupted, got {e}"
            );
            return;
        }
        (Err(Error::Corrupted { .. } | Error::UnsupportedVersion { .. }), Expect::Unknown) => {
            return;
        }
        (Err(e), Expect::Unknown) => panic!("log open failed with a non-corruption error: {e}"),
        (Ok(engine), _) => engine,
    };
    let got = contents(&engine).expect("a recovered engine reads back");
    super::trace(|| format!("recovered {} events", got.len()));
    assert!(
        engine.verify().is_empty(),
        "recovery wrote a damaged segment"
    );
    if let Expect::Replayed(batches) = &want {
        let horizon = Day::of_ms(NOW_MS).add_days(-30);
        let mut seen = HashSet::new();
        let mut expected = BTreeMap::new();
        for e in batches.iter().flatten() {
            let id = (e.company_name.clone(), e.event_id.clone());
            if e.day() >= horizon && seen.insert(id.clone()) {
                expected.insert(id, e.clone());
            }
        }
        assert_eq!(got, expected, "recovered events differ from the log's");
    }
    // Recovery is idempotent, and the engine works on.
    drop(engine);
    let engine = Engine::open(ROOT, opts(&sim)).expect("a recovered directory reopens");
    assert_eq!(
        contents(&engine).expect("reads back"),
        got,
        "second recovery differs"
    );
    let extra = varied("after-recovery", NOW_MS - 1_000, 3);
    let extra_is_new = !got.contains_key(&(extra.company_name.clone(), extra.event_id.clone()));
    let r = engine.append(vec![extra]).expect("append after recovery");
    assert_eq!(r.stored, usize::from(extra_is_new));
    engine.flush().expect("flush after recovery");
    drop(engine);
    let engine = Engine::open(ROOT, opts(&sim)).expect("reopens after an append");
    let after = contents(&engine).expect("reads back");
    assert_eq!(after.len(), got.len() + usize::from(extra_is_new));
}

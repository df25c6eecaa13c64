//! Deterministic, realistic synthetic user-activity events for benchmarks,
//! demos and tests.
//!
//! The same [`GenConfig`] always yields the same stream, byte for byte.
//! Event ids depend on the whole configuration (see [`Generator::new`]), so
//! two runs that differ in any setting (size, seed, clock, ...) share no id;
//! only the duplicates a run plants on purpose share their original's.
//!
//! Events are produced day by day in timestamp order (so memory stays
//! bounded); late (mobile sync) events and re-sent duplicates are parked in a
//! small heap and released later in the stream, like a real ingest feed.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::fmt::Write as _;

use chrono::Datelike;

use crate::event::{Event, EventType, MAX_ID};
use crate::time::{Day, MS_PER_DAY};

mod rng;
pub use rng::SplitMix64;

/// Settings for a [`Generator`].
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Number of UTC days of activity, ending with the day of `now_ms` (inclusive).
    pub days: u32,
    /// Average events per day; weekdays are busier than weekends.
    pub events_per_day: u64,
    /// How many companies (tenants) act.
    pub companies: u32,
    /// The seed: the same config and seed give the same events.
    pub seed: u64,
    /// Fraction of events delivered late (1-5 days, typically).
    pub late_fraction: f64,
    /// Fraction of events re-sent later as duplicates (same `event_id`).
    pub dup_fraction: f64,
    /// "Now": no generated timestamp is after it.
    pub now_ms: i64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            days: 7,
            events_per_day: 10_000,
            companies: 5,
            seed: 42,
            late_fraction: 0.02,
            dup_fraction: 0.01,
            now_ms: 1_795_780_800_000, // 2026-11-27T12:00:00Z
        }
    }
}

/// Expected number of events a generator with `cfg` yields (duplicates included).
pub fn total_hint(cfg: &GenConfig) -> u64 {
    let n = base_total(cfg);
    n.saturating_add((n as f64 * cfg.dup_fraction.clamp(0.0, 1.0)).round() as u64)
}

/// Days actually generated: never before 1970-01-01.
fn days_eff(cfg: &GenConfig) -> u32 {
    let now_day = Day::of_ms(cfg.now_ms.max(0)).0;
    cfg.days
        .min(u32::try_from(now_day).unwrap_or(0).saturating_add(1))
}

fn base_total(cfg: &GenConfig) -> u64 {
    u64::from(days_eff(cfg)).saturating_mul(cfg.events_per_day)
}

// ---- PRNG: xoshiro256** seeded by splitmix64 (small, fast, reproducible) ----

struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut seeds = SplitMix64::new(seed);
        Rng(std::array::from_fn(|_| seeds.next_u64()))
    }
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }
    /// Uniform in `0..n` (multiply-shift; the bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// Uniform in `[0, 1)`.
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Index drawn from cumulative weights `cum` (non-empty).
fn sample_cum(cum: &[f64], rng: &mut Rng) -> usize {
    let r = rng.f64() * cum.last().copied().unwrap_or(0.0);
    cum.partition_point(|&c| c <= r)
        .min(cum.len().saturating_sub(1))
}

/// Walker's alias table: O(1) weighted choice with one random memory access
/// (a binary search over thousands of users was the hot spot).
struct Alias(Vec<(f64, u32)>);

impl Alias {
    fn new(weights: impl IntoIterator<Item = f64>) -> Alias {
        let w: Vec<f64> = weights.into_iter().collect();
        let scale = w.len() as f64 / w.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let mut t: Vec<(f64, u32)> = (0..w.len()).map(|i| (w[i] * scale, i as u32)).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..t.len()).partition(|&i| t[i].0 < 1.0);
        while let (Some(&l), Some(&s)) = (large.last(), small.last()) {
            small.pop();
            t[s].1 = l as u32;
            t[l].0 -= 1.0 - t[s].0;
            if t[l].0 < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in small.into_iter().chain(large) {
            t[i].0 = 1.0; // rounding leftovers
        }
        Alias(t)
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let r = rng.f64() * self.0.len() as f64;
        let i = (r as usize).min(self.0.len().saturating_sub(1));
        if r - (i as f64) < self.0[i].0 {
            i
        } else {
            self.0[i].1 as usize
        }
    }
}

/// Zipf-like weights over `n` items in shuffled rank order, so that a few
/// items (users, projects) get most of the activity.
fn zipf(n: usize, s: f64, rng: &mut Rng) -> Alias {
    let mut ranks: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        ranks.swap(i, rng.below(i as u64 + 1) as usize);
    }
    Alias::new(ranks.iter().map(|&r| 1.0 / ((r + 1) as f64).powf(s)))
}

#[rustfmt::skip]
mod vocab;
use vocab::*;

/// Relative activity per local hour; mid-morning peak, lunch dip, few night events.
const WEEKDAY: [f64; 24] = [
    0.01, 0.01, 0.01, 0.01, 0.02, 0.08, 0.45, 0.85, 1.0, 1.0, 0.95, 0.8, 0.55, 0.75, 0.8, 0.7,
    0.55, 0.35, 0.2, 0.1, 0.06, 0.05, 0.03, 0.02,
];
const WEEKEND: [f64; 24] = [
    0.01, 0.01, 0.01, 0.01, 0.01, 0.03, 0.1, 0.3, 0.5, 0.6, 0.6, 0.55, 0.45, 0.4, 0.35, 0.25, 0.15,
    0.1, 0.06, 0.04, 0.03, 0.02, 0.02, 0.01,
];
/// Weekend days get this share of a weekday's volume.
const WEEKEND_SHARE: f64 = 0.15;
const BIN_MS: i64 = 15 * 60_000;
const BINS: usize = (MS_PER_DAY / BIN_MS) as usize;
/// Most late/duplicate events held back at once (bounds memory); when full,
/// the earliest-due one is released early.
const MAX_PENDING: usize = 1 << 16;

// ---- The model: companies, users, projects ----

struct User {
    id: u64,
    email: String,
    login_email: Option<String>,
    name: String,
    job_title: Option<&'static str>,
    role: Option<&'static str>,
    user_type: Option<&'static str>,
    template: Option<&'static str>,
    active: Option<bool>,
    bidder: Option<bool>,
    last_login: Option<Day>,
    /// The projects the user mostly works on.
    homes: [u16; 3],
}

struct Project {
    id: u64,
    name: String,
    number: String,
    demo: bool,
}

struct Company {
    name: String,
    id: u64,
    offset_ms: i64,
    /// Relative share of all activity.
    share: f64,
    users: Vec<User>,
    users_by_activity: Alias,
    projects: Vec<Project>,
}

fn build_companies(cfg: &GenConfig, rng: &mut Rng) -> Vec<Company> {
    let n = cfg.companies.max(1) as usize;
    let per = (cfg.events_per_day / n as u64 / 20).clamp(20, 2000) as f64;
    let now_day = Day::of_ms(cfg.now_ms);
    let year = now_day.to_naive().map_or(2026, |d| d.year());
    let (mut next_user, mut next_project) = (10_000u64, 300u64);
    let mut prefixes: Vec<&str> = CO_PREFIX.to_vec();
    for i in (1..prefixes.len()).rev() {
        prefixes.swap(i, rng.below(i as u64 + 1) as usize);
    }
    (0..n)
        .map(|ci| {
            // Distinct prefixes first; a numeric suffix keeps names unique beyond that.
            let prefix = prefixes[ci % prefixes.len()];
            let round = ci / prefixes.len();
            let mut name = format!("{prefix} {}", rng.pick(CO_SUFFIX));
            let mut domain: String = prefix
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase();
            if round > 0 {
                let _ = write!(name, " {}", round + 1);
                let _ = write!(domain, "{}", round + 1);
            }
            domain.push_str(".example");
            let n_users = ((per * (0.5 + rng.f64())).round() as usize).clamp(20, 2000);
            let max_projects = (n_users as u64 / 5).clamp(5, 40);
            let projects = build_projects(
                rng.range(5, max_projects) as usize,
                year,
                &mut next_project,
                rng,
            );
            let project_pick = zipf(projects.len(), 0.8, rng);
            let types = Alias::new(USER_TYPES.map(|t| t.1));
            let mut emails = HashSet::new();
            let users = (0..n_users)
                .map(|_| {
                    let id = if rng.chance(0.02) {
                        // Above 2^53: exercises exact integer handling end to end.
                        rng.range((1 << 53) + 1, MAX_ID)
                    } else {
                        next_user += rng.range(1, 40);
                        next_user
                    };
                    let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
                    let local = format!("{first}.{last}").to_lowercase();
                    let mut email = format!("{local}@{domain}");
                    let mut k = 2;
                    while !emails.insert(email.clone()) {
                        email = format!("{local}{k}@{domain}");
                        k += 1;
                    }
                    let login_email = rng
                        .chance(0.3)
                        .then(|| format!("{}{}@sso.{domain}", &first[..1], last).to_lowercase());
                    let ty = USER_TYPES[types.sample(rng)].0;
                    let vendor = ty == "Vendor";
                    let homes = std::array::from_fn(|_| project_pick.sample(rng) as u16);
                    // Vendors are subcontractors; everyone else varies.
                    let (role, template) = match vendor {
                        true => ("Subcontractor", "Subcontractor"),
                        false => (rng.pick(ROLES), rng.pick(TEMPLATES)),
                    };
                    User {
                        id,
                        email,
                        login_email,
                        name: format!("{first} {last}"),
                        job_title: (!rng.chance(0.12)).then(|| rng.pick(JOB_TITLES)),
                        role: (!rng.chance(0.1)).then_some(role),
                        user_type: (!rng.chance(0.03)).then_some(ty),
                        template: (!rng.chance(0.15)).then_some(template),
                        active: (!rng.chance(0.02)).then(|| !rng.chance(0.03)),
                        bidder: (!rng.chance(0.1))
                            .then(|| rng.chance(if vendor { 0.8 } else { 0.05 })),
                        last_login: (!rng.chance(0.03))
                            .then(|| now_day.add_days(-(rng.below(30) as i32)).max(Day(0))),
                        homes,
                    }
                })
                .collect();
            Company {
                name,
                id: 1000 + ci as u64 * 37 + rng.below(30),
                offset_ms: -(rng.range(5, 8) as i64) * 3_600_000,
                share: n_users as f64 * (0.7 + 0.6 * rng.f64()),
                users_by_activity: zipf(n_users, 1.0, rng),
                users,
                projects,
            }
        })
        .collect()
}

fn build_projects(n: usize, year: i32, next_id: &mut u64, rng: &mut Rng) -> Vec<Project> {
    let mut names = HashSet::new();
    let mut numbers = HashSet::new();
    (0..n)
        .map(|_| {
            let demo = rng.chance(0.1);
            let mut name = format!("{} {}", rng.pick(PLACES), rng.pick(KINDS));
            if demo {
                name.push_str(" (Demo)");
            }
            let mut phase = 2;
            let base = name.clone();
            while !names.insert(name.clone()) {
                name = format!("{base} Phase {phase}");
                phase += 1;
            }
            let mut number = String::new();
            while number.is_empty() || !numbers.insert(number.clone()) {
                number = format!("{}-{:03}", year - rng.below(3) as i32, rng.range(1, 250));
            }
            *next_id += rng.range(1, 50);
            Project {
                id: *next_id,
                name,
                number,
                demo,
            }
        })
        .collect()
}

/// Activity of a company at local time `local_ms` (before the daily factor).
fn intensity(local_ms: i64, weekend_scale: f64) -> f64 {
    let weekday = (local_ms.div_euclid(MS_PER_DAY) + 3).rem_euclid(7); // 0 = Monday
    let (profile, scale) = if weekday >= 5 {
        (&WEEKEND, weekend_scale)
    } else {
        (&WEEKDAY, 1.0)
    };
    // Interpolate between hour midpoints for a smooth curve.
    let x = local_ms.rem_euclid(MS_PER_DAY) as f64 / 3_600_000.0 - 0.5;
    let i0 = x.floor();
    let f = x - i0;
    let i0 = (i0 as i64).rem_euclid(24) as usize;
    scale * (profile[i0] * (1.0 - f) + profile[(i0 + 1) % 24] * f)
}

/// A held-back event, released once the stream reaches `release_ms`.
struct Pending {
    key: (i64, u64),
    event: Event,
}
impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key) // min-heap
    }
}

/// Streams synthetic events in arrival order; see the module docs.
pub struct Generator {
    cfg: GenConfig,
    rng: Rng,
    companies: Vec<Company>,
    types: Alias,
    /// Per type ordinal: the tools it happens in, weighted by popularity.
    tool_tables: Vec<(Alias, Vec<usize>)>,
    /// Precomputed names, `[(type * 2 + variant) * TOOLS.len() + tool]`.
    names: Vec<String>,
    devices: Alias,
    weekend_scale: f64,
    first_day: Day,
    day_counts: Vec<u64>,
    next_day: usize,
    left: u64,
    /// Position in [0, 1) of the last sorted uniform drawn in this day.
    pos: f64,
    /// Current bin: positions only grow within a day, so no search is needed.
    bin: usize,
    day_start: i64,
    /// Cumulative intensity per bin, and per bin the companies' cumulative shares.
    bins: Vec<f64>,
    bin_companies: Vec<f64>,
    pending: BinaryHeap<Pending>,
    seq: u64,
    /// Mixed into every event id: a hash of the whole configuration.
    id_key: [u64; 2],
    /// Next in-order event, not yet built: (timestamp, company, late).
    slot: Option<(i64, usize, bool)>,
}

/// A hash of every setting of `cfg`. The random stream depends on the seed
/// alone, so without this key two runs with the same seed but another size
/// or clock would give different events the same ids, and a store would
/// keep the first and drop the others as duplicates.
fn id_key(cfg: &GenConfig) -> [u64; 2] {
    let settings = [
        cfg.seed,
        u64::from(cfg.days),
        cfg.events_per_day,
        u64::from(cfg.companies),
        cfg.late_fraction.to_bits(),
        cfg.dup_fraction.to_bits(),
        cfg.now_ms as u64,
    ];
    let mut h = 0x6461_7962_6f6f_6b00; // "dayboo\0"
    for x in settings {
        h = SplitMix64::mix(h ^ x);
    }
    let mut key = SplitMix64::new(h);
    [key.next_u64(), key.next_u64()]
}

impl Generator {
    /// A generator for `cfg`. Its event ids are random version-4 UUIDs keyed
    /// by a hash of the whole configuration: the same configuration gives
    /// the same ids, another one (any setting) gives unrelated ids.
    pub fn new(cfg: GenConfig) -> Generator {
        let mut setup = Rng::new(cfg.seed);
        let companies = build_companies(&cfg, &mut setup);
        // Indexed by type ordinal (`ALL[t as usize] == t`).
        let tool_tables = EventType::ALL
            .iter()
            .map(|&t| {
                let idx: Vec<usize> = (0..TOOLS.len())
                    .filter(|&i| tools_for(t).is_none_or(|names| names.contains(&TOOLS[i].0)))
                    .collect();
                (Alias::new(idx.iter().map(|&i| f64::from(TOOLS[i].3))), idx)
            })
            .collect();
        let mut names = Vec::with_capacity(48 * TOOLS.len());
        for t in EventType::ALL {
            for variant in 0..2 {
                let (pre, suf) = name_parts(t, variant);
                names.extend(TOOLS.iter().map(|tool| format!("{pre} {}{suf}", tool.1)));
            }
        }
        let days = days_eff(&cfg);
        let first_day = Day::of_ms(cfg.now_ms).add_days(1 - days as i32);
        let mut g = Generator {
            rng: Rng::new(cfg.seed ^ 0x5DEE_CE66_D1CE_BEEF),
            companies,
            types: Alias::new(TYPE_WEIGHTS.map(|t| f64::from(t.1))),
            tool_tables,
            names,
            devices: Alias::new(DEVICES.map(|d| d.1)),
            weekend_scale: WEEKEND_SHARE * WEEKDAY.iter().sum::<f64>()
                / WEEKEND.iter().sum::<f64>(),
            first_day,
            day_counts: Vec::new(),
            next_day: 0,
            left: 0,
            pos: 0.0,
            bin: 0,
            day_start: 0,
            bins: Vec::with_capacity(BINS),
            bin_companies: Vec::new(),
            pending: BinaryHeap::new(),
            seq: 0,
            slot: None,
            id_key: id_key(&cfg),
            cfg,
        };
        // Split the total over days by their activity, rounding cumulatively so
        // the counts add up exactly.
        let weights: Vec<f64> = (0..days as usize).map(|d| g.fill_day(d)).collect();
        let total_w: f64 = weights.iter().sum();
        let n = base_total(&g.cfg) as f64;
        let (mut acc, mut prev) = (0.0, 0u64);
        g.day_counts = weights
            .iter()
            .map(|w| {
                acc += w;
                let upto = if total_w > 0.0 {
                    (n * acc / total_w).round() as u64
                } else {
                    0
                };
                let c = upto.saturating_sub(prev);
                prev = upto;
                c
            })
            .collect();
        g
    }

    /// Fills the per-bin tables for day `d`; returns the day's total activity.
    fn fill_day(&mut self, d: usize) -> f64 {
        let day = self.first_day.add_days(d as i32);
        self.day_start = day.start_ms();
        self.bins.clear();
        self.bin_companies.clear();
        let mut acc = 0.0;
        for b in 0..BINS {
            let start = self.day_start + b as i64 * BIN_MS;
            let len = (self.cfg.now_ms + 1 - start).clamp(0, BIN_MS);
            let mut bin_acc = 0.0;
            for (ci, c) in self.companies.iter().enumerate() {
                // A per-company, per-day factor: some days are busier than others.
                let h = self.cfg.seed ^ ((ci as u64) << 32) ^ (day.0 as u64);
                let daily = 0.8 + 0.4 * (SplitMix64::mix(h) >> 11) as f64 / (1u64 << 53) as f64;
                let mid = start + BIN_MS / 2;
                bin_acc +=
                    c.share * daily * intensity(mid + c.offset_ms, self.weekend_scale) * len as f64;
                self.bin_companies.push(bin_acc);
            }
            acc += bin_acc;
            self.bins.push(acc);
        }
        acc
    }

    /// Time, company and lateness of the next event in timestamp order.
    fn next_slot(&mut self) -> Option<(i64, usize, bool)> {
        while self.left == 0 {
            let d = self.next_day;
            self.left = *self.day_counts.get(d)?;
            self.next_day += 1;
            self.pos = 0.0;
            self.bin = 0;
            if self.left > 0 {
                self.fill_day(d);
            }
        }
        // Sorted uniforms one at a time: the minimum of `left` uniforms in the
        // remaining interval. Streaming, and timestamps come out in order.
        let u = self.rng.f64();
        self.pos += (1.0 - self.pos) * -((-u).ln_1p() / self.left as f64).exp_m1();
        self.left -= 1;
        let q = self.pos * self.bins.last().copied().unwrap_or(0.0);
        while self.bin < BINS - 1 && self.bins[self.bin] <= q {
            self.bin += 1;
        }
        let b = self.bin;
        let prev = if b == 0 { 0.0 } else { self.bins[b - 1] };
        let w = self.bins[b] - prev;
        let frac = if w > 0.0 {
            ((q - prev) / w).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let start = self.day_start + b as i64 * BIN_MS;
        let len = (self.cfg.now_ms + 1 - start).clamp(1, BIN_MS);
        let ts = (start + (frac * len as f64) as i64)
            .min(start + len - 1)
            .min(self.cfg.now_ms);
        let nc = self.companies.len();
        let ci = sample_cum(&self.bin_companies[b * nc..(b + 1) * nc], &mut self.rng);
        Some((ts, ci, self.rng.chance(self.cfg.late_fraction)))
    }

    fn build(&mut self, ci: usize, ts: i64, late: bool) -> Event {
        let rng = &mut self.rng;
        let company = &self.companies[ci];
        let user = &company.users[company.users_by_activity.sample(rng)];
        let t = TYPE_WEIGHTS[self.types.sample(rng)].0;
        let (tools, tool_idx) = &self.tool_tables[t as usize];
        let tool = tool_idx[tools.sample(rng)];
        let (tool_name, _, slug, _, company_level) = TOOLS[tool];
        let variant = usize::from(rng.chance(0.55));
        let event_name = self.names[(t as usize * 2 + variant) * TOOLS.len() + tool].clone();
        let project = (!company_level).then(|| {
            let r = rng.f64();
            let i = if r < 0.95 {
                user.homes[usize::from(r >= 0.6) + usize::from(r >= 0.85)]
            } else {
                rng.below(company.projects.len() as u64) as u16
            };
            &company.projects[usize::from(i)]
        });
        // Popular objects are revisited: a skewed index hashed into a stable id.
        let object_id = (!rng.chance(0.05)).then(|| {
            let k = (rng.f64().powi(3) * 2000.0) as u64;
            let h = (project.map_or(company.id, |p| p.id) << 24) ^ ((tool as u64) << 16) ^ k;
            100_000 + SplitMix64::mix(h) % 99_900_000
        });
        let url = (!rng.chance(0.05)).then(|| {
            let mut s = String::with_capacity(80);
            match project {
                Some(p) => push_num(&mut s, "https://app.example.com/projects/", p.id),
                None => push_num(&mut s, "https://app.example.com/companies/", company.id),
            }
            s.push('/');
            s.push_str(slug);
            if let Some(o) = object_id {
                push_num(&mut s, "/", o);
            }
            s
        });
        // Late events come from mobile apps syncing after being offline.
        let device = if late {
            if rng.chance(0.65) { "iOS" } else { "Android" }
        } else {
            DEVICES[self.devices.sample(rng)].0
        };
        let subs = subtypes(t);
        let event_subtype = (!rng.chance(0.4)).then(|| rng.pick(subs).to_string());
        Event {
            event_id: uuid4(rng, self.id_key),
            event_timestamp_ms: ts,
            event_type: t,
            event_name,
            event_subtype,
            tool_name: tool_name.to_string(),
            company_name: company.name.clone(),
            project_name: project.map(|p| p.name.clone()),
            project_number: project.map(|p| p.number.clone()),
            project_is_demo: project.map(|p| p.demo),
            object_id,
            url,
            device_type: device.to_string(),
            is_api: device == "API",
            user_id: user.id,
            user_email: user.email.clone(),
            user_login_email: user.login_email.clone(),
            user_name: user.name.clone(),
            user_job_title: user.job_title.map(str::to_string),
            user_role: user.role.map(str::to_string),
            user_type: user.user_type.map(str::to_string),
            user_default_permission_template: user.template.map(str::to_string),
            user_is_active: user.active,
            user_is_authorized_bidder: user.bidder,
            user_last_login_date: user.last_login,
        }
    }

    fn hold(&mut self, release_ms: i64, event: Event) {
        self.seq += 1;
        self.pending.push(Pending {
            key: (release_ms, self.seq),
            event,
        });
    }
}

/// A version-4 UUID from the next 128 random bits, XORed with `key`.
fn uuid4(rng: &mut Rng, key: [u64; 2]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hi = ((rng.next_u64() ^ key[0]) & !0xF000) | 0x4000; // version 4
    let lo = ((rng.next_u64() ^ key[1]) & !(3 << 62)) | (2 << 62); // RFC 4122 variant
    let v = (u128::from(hi) << 64) | u128::from(lo);
    let mut buf = [b'-'; 36];
    let mut o = 0;
    for (i, b) in v.to_be_bytes().into_iter().enumerate() {
        o += usize::from(matches!(i, 4 | 6 | 8 | 10)); // skip a hyphen
        buf[o] = HEX[usize::from(b >> 4)];
        buf[o + 1] = HEX[usize::from(b & 15)];
        o += 2;
    }
    std::str::from_utf8(&buf).unwrap_or_default().to_owned()
}

/// Appends `prefix` and `n` in decimal (cheaper than `write!` on the hot path).
fn push_num(s: &mut String, prefix: &str, mut n: u64) {
    s.push_str(prefix);
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if self.slot.is_none() {
                self.slot = self.next_slot();
            }
            let due = match (self.slot, self.pending.peek()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some((ts, ..)), Some(p)) => p.key.0 <= ts || self.pending.len() > MAX_PENDING,
            };
            if due {
                return self.pending.pop().map(|p| p.event);
            }
            let (ts, ci, late) = self.slot.take()?;
            let ev = self.build(ci, ts, late);
            let mut release = ts;
            if late {
                release += if self.rng.chance(0.85) {
                    self.rng.range(1, 5) as i64 * MS_PER_DAY - self.rng.below(12 * 3_600_000) as i64
                } else {
                    self.rng.range(5 * 60_000, 24 * 3_600_000) as i64
                };
            }
            if self.rng.chance(self.cfg.dup_fraction) {
                let mut dup = ev.clone();
                if self.rng.chance(0.1) {
                    // Same id, different fields: a re-send with a shifted clock.
                    let shifted = ts + self.rng.range(1000, 9999) as i64;
                    dup.event_timestamp_ms = shifted.min(self.cfg.now_ms);
                }
                let delay = if self.rng.chance(0.7) {
                    self.rng.range(1000, 30 * 60_000)
                } else {
                    self.rng.range(30 * 60_000, 24 * 3_600_000)
                };
                self.hold(release + delay as i64, dup);
            }
            // With the buffer full, a late event goes out in order instead.
            if !late || self.pending.len() >= MAX_PENDING {
                return Some(ev);
            }
            self.hold(release, ev);
        }
    }
}

#[cfg(test)]
mod tests;

#!/usr/bin/env python3
"""Import throughput (issue 4): how fast each system loads one JSON Lines file.

    benches/compare/.venv/bin/python benches/compare/import_bench.py medium

Uses the data file of `run.sh SIZE` (generated if missing, same command), and
measures, one system after another on the same machine:

- daybook: `daybook import FILE.jsonl` into a fresh directory (parse on all
  cores, validate, dedup, log + fsync per batch, seal), and the same events
  as CSV (`daybook generate --format csv`, same seed);
- DuckDB: `CREATE TABLE AS SELECT * FROM read_json(...)` with explicit types;
- chDB: `INSERT INTO` a MergeTree (partitioned by day) `SELECT * FROM file()`.

The peers' loads here are plain loads (no dedup, no sort, no OPTIMIZE), as
the issue's reference figures are; the side-by-side harness times the
deduplicating loads. Writes results/import-SIZE.{md,json}.
"""

import argparse
import datetime as dt
import json
import shutil
import subprocess
import time
from pathlib import Path

import harness as h


def mb(n: int) -> float:
    return n / 1e6


def daybook_import(path: Path, data: Path, fmt: str) -> dict:
    shutil.rmtree(data, ignore_errors=True)
    t = time.perf_counter()
    out = subprocess.run([str(h.BIN), "--data", str(data), "--now", h.NOW, "import",
                          "--format", fmt, str(path)],
                         check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return {"seconds": time.perf_counter() - t, "report": out.stdout.strip().splitlines()[0]}


def duckdb_load(path: Path, db: Path) -> dict:
    import duckdb
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    cols = ", ".join(f"'{f}': '{h.DUCK_TYPES[h.KIND[f]]}'" for f in h.FIELDS if f != "event_date")
    t = time.perf_counter()
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_json('{path}', "
                f"format = 'newline_delimited', columns = {{{cols}}})")
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - t
    rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    return {"seconds": seconds, "rows": rows}


def chdb_load(path: Path, work: Path) -> dict:
    from chdb import session
    shutil.rmtree(work, ignore_errors=True)
    s = session.Session(str(work))
    fields = [f for f in h.FIELDS if f != "event_date"]
    schema = ", ".join(f"{f} {h.ch_type(f, low_card=False)}" for f in fields).replace("'", "\\'")
    columns = ",\n".join(f"  {f} {h.ch_type(f)}" for f in fields)
    s.query("CREATE DATABASE IF NOT EXISTS bench")
    s.query(f"CREATE TABLE bench.events (\n{columns}\n) ENGINE = MergeTree "
            "PARTITION BY toDate(event_timestamp) ORDER BY (company_name, user_id, event_timestamp)")
    t = time.perf_counter()
    s.query(f"INSERT INTO bench.events SELECT * FROM file('{path}', JSONEachRow, '{schema}')")
    seconds = time.perf_counter() - t
    rows = int(s.query("SELECT count() FROM bench.events", "CSV").bytes())
    s.close()
    return {"seconds": seconds, "rows": rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("size", choices=list(h.SIZES))
    ap.add_argument("--out", default=str(h.HERE / "out"))
    ap.add_argument("--results", default=str(h.RESULTS))
    args = ap.parse_args()
    work = Path(args.out) / args.size
    work.mkdir(parents=True, exist_ok=True)
    per_day = h.SIZES[args.size]
    gen = [str(h.BIN), "--now", h.NOW, "generate", "--days", str(h.DAYS), "--events-per-day",
           str(per_day), "--companies", str(h.COMPANIES), "--seed", str(h.SEED)]
    files = {}
    for fmt in ("jsonl", "csv"):
        path = work / f"events.{fmt}"
        stamp = work / f"events.{fmt}.cmd"
        cmd = gen + ["--format", fmt, "--out", str(path)]
        line = " ".join(cmd[1:])
        if not (path.exists() and stamp.exists() and stamp.read_text() == line):
            h.log(f"generating {path}")
            subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
            stamp.write_text(line)
        files[fmt] = path
    with open(files["jsonl"], "rb") as fh:
        lines = sum(1 for _ in fh)
    sizes = {fmt: p.stat().st_size for fmt, p in files.items()}
    res = {"size": args.size, "lines": lines, "bytes": sizes,
           "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": h.machine_info(), "loadavg_start": h.loadavg(), "systems": {}}
    h.log(f"== import {args.size}: {lines:,} lines, {mb(sizes['jsonl']):,.1f} MB JSONL, "
          f"load average {res['loadavg_start']}")
    runs = [
        ("daybook (JSONL)", lambda: daybook_import(files["jsonl"], work / "import-daybook", "jsonl"),
         "jsonl"),
        ("daybook (CSV)", lambda: daybook_import(files["csv"], work / "import-daybook", "csv"),
         "csv"),
        ("DuckDB (JSONL)", lambda: duckdb_load(files["jsonl"], work / "import-duckdb.db"), "jsonl"),
        ("chDB (JSONL)", lambda: chdb_load(files["jsonl"], work / "import-chdb"), "jsonl"),
    ]
    for name, fn, fmt in runs:
        before = h.loadavg()
        r = fn()
        r.update({"format": fmt, "events_per_s": lines / r["seconds"],
                  "mb_per_s": mb(sizes[fmt]) / r["seconds"], "loadavg_before": before})
        res["systems"][name] = r
        h.log(f"  {name}: {r['seconds']:.2f} s, {r['events_per_s']:,.0f} events/s, "
              f"{r['mb_per_s']:,.1f} MB/s")
    shutil.rmtree(work / "import-daybook", ignore_errors=True)
    shutil.rmtree(work / "import-chdb", ignore_errors=True)
    (work / "import-duckdb.db").unlink(missing_ok=True)
    res["loadavg_end"] = h.loadavg()
    fastest = max(v["events_per_s"] for k, v in res["systems"].items() if not k.startswith("daybook"))
    out = [f"# Import throughput: {args.size} ({lines:,} lines; JSONL {mb(sizes['jsonl']):,.1f} MB, "
           f"CSV {mb(sizes['csv']):,.1f} MB)", "",
           f"Generated by `benches/compare/import_bench.py {args.size}` on {res['date']}. "
           f"Machine: {res['machine']['nproc']} × {res['machine']['cpu']}, "
           f"{res['machine']['memory']}. Load average at start {res['loadavg_start']}, "
           f"at end {res['loadavg_end']}.", "",
           "| system | seconds | events/s | MB/s | ÷ faster peer (events/s) | load average before |",
           "|---|---|---|---|---|---|"]
    for name, r in res["systems"].items():
        out.append(f"| {name} | {r['seconds']:.2f} | {r['events_per_s']:,.0f} | "
                   f"{r['mb_per_s']:,.1f} | {r['events_per_s'] / fastest:.2f}× | "
                   f"{r['loadavg_before']} |")
    out += ["", "daybook's own summaries:", ""]
    out += [f"- {k}: `{v['report']}`" for k, v in res["systems"].items() if "report" in v]
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / f"import-{args.size}.md").write_text("\n".join(out) + "\n")
    (results / f"import-{args.size}.json").write_text(json.dumps(res, indent=1) + "\n")
    h.log(f"wrote {results}/import-{args.size}.md and .json")


if __name__ == "__main__":
    main()

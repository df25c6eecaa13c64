#!/usr/bin/env python3
"""Parquet export check (issue 8): DuckDB on `daybook export`'s files answers
every report exactly as daybook does.

    benches/compare/.venv/bin/python benches/compare/parquet_check.py small

Uses the daybook store of the side-by-side harness (`out/SIZE/daybook`,
made by `benches/compare/run.sh SIZE`; `--systems daybook` is enough), and:

1. exports it: `daybook export --format parquet OUT` (one
   `event_date=YYYY-MM-DD/part-0.parquet` per day), timed: events/s and
   Parquet bytes/event;
2. reads the directory with DuckDB, `read_parquet('OUT/*/*.parquet',
   hive_partitioning = true)`, and checks the column types, the number of
   events per day and the total against daybook's;
3. runs every report of queries.json on daybook (the query documents, with
   the harness's parameters) and on the Parquet files (the harness's DuckDB
   translation, reading the files instead of a table), and compares the
   normalised rows.

Exit status 1 on any disagreement. `--results DIR` also writes
DIR/parquet-SIZE.json.
"""

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import harness as h

# The Arrow/Parquet types of daybook::export, as DuckDB names them.
WANT_TYPES = {"string": "VARCHAR", "int": "BIGINT", "bool": "BOOLEAN",
              "timestamp": "TIMESTAMP WITH TIME ZONE", "date": "DATE"}


class ParquetDialect(h.DuckDialect):
    name = "duckdb-parquet"

    def __init__(self, out: Path):
        self.table = f"read_parquet('{out}/*/*.parquet', hive_partitioning = true)"


def export(store: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    r = subprocess.run([str(h.BIN), "--data", str(store), "--now", h.NOW, "export",
                        "--format", "parquet", str(out)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"daybook export failed ({r.returncode}): {r.stderr.strip()}")
    line = r.stdout.strip()
    m = re.match(r"exported (\d+) day\(s\), (\d+) events, .* in ([\d.]+) s", line)
    if not m:
        sys.exit(f"unexpected export summary: {line!r}")
    files = sorted(out.glob("*/*"))
    return {"seconds": seconds, "report": line, "days": int(m.group(1)),
            "rows": int(m.group(2)), "export_s": float(m.group(3)),
            "bytes": sum(p.stat().st_size for p in files),
            "files": [str(p.relative_to(out)) for p in files]}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("size", choices=list(h.SIZES))
    ap.add_argument("--out", default=str(h.HERE / "out"))
    ap.add_argument("--bin", default=str(h.BIN), help="the daybook binary")
    ap.add_argument("--queries", default=str(h.HERE / "queries.json"))
    ap.add_argument("--results", help="also write DIR/parquet-SIZE.json")
    args = ap.parse_args()
    h.BIN = Path(args.bin)
    work = Path(args.out) / args.size
    store = work / "daybook"
    if not store.is_dir():
        sys.exit(f"{store} missing: run `benches/compare/run.sh {args.size} --systems daybook` first")
    if not h.BIN.exists():
        sys.exit(f"{h.BIN} missing: run `cargo build --release` first")
    lake = work / "parquet"
    problems = []

    # ---- export
    la = h.loadavg()
    ex = export(store, lake)
    rate = ex["rows"] / ex["seconds"]
    bpe = ex["bytes"] / ex["rows"] if ex["rows"] else 0.0
    h.log(f"== parquet {args.size}: load average {la}")
    h.log(f"  {ex['report']}")
    h.log(f"  wall clock (engine open included) {ex['seconds']:.2f} s: {rate:,.0f} events/s; "
          f"{ex['bytes']:,} bytes in {len(ex['files'])} files: {bpe:.1f} bytes/event")
    want_files = [p for p in ex["files"]
                  if re.fullmatch(r"event_date=\d{4}-\d{2}-\d{2}/part-0\.parquet", p)]
    if want_files != ex["files"] or len(ex["files"]) != ex["days"]:
        problems.append(f"layout: {ex['files']}")

    import duckdb
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    d = ParquetDialect(lake)

    # ---- types, per-day counts
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {d.table}").fetchall()}
    want_types = {f: WANT_TYPES[h.KIND[f]] for f in h.FIELDS}
    if types != want_types:
        problems.append(f"types: {types} (want {want_types})")
    db = h.Daybook(store, work)
    days_db = db.rows({"group_by": ["event_date"]}, ["event_date", "count"])
    days_pq = con.execute(f"SELECT event_date, count(*) FROM {d.table} "
                          "GROUP BY event_date ORDER BY event_date").fetchall()
    cols = ["event_date", "count"]
    if h.normalise(days_db, cols) != h.normalise(days_pq, cols):
        problems.append("events per day: " + h.diff_rows(h.normalise(days_db, cols),
                                                         h.normalise(days_pq, cols)))
    total = sum(n for _, n in days_db)
    if total != ex["rows"]:
        problems.append(f"export wrote {ex['rows']} events, daybook holds {total}")

    # ---- the reports
    params = h.pick_params(db)
    results = []
    for t in json.loads(Path(args.queries).read_text()):
        doc = h.fill(t["query"], params)
        columns = h.result_columns(doc)
        want = h.normalise(db.rows(doc, columns), columns)
        sql, got_cols = h.translate(doc, d)
        started = time.perf_counter()
        try:
            raw = con.execute(sql).fetchall()
        except Exception as e:  # report, keep going
            problems.append(f"{t['id']}: error {e}\n    {sql}")
            continue
        ms = (time.perf_counter() - started) * 1e3
        got = h.normalise(raw, got_cols)
        ok = got == want
        results.append({"id": t["id"], "rows": len(want), "agree": ok, "duckdb_ms": ms})
        h.log(f"  {t['id']} {len(want):>5} rows  DuckDB on Parquet {ms:8.1f} ms"
              + ("" if ok else "  DISAGREES"))
        if not ok:
            problems.append(f"{t['id']} ({t['title']}): {h.diff_rows(want, got)}\n"
                            f"    query: {json.dumps(doc)}\n    sql: {sql}")
    con.close()

    res = {"size": args.size, "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": h.machine_info(), "loadavg_start": la, "loadavg_end": h.loadavg(),
           "duckdb": duckdb.__version__, "export": ex, "events_per_s": rate,
           "bytes_per_event": bpe, "queries": results, "problems": problems}
    if args.results:
        out = Path(args.results)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"parquet-{args.size}.json").write_text(json.dumps(res, indent=1) + "\n")
    agree = sum(r["agree"] for r in results)
    print(f"parquet {args.size}: {ex['rows']:,} events in {ex['days']} files, "
          f"{rate:,.0f} events/s, {bpe:.1f} bytes/event; "
          f"{agree} of {len(results)} reports agree with daybook")
    if problems:
        for p in problems:
            print(f"PROBLEM {p}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

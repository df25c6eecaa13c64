#!/usr/bin/env python3
"""Side-by-side benchmark (issue 5): daybook vs DuckDB, chDB and SQLite.

One generated JSONL file is loaded into each system; the report queries of
queries.json (daybook query documents, docs/queries.md) run on daybook
through its CLI and on the peers as SQL translated from the same documents.
Every peer's rows are checked against daybook's, row for row. Systems are
measured one at a time (load, then its queries), never concurrently.

Usage: harness.py SIZE [--runs 10] [--budget 20] [--systems daybook,duckdb,chdb,sqlite]
SIZE: small (10k events/day), medium (100k/day), large (1M/day), 31 days.
Exit status: 0 when every answer agrees, 1 on any disagreement or failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = ROOT / "target" / "release" / "daybook"
RESULTS = HERE / "results"  # --results changes it

SIZES = {"small": 10_000, "medium": 100_000, "large": 1_000_000}
DAYS = 31
COMPANIES = 20
SEED = 7
NOW = "2026-11-27T12:00:00Z"
RETENTION_DAYS = 31
PEERS = ["duckdb", "chdb", "sqlite"]
SYSTEMS = ["daybook"] + PEERS
LABEL = {"daybook": "daybook", "duckdb": "DuckDB", "chdb": "chDB", "sqlite": "SQLite"}

# ---------------------------------------------------------------- the contract

FIELDS = [  # contract order (docs/event-format.md), then the derived event_date
    "event_id", "event_timestamp", "event_date", "event_type", "event_name",
    "event_subtype", "tool_name", "company_name", "project_name", "project_number",
    "project_is_demo", "object_id", "url", "device_type", "is_api", "user_id",
    "user_email", "user_login_email", "user_name", "user_job_title", "user_role",
    "user_type", "user_default_permission_template", "user_is_active",
    "user_is_authorized_bidder", "user_last_login_date",
]
KIND = {f: "string" for f in FIELDS}
KIND.update({
    "event_timestamp": "timestamp", "event_date": "date", "user_last_login_date": "date",
    "user_id": "int", "object_id": "int",
    "is_api": "bool", "project_is_demo": "bool", "user_is_active": "bool",
    "user_is_authorized_bidder": "bool",
})
REQUIRED = {"event_id", "event_timestamp", "event_date", "event_type", "event_name",
            "tool_name", "company_name", "device_type", "is_api", "user_id",
            "user_email", "user_name"}
# Low-cardinality string columns (ClickHouse LowCardinality).
LOW_CARD = {"event_type", "event_name", "event_subtype", "tool_name", "company_name",
            "project_name", "project_number", "device_type", "user_email",
            "user_login_email", "user_name", "user_job_title", "user_role", "user_type",
            "user_default_permission_template"}

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MS = dt.timedelta(milliseconds=1)


def parse_ts_ms(s: str) -> int:
    """RFC 3339 with offset -> UTC ms, sub-millisecond digits truncated."""
    d = dt.datetime.fromisoformat(s)
    if d.tzinfo is None:
        raise ValueError(f"timestamp without offset: {s!r}")
    return (d - EPOCH) // MS


def ms_to_dt(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


def ms_to_rfc3339(ms: int) -> str:
    d = ms_to_dt(ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


NOW_MS = parse_ts_ms(NOW)
TODAY = ms_to_dt(NOW_MS).date()
HORIZON = TODAY - dt.timedelta(days=RETENTION_DAYS - 1)
DAY_MS = 86_400_000


def day_start_ms(d: dt.date) -> int:
    return (dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc) - EPOCH) // MS


def window(q: dict) -> tuple[int, int | None]:
    """The query's window [lo, hi) in UTC ms, cut to retention."""
    horizon = day_start_ms(HORIZON)
    t = q.get("time")
    if t is None:
        return horizon, None
    if "last_days" in t:
        n = t["last_days"]
        lo = day_start_ms(TODAY - dt.timedelta(days=n - 1))
        hi = day_start_ms(TODAY + dt.timedelta(days=1))
    else:
        lo, hi = parse_ts_ms(t["from"]), parse_ts_ms(t["to"])
    return max(lo, horizon), hi


def unique(keys):
    seen, out = set(), []
    for k in keys:
        if k not in seen:
            seen.add(k)
            out.append(k)
    return out


# ------------------------------------------------------------ SQL translation

class Dialect:
    name = "?"
    table = "events"

    def col(self, f: str) -> str:
        return f

    def string(self, s: str) -> str:
        return "'" + s.replace("'", "''") + "'"

    def boolean(self, b: bool) -> str:
        return "TRUE" if b else "FALSE"

    def ts(self, ms: int) -> str:
        raise NotImplementedError

    def date(self, s: str) -> str:
        raise NotImplementedError

    def contains(self, c: str, s: str) -> str:
        raise NotImplementedError

    def starts_with(self, c: str, s: str) -> str:
        raise NotImplementedError

    def lit(self, field: str, v) -> str:
        k = KIND[field]
        if k == "string":
            if not isinstance(v, str):
                raise ValueError(f"{field} takes a string, got {v!r}")
            return self.string(v)
        if k == "int":
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"{field} takes an integer, got {v!r}")
            return str(v)
        if k == "bool":
            if not isinstance(v, bool):
                raise ValueError(f"{field} takes true or false, got {v!r}")
            return self.boolean(v)
        if k == "timestamp":
            return self.ts(parse_ts_ms(v))
        if k == "date":
            dt.date.fromisoformat(v)
            return self.date(v)
        raise AssertionError(k)

    def false(self) -> str:
        return "1 = 0"

    def limit(self, limit, offset) -> str:
        out = ""
        if limit is not None:
            out += f" LIMIT {int(limit)}"
        if offset:
            if limit is None:
                out += " LIMIT 18446744073709551615" if self.name == "chdb" else " LIMIT -1"
            out += f" OFFSET {int(offset)}"
        return out

    def suffix(self) -> str:
        return ""


class DuckDialect(Dialect):
    name = "duckdb"

    def ts(self, ms):
        return "TIMESTAMP '" + ms_to_dt(ms).strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}'"

    def date(self, s):
        return f"DATE '{s}'"

    def contains(self, c, s):
        return f"contains({c}, {self.string(s)})"

    def starts_with(self, c, s):
        return f"starts_with({c}, {self.string(s)})"


class ChDialect(Dialect):
    name = "chdb"
    table = "bench.events"

    def string(self, s):  # ClickHouse string literals take backslash escapes
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def boolean(self, b):
        return "true" if b else "false"

    def ts(self, ms):
        return ("toDateTime64('" + ms_to_dt(ms).strftime("%Y-%m-%d %H:%M:%S.")
                + f"{ms % 1000:03d}', 3, 'UTC')")

    def date(self, s):
        return f"toDate('{s}')"

    def contains(self, c, s):
        return f"position({c}, {self.string(s)}) > 0"

    def starts_with(self, c, s):
        return f"startsWith({c}, {self.string(s)})"

    def suffix(self):
        return " SETTINGS output_format_json_quote_64bit_integers = 0"


class SqliteDialect(Dialect):
    name = "sqlite"

    def boolean(self, b):
        return "1" if b else "0"

    def ts(self, ms):
        return str(ms)  # stored as integer UTC ms

    def date(self, s):
        return self.string(s)  # stored as 'YYYY-MM-DD' text

    def contains(self, c, s):
        return f"instr({c}, {self.string(s)}) > 0"

    def starts_with(self, c, s):
        # substr counts characters; for valid UTF-8, a prefix of len(s)
        # characters equal to s is the same as a bytewise prefix.
        return f"substr({c}, 1, {len(s)}) = {self.string(s)}"


SQL_OPS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def predicate(p: dict, d: Dialect) -> str:
    f, op = p["field"], p["op"]
    if f not in KIND:
        raise ValueError(f"unknown field {f!r}")
    c = d.col(f)
    v = p.get("value")
    if op in SQL_OPS:  # NULL compares to NULL: false in WHERE, as in daybook
        return f"{c} {SQL_OPS[op]} {d.lit(f, v)}"
    if op == "in":
        if not v:
            return d.false()
        return f"{c} IN ({', '.join(d.lit(f, x) for x in v)})"
    if op == "not_in":
        if not v:
            return f"{c} IS NOT NULL"
        return f"{c} NOT IN ({', '.join(d.lit(f, x) for x in v)})"
    if op == "contains":
        return d.contains(c, v)
    if op == "starts_with":
        return d.starts_with(c, v)
    if op == "is_null":
        return f"{c} IS NULL"
    if op == "not_null":
        return f"{c} IS NOT NULL"
    raise ValueError(f"unknown op {op!r}")


def order_clause(keys, d: Dialect, count_alias: str | None) -> str:
    parts = []
    for k, direction in keys:
        expr = count_alias if (k == "count" and count_alias) else d.col(k)
        # daybook: missing values sort lowest (first ascending, last descending)
        parts.append(f"{expr} ASC NULLS FIRST" if direction == "asc" else f"{expr} DESC NULLS LAST")
    return ", ".join(parts)


def translate(q: dict, d: Dialect) -> tuple[str, list[str]]:
    """A daybook query document -> (SQL, result columns)."""
    lo, hi = window(q)
    ts = d.col("event_timestamp")
    conds = [f"{ts} >= {d.ts(lo)}"]
    if hi is not None:
        conds.append(f"{ts} < {d.ts(hi)}")
    conds += [predicate(p, d) for p in q.get("where", [])]
    where = " AND ".join(conds)
    select = q.get("select", "count")
    given = unique_keys(q.get("order_by", []))
    if select == "events":
        fields = unique(q.get("fields") or FIELDS)
        keys = given or [["event_timestamp", "desc"]]
        keys = unique_keys(keys + [["event_id", "asc"]])
        sql = (f"SELECT {', '.join(d.col(f) for f in fields)} FROM {d.table} WHERE {where}"
               f" ORDER BY {order_clause(keys, d, None)}{d.limit(q.get('limit'), q.get('offset'))}")
        return sql + d.suffix(), fields
    group = q.get("group_by", [])
    if not group:
        return f"SELECT COUNT(*) FROM {d.table} WHERE {where}{d.suffix()}", ["count"]
    keys = unique_keys(given + [[g, "asc"] for g in group])
    gcols = ", ".join(d.col(g) for g in group)
    sql = (f"SELECT {gcols}, COUNT(*) AS n FROM {d.table} WHERE {where} GROUP BY {gcols}"
           f" ORDER BY {order_clause(keys, d, 'n')}{d.limit(q.get('limit'), q.get('offset'))}")
    return sql + d.suffix(), group + ["count"]


def unique_keys(keys):
    seen, out = set(), []
    for k, direction in keys:
        if k not in seen:
            seen.add(k)
            out.append([k, direction])
    return out


# ---------------------------------------------------------------- normalising

def norm_value(kind: str, v):
    if v is None:
        return None
    if kind == "count":
        return int(v)
    if kind == "timestamp":
        if isinstance(v, dt.datetime):
            if v.tzinfo is not None:
                v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
        if isinstance(v, int):
            return ms_to_rfc3339(v)
        s = str(v)
        if "T" in s:  # RFC 3339 already
            return ms_to_rfc3339(parse_ts_ms(s))
        return ms_to_rfc3339(parse_ts_ms(s.replace(" ", "T") + "Z"))  # ClickHouse text
    if kind == "date":
        return v.isoformat() if isinstance(v, dt.date) else str(v)
    if kind == "bool":
        if isinstance(v, str):
            return {"true": True, "false": False}[v]
        return bool(v)
    if kind == "int":
        return int(v)
    return str(v)


def normalise(rows, columns):
    kinds = ["count" if c == "count" else KIND[c] for c in columns]
    return [tuple(norm_value(k, v) for k, v in zip(kinds, r)) for r in rows]


# ------------------------------------------------------------------- helpers

def log(msg: str):
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def dir_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def runs_for(first_s: float, runs: int, budget: float) -> int:
    """Timed runs after the warm-up: `runs`, fewer if they would take over `budget` s."""
    if first_s <= 0:
        return runs
    return max(1, min(runs, int(budget / first_s)))


def timed_runs(fn, runs: int, budget: float):
    """One warm-up, then up to `runs` timed runs; (answer, [ms...])."""
    t = time.perf_counter()
    answer = fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(runs_for(first, runs, budget)):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return answer, times


def summary(times):
    s = sorted(times)
    return {"median_ms": s[len(s) // 2], "min_ms": s[0], "runs": len(s)}


def fill(obj, params):
    """Replaces "$name" strings by the parameter's value (keeping its JSON type)."""
    if isinstance(obj, str) and obj.startswith("$"):
        return params[obj[1:]]
    if isinstance(obj, list):
        return [fill(x, params) for x in obj]
    if isinstance(obj, dict):
        return {k: fill(v, params) for k, v in obj.items()}
    return obj


# ------------------------------------------------------------------- daybook

class Daybook:
    def __init__(self, data: Path, work: Path):
        self.data = data
        self.work = work

    def cmd(self, *args):
        return [str(BIN), "--data", str(self.data), "--now", NOW, *args]

    def load(self, jsonl: Path) -> dict:
        """`daybook import`, as a user runs it: the import settles the days it
        wrote (one segment a day) before it returns; no `compact`."""
        shutil.rmtree(self.data, ignore_errors=True)
        t = time.perf_counter()
        out = subprocess.run(self.cmd("import", str(jsonl)), check=True,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
        imported = time.perf_counter() - t
        log("  " + " / ".join(out.stdout.strip().splitlines()))
        m = re.search(r"stored (\d+), duplicates (\d+), rejected (\d+)", out.stdout)
        stored, dups, rejected = (int(x) for x in m.groups())
        m = re.search(r"settled: .* in ([0-9.]+) s", out.stdout)
        settle_s = float(m.group(1)) if m else 0.0
        stats = subprocess.run(self.cmd("stats"), check=True, capture_output=True,
                               text=True, stdin=subprocess.DEVNULL).stdout
        segments = sum(int(l.split()[1]) for l in stats.splitlines()
                       if re.match(r"\d{4}-\d{2}-\d{2} ", l))
        return {"import_s": imported, "settle_s": settle_s, "stored": stored,
                "duplicates": dups, "rejected": rejected, "segments": segments,
                "bytes": dir_bytes(self.data),
                "report": out.stdout.strip().splitlines()[0]}

    def query(self, doc: dict, repeat: int):
        path = self.work / "query.json"
        path.write_text(json.dumps(doc))
        out = subprocess.run(self.cmd("query", "--json", str(path), "--format", "json",
                                      "--repeat", str(repeat)),
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"daybook query failed ({out.returncode}): {out.stderr.strip()}\n"
                               f"query: {json.dumps(doc)}")
        m = re.search(r"timing: runs=(\d+) median_ms=([\d.]+) min_ms=([\d.]+)", out.stderr)
        result = json.loads(out.stdout)
        timing = ({"runs": int(m.group(1)), "median_ms": float(m.group(2)),
                   "min_ms": float(m.group(3))} if m else None)
        return result, timing

    def rows(self, doc: dict, columns: list[str]):
        result, _ = self.query(doc, 0)
        return [tuple(r.get(c) for c in columns) for r in result["rows"]]

    def measure(self, doc: dict, columns, runs: int, budget: float):
        result, first = self.query(doc, 1)
        rows = [tuple(r.get(c) for c in columns) for r in result["rows"]]
        n = runs_for(first["median_ms"] / 1e3, runs, budget)
        result2, timing = self.query(doc, n)
        if result2 != result:
            raise RuntimeError("daybook gave two different answers to one query")
        return rows, timing, result.get("matched_events")


def result_columns(doc: dict) -> list[str]:
    if doc.get("select", "count") == "events":
        return unique(doc.get("fields") or FIELDS)
    return list(doc.get("group_by", [])) + ["count"]


def pick_params(db: Daybook) -> dict:
    """Values that make the queries find events, asked of daybook."""
    def ask(doc):
        return db.rows(doc, result_columns(doc))
    month = {"last_days": 31}
    company = ask({"time": month, "group_by": ["company_name"],
                   "order_by": [["count", "desc"]], "limit": 1})[0][0]
    user_id, user_email, user_n = ask({
        "time": month, "where": [{"field": "company_name", "op": "eq", "value": company}],
        "group_by": ["user_id", "user_email"], "order_by": [["count", "desc"]], "limit": 1})[0]
    tool, etype, _ = ask({
        "time": month, "where": [{"field": "user_id", "op": "eq", "value": user_id}],
        "group_by": ["tool_name", "event_type"], "order_by": [["count", "desc"]], "limit": 1})[0]
    (object_id,) = ask({
        "time": month, "where": [{"field": "user_id", "op": "eq", "value": user_id},
                                 {"field": "object_id", "op": "not_null"}],
        "select": "events", "fields": ["object_id"], "limit": 1})[0]
    users = ask({"time": month, "group_by": ["user_email"],
                 "order_by": [["count", "asc"], ["user_email", "asc"]]})
    quiet_email, quiet_n = users[len(users) // 2]
    (job_title,) = ask({
        "time": month, "where": [{"field": "user_id", "op": "eq", "value": user_id}],
        "select": "events", "fields": ["user_job_title"], "limit": 1})[0]
    # The second most common user type (not the employees: a narrower slice).
    types = [t for t, _ in ask({"time": month, "group_by": ["user_type"],
                                "order_by": [["count", "desc"], ["user_type", "asc"]]})
             if t is not None]
    user_type = types[min(1, len(types) - 1)]
    # A hostile `in`: 200,000 ids, every stored user's among them.
    ids = [int(r[0]) for r in ask({"time": month, "group_by": ["user_id"]})]
    many, n = set(ids), 1
    while len(many) < 200_000:
        many.add(n)
        n += 1
    many = sorted(many)
    return {"company": company, "user_id": user_id, "user_email": user_email,
            "user_events": user_n, "tool": tool, "type": etype, "object_id": object_id,
            "quiet_user_email": quiet_email, "quiet_user_events": quiet_n,
            "job_title": job_title, "user_type": user_type, "many_user_ids": many}


# --------------------------------------------------------------------- peers

DUCK_TYPES = {"string": "VARCHAR", "int": "UBIGINT", "bool": "BOOLEAN",
              "timestamp": "TIMESTAMPTZ", "date": "DATE"}


class DuckPeer:
    name = "duckdb"
    dialect = DuckDialect()

    def __init__(self, path: Path):
        import duckdb
        self.duckdb = duckdb
        self.path = path
        self.con = None

    def version(self):
        return self.duckdb.__version__

    def load(self, jsonl: Path) -> dict:
        for p in (self.path, Path(str(self.path) + ".wal")):
            p.unlink(missing_ok=True)
        self.con = self.duckdb.connect(str(self.path))
        self.con.execute("SET TimeZone = 'UTC'")
        cols = ", ".join(f"'{f}': '{DUCK_TYPES[KIND[f]]}'" for f in FIELDS)
        select = ", ".join(
            "event_timestamp::TIMESTAMP AS event_timestamp" if f == "event_timestamp" else
            "CAST(event_timestamp AS DATE) AS event_date" if f == "event_date" else f
            for f in FIELDS)
        t = time.perf_counter()
        # First copy of each event_id in file order wins; rows stored in time order.
        self.con.execute(f"""
            CREATE TABLE events AS
            SELECT {select} FROM (
                SELECT *, row_number() OVER () AS file_row
                FROM read_json('{jsonl}', format = 'newline_delimited', columns = {{{cols}}})
            )
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY file_row) = 1
            ORDER BY event_timestamp""")
        self.con.execute("CHECKPOINT")
        seconds = time.perf_counter() - t
        stored = self.con.execute("SELECT count(*) FROM events").fetchone()[0]
        self.con.close()
        size = dir_bytes(self.path) + (dir_bytes(Path(str(self.path) + ".wal"))
                                      if Path(str(self.path) + ".wal").exists() else 0)
        # Queries run on a fresh read-only connection (page cache warm), as
        # daybook's run on a freshly opened engine.
        self.con = self.duckdb.connect(str(self.path), read_only=True)
        self.con.execute("SET TimeZone = 'UTC'")
        return {"load_s": seconds, "stored": stored, "bytes": size}

    def run(self, sql):
        return self.con.execute(sql).fetchall()

    def close(self):
        if self.con is not None:
            self.con.close()
            self.con = None


def ch_type(f: str, low_card: bool = True) -> str:
    k = KIND[f]
    base = {"string": "String", "int": "UInt64", "bool": "Bool",
            "timestamp": "DateTime64(3, 'UTC')", "date": "Date"}[k]
    if f not in REQUIRED:
        base = f"Nullable({base})"
    if low_card and f in LOW_CARD:
        base = f"LowCardinality({base})"
    return base


class ChPeer:
    name = "chdb"
    dialect = ChDialect()

    def __init__(self, path: Path):
        from chdb import session
        self.session_mod = session
        self.path = path
        self.s = None

    def version(self):
        import chdb
        v = self.s.query("SELECT version()", "CSV").bytes().decode().strip().strip('"') if self.s else "?"
        return f"{chdb.__version__} (ClickHouse {v})"

    def load(self, jsonl: Path) -> dict:
        shutil.rmtree(self.path, ignore_errors=True)
        self.s = self.session_mod.Session(str(self.path))
        s = self.s
        # q32's list of 200,000 ids is a 1.4 MB statement (default limit 256 KiB).
        s.query("SET max_query_size = 100000000")
        # The file's schema: every field but event_date, which is derived.
        file_schema = ", ".join(f"{f} {ch_type(f, low_card=False)}"
                                for f in FIELDS if f != "event_date")
        file_schema = file_schema.replace("'", "\\'")
        columns = ",\n".join(f"  {f} {ch_type(f)}" for f in FIELDS)
        s.query("CREATE DATABASE IF NOT EXISTS bench")
        s.query(f"""CREATE TABLE bench.events (
{columns}
) ENGINE = MergeTree
PARTITION BY toDate(event_timestamp)
ORDER BY (company_name, user_id, event_timestamp)""")
        select = ", ".join("toDate(event_timestamp)" if f == "event_date" else f for f in FIELDS)
        t = time.perf_counter()
        # One copy of each event_id (the generator's re-sent copies are exact).
        s.query(f"""INSERT INTO bench.events ({', '.join(FIELDS)})
SELECT {select} FROM file('{jsonl}', JSONEachRow, '{file_schema}')
LIMIT 1 BY event_id""")
        s.query("OPTIMIZE TABLE bench.events FINAL")
        seconds = time.perf_counter() - t
        stored = int(s.query("SELECT count() FROM bench.events", "CSV").bytes())
        paths = json.loads(s.query(
            "SELECT data_paths FROM system.tables WHERE database = 'bench' AND name = 'events'",
            "JSONCompact").bytes())["data"][0][0]
        size = sum(dir_bytes(Path(p)) for p in paths)
        parts_bytes = int(s.query(
            "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'bench' "
            "AND table = 'events' AND active", "CSV").bytes())
        return {"load_s": seconds, "stored": stored, "bytes": size,
                "active_parts_bytes": parts_bytes, "session_dir_bytes": dir_bytes(self.path)}

    def run(self, sql):
        return self.s.query(sql, "JSONCompact").bytes()

    def rows(self, raw):
        return [tuple(r) for r in json.loads(raw)["data"]]

    def close(self):
        if self.s is not None:
            self.s.close()
            self.s = None


SQLITE_TYPES = {"string": "TEXT", "int": "INTEGER", "bool": "INTEGER",
                "timestamp": "INTEGER", "date": "TEXT"}


class SqlitePeer:
    name = "sqlite"
    dialect = SqliteDialect()

    def __init__(self, path: Path):
        self.path = path
        self.con = None

    def version(self):
        return sqlite3.sqlite_version

    def load(self, jsonl: Path) -> dict:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        con = sqlite3.connect(str(self.path), isolation_level=None)
        self.con = con
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA cache_size = -262144")  # 256 MiB
        con.execute("PRAGMA temp_store = MEMORY")
        cols = ",\n".join(
            f"  {f} {SQLITE_TYPES[KIND[f]]}"
            + (" NOT NULL" if f in REQUIRED else "")
            + (" PRIMARY KEY" if f == "event_id" else "")
            for f in FIELDS)
        con.execute(f"CREATE TABLE events (\n{cols}\n)")
        placeholders = ", ".join("?" for _ in FIELDS)
        insert = f"INSERT OR IGNORE INTO events ({', '.join(FIELDS)}) VALUES ({placeholders})"
        rest = [f for f in FIELDS if f not in ("event_timestamp", "event_date")]
        i_ts = FIELDS.index("event_timestamp")

        def records():
            with open(jsonl, "rb") as fh:
                for line in fh:
                    e = json.loads(line)
                    ms = parse_ts_ms(e["event_timestamp"])
                    row = [e.get(f) for f in FIELDS]
                    row[i_ts] = ms
                    row[i_ts + 1] = ms_to_dt(ms).date().isoformat()
                    yield row

        t = time.perf_counter()
        con.execute("BEGIN")
        con.executemany(insert, records())
        con.execute("COMMIT")
        loaded = time.perf_counter() - t
        for f in ("user_id", "tool_name", "event_type", "event_timestamp"):
            con.execute(f"CREATE INDEX events_{f} ON events ({f})")
        con.execute("ANALYZE")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds = time.perf_counter() - t
        stored = con.execute("SELECT count(*) FROM events").fetchone()[0]
        size = sum(dir_bytes(Path(str(self.path) + s)) for s in ("", "-wal")
                   if Path(str(self.path) + s).exists())
        con.close()
        self.con = sqlite3.connect(str(self.path), isolation_level=None)
        self.con.execute("PRAGMA cache_size = -262144")
        return {"load_s": seconds, "insert_s": loaded, "stored": stored, "bytes": size}

    def run(self, sql):
        return self.con.execute(sql).fetchall()

    def close(self):
        if self.con is not None:
            self.con.close()
            self.con = None


# ---------------------------------------------------------------- the report

def machine_info() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem,
            "kernel": platform.release(), "python": platform.python_version()}


def tool_version(*cmd) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def fmt_ms(x):
    if x is None:
        return "—"
    if x < 1:
        return f"{x:.3f}"
    if x < 10:
        return f"{x:.2f}"
    if x < 100:
        return f"{x:.1f}"
    return f"{x:,.0f}"


def fmt_ratio(x):
    return "—" if x is None else (f"{x:.1f}×" if x < 100 else f"{x:,.0f}×")


def abridged(x, most=64):
    """`x` with every list longer than `most` replaced by its first values and
    its length, and every string longer than 64 * `most` cut: the record of a
    run keeps q32's shape without its 200,000 ids (or their 2.9 MB of SQL)."""
    if isinstance(x, dict):
        return {k: abridged(v, most) for k, v in x.items()}
    if isinstance(x, list):
        if len(x) > most:
            return [abridged(v, most) for v in x[:8]] + [f"... {len(x):,} values in all"]
        return [abridged(v, most) for v in x]
    if isinstance(x, str) and len(x) > 64 * most:
        return x[:64 * most] + f" ... ({len(x):,} characters in all)"
    return x


def write_report(res: dict):
    RESULTS.mkdir(parents=True, exist_ok=True)
    res = abridged(res)
    size = res["size"]
    (RESULTS / f"{size}.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    systems = [s for s in SYSTEMS if s in res["load"]]
    peers = [s for s in systems if s != "daybook"]
    fast_peers = [s for s in peers if s in ("duckdb", "chdb")]
    L = []
    m, v = res["machine"], res["versions"]
    L.append(f"# Side by side: {size} ({res['events_in_file']:,} events in the file, "
             f"{res['load']['daybook']['stored']:,} distinct)\n")
    L.append(f"Generated by `benches/compare/run.sh {size}` on {res['date']}. "
             f"Machine: {m['nproc']} × {m['cpu']}, {m['memory']}, Linux {m['kernel']}, "
             f"Python {m['python']}. Load average at start {res['loadavg_start']}, "
             f"at end {res['loadavg_end']} (the machine is shared: compare within one run only).\n")
    L.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".\n")
    L.append(f"Data: `daybook generate --days {DAYS} --events-per-day {res['events_per_day']} "
             f"--companies {COMPANIES} --seed {SEED} --now {NOW}`; parameters picked by asking "
             f"daybook: `{json.dumps(res['params'])}`.\n")
    L.append("## Load\n")
    L.append("| system | load time | events/s (file records ÷ time) | bytes on disk | bytes/event | stored | load average before |")
    L.append("|---|---|---|---|---|---|---|")
    for s in systems:
        ld = res["load"][s]
        L.append(f"| {LABEL[s]} | {ld['load_s']:.2f} s | {ld['events_per_s']:,.0f} | "
                 f"{ld['bytes']:,} | {ld['bytes_per_event']:.1f} | {ld['stored']:,} | "
                 f"{ld['loadavg_before']} |")
    db = res["load"]["daybook"]
    L.append("")
    L.append(f"daybook's load is a plain `import` ({db['import_s']:.2f} s, of which "
             f"{db.get('settle_s', 0):.2f} s settling each day into one segment at the end), as a "
             f"user runs it: no `compact`; it left {db.get('segments', '?')} segments, and every "
             "query below runs on them. DuckDB: `CREATE TABLE AS` from "
             "`read_json` with a first-copy-wins dedup, sorted by time, checkpointed. chDB: MergeTree "
             "partitioned by `toDate(event_timestamp)`, ordered by (company_name, user_id, "
             "event_timestamp), low-cardinality strings as `LowCardinality`, `INSERT ... SELECT ... "
             "LIMIT 1 BY event_id` from `file()`, then `OPTIMIZE FINAL`; bytes are the table's data "
             "directory. SQLite: Python `json` + `executemany` of `INSERT OR IGNORE` in one "
             "transaction (WAL, synchronous=NORMAL), then 4 indexes and ANALYZE. "
             "DuckDB and chDB use both cores (their default), SQLite one; daybook's queries take "
             "a helper thread when there is enough work.\n")
    L.append("## Queries (median ms, warm)\n")
    L.append("daybook: `daybook query --json Q --repeat R` (engine time, in process); peers: "
             "in-process Python, execute + fetch all rows; one warm-up, then R runs "
             f"(R = {res['runs']}, fewer when a query would take over {res['budget_s']:.0f} s). "
             "Ratios: the peer's median ÷ daybook's (above 1: daybook is faster).\n")
    head = "| query | rows | " + " | ".join(LABEL[s] for s in systems)
    head += " | fastest peer ÷ daybook | faster of DuckDB/chDB ÷ daybook |"
    L.append(head)
    L.append("|---" * (len(systems) + 4) + "|")
    for q in res["queries"]:
        t = q["timing"]
        cells = []
        for s in systems:
            x = t.get(s, {}).get("median_ms")
            mark = "" if q["agree"].get(s, True) else " ✗"
            cells.append(fmt_ms(x) + mark)
        L.append(f"| {q['id']} {q['title']} | {q['rows']} | " + " | ".join(cells)
                 + f" | {fmt_ratio(q.get('ratio_fastest_peer'))} | {fmt_ratio(q.get('ratio_fast_peers'))} |")
    L.append("")
    if res["mismatches"]:
        L.append(f"**Answers: {len(res['mismatches'])} disagreement(s)** (✗ above):\n")
        for mm in res["mismatches"]:
            L.append(f"- {mm['query']} on {LABEL[mm['system']]}: {mm['detail']}")
        L.append("")
    else:
        L.append("**Answers: every peer's rows equal daybook's, row for row, for every query.**\n")
    tg = res.get("targets")
    if tg:
        L.append("## Targets (issue 5)\n")
        L.append("| target | measured | |")
        L.append("|---|---|---|")
        for item in tg:
            L.append(f"| {item['target']} | {item['measured']} | {'met' if item['met'] else '**not met**'} |")
        L.append("")
    L.append("## daybook across sizes\n")
    scale = res.get("scaling", {})
    sizes = [s for s in SIZES if s in scale]
    L.append("| | " + " | ".join(f"{s} ({scale[s]['stored']:,})" for s in sizes) + " |")
    L.append("|---" * (len(sizes) + 1) + "|")
    L.append("| import, events/s | " + " | ".join(f"{scale[s]['import_events_per_s']:,.0f}" for s in sizes) + " |")
    L.append("| bytes/event | " + " | ".join(f"{scale[s]['bytes_per_event']:.1f}" for s in sizes) + " |")
    ids = [q["id"] for q in res["queries"]]
    for qid in ids:
        L.append(f"| {qid} ms | " + " | ".join(fmt_ms(scale[s]["queries"].get(qid)) for s in sizes) + " |")
    L.append("")
    L.append("## SQL (DuckDB dialect), as translated\n")
    for q in res["queries"]:
        L.append(f"- {q['id']}: `{q['sql']['duckdb']}`" if "duckdb" in q["sql"] else f"- {q['id']}")
    (RESULTS / f"{size}.md").write_text("\n".join(L) + "\n")


def plot(res: dict):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no plot")
        return
    systems = [s for s in SYSTEMS if s in res["load"]]
    qs = res["queries"]
    fig, ax = plt.subplots(figsize=(14, 5))
    width = 0.8 / len(systems)
    for i, s in enumerate(systems):
        xs = [j + i * width for j in range(len(qs))]
        ys = [q["timing"].get(s, {}).get("median_ms") or 0 for q in qs]
        ax.bar(xs, ys, width, label=LABEL[s])
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(qs))])
    ax.set_xticklabels([q["id"] for q in qs])
    ax.set_ylabel("median ms (log)")
    ax.set_title(f"{res['size']}: {res['load']['daybook']['stored']:,} events, "
                 f"{res['date']}, load avg {res['loadavg_start']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / f"{res['size']}.png", dpi=100)
    plt.close(fig)


def other_sizes(size: str) -> dict:
    """daybook's figures of the other sizes, from their results JSON."""
    scale = {}
    for s in SIZES:
        p = RESULTS / f"{s}.json"
        if s != size and p.exists():
            try:
                scale[s] = json.loads(p.read_text())["scaling"][s]
            except (KeyError, json.JSONDecodeError):
                pass
    return scale


def diff_rows(want, got, limit=3) -> str:
    lines = [f"daybook {len(want)} row(s), peer {len(got)} row(s)"]
    shown = 0
    for i in range(max(len(want), len(got))):
        a = want[i] if i < len(want) else None
        b = got[i] if i < len(got) else None
        if a != b:
            lines.append(f"row {i}: daybook {a!r} / peer {b!r}")
            shown += 1
            if shown >= limit:
                break
    return "; ".join(lines)


def main():
    global RESULTS, BIN
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("size", choices=list(SIZES))
    ap.add_argument("--runs", type=int, default=10, help="timed runs per query after a warm-up")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds of timed runs per query at most")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated; daybook is always run (it is the reference)")
    ap.add_argument("--queries", default=str(HERE / "queries.json"))
    ap.add_argument("--out", default=str(HERE / "out"), help="data and stores (not committed)")
    ap.add_argument("--results", default=str(RESULTS), help="where SIZE.md/.json/.png go")
    ap.add_argument("--bin", default=str(BIN),
                    help="the daybook binary to measure (default: target/release/daybook); "
                         "an older build's, for a before/after in the same harness")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: rewrite SIZE.md (and the plot) from SIZE.json, "
                         "with the other sizes' daybook figures as they are now")
    args = ap.parse_args()
    RESULTS = Path(args.results)
    if args.report_only:
        res = json.loads((RESULTS / f"{args.size}.json").read_text())
        res["scaling"] = other_sizes(args.size) | {args.size: res["scaling"][args.size]}
        write_report(res)
        plot(res)
        log(f"rewrote {RESULTS / (args.size + '.md')}")
        return

    wanted = [s for s in SYSTEMS if s == "daybook" or s in args.systems.split(",")]
    BIN = Path(args.bin)
    if not BIN.exists():
        sys.exit(f"{BIN} missing: run `cargo build --release` first (run.sh does)")
    per_day = SIZES[args.size]
    work = Path(args.out) / args.size
    work.mkdir(parents=True, exist_ok=True)
    # Pin the binary for the whole run: target/ is shared and may be rebuilt
    # while the peers are measured.
    pinned = work / "daybook-bin"
    shutil.copy2(BIN, pinned)
    BIN = pinned
    bin_sha = hashlib.sha256(pinned.read_bytes()).hexdigest()[:12]

    res = {"size": args.size, "events_per_day": per_day, "days": DAYS,
           "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": machine_info(), "loadavg_start": loadavg(),
           "runs": args.runs, "budget_s": args.budget, "load": {}, "queries": [],
           "mismatches": []}
    log(f"== {args.size}: load average {res['loadavg_start']}")

    # ---- data (cached: same command, same bytes)
    jsonl = work / "events.jsonl"
    gen = [str(BIN), "--now", NOW, "generate", "--days", str(DAYS), "--events-per-day",
           str(per_day), "--companies", str(COMPANIES), "--seed", str(SEED), "--out", str(jsonl)]
    stamp = work / "events.cmd"
    cmdline = " ".join(gen[1:])
    if not (jsonl.exists() and stamp.exists() and stamp.read_text() == cmdline):
        log(f"generating {jsonl}")
        jsonl.unlink(missing_ok=True)
        subprocess.run(gen, check=True, stdin=subprocess.DEVNULL)
        stamp.write_text(cmdline)
    with open(jsonl, "rb") as fh:
        n_file = sum(1 for _ in fh)
    res["events_in_file"] = n_file
    res["jsonl_bytes"] = jsonl.stat().st_size

    templates = json.loads(Path(args.queries).read_text())

    def finish_load(name, ld, seconds_key="load_s"):
        ld["events_per_s"] = n_file / ld[seconds_key]
        ld["bytes_per_event"] = ld["bytes"] / ld["stored"]
        res["load"][name] = ld

    # ---- daybook: load, pick parameters, answer and time every query
    db = Daybook(work / "daybook", work)
    la = loadavg()
    log(f"daybook: import (load average {la})")
    ld = db.load(jsonl)
    ld["load_s"] = ld["import_s"]
    ld["import_events_per_s"] = n_file / ld["import_s"]
    ld["loadavg_before"] = la
    finish_load("daybook", ld)
    if ld["rejected"]:
        log(f"daybook rejected {ld['rejected']} events")
    params = pick_params(db)
    res["params"] = params
    log(f"  parameters: {params}")

    queries = []
    for t in templates:
        doc = fill(t["query"], params)
        cols = result_columns(doc)
        queries.append({"id": t["id"], "title": t["title"], "doc": doc, "columns": cols,
                        "sql": {}, "timing": {}, "agree": {}})
    answers = {}
    for q in queries:
        rows, timing, matched = db.measure(q["doc"], q["columns"], args.runs, args.budget)
        answers[q["id"]] = normalise(rows, q["columns"])
        q["rows"] = len(rows)
        q["first_rows"] = answers[q["id"]][:3]
        q["matched_events"] = matched
        q["timing"]["daybook"] = timing
        log(f"  {q['id']} daybook {timing['median_ms']:.3f} ms ({len(rows)} rows)")
    if any(q["rows"] == 0 for q in queries):
        log("warning: some queries return no rows: " + ", ".join(q["id"] for q in queries if q["rows"] == 0))
    ld["loadavg_after"] = loadavg()

    # ---- peers, one at a time
    versions = {"daybook": tool_version(str(BIN), "--version").replace("daybook ", "")
                           + f" (binary sha256 {bin_sha}…)",
                "rustc": tool_version("rustc", "--version").replace("rustc ", "")}
    makers = {"duckdb": lambda: DuckPeer(work / "duckdb.db"),
              "chdb": lambda: ChPeer(work / "chdb"),
              "sqlite": lambda: SqlitePeer(work / "sqlite.db")}
    for name in wanted[1:]:
        peer = makers[name]()
        la = loadavg()
        log(f"{name}: load (load average {la})")
        pl = peer.load(jsonl)
        pl["loadavg_before"] = la
        finish_load(name, pl)
        versions[LABEL[name]] = peer.version()
        log(f"  {pl['load_s']:.2f} s, {pl['stored']} stored, {pl['bytes']:,} bytes")
        if pl["stored"] != ld["stored"]:
            res["mismatches"].append({"query": "load", "system": name,
                                      "detail": f"stored {pl['stored']} events, daybook {ld['stored']}"})
        for q in queries:
            sql, cols = translate(q["doc"], peer.dialect)
            q["sql"][name] = sql
            try:
                raw, times = timed_runs(lambda: peer.run(sql), args.runs, args.budget)
            except Exception as e:  # report, keep going
                res["mismatches"].append({"query": q["id"], "system": name, "detail": f"error: {e}"})
                q["agree"][name] = False
                log(f"  {q['id']} {name} FAILED: {e}\n    {sql}")
                continue
            rows = peer.rows(raw) if hasattr(peer, "rows") else raw
            got = normalise(rows, cols)
            q["timing"][name] = summary(times)
            ok = got == answers[q["id"]]
            q["agree"][name] = ok
            log(f"  {q['id']} {name} {q['timing'][name]['median_ms']:.3f} ms"
                + ("" if ok else "  DISAGREES"))
            if not ok:
                detail = diff_rows(answers[q["id"]], got)
                res["mismatches"].append({"query": q["id"], "system": name, "detail": detail,
                                          "sql": sql, "doc": q["doc"]})
                print(f"MISMATCH {q['id']} ({q['title']}) on {name}:\n  query: {json.dumps(q['doc'])}\n"
                      f"  sql: {sql}\n  {detail}", file=sys.stderr, flush=True)
        pl["loadavg_after"] = loadavg()
        peer.close()
    res["versions"] = versions
    res["loadavg_end"] = loadavg()

    # ---- ratios and targets
    peers = [s for s in wanted if s != "daybook"]
    for q in queries:
        d = q["timing"]["daybook"]["median_ms"]
        pt = [q["timing"][s]["median_ms"] for s in peers if s in q["timing"]]
        ft = [q["timing"][s]["median_ms"] for s in ("duckdb", "chdb") if s in q["timing"]]
        q["ratio_fastest_peer"] = min(pt) / d if pt and d > 0 else None
        q["ratio_fast_peers"] = min(ft) / d if ft and d > 0 else None
    targets = []
    if "duckdb" in res["load"]:
        a, b = ld["bytes_per_event"], res["load"]["duckdb"]["bytes_per_event"]
        targets.append({"target": "storage ≤ DuckDB's bytes/event",
                        "measured": f"daybook {a:.1f} vs DuckDB {b:.1f} bytes/event", "met": a <= b})
    fp = [s for s in ("duckdb", "chdb") if s in res["load"]]
    if peers:
        best = max(peers, key=lambda s: res["load"][s]["events_per_s"])
        br = res["load"][best]["events_per_s"]
        for label, rate in (("import", ld["import_events_per_s"]),):
            targets.append({"target": f"load ≥ 2× the faster peer's rate ({label})",
                            "measured": f"daybook {rate:,.0f} events/s vs {LABEL[best]} {br:,.0f} "
                                        f"({rate / br:.2f}×)", "met": rate >= 2 * br})
    if fp:
        worst = min(queries, key=lambda q: q["ratio_fast_peers"] or 0)
        slow = [q["id"] for q in queries if (q["ratio_fast_peers"] or 0) < 10]
        targets.append({"target": "every query ≥ 10× faster than the faster of DuckDB and chDB",
                        "measured": f"{len(queries) - len(slow)} of {len(queries)} queries; lowest "
                                    f"{fmt_ratio(worst['ratio_fast_peers'])} ({worst['id']})"
                                    + (f"; under 10×: {', '.join(slow)}" if slow else ""),
                        "met": not slow})
    res["targets"] = targets
    for q in queries:
        q.pop("columns", None)
    res["queries"] = queries

    # ---- scaling: daybook across the sizes run so far
    scale = other_sizes(args.size)
    scale[args.size] = {
        "stored": ld["stored"], "import_events_per_s": ld["import_events_per_s"],
        "load_events_per_s": ld["events_per_s"], "bytes_per_event": ld["bytes_per_event"],
        "queries": {q["id"]: q["timing"]["daybook"]["median_ms"] for q in queries},
        "date": res["date"], "loadavg_start": res["loadavg_start"]}
    res["scaling"] = scale
    res["ok"] = not res["mismatches"]
    write_report(res)
    plot(res)
    log(f"wrote {RESULTS / (args.size + '.md')} and .json")
    if res["mismatches"]:
        log(f"FAILED: {len(res['mismatches'])} disagreement(s)")
        for mm in res["mismatches"]:
            log(f"  {mm['query']} {mm['system']}: {mm['detail']}")
        sys.exit(1)
    log("all answers agree")


if __name__ == "__main__":
    main()

"""The data profile (04_qa_profile, profile.json): per column its type, null share, distinct values,
minimum and maximum; the distributions of the main measures; every guardrail check with its status.
Aggregated by DuckDB, so memory follows the distinct values, never the rows.

Distinct counts are exact for the key columns (primary and foreign keys, helpers.schema) and
approximate (HyperLogLog) for the others; each column says which (`distinct_method`)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .. import io
from ..schema import TABLES

# Exact distinct counts of a foreign key are counted in slices of the key's range of about this many
# values each: count(DISTINCT) cannot spill, and one over a key of tens of millions of values (events on
# params/large.yaml) would need more than DuckDB's 1 GB; a slice's stays small (as duck.prepare_redelivered).
DISTINCT_SLICE_ROWS = 8_000_000
APPROXIMATE = "approximate (HyperLogLog)"


def profile(con: duckdb.DuckDBPyConnection) -> dict:
    """Row counts, and per column: type, null share, distinct values (exact for keys, see
    key_distinct; approximate otherwise, and labelled so), min and max; plus the distributions of
    the main measures."""
    out: dict = {"tables": {}, "measures": {}}
    for name, table in TABLES.items():
        # one scan per table: count, non-null count, approximate distinct count (HyperLogLog), min, max
        # (SUMMARIZE would add averages and quantiles nobody reads: ~50 s on 59M events)
        stats = ", ".join(
            f"count({c}), approx_count_distinct({c}), min({c})::VARCHAR, max({c})::VARCHAR" for c in table.column_names
        )
        values = con.execute(f"SELECT count(*), {stats} FROM raw.{name}").fetchall()[0]
        rows, cols = int(values[0]), {}
        for i, c in enumerate(table.columns):
            non_null, distinct, lo, hi = values[1 + 4 * i : 5 + 4 * i]
            if c.name == table.primary_key or c.references:
                distinct, method = key_distinct(con, name, c.name, rows)
            else:
                distinct, method = min(int(distinct), rows), APPROXIMATE  # HyperLogLog may overshoot
            cols[c.name] = {
                "type": c.sql_type,
                "null_share": round(1.0 - non_null / rows, 6) if rows else 0.0,
                "distinct": distinct,
                "distinct_method": method,
                "min": lo,
                "max": hi,
            }
        out["tables"][name] = {"rows": rows, "columns": cols}
    measures = {
        "users_per_account": "SELECT count(*) AS v FROM raw.users GROUP BY account_id",
        "projects_per_account": "SELECT count(p.project_id) AS v FROM raw.accounts a LEFT JOIN raw.projects p "
        "USING (account_id) GROUP BY a.account_id",
        "plan_periods_per_account": "SELECT count(*) AS v FROM raw.account_plans GROUP BY account_id",
        "tasks_per_project": "SELECT count(t.task_id) AS v FROM raw.projects p LEFT JOIN raw.tasks t "
        "USING (project_id) GROUP BY p.project_id",
        "cycle_time_days": "SELECT date_diff('second', first_started_at, completed_at) / 86400.0 AS v "
        "FROM raw.tasks WHERE completed_at IS NOT NULL",
        "activation_lag_hours": "SELECT date_diff('second', created_at, activated_at) / 3600.0 AS v "
        "FROM raw.users WHERE activated_at IS NOT NULL",
        "events_per_user": "SELECT count(*) AS v FROM qa.events GROUP BY user_id",
        "ingestion_latency_seconds": "SELECT date_diff('millisecond', event_at_utc, ingested_at_utc) / 1000.0 AS v "
        "FROM qa.events",
    }
    for name, sql in measures.items():
        out["measures"][name] = distribution(con, sql)
    return out


def key_distinct(con: duckdb.DuckDBPyConnection, table: str, column: str, rows: int) -> tuple[int, str]:
    """The exact number of distinct non-null values of a key column, and how it was found:
    - a primary key of an entity table: its rows (rule pk_<table> fails the run unless the key is
      unique and not null);
    - events.event_id: its rows minus the extra deliveries of re-sent events published in raw.events
      (qa.redelivered, the event_ids delivered more than once, which rule pk_events reconciles with the
      ledger; a semi join on those few ids);
    - a foreign key: counted, count(DISTINCT) in slices of its range (DISTINCT_SLICE_ROWS values each),
      so memory stays bounded on any preset."""
    if column == TABLES[table].primary_key and table != "events":
        return rows, f"exact (= rows: rule pk_{table})"
    if column == TABLES[table].primary_key and _has_table(con, "qa", "redelivered"):
        extra = con.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM raw.events "
            "SEMI JOIN qa.redelivered USING (event_id) GROUP BY event_id)"
        ).fetchall()[0][0]
        return rows - int(extra), "exact (rows - re-sent deliveries: rule pk_events)"
    return _sliced_distinct(con, table, column), "exact (counted)"


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    sql = "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?"
    return bool(con.execute(sql, [schema, name]).fetchall()[0][0])


def _sliced_distinct(con: duckdb.DuckDBPyConnection, table: str, column: str) -> int:
    """count(DISTINCT column) of raw.table, exact, summed over disjoint slices of the column's range, each
    with at most about DISTINCT_SLICE_ROWS distinct values, so no single hash set grows past one slice.
    The distinct values are bounded by the column's non-null rows and by the rows of the table it
    references (rule fk_*), so most foreign keys take one slice (one scan)."""
    low, high, n = con.execute(f"SELECT min({column}), max({column}), count({column}) FROM raw.{table}").fetchall()[0]
    if not n:
        return 0
    ref = TABLES[table].column(column).references
    parent = ref.split(".")[0] if ref else table  # events.event_id without qa.redelivered: its own rows
    bound = min(n, con.execute(f"SELECT count(*) FROM raw.{parent}").fetchall()[0][0])
    slices = max(1, -(-bound // DISTINCT_SLICE_ROWS))
    edges = [low + (high + 1 - low) * i // slices for i in range(slices + 1)]
    sql = f"SELECT count(DISTINCT {column}) FROM raw.{table} WHERE {column} >= ? AND {column} < ?"
    return sum(int(con.execute(sql, [a, b]).fetchall()[0][0]) for a, b in itertools.pairwise(edges))


def distribution(con: duckdb.DuckDBPyConnection, sql: str) -> dict:
    """n, min, p10, median, p90, p99, max and mean of column v of a query, exact (quantiles as
    DuckDB's quantile_cont: linear between order statistics), from a table of distinct values and
    their counts, so memory follows the distinct values (a GROUP BY, which spills), not the rows."""
    f = con.execute(f"SELECT v, count(*) AS c FROM ({sql}) WHERE v IS NOT NULL GROUP BY v ORDER BY v").fetchnumpy()
    v, c = np.asarray(f["v"], dtype=float), np.asarray(f["c"], dtype=np.int64)
    n = int(c.sum())
    if n == 0:
        return {"n": 0, "min": None, "p10": None, "median": None, "p90": None, "p99": None, "max": None, "mean": None}
    upto = np.cumsum(c)  # rows with a value <= v[i]

    def at_rank(r):  # the r-th smallest value (0-based)
        return v[np.searchsorted(upto, r, side="right")]

    def quantile(q):
        pos = q * (n - 1)
        lo, hi = at_rank(int(np.floor(pos))), at_rank(int(np.ceil(pos)))
        return float(lo + (hi - lo) * (pos - np.floor(pos)))

    return {
        "n": n,
        "min": float(v[0]),
        "p10": quantile(0.1),
        "median": quantile(0.5),
        "p90": quantile(0.9),
        "p99": quantile(0.99),
        "max": float(v[-1]),
        "mean": float((v * c).sum() / n),
    }


PROFILE_COLUMNS = {
    "table": "the table (raw schema)",
    "rows": "its rows",
    "column": "the column",
    "type": "its DuckDB type",
    "null %": "share of rows where it is NULL",
    "distinct": "distinct non-null values",
    "distinct is": "how the distinct count was found: exact for primary and foreign keys (a primary key's "
    "uniqueness is checked by its rule pk_<table>, so it equals the rows), approximate (HyperLogLog, "
    "within a few %) for the other columns",
    "min": "smallest value (as text)",
    "max": "largest value (as text)",
}


def profile_table(prof: dict) -> pd.DataFrame:
    """One row per column of every table; the columns are explained in PROFILE_COLUMNS."""
    rows = []
    for table, t in prof["tables"].items():
        for col, c in t["columns"].items():
            rows.append(
                {
                    "table": table,
                    "rows": t["rows"],
                    "column": col,
                    "type": c["type"],
                    "null %": 100 * c["null_share"],
                    "distinct": c["distinct"],
                    "distinct is": c["distinct_method"],
                    "min": c["min"],
                    "max": c["max"],
                }
            )
    return pd.DataFrame(rows)


def measures_table(prof: dict) -> pd.DataFrame:
    return pd.DataFrame([{"measure": k, **v} for k, v in prof["measures"].items()])


def write_profile(prof: dict, report: pd.DataFrame, data_dir: str | Path, effects: list | None = None) -> Path:
    """data/NAME/profile.json: the profile, every guardrail check with its status, and each
    imperfection's effect on each metric (quality.effects; the manifest copies them)."""

    def clean(v):
        return None if v is None or (isinstance(v, float) and pd.isna(v)) else v

    doc = dict(
        prof,
        guardrails=[{k: clean(v) for k, v in r.items()} for r in report.to_dict("records")],
        imperfection_effects=[e.as_dict() for e in effects or []],
    )
    path = Path(data_dir) / "profile.json"
    io.write_json(json.loads(json.dumps(doc, default=str)), path)
    return path

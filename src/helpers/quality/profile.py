"""The data profile (04_qa_profile, profile.json): per column its type, null share, distinct values,
minimum and maximum; the distributions of the main measures; every guardrail check with its status.
Aggregated by DuckDB, so memory follows the distinct values, never the rows."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .. import io
from ..schema import TABLES


def profile(con: duckdb.DuckDBPyConnection) -> dict:
    """Row counts, and per column: type, null share, distinct values (approximate), min and max;
    plus the distributions of the main measures."""
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
            cols[c.name] = {
                "type": c.sql_type,
                "null_share": round(1.0 - non_null / rows, 6) if rows else 0.0,
                "distinct_approx": min(int(distinct), rows),  # HyperLogLog may overshoot
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


def profile_table(prof: dict) -> pd.DataFrame:
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
                    "distinct (approx.)": c["distinct_approx"],
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

"""QA guardrails and the data profile (04_qa_profile), run against the DuckDB warehouse.

A guardrail is a group of checks; each check has a value, what is allowed, and a status: "pass",
"fail" or "not applicable" (the data cannot answer it: no tasks at all, a window too short).
The checks are the SQL files of helpers/sql/rules (each must report 0 violations) and
helpers/sql/qa (activity metrics with allowed ranges), plus every imperfection's measured rate
against its target.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from . import checks, imperfections, io
from .params import Params
from .schema import TABLES

PASS, FAIL, NA = "pass", "fail", "not applicable"

RULE_GUARDRAILS = {
    "10_keys.sql": "No FK or key violation in any table",
    "20_values.sql": "Every value in its allowed set",
    "30_timestamps.sql": "No impossible timestamp",
    "40_events_vs_tables.sql": "Events and tables agree",
    "50_ledger.sql": "The ledger agrees with the tables",
    "60_snapshot.sql": "An as_of extract leaves out exactly the later deliveries",
}
METRIC_GUARDRAILS = {
    "key_event_types_present": "Key events present and not drowned by noise",
    "key_event_share": "Key events present and not drowned by noise",
    "max_supporting_share": "Key events present and not drowned by noise",
    "weekday_weekend_ratio": "Daily and weekly activity plausible",
    "hour_max_min_ratio": "Daily and weekly activity plausible",
    "empty_weekdays_after_first_month": "Daily and weekly activity plausible",
}


def connect_warehouse(data_dir: str | Path, params: Params) -> duckdb.DuckDBPyConnection:
    """The published warehouse, read-only, with the window variables the SQL uses."""
    con = io.duckdb_connect(Path(data_dir) / "warehouse.duckdb", read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET VARIABLE has_ledger = ?", [(Path(data_dir) / "imperfections" / "ledger.parquet").exists()])
    checks.set_window(con, params)
    return con


def _allowed_rate(m: dict) -> str:
    if m["tolerance"] is None or m["achievable_rate"] is None:
        return "n/a (no rows)"
    text = f"{m['achievable_rate']:.4g} ± {m['tolerance']:.4f}"
    if abs(m["achievable_rate"] - m["target_rate"]) > 1e-12:
        text += f" (target {m['target_rate']:g} is not reachable in this data)"
    return text


def _status(passed) -> str:
    if passed is None or pd.isna(passed):
        return NA
    return PASS if passed else FAIL


def guardrails(con: duckdb.DuckDBPyConnection, params: Params) -> pd.DataFrame:
    """Every check of every guardrail: guardrail, check, description, value, allowed, status."""
    rows = []
    for r in checks.run_rules(con).itertuples():
        rows.append(
            dict(
                guardrail=RULE_GUARDRAILS.get(r.file, r.file),
                check=r.rule,
                description=r.description,
                value=r.violations,
                allowed="0 violations",
                status=_status(r.passed),
            )
        )
    for m in checks.run_metrics(con).itertuples():
        rows.append(
            dict(
                guardrail=METRIC_GUARDRAILS.get(m.metric, "Activity"),
                check=m.metric,
                description=m.description,
                value=m.value,
                allowed=m.allowed,
                status=_status(m.passed),
            )
        )
    for m in imperfections.measure(con, params):
        rows.append(
            dict(
                guardrail="Imperfection rates match their targets",
                check=f"{m['kind']}: {m['table']}.{m['column']}",
                description=m["definition"],
                value=m["measured_rate"],
                allowed=_allowed_rate(m),
                status=_status(m["within_tolerance"]),
            )
        )
    return pd.DataFrame(rows)


def readable(report: pd.DataFrame) -> pd.DataFrame:
    """The report for people: values as text (violation counts as integers, rates to 4 significant
    digits, 'n/a' where a check does not apply)."""

    def fmt(v, allowed):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return "n/a"
        if allowed == "0 violations":
            return f"{int(v):,}"
        return f"{v:.4g}"

    out = report.copy()
    out["value"] = [fmt(v, a) for v, a in zip(report.value, report.allowed)]
    return out


def summary(report: pd.DataFrame) -> pd.DataFrame:
    """One row per guardrail: how many checks pass, fail, or do not apply; the guardrail's status."""
    counts = report.pivot_table(index="guardrail", columns="status", values="check", aggfunc="count", fill_value=0)
    for col in (PASS, FAIL, NA):
        if col not in counts:
            counts[col] = 0
    counts = counts[[PASS, FAIL, NA]].reset_index()
    counts["status"] = [FAIL if f else (NA if p == 0 else PASS) for p, f in zip(counts[PASS], counts[FAIL])]
    order = list(dict.fromkeys(report.guardrail))
    return counts.set_index("guardrail").loc[order].reset_index()


def raise_if_failed(report: pd.DataFrame) -> None:
    """AssertionError naming every failed check, on one line."""
    failed = report[report.status == FAIL]
    if len(failed):
        names = "; ".join(f"{r.check} = {r.value} (allowed {r.allowed})" for r in failed.itertuples())
        raise AssertionError(f"{len(failed)} guardrail check(s) failed: {names}")


# --------------------------------------------------------------------------- profile
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
    import numpy as np

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


def write_profile(prof: dict, report: pd.DataFrame, data_dir: str | Path) -> Path:
    """data/NAME/profile.json: the profile and every guardrail check with its status."""

    def clean(v):
        return None if v is None or (isinstance(v, float) and pd.isna(v)) else v

    doc = dict(prof, guardrails=[{k: clean(v) for k, v in r.items()} for r in report.to_dict("records")])
    path = Path(data_dir) / "profile.json"
    io.write_json(json.loads(json.dumps(doc, default=str)), path)
    return path

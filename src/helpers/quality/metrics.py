"""Metrics preview (05_metrics_preview): the Stage 3 metrics computed by plain SQL from the raw tables
(helpers/quality/sql/metrics/*.sql), compared row by row with the answer keys in truth/.

Two runs of the same SQL:
- "published": over the tables as published (warehouse.duckdb), what an analyst would get;
- "complete": raw.events plus the deliveries an as_of extract left out (truth/not_yet_arrived).
The SQL is right when "complete" equals the answer keys exactly; "published" may fall short only by
what as_of left out (never above the key, never in cohort sizes), and this module says how much.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .. import duck, io
from ..params import Params
from ..schema import ANSWER_KEYS

KEYS = {
    "active_users_7d": ["scope", "day"],
    "user_retention": ["scope", "cohort_week", "week_number"],
    "account_retention": ["scope", "cohort_week", "week_number"],
}
# per-row flags the SQL must reproduce too (where both sides have them: the naive SQL does not)
FLAGS = {"user_retention": ["left_censored"], "account_retention": ["left_censored"]}
VALUES = {
    "active_users_7d": ["active_users"],
    "user_retention": ["cohort_size", "retained"],
    "account_retention": ["cohort_size", "retained"],
}


def sql(name: str, naive: bool = False) -> str:
    """The text of helpers/quality/sql/metrics/<name>.sql (naive: metrics/naive/<name>.sql, the query a
    new analyst writes first: no deduplication, internal workspaces in, the last days as they are)."""
    folder = resources.files("helpers.quality") / "sql" / "metrics"
    return ((folder / "naive") if naive else folder).joinpath(f"{name}.sql").read_text()


def pointed(text: str, names: dict[str, str]) -> str:
    """Metric SQL with its tables (raw.events, raw.accounts, raw.users) pointed at other relations."""
    for table, relation in names.items():
        text = re.sub(rf"\b{re.escape(table)}\b", relation, text)
    return text


def compute(con: duckdb.DuckDBPyConnection, names: dict[str, str] | None = None) -> dict[str, pd.DataFrame]:
    """Every metric SQL file run on a connection that has raw.* and the window variables (its tables
    pointed elsewhere by `names`, e.g. {"raw.events": "qa.all_events"}: every delivery)."""
    return {name: normalise(con.sql(pointed(sql(name), names or {})).df()) for name in ANSWER_KEYS}


def answer_keys(data_dir: str | Path) -> dict[str, pd.DataFrame]:
    import pyarrow.parquet as pq

    return {name: normalise(pq.read_table(io.truth_path(data_dir, name)).to_pandas()) for name in ANSWER_KEYS}


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("day", "cohort_week"):
        if c in df:
            df[c] = pd.to_datetime(df[c]).dt.date
    for c in ("week_number", "active_users", "cohort_size", "retained"):
        if c in df:
            df[c] = df[c].astype("int64")
    if "left_censored" in df:
        df["left_censored"] = df["left_censored"].astype(bool)
    df["scope"] = df["scope"].astype(str)
    return df


def connect_complete(data_dir: str | Path, params: Params) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB: raw.accounts and raw.users over the parts, raw.events = the published events
    plus truth/not_yet_arrived (every delivery, as if the extract had waited)."""
    con = duck.connect(params=params)
    con.execute("CREATE SCHEMA raw")
    for name in ("accounts", "users"):
        con.execute(f"CREATE VIEW raw.{name} AS SELECT * FROM {duck.parts(con, io.table_dir(data_dir, name))}")
    later = io.truth_path(data_dir, "not_yet_arrived")
    union = f" UNION ALL SELECT * FROM {duck.parquet(con, [later])}" if later.exists() else ""
    con.execute(f"CREATE VIEW raw.events AS SELECT * FROM {duck.parts(con, io.table_dir(data_dir, 'events'))}{union}")
    return con


def compare(name: str, computed: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Row by row: the keys, each value from SQL and from the answer key, and their difference
    (a row missing on one side counts as 0 there)."""
    keys, values = KEYS[name], VALUES[name]
    m = truth.merge(computed, on=keys, how="outer", suffixes=("_truth", "_sql"), indicator=True)
    for v in values:
        m[f"{v}_truth"] = m[f"{v}_truth"].fillna(0).astype("int64")
        m[f"{v}_sql"] = m[f"{v}_sql"].fillna(0).astype("int64")
        m[f"{v}_diff"] = m[f"{v}_sql"] - m[f"{v}_truth"]
    m["row"] = m.pop("_merge").map({"both": "both", "left_only": "key only", "right_only": "sql only"})
    flags = [f for f in FLAGS.get(name, ()) if f"{f}_sql" in m and f"{f}_truth" in m]
    differ = np.zeros(len(m), dtype=bool)
    for f in flags:
        differ |= (m[f"{f}_sql"] != m[f"{f}_truth"]).to_numpy()
    m["flags_differ"] = (m["row"] == "both").to_numpy() & differ
    return m.sort_values(keys).reset_index(drop=True)


@dataclass
class Reconciliation:
    """How one metric's SQL result compares with its answer key."""

    metric: str
    rows: int
    rows_off_published: int  # rows where the published data's SQL differs from the key
    shortfall_published: int  # sum of (key - SQL) over those rows
    first_off: dt.date | None  # earliest day (retention: calendar week, cohort week + k weeks) affected
    rows_off_complete: int  # rows where SQL over every delivery differs from the key (must be 0)
    above_key: int  # rows where the published SQL exceeds the key (must be 0)
    cohort_size_off: int  # retention rows whose cohort size differs (must be 0)

    @property
    def agrees(self) -> bool:
        return self.rows_off_complete == 0 and self.above_key == 0 and self.cohort_size_off == 0


def _calendar_day(rows: pd.DataFrame) -> pd.Series:
    """Each row's day, or for retention the Monday of its week k (cohort week + 7k days)."""
    if "day" in rows:
        return rows["day"]
    return rows.apply(lambda r: r.cohort_week + dt.timedelta(weeks=int(r.week_number)), axis=1)


def reconcile(
    published: dict[str, pd.DataFrame],
    complete: dict[str, pd.DataFrame],
    keys: dict[str, pd.DataFrame],
    as_of: dt.datetime | None,
) -> list[Reconciliation]:
    """Each metric's published and complete SQL results against its answer key. Without as_of every
    delivery is published, and the published result itself must equal the key exactly."""
    out = []
    for name in ANSWER_KEYS:
        value = VALUES[name][-1]
        p = compare(name, published[name], keys[name])
        c = compare(name, complete[name], keys[name])
        off = p[(p[[f"{v}_diff" for v in VALUES[name]]] != 0).any(axis=1) | (p["row"] != "both") | p.flags_differ]
        off_complete = c[
            (c[[f"{v}_diff" for v in VALUES[name]]] != 0).any(axis=1) | (c["row"] != "both") | c.flags_differ
        ]
        out.append(
            Reconciliation(
                metric=name,
                rows=len(keys[name]),
                rows_off_published=len(off),
                shortfall_published=int(-off[f"{value}_diff"].sum()),
                first_off=min(_calendar_day(off)) if len(off) else None,
                rows_off_complete=len(off_complete) if as_of is not None else len(off),
                above_key=int((p[f"{value}_diff"] > 0).sum()),
                cohort_size_off=int((p["cohort_size_diff"] != 0).sum()) if "cohort_size_diff" in p else 0,
            )
        )
    return out


def reconciliation_table(rec: list[Reconciliation]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "metric": r.metric,
                "rows": r.rows,
                "rows off (published)": r.rows_off_published,
                "shortfall (published)": r.shortfall_published,
                "first affected": r.first_off,
                "rows off (every delivery)": r.rows_off_complete,
                "above the key": r.above_key,
                "cohort sizes off": r.cohort_size_off,
                "agrees": r.agrees,
            }
            for r in rec
        ]
    )


def assert_agree(rec: list[Reconciliation], as_of: dt.datetime | None) -> None:
    """Raise AssertionError (one line) when any metric disagrees with its key beyond what as_of explains."""
    bad = [r for r in rec if not r.agrees]
    if bad:
        why = "; ".join(
            f"{r.metric}: {r.rows_off_complete} rows differ from the answer key"
            + (" even with the deliveries after as_of added" if as_of else "")
            + (f", {r.above_key} rows above it" if r.above_key else "")
            + (f", {r.cohort_size_off} cohort sizes differ" if r.cohort_size_off else "")
            for r in bad
        )
        raise AssertionError(f"{len(bad)} metric(s) disagree with the answer keys: {why}")


def as_of_note(rec: list[Reconciliation], as_of: dt.datetime | None, window_end: dt.date) -> str:
    """One Markdown paragraph: how far the published metrics fall short of the keys, why, and what
    Stage 3 should do about it."""
    if as_of is None:
        off = sum(r.rows_off_published for r in rec)
        return (
            "No `as_of` extract: every delivery is published, so the SQL over the published tables must equal "
            f"the keys exactly ({off} rows differ)."
        )
    parts = [
        f"`{r.metric}`: {r.rows_off_published} of {r.rows:,} rows short by {r.shortfall_published:,} in total"
        + (f", from {'the week of ' if r.metric != 'active_users_7d' else ''}{r.first_off}" if r.first_off else "")
        for r in rec
    ]
    last = complete_through(as_of, window_end)
    return (
        f"The extract is **as of {as_of.isoformat(sep=' ')} UTC**: what happened after it, and deliveries "
        "still on their way then (late arrivals), are not in the published events, so the last days and "
        "the newest cohorts' last week fall short of the keys. "
        + "; ".join(parts)
        + "."
        + f" The last UTC day that ended before the cut is **{last}** (late deliveries may still be missing "
        "before it). No query can recover events the extract does not hold: Stage 3 should mark the days after the "
        "last whole one (and the week holding them) as incomplete, or leave them out, rather than report a "
        "drop. Adding the deliveries after the cut back (`truth/not_yet_arrived`) gives the keys exactly."
    )


def external(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of scope 'external' (the naive SQL has no scope: all its rows count as external)."""
    if "scope" not in df:
        return normalise(df.assign(scope="external"))
    return df[df.scope == "external"].reset_index(drop=True)


def complete_through(as_of: dt.datetime | None, window_end: dt.date) -> dt.date:
    """The last UTC day an extract taken at `as_of` holds whole (the window's last day without as_of):
    the day before as_of's own day, unless as_of is midnight or later than the window."""
    if as_of is None or as_of.date() > window_end:
        return window_end
    return as_of.date() - dt.timedelta(days=1)

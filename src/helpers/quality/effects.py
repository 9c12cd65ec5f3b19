"""What each imperfection does to each locked metric: the metric SQL (helpers/quality/sql/metrics/) run
over the published tables with and without the one imperfection, compared row by row in scope
'external' (the scope Stage 3 reports).

Causes, each measured as "with it" minus "without it":
- `as_of`: events that happened after the extract was taken (the key counts them, the extract cannot);
- `late_arrival`: deliveries that happened before the cut but were still on their way (late);
- `internal`: the flagged internal workspaces, when a query forgets to exclude them;
- `test_workspace`: unflagged test workspaces, which the flag (and so the key's 'external') keeps;
- `duplicate`: re-sent deliveries, when a query does not deduplicate (the naive SQL);
- `missing` and `outlier`: no locked metric reads a blanked column or an outlier's timestamp column
  (checked on the SQL text), so they move no metric.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ..params import Params
from ..schema import ANSWER_KEYS, BLANKABLE_COLUMNS, LEDGER_KINDS
from . import metrics

CAUSES = ("as_of", *LEDGER_KINDS)  # the extract's cut, then every kind of imperfection the ledger lists
OUTLIER_COLUMNS = ("completed_at", "due_at")  # the task columns the outliers move
WHAT = {
    "as_of": "events that happened after the extract was taken (the key counts them)",
    "late_arrival": "late deliveries still on their way at the cut (their events happened before it)",
    "internal": "flagged internal workspaces, if not excluded (scope 'all' minus 'external')",
    "test_workspace": "unflagged test workspaces, which 'external' (the flag) keeps",
    "duplicate": "re-sent deliveries, if not deduplicated (naive SQL with them minus without)",
    "missing": "blanked values: no metric reads a blankable column",
    "outlier": "planted outliers: no metric reads tasks.completed_at or tasks.due_at",
}


@dataclass(frozen=True)
class Effect:
    """One imperfection's effect on one metric (scope 'external'): rows that differ, the net difference
    in the metric's count (active users, or retained users/accounts) and as a share of the key's total,
    and the largest single-row difference, where it is and as a share of that row's value without it."""

    cause: str
    metric: str
    rows: int
    net: int
    share: float
    largest: int
    at: str
    largest_share: float

    def as_dict(self) -> dict:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def text(self) -> str:
        """e.g. "-30 in 1 row; largest -30 (-2.9%), 2025-12-31"."""
        if not self.rows:
            return "none"
        rows = f"{self.rows} row" + ("s" if self.rows > 1 else "")
        return f"{self.net:+,} in {rows}; largest {self.largest:+,} ({self.largest_share:+.1%}), {self.at}"


def run(con: duckdb.DuckDBPyConnection, name: str, names: dict[str, str] | None = None, naive=False) -> pd.DataFrame:
    """One metric's rows in scope 'external' (the naive SQL has no scope: all its rows), normalised."""
    df = con.sql(metrics.pointed(metrics.sql(name, naive=naive), names or {})).df()
    df = metrics.normalise(df.assign(scope="external") if naive else df)
    return df[df.scope == "external"].reset_index(drop=True)


def difference(name: str, with_it: pd.DataFrame, without: pd.DataFrame, key_total: int, cause: str) -> Effect:
    """`with_it` minus `without`, row by row, summarised."""
    value = metrics.VALUES[name][-1]
    c = metrics.compare(name, with_it, without)  # *_sql = with it, *_truth = without
    diff = c[f"{value}_diff"]
    off = c[diff != 0]
    if off.empty:
        return Effect(cause, name, 0, 0, 0.0, 0, "", 0.0)
    top = off.loc[off[f"{value}_diff"].abs().idxmax()]
    at = str(top["day"]) if "day" in c else f"cohort {top['cohort_week']} week {int(top['week_number'])}"
    net, largest, base = int(diff.sum()), int(top[f"{value}_diff"]), int(top[f"{value}_truth"])
    return Effect(
        cause, name, len(off), net, net / key_total if key_total else 0.0, largest, at, largest / base if base else 0.0
    )


def reads_columns(columns: tuple[str, ...]) -> list[str]:
    """The metrics whose SQL (careful or naive) mentions any of `columns`."""
    return [
        name
        for name in ANSWER_KEYS
        for naive in (False, True)
        if any(re.search(rf"\b{c}\b", metrics.sql(name, naive=naive)) for c in columns)
    ]


def _views(con: duckdb.DuckDBPyConnection, params: Params) -> None:
    """TEMP views of the published tables with one imperfection taken away."""
    as_of = params.snapshot.as_of
    con.execute(
        "CREATE OR REPLACE TEMP VIEW fx_waited_events AS SELECT * FROM raw.events"
        + (" UNION ALL SELECT * FROM truth.not_yet_arrived WHERE event_at_utc <= getvariable('as_of')" if as_of else "")
    )
    con.execute(
        """CREATE OR REPLACE TEMP VIEW fx_customer_accounts AS
           SELECT * REPLACE (is_internal OR account_id IN (
               SELECT row_key FROM imperfections.ledger WHERE kind = 'test_workspace' AND table_name = 'accounts'
           ) AS is_internal) FROM raw.accounts"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP VIEW fx_customer_users AS
           SELECT u.* REPLACE (a.is_internal AS is_internal)
           FROM raw.users u JOIN fx_customer_accounts a USING (account_id)"""
    )
    con.execute(  # every published delivery but the re-sent copies the ledger lists
        """CREATE OR REPLACE TEMP VIEW fx_first_deliveries AS
           SELECT e.* FROM raw.events e ANTI JOIN (
               SELECT row_key AS event_id, TRY_CAST(new_value AS TIMESTAMP) AS ingested_at_utc
               FROM imperfections.ledger WHERE kind = 'duplicate'
           ) r ON e.event_id = r.event_id AND e.ingested_at_utc = r.ingested_at_utc"""
    )


def measure(con: duckdb.DuckDBPyConnection, params: Params) -> list[Effect]:
    """Every cause's effect on every locked metric (see the module's docstring), over a connection with
    raw.*, truth.* and imperfections.ledger (the warehouse)."""
    _views(con, params)
    out = []
    for name in ANSWER_KEYS:
        key = metrics.normalise(con.sql(f"SELECT * FROM truth.{name}").df())
        key = key[key.scope == "external"].reset_index(drop=True)
        total = int(key[metrics.VALUES[name][-1]].sum())
        both = metrics.normalise(con.sql(metrics.sql(name)).df())  # scopes all and external, published tables
        published = both[both.scope == "external"].reset_index(drop=True)
        waited = run(con, name, {"raw.events": "fx_waited_events"})
        out += [
            difference(name, waited, key, total, "as_of"),
            difference(name, published, waited, total, "late_arrival"),
            difference(name, both[both.scope == "all"].assign(scope="external"), published, total, "internal"),
            difference(
                name,
                published,
                run(con, name, {"raw.accounts": "fx_customer_accounts", "raw.users": "fx_customer_users"}),
                total,
                "test_workspace",
            ),
            difference(
                name,
                run(con, name, naive=True),
                run(con, name, {"raw.events": "fx_first_deliveries"}, naive=True),
                total,
                "duplicate",
            ),
        ]
        for cause, columns in (("missing", tuple(c for _, c in BLANKABLE_COLUMNS)), ("outlier", OUTLIER_COLUMNS)):
            if name in reads_columns(columns):
                raise AssertionError(f"{name} reads a column that {cause} values touch: measure that effect")
            out.append(Effect(cause, name, 0, 0, 0.0, 0, "", 0.0))
    return out


def effects_table(effects: list[Effect]) -> pd.DataFrame:
    """One row per cause, a column per metric (Effect.text), and what the cause is."""
    rows = []
    for cause in CAUSES:
        row = {"cause": cause}
        row.update({e.metric: e.text() for e in effects if e.cause == cause})
        rows.append(row | {"what": WHAT[cause]})
    return pd.DataFrame(rows)


def from_profile(data_dir: str | Path) -> list[Effect]:
    """The effects 04_qa_profile measured and saved in profile.json (none if it has not run)."""
    path = Path(data_dir) / "profile.json"
    saved = json.loads(path.read_text()).get("imperfection_effects", []) if path.exists() else []
    return [Effect(**e) for e in saved]

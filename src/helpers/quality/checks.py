"""Rule checks and activity metrics, as SQL files run by DuckDB over a dataset's Parquet parts.

The SQL lives in helpers/quality/sql/: rules/*.sql hold blocks headed `-- rule: name | description`, each a
query returning the number of violating rows; qa/*.sql hold `-- metric: name | description`
blocks returning one number. Stage 3 can reuse the files as they are: they only assume tables
raw.accounts ... raw.events, the ledger imperfections.ledger, truth.not_yet_arrived (deliveries an
as_of extract left out), the views qa.all_events (raw.events and those) and qa.events (deduplicated
by event_id), the table qa.redelivered (event_ids delivered more than once) and the variables
window_start, window_end, late_threshold_seconds, as_of, holidays (the days off for at least a quarter
of customers when the holidays scenario is on, else empty) and the vocabularies (key_events, statuses,
...): helpers.duck makes them all, from the one schema (helpers.schema).

A rule with the line `-- scope: account` under its header counts rows of one account against rows of
the same account only (besides raw.accounts and raw.account_plans, which it may read whole, never count):
its violations are the sum over any split of the accounts into blocks. Such rules run block by block
where the blocks run (helpers.blocks.account_rule_violations, DuckDB over the block's part files: the
same SQL), and only the others (keys unique across the dataset, the ledger, the as_of cut, the accounts'
own rows) over the whole dataset; `run_rules(con, per_account=...)` puts the two together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import duckdb
import pandas as pd

from .. import duck
from ..params.cross import ACTIVITY_MIN_DAYS, ACTIVITY_MIN_USERS
from ..schema import KEY_EVENTS, SQL_VOCABULARIES

# Realism thresholds (issue 2): metric -> (lowest allowed, highest allowed)
THRESHOLDS = {
    "key_event_types_present": (len(KEY_EVENTS), len(KEY_EVENTS)),
    "key_event_share": (0.20, 1.0),
    "max_supporting_share": (0.0, 0.45),
    "weekday_weekend_ratio": (1.5, 12.0),  # a weekend day with under a twelfth of a weekday's events: unused
    "local_hour_max_min_ratio": (3.0, float("inf")),
    "busiest_hour_share": (0.0, 0.25),  # default 0.07, tiny 0.11; every event in one hour: 1.0
    "empty_weekdays_after_first_month": (0, 0),
}

# rules about what 03_imperfections makes (the ledger, the as_of cut): not applicable before it has run
AFTER_IMPERFECTIONS = ("50_ledger", "60_snapshot")
# What a description may name in braces: each vocabulary ({key_events}) and its size ({n_key_events}).
_DESCRIPTION_FIELDS = {name: ", ".join(values) for name, values in SQL_VOCABULARIES.items()} | {
    f"n_{name}": str(len(values)) for name, values in SQL_VOCABULARIES.items()
}
_BLOCK = re.compile(r"^-- (rule|metric): *([a-z0-9_]+) *\| *(.+)$", re.MULTILINE)
DATASET, ACCOUNT = "dataset", "account"  # where a rule is checked: over the whole dataset, or block by block
WHOLE, BY_BLOCK = "whole dataset", "block by block"  # run_rules' column checked
_SCOPE = re.compile(r"^-- scope: *(\S+) *$", re.MULTILINE)


@dataclass(frozen=True)
class Query:
    kind: str
    name: str
    description: str
    sql: str
    source: str
    scope: str = DATASET  # ACCOUNT: the rule holds account by account (a `-- scope: account` line)


def load_queries(folder: str) -> list[Query]:
    """Every `-- rule:` / `-- metric:` block of the .sql files in helpers/quality/sql/<folder>, in file order."""
    out = []
    root = resources.files("helpers.quality") / "sql" / folder
    for f in sorted((p for p in root.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        text = f.read_text()
        heads = list(_BLOCK.finditer(text))
        for i, m in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            body = text[m.end() : end].strip()
            scopes = _SCOPE.findall(body) or [DATASET]
            if len(scopes) > 1 or scopes[0] not in (DATASET, ACCOUNT):
                raise ValueError(f"{f.name}, {m.group(2)}: scope {scopes} (allowed: one of {DATASET}, {ACCOUNT})")
            # drop trailing comment lines that introduce the next block
            body = "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip()
            description = m.group(3).strip().format_map(_DESCRIPTION_FIELDS)
            out.append(Query(m.group(1), m.group(2), description, body.rstrip(";"), f.name, scopes[0]))
    return out


def set_activity_applicable(con: duckdb.DuckDBPyConnection) -> str | None:
    """Variable activity_applicable: activity patterns need a population to have a pattern: tasks,
    ACTIVITY_MIN_USERS activated users and a window of ACTIVITY_MIN_DAYS (else the metrics are NULL).
    Returns why not (None when they apply)."""
    try:
        tasks, users, days = con.execute(
            """SELECT (SELECT count(*) FROM raw.tasks), (SELECT count(activated_at) FROM raw.users),
                      date_diff('day', getvariable('window_start'), getvariable('window_end'))"""
        ).fetchall()[0]
    except duckdb.Error:  # before the tables exist
        tasks, users, days = 0, 0, 0
    reason = None
    if not tasks:
        reason = "no tasks"
    elif users < ACTIVITY_MIN_USERS:
        reason = f"{users} activated users; activity patterns are judged from {ACTIVITY_MIN_USERS}"
    elif days < ACTIVITY_MIN_DAYS:
        reason = f"a window of {days} days; activity patterns are judged from {ACTIVITY_MIN_DAYS}"
    con.execute("SET VARIABLE activity_applicable = ?", [reason is None])
    return reason


# Above this many events, 02 and 03 leave the rules that read events to 04_qa_profile (the gate runs
# every rule anyway): on params/large.yaml they take about a minute each time.
STEP_RULES_MAX_EVENTS = 5_000_000


def account_rules() -> list[Query]:
    """The rules that hold account by account (scope account), in file order."""
    return [q for q in load_queries("rules") if q.scope == ACCOUNT]


def violations(con: duckdb.DuckDBPyConnection, rules: list[Query]) -> dict[str, int]:
    """Each rule's violation count on this connection."""
    return {q.name: int(con.execute(q.sql).fetchall()[0][0] or 0) for q in rules}


def run_rules(
    con: duckdb.DuckDBPyConnection,
    tables_only: bool = False,
    defer_events_above: int | None = None,
    per_account: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Every rule with its violation count; passed = (violations == 0); checked = where it was counted.

    tables_only: skip the rules that read events or the ledger (before those exist).
    defer_events_above: with more events than this, the rules that read events are not run here
    (deferred = True, passed = None): the notebook says they run in 04_qa_profile.
    per_account: the account rules' violations, counted block by block (helpers.blocks): those rules
    take their count from it, and only the others run on `con`."""
    rows = []
    has_ledger = bool(con.execute("SELECT getvariable('has_ledger')").fetchall()[0][0])
    defer = False
    if defer_events_above is not None and not tables_only:
        defer = con.execute("SELECT count(*) FROM raw.events").fetchall()[0][0] > defer_events_above
    if not tables_only and not defer:
        duck.prepare_redelivered(con)
    for q in load_queries("rules"):
        reads_events = "events" in q.sql or "imperfections.ledger" in q.sql
        if tables_only and reads_events:
            continue
        row = {"rule": q.name, "description": q.description, "file": q.source, "deferred": False}
        if (q.source.startswith(AFTER_IMPERFECTIONS) and not has_ledger) or (defer and reads_events):
            rows.append(row | {"violations": None, "passed": None, "deferred": defer and reads_events, "checked": ""})
            continue
        if per_account is not None and q.scope == ACCOUNT:
            count, checked = per_account[q.name], BY_BLOCK
        else:
            count, checked = violations(con, [q])[q.name], WHOLE
        rows.append(row | {"violations": count, "passed": count == 0, "checked": checked})
    columns = ["rule", "description", "violations", "passed", "file", "deferred", "checked"]
    return pd.DataFrame(rows, columns=columns)


def deferred_note(rules: pd.DataFrame) -> str:
    """A sentence for the notebook when rules were deferred to 04_qa_profile (else empty)."""
    n = int(rules["deferred"].sum()) if "deferred" in rules else 0
    return (
        (
            f"**{n} rules that read the events are deferred to 04_qa_profile**, the gate, which runs every "
            f"rule once: this dataset has more than {STEP_RULES_MAX_EVENTS:,} events."
        )
        if n
        else ""
    )


def run_metrics(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every activity metric with its value, its allowed range, and why it does not apply (value NULL)."""
    rows = []
    gate = set_activity_applicable(con)
    for q in load_queries("qa"):
        value, *reason = con.execute(q.sql).fetchall()[0]
        lo, hi = THRESHOLDS.get(q.name, (None, None))
        ok = None if lo is None or value is None else (lo <= value <= hi)
        rows.append(
            {
                "metric": q.name,
                "description": q.description,
                "value": None if value is None else float(value),
                "allowed": None if lo is None else f"{lo:g} .. {hi:g}",
                "passed": ok,
                "not_applicable": None if value is not None else (gate or (reason[0] if reason else None)),
            }
        )
    return pd.DataFrame(rows)


def failures(rules: pd.DataFrame, metrics: pd.DataFrame | None = None) -> list[str]:
    """One short line per failed rule or metric (empty when everything holds)."""
    out = [
        f"{r.rule} ({int(r.violations):,} violations)"
        for r in rules.itertuples()
        if r.passed is not None and not pd.isna(r.passed) and not r.passed
    ]
    if metrics is not None:
        out += [
            f"{m.metric} = {m.value:.3g} (allowed {m.allowed})"
            for m in metrics.itertuples()
            if m.passed is not None and not pd.isna(m.passed) and not m.passed
        ]
    return out


def assert_all_pass(rules: pd.DataFrame, metrics: pd.DataFrame | None = None) -> None:
    """Raise AssertionError naming every failed rule and metric, on one line."""
    failed = failures(rules, metrics)
    if failed:
        raise AssertionError(f"{len(failed)} check(s) failed: " + "; ".join(failed))

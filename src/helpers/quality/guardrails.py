"""QA guardrails (04_qa_profile), run against the DuckDB warehouse.

A guardrail is a group of checks; each check has a value, what is allowed, a status ("pass", "fail" or
"not applicable": the data is too small to judge it) and a note: for a failed check, what to change
(the parameters that drive it, and a value that would pass: helpers.quality.hints); for one that does
not apply, why.
The checks are the SQL files of helpers/quality/sql/rules (each must report 0 violations) and
helpers/quality/sql/qa (activity metrics with allowed ranges), plus every imperfection's measured
rate against its target (helpers.quality.rates).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from ..params import Params
from . import checks, hints, rates

PASS, FAIL, NA = "pass", "fail", "not applicable"

RULE_GUARDRAILS = {
    "10_keys.sql": "No FK or key violation in any table",
    "15_account_plans.sql": "Plan periods contiguous and consistent with the accounts",
    "20_values.sql": "Every value in its allowed set",
    "30_timestamps.sql": "No impossible timestamp",
    "40_events_vs_tables.sql": "Events and tables agree",
    "45_sessions.sql": "Every event in a session of its user",
    "50_ledger.sql": "The ledger agrees with the tables",
    "60_snapshot.sql": "An as_of extract leaves out exactly the later deliveries",
}
METRIC_GUARDRAILS = {
    "key_event_types_present": "Key events present and not drowned by noise",
    "key_event_share": "Key events present and not drowned by noise",
    "max_supporting_share": "Key events present and not drowned by noise",
    "weekday_weekend_ratio": "Daily and weekly activity plausible",
    "local_hour_max_min_ratio": "Daily and weekly activity plausible",
    "busiest_hour_share": "Daily and weekly activity plausible",
    "empty_weekdays_after_first_month": "Daily and weekly activity plausible",
}


def _allowed_rate(r: rates.Rate) -> str:
    if r.tolerance is None or r.achievable_rate is None:
        return "n/a (no rows)"
    text = f"{r.achievable_rate:.4g} ± {r.tolerance:.4f}"
    if abs(r.achievable_rate - r.target_rate) > 1e-12:
        text += f" (target {r.target_rate:g} is not reachable in this data)"
    return text


def _status(passed) -> str:
    if passed is None or pd.isna(passed):
        return NA
    return PASS if passed else FAIL


def guardrails(
    con: duckdb.DuckDBPyConnection, params: Params, per_account: dict[str, int] | None = None
) -> pd.DataFrame:
    """Every check of every guardrail: guardrail, check, description, value, allowed, status, note, and
    where it was checked (the account rules block by block when `per_account` holds their counts:
    helpers.blocks.account_rule_violations; everything else over the whole dataset)."""
    rows = []
    for r in checks.run_rules(con, per_account=per_account).itertuples():
        status = _status(r.passed)
        note = hints.RULE_HINT if status == FAIL else ("runs after 03_imperfections" if status == NA else "")
        rows.append(
            dict(
                guardrail=RULE_GUARDRAILS.get(r.file, r.file),
                check=r.rule,
                description=r.description,
                value=r.violations,
                allowed="0 violations",
                status=status,
                note=note,
                checked=r.checked,
            )
        )
    for m in checks.run_metrics(con).itertuples():
        status = _status(m.passed)
        note = hints.for_metric(m.metric, m.value, params) if status == FAIL else (m.not_applicable or "")
        rows.append(
            dict(
                guardrail=METRIC_GUARDRAILS.get(m.metric, "Activity"),
                check=m.metric,
                description=m.description,
                value=m.value,
                allowed=m.allowed,
                status=status,
                note=note,
                checked=checks.WHOLE,
            )
        )
    for r in rates.measure(con, params):
        status = _status(r.within_tolerance)
        note = hints.for_rate(r, params) if status == FAIL else ("no rows to measure" if status == NA else "")
        rows.append(
            dict(
                guardrail="Imperfection rates match their targets",
                check=r.label,
                description=r.definition,
                value=r.measured_rate,
                allowed=_allowed_rate(r),
                status=status,
                note=note,
                checked=checks.WHOLE,
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
    out["value"] = [fmt(v, a) for v, a in zip(report.value, report.allowed, strict=True)]
    return out


def summary(report: pd.DataFrame) -> pd.DataFrame:
    """One row per guardrail: how many checks pass, fail, or do not apply; the guardrail's status."""
    counts = report.pivot_table(index="guardrail", columns="status", values="check", aggfunc="count", fill_value=0)
    for col in (PASS, FAIL, NA):
        if col not in counts:
            counts[col] = 0
    counts = counts[[PASS, FAIL, NA]].reset_index()
    passed, failed = counts[PASS], counts[FAIL]
    counts["status"] = [FAIL if f else (NA if p == 0 else PASS) for p, f in zip(passed, failed, strict=True)]
    order = list(dict.fromkeys(report.guardrail))
    return counts.set_index("guardrail").loc[order].reset_index()


def raise_if_failed(report: pd.DataFrame) -> None:
    """AssertionError naming every failed check with its value, what is allowed and what to change, on one line."""
    failed = readable(report[report.status == FAIL])
    if len(failed):
        names = "; ".join(f"{r.check} = {r.value} (allowed {r.allowed}): {r.note}" for r in failed.itertuples())
        raise AssertionError(f"{len(failed)} guardrail check(s) failed: {names}")

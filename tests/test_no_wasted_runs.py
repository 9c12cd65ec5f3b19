"""No wasted runs: parameters that cannot make a dataset are refused before generating; where only the
data can tell, the failing guardrail names the parameters to change and a value that passes; small
data is "not applicable" with a reason, not a failure. The dry run's estimates hold."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import duck, io
from helpers import params as P
from helpers.estimate import estimate
from helpers.quality import guardrails

from .conftest import apply_changes, generate, params_variant, preset

COUNTS = ["accounts.count", "users_per_account.max", "projects_per_account.max", "tasks_per_project.max"]
RATES = [
    "users.never_activated_share",
    "users.workday_active_prob",
    "users.churn.early_share",
    "users.churn.late_monthly_rate",
    "tasks.assigned_share",
    "tasks.blocker_prob",
    "tasks.handoff_prob",
    "tasks.due_date_share",
    "tasks.cancelled_share",
    "activity.weekend_factor",
    "imperfections.missing.tasks_assignee_user_id",
    "imperfections.missing.tasks_due_at",
    "imperfections.missing.users_timezone",
    "imperfections.outliers.long_cycle_share",
    "imperfections.outliers.far_due_share",
    "imperfections.late_arrival.share",
    "imperfections.internal.account_share",
    "accounts.signup.launch_share",
]
LAGS = [
    "users.invite_lag_days_mean",
    "users.activation_lag_hours.median",
    "tasks.time_to_start_hours.median",
    "tasks.cycle_time_days.median",
    "tasks.blocker_duration_hours.median",
    "projects.archive_lag_days.median",
    "imperfections.late_arrival.retry_delay_hours.median",
]


def _get(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data[part]
    return data


def random_overlay(rng: np.random.Generator) -> dict[str, object]:
    """Changes to tiny as a user might make them: counts, rates and lags scaled 0.5-2x (rates capped at 1),
    a window of 1-12 months from 2025-01-01, another seed."""
    tiny = preset("tiny")
    changes: dict[str, object] = {k: max(1, round(_get(tiny, k) * rng.uniform(0.5, 2))) for k in COUNTS}
    changes |= {k: min(1.0, _get(tiny, k) * rng.uniform(0.5, 2)) for k in RATES}
    changes |= {k: _get(tiny, k) * rng.uniform(0.5, 2) for k in LAGS}
    months = int(rng.integers(1, 13))
    changes["window.end"] = dt.date(2025 + months // 12, months % 12 + 1, 1) - dt.timedelta(days=1)
    changes["seed"] = int(rng.integers(0, 10_000))
    return changes


def _model_keys() -> set[str]:
    """Every dotted key of the parameters model, sections included."""
    keys: set[str] = set()

    def walk(model, at: str) -> None:
        for name, field in model.model_fields.items():
            keys.add(f"{at}{name}")
            if hasattr(field.annotation, "model_fields"):
                walk(field.annotation, f"{at}{name}.")

    walk(P.Params, "")
    return keys


KEYS = _model_keys()
DOTTED = re.compile(r"\b[a-z_]+(?:\.[a-z_]+)+\b")


def _names_a_key(text: str) -> bool:
    return any(k in KEYS for k in DOTTED.findall(text))


@pytest.mark.slow
@pytest.mark.parametrize("sweep_seed", [11, 12, 13])
def test_a_sweep_of_random_overlays_publishes_refuses_or_names_the_key(tmp_path, sweep_seed):
    """Random overlays of tiny either validate and pass every guardrail, are refused before generating with
    lines that each name a parameter, or fail a guardrail whose note names the parameter to change: none
    fails with a bare check name."""
    outcomes = []
    for i in range(7):
        changes = random_overlay(np.random.default_rng([sweep_seed, i]))
        try:
            path = params_variant(tmp_path, changes)
        except P.ParamsError as exc:
            assert exc.problems and all(_names_a_key(line) for line in exc.problems), exc.problems
            outcomes.append("refused")
            continue
        data_dir = generate(path, tmp_path / f"d{i}")
        params = io.load_params(data_dir)
        report = guardrails.guardrails(duck.dataset(data_dir, params), params)
        failed = report[report.status == guardrails.FAIL]
        for row in failed.itertuples():
            assert _names_a_key(row.note), (row.check, row.note)
        outcomes.append("failed" if len(failed) else "passed")
    assert "passed" in outcomes, outcomes


def test_small_data_is_not_applicable_with_a_reason(tmp_path):
    """Three small accounts: the activity guardrails do not judge a handful of people, and say why."""
    # teams follow the plan (a paying company brings a dozen people), so the handful is asked for
    d = generate(params_variant(tmp_path, {"accounts.count": 3, "users_per_account.max": 5}), tmp_path / "d")
    params = io.load_params(d)
    report = guardrails.guardrails(duck.dataset(d, params), params).set_index("check")
    activity = report[report.guardrail.str.startswith(("Daily", "Key events"))]
    assert (activity.status == guardrails.NA).all(), activity
    assert activity.note.str.contains("activated users; activity patterns are judged from 20").all(), activity.note


def _failed(data_dir: Path) -> dict:
    params = io.load_params(data_dir)
    report = guardrails.guardrails(duck.dataset(data_dir, params), params)
    return {r.check: r.note for r in report[report.status == guardrails.FAIL].itertuples()}


@pytest.mark.slow
def test_a_failed_guardrail_names_a_value_that_passes(tmp_path):
    """Weekends almost never worked: the weekday/weekend ratio fails, its note names activity.weekend_factor
    and a value; the same parameters with that value pass."""
    base = {"accounts.count": 40, "activity.weekend_factor": 0.03}
    failed = _failed(generate(params_variant(tmp_path, base), tmp_path / "before"))
    assert list(failed) == ["weekday_weekend_ratio"], failed
    note = failed["weekday_weekend_ratio"]
    value = float(re.search(r"raise activity\.weekend_factor \(now 0\.03\) to about >= ([0-9.]+)", note).group(1))
    assert (
        _failed(generate(params_variant(tmp_path, base | {"activity.weekend_factor": value}), tmp_path / "after")) == {}
    )


@pytest.mark.slow
def test_a_natural_rate_above_its_target_names_the_target_to_raise(tmp_path):
    """Tasks that naturally run for months: more long cycles than the target. The note says to raise
    imperfections.outliers.long_cycle_share to a value (or shorten tasks.cycle_time_days); with it, the run passes."""
    base = {"tasks.cycle_time_days.median": 25.0, "imperfections.outliers.long_cycle_share": 0.002}
    failed = _failed(generate(params_variant(tmp_path, base), tmp_path / "before"))
    assert list(failed) == ["outlier: tasks.completed_at"], failed
    note = failed["outlier: tasks.completed_at"]
    assert "tasks.cycle_time_days" in note
    value = float(re.search(r"long_cycle_share \(now 0\.002\) to >= ([0-9.]+)", note).group(1))
    changes = base | {"imperfections.outliers.long_cycle_share": value}
    assert _failed(generate(params_variant(tmp_path, changes), tmp_path / "after")) == {}


def test_guardrail_failure_message_carries_the_hint():
    """The line a failed run prints holds each failed check's value, what is allowed and what to change."""
    import pandas as pd

    report = pd.DataFrame(
        [
            dict(
                guardrail="g",
                check="weekday_weekend_ratio",
                description="",
                value=15.2,
                allowed="1.5 .. 12",
                status=guardrails.FAIL,
                note="raise activity.weekend_factor (now 0.05) to about >= 0.0844",
            )
        ]
    )
    with pytest.raises(AssertionError) as exc:
        guardrails.raise_if_failed(report)
    assert str(exc.value) == (
        "1 guardrail check(s) failed: weekday_weekend_ratio = 15.2 (allowed 1.5 .. 12): "
        "raise activity.weekend_factor (now 0.05) to about >= 0.0844"
    )


# --------------------------------------------------------------------------- the dry run's estimates
def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.resolve().rglob("*") if f.is_file())


@pytest.mark.slow
def test_estimate_is_within_10_percent_of_the_tiny_run(tiny_run):
    """Rows and disk bytes of the published tiny dataset (data, warehouse, reports) within 10%."""
    code, data_dir, _ = tiny_run
    assert code == 0
    manifest = json.loads((data_dir / "manifest.json").read_text())
    est = estimate(P.load(data_dir / "reports" / "params.resolved.json"))
    for table in ("accounts", "users", "projects", "tasks", "events"):
        assert getattr(est, table) == pytest.approx(manifest["row_counts"][table], rel=0.10), table
    assert est.disk_bytes == pytest.approx(_folder_bytes(data_dir), rel=0.10)


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_estimate_is_within_10_percent_on_default(default_data):
    """On default, the sampled estimate of tasks and events is within 10% of what was generated."""
    est = estimate(io.load_params(default_data))
    for table in ("accounts", "users", "projects", "tasks", "events"):
        assert getattr(est, table) == pytest.approx(io.row_count(io.table_dir(default_data, table)), rel=0.10), table


def test_overlay_changes_are_the_keys_they_name():
    """The sweep's keys exist in tiny (a renamed parameter fails here, not silently in the sweep)."""
    tiny = preset("tiny")
    for key in COUNTS + RATES + LAGS:
        assert key in KEYS and isinstance(_get(tiny, key), (int, float)), key
    assert apply_changes(preset("tiny"), {"seed": 1})["seed"] == 1

"""Imperfections: planted and applied at their target rates, listed in the ledger, breaking no rule."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from helpers import duck, io, pipeline
from helpers import params as P
from helpers.quality import checks, rates

from .conftest import generate, tiny_yaml


def _measured(data_dir):
    params = pipeline.load_saved_params(data_dir)
    return {(r.kind, r.column): r.as_dict() for r in rates.measure(duck.dataset(data_dir, params), params)}


def _with(tmp_path, name: str, **changes) -> Path:
    """tiny.yaml with imperfections.<section>.<key> values replaced, generated into tmp_path/name."""
    data = yaml.safe_load(tiny_yaml())
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        data["imperfections"][section][key] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(P.validate(data).model_dump()))
    return generate(path, tmp_path / name)


def test_every_rate_is_within_tolerance_of_its_target(tiny_data):
    for key, r in _measured(tiny_data).items():
        assert r["within_tolerance"], (key, r["measured_rate"], r["target_rate"], r["tolerance"])


@pytest.mark.xdist_group("default")
def test_default_rates_are_close_to_target(default_data):
    for key, r in _measured(default_data).items():
        assert r["within_tolerance"], (key, r["measured_rate"], r["target_rate"], r["tolerance"])
        if key[0] != "missing" or key[1] in ("assignee_user_id", "due_at"):  # big denominators: tight
            assert abs(r["measured_rate"] - r["target_rate"]) <= 0.002, key


def test_rates_at_zero(tmp_path):
    d = _with(
        tmp_path,
        "zero",
        late_arrival__share=0.0,
        internal__account_share=0.0,
        outliers__long_cycle_share=0.0,
        outliers__far_due_share=0.0,
        missing__users_timezone=0.0,
        missing__accounts_industry=0.0,
    )
    m = _measured(d)
    assert all(r["within_tolerance"] is not False for r in m.values()), m
    assert m[("late_arrival", "ingested_at_utc")]["count"] == 0
    assert m[("internal", "is_internal")]["count"] == 0
    assert m[("outlier", "due_at")]["count"] == 0
    assert m[("missing", "timezone")]["count"] == 0 and m[("missing", "industry")]["count"] == 0
    con = duck.dataset(d, pipeline.load_saved_params(d))
    # nothing planted or delayed (natural long cycles may remain: they are not imperfections)
    assert con.execute("SELECT count(*) FROM imperfections.ledger WHERE kind <> 'missing'").fetchall()[0][0] == 0
    assert checks.failures(checks.run_rules(con)) == []


def test_rates_at_one(tmp_path):
    d = _with(
        tmp_path,
        "one",
        late_arrival__share=1.0,
        internal__account_share=1.0,
        missing__users_timezone=1.0,
        missing__accounts_industry=1.0,
        missing__tasks_assignee_user_id=1.0,
    )
    m = _measured(d)
    assert all(r["within_tolerance"] is not False for r in m.values()), m  # judged against what is reachable
    assert m[("late_arrival", "ingested_at_utc")]["achievable_rate"] < 1.0  # logins are never late
    assert m[("missing", "timezone")]["measured_rate"] == 1.0
    assert m[("missing", "industry")]["measured_rate"] == 1.0
    assert m[("missing", "assignee_user_id")]["measured_rate"] == 1.0
    assert m[("internal", "is_internal")]["measured_rate"] == 1.0
    con = duck.dataset(d, pipeline.load_saved_params(d))
    # every event but logins (written synchronously by the auth server) arrives late
    not_late = con.execute("""SELECT count(*) FROM raw.events
        WHERE ingested_at_utc - event_at_utc <= INTERVAL 1 HOUR AND event_name <> 'login_succeeded'""").fetchall()[0][0]
    assert not_late == 0
    assert checks.failures(checks.run_rules(con)) == []


def test_ledger_agrees_with_the_tables(tiny_data):
    con = duck.dataset(tiny_data, pipeline.load_saved_params(tiny_data))
    m = _measured(tiny_data)
    ledger = dict(
        con.execute(
            "SELECT kind || ':' || coalesce(column_name, ''), count(*) FROM imperfections.ledger GROUP BY 1"
        ).fetchall()
    )
    assert ledger["late_arrival:ingested_at_utc"] == m[("late_arrival", "ingested_at_utc")]["count"]
    internal_accounts = ledger.get("internal:is_internal", 0)
    assert (
        internal_accounts
        == con.execute(
            "SELECT (SELECT count(*) FROM raw.accounts WHERE is_internal) + (SELECT count(*) FROM raw.users WHERE is_internal)"
        ).fetchall()[0][0]
    )
    # blanked values: the clean copy had a value, the table now has none; the ledger keeps the original
    clean = f"{io.clean_dir(tiny_data, 'tasks')}/*.parquet"
    wrong = con.execute(f"""
        SELECT count(*) FROM imperfections.ledger l JOIN read_parquet('{clean}') c ON c.task_id = l.row_key
        WHERE l.kind = 'missing' AND l.column_name = 'due_at' AND c.due_at <> l.original_value::TIMESTAMP""").fetchall()[
        0
    ][0]
    assert wrong == 0
    malformed = con.execute("""SELECT count(*) FROM imperfections.ledger
        WHERE column_name IN ('due_at', 'completed_at', 'ingested_at_utc')
          AND ((original_value IS NOT NULL AND TRY_CAST(original_value AS TIMESTAMP) IS NULL)
            OR (new_value IS NOT NULL AND TRY_CAST(new_value AS TIMESTAMP) IS NULL))""").fetchall()[0][0]
    assert malformed == 0


def test_late_delays_follow_the_profile(default_data):
    con = duck.dataset(default_data, pipeline.load_saved_params(default_data))
    hours = np.array(
        [
            r[0]
            for r in con.execute("""SELECT date_diff('second', event_at_utc, ingested_at_utc) / 3600
        FROM raw.events WHERE ingested_at_utc - event_at_utc > INTERVAL 1 HOUR""").fetchall()
        ]
    )
    assert hours.min() > 1.0
    assert 0.55 <= np.mean(hours < 24) <= 0.9  # most are stragglers (hours); the rest days (offline sync)
    assert np.quantile(hours, 0.99) > 48


def test_internal_accounts_give_themselves_away(default_data):
    con = duck.dataset(default_data, pipeline.load_saved_params(default_data))
    rows = con.execute("""SELECT a.account_name, u.email, u.full_name FROM raw.accounts a JOIN raw.users u USING (account_id)
                          WHERE a.is_internal""").fetchall()
    assert rows and all(email.endswith(".test") for _, email, _ in rows)
    assert any("QA" in name or "Test" in name or "Internal" in name or "Demo" in name for name, _, _ in rows)
    # scripted, bursty behaviour: far more tasks per user, closed in minutes, at any hour
    stats = con.execute("""
        SELECT a.is_internal, count(*) / count(DISTINCT t.created_by_user_id) AS tasks_per_creator,
               median(date_diff('second', t.first_started_at, t.completed_at)) AS median_cycle_s,
               count(DISTINCT hour(t.created_at)) AS hours_used
        FROM raw.tasks t JOIN raw.accounts a USING (account_id) GROUP BY ALL ORDER BY ALL""").fetchall()
    external, internal = stats
    assert internal[2] < external[2] / 10
    assert internal[3] >= 20


@pytest.mark.xdist_group("default")
def test_no_imperfection_breaks_a_rule_on_default(default_data):
    con = duck.dataset(default_data, pipeline.load_saved_params(default_data))
    assert checks.failures(checks.run_rules(con)) == []


def test_applying_twice_gives_the_same_tables(tmp_path, tiny_data):
    import shutil

    copy = tmp_path / "again"
    shutil.copytree(tiny_data, copy)
    pipeline.apply_imperfections(copy, progress=False)
    assert io.content_hashes(copy) == io.content_hashes(tiny_data)


def test_late_arrival_rate_leaves_entity_tables_unchanged(tmp_path, tiny_data):
    other = _with(tmp_path, "late", late_arrival__share=0.1)
    a, b = io.content_hashes(other), io.content_hashes(tiny_data)
    assert all(a[t] == b[t] for t in ("accounts", "users", "projects", "tasks"))
    assert a["events"] != b["events"]


def test_duplicates_option_repeats_event_ids_and_breaks_no_rule(tmp_path):
    d = _with(tmp_path, "dups", duplicates__share=0.05)
    m = _measured(d)[("duplicate", "event_id")]
    assert m["count"] > 0 and m["within_tolerance"], m
    con = duck.dataset(d, pipeline.load_saved_params(d))
    repeated = con.execute(
        "SELECT count(*) FROM (SELECT event_id FROM raw.events GROUP BY 1 HAVING count(*) > 1)"
    ).fetchall()[0][0]
    assert repeated == m["count"]
    # the re-sent copy is the same event, received again a little later
    same = con.execute("""SELECT count(DISTINCT (event_id, user_id, event_name, event_at_utc, properties)) = count(DISTINCT event_id)
                          FROM raw.events""").fetchall()[0][0]
    assert same
    assert checks.failures(checks.run_rules(con), checks.run_metrics(con)) == []


def test_duplicates_are_off_by_default(tiny_data):
    m = _measured(tiny_data)[("duplicate", "event_id")]
    assert m["count"] == 0 and m["target_rate"] == 0


@pytest.mark.parametrize(
    "label,edit",
    [
        (
            "one-day window",
            {
                "window": {"start": "2025-03-03", "end": "2025-03-03"},
                "imperfections": {"outliers": {"long_cycle_share": 0.0}},
            },
        ),
        ("no tasks", {"tasks_per_project": {"min": 0, "max": 0}, "tasks": {"created_per_session": 0.0}}),
        ("no projects", {"projects_per_account": {"min": 0, "max": 0}}),
        ("one account, one user", {"accounts": {"count": 1}, "users_per_account": {"min": 1, "max": 1}}),
    ],
)
def test_guardrails_say_not_applicable_instead_of_failing(tmp_path, label, edit):
    import datetime as dt

    from helpers.quality import guardrails

    data = yaml.safe_load(tiny_yaml())
    for key, value in edit.items():
        if key == "imperfections":
            data[key]["outliers"].update(value["outliers"])
        elif isinstance(value, dict) and key in data and isinstance(data[key], dict) and key != "window":
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    if "window" in edit:
        data["window"] = {k: dt.date.fromisoformat(v) for k, v in edit["window"].items()}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(P.validate(data).model_dump()))
    d = generate(path, tmp_path / "d")
    params = pipeline.load_saved_params(d)
    from helpers.schema import TABLES

    for name, table in TABLES.items():  # empty tables keep their columns and types
        assert io.read_table(d, name).schema.equals(table.arrow_schema), name
    pipeline.build_warehouse(d)
    report = guardrails.guardrails(duck.warehouse(d, params), params)
    assert not (report.status == guardrails.FAIL).any(), report[report.status == guardrails.FAIL]
    assert (report.status == guardrails.NA).any()
    assert (report.status == guardrails.PASS).any()

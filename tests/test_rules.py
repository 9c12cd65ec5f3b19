"""Every lifecycle rule holds on generated data, and every rule catches the violation it names.

The rules are the SQL files in helpers/sql/rules; each mutation below breaks one rule in a copy of
the tiny dataset and the test asserts that exactly that rule (at least) reports violations.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from helpers import duck, io, pipeline
from helpers.quality import checks


def _rules(data_dir: Path):
    con = duck.dataset(data_dir, pipeline.load_saved_params(data_dir))
    return checks.run_rules(con).set_index("rule")


def test_every_rule_holds_on_tiny(tiny_data):
    rules = _rules(tiny_data)
    assert len(rules) >= 40
    assert rules.violations.sum() == 0, rules[rules.violations > 0]


@pytest.mark.xdist_group("default")
def test_every_rule_and_threshold_holds_on_default(default_data):
    con = duck.dataset(default_data, pipeline.load_saved_params(default_data))
    rules = checks.run_rules(con)
    assert rules.violations.sum() == 0, rules[rules.violations > 0]
    metrics = checks.run_metrics(con).set_index("metric")
    assert metrics.passed.all(), metrics
    # the aim, tighter than the guardrail: key events 30-45% of all events
    assert 0.30 <= metrics.loc["key_event_share", "value"] <= 0.45
    n_events = con.execute("SELECT count(*) FROM raw.events").fetchall()[0][0]
    n_users = con.execute("SELECT count(*) FROM raw.users").fetchall()[0][0]
    assert 1_000_000 <= n_events <= 3_000_000, n_events
    assert 2_000 <= n_users <= 10_000, n_users


def _mutate(src: Path, dst: Path, table: str, select_sql: str) -> Path:
    """Copy a dataset and replace one table by the result of select_sql (reading `t`, the original)."""
    shutil.copytree(src, dst)
    folder = io.table_dir(dst, table)
    shutil.rmtree(folder)
    folder.mkdir()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{io.table_dir(src, table)}/*.parquet')")
    con.execute(f"COPY ({select_sql}) TO '{folder / 'part-00000.parquet'}' (FORMAT parquet)")
    return dst


def _one(key: str) -> str:
    """A CASE head selecting the row with the smallest key."""
    return f"CASE WHEN {key} = (SELECT min({key}) FROM t)"


# (rule expected to fire, table to change, SELECT producing the changed table from t)
MUTATIONS = [
    ("pk_users", "users", "SELECT * FROM t UNION ALL (SELECT * FROM t LIMIT 1)"),
    (
        "fk_users_account",
        "users",
        "SELECT * REPLACE (CASE WHEN user_id = (SELECT max(user_id) FROM t) "
        "THEN 999999 ELSE account_id END AS account_id) FROM t",
    ),
    (
        "fk_tasks_project",
        "tasks",
        "SELECT * REPLACE (CASE WHEN task_id = (SELECT min(task_id) FROM t) "
        "THEN project_id + 100000 ELSE project_id END AS project_id) FROM t",
    ),
    (
        "fk_events_user",
        "events",
        "SELECT * REPLACE (CASE WHEN event_id = (SELECT min(event_id) FROM t) "
        "THEN 999999999 ELSE user_id END AS user_id) FROM t",
    ),
    (
        "users_email_reserved",
        "users",
        "SELECT * REPLACE (CASE WHEN user_id = 1 THEN 'ceo@gmail.com' ELSE email END AS email) FROM t",
    ),
    (
        "tasks_status",
        "tasks",
        "SELECT * REPLACE (CASE WHEN task_id = (SELECT min(task_id) FROM t) "
        "THEN 'completed' ELSE status END AS status) FROM t",
    ),
    (
        "events_name",
        "events",
        "SELECT * REPLACE (CASE WHEN event_id = (SELECT min(event_id) FROM t) "
        "THEN 'page_viewed' ELSE event_name END AS event_name) FROM t",
    ),
    (
        "tasks_completed_iff_done",
        "tasks",
        "SELECT * REPLACE (CASE WHEN status = 'done' AND task_id = "
        "(SELECT min(task_id) FROM t WHERE status = 'done') THEN NULL "
        "ELSE completed_at END AS completed_at) FROM t",
    ),
    (
        "tasks_timestamp_order",
        "tasks",
        "SELECT * REPLACE (CASE WHEN first_started_at IS NOT NULL AND task_id = "
        "(SELECT min(task_id) FROM t WHERE first_started_at IS NOT NULL) "
        "THEN created_at - INTERVAL 1 HOUR ELSE first_started_at END AS first_started_at) FROM t",
    ),
    (
        "events_ingested_after",
        "events",
        "SELECT * REPLACE (CASE WHEN event_id = (SELECT min(event_id) FROM t) "
        "THEN event_at_utc - INTERVAL 1 SECOND ELSE ingested_at_utc END AS ingested_at_utc) FROM t",
    ),
    (
        "events_in_window",
        "events",
        "SELECT * REPLACE (CASE WHEN event_id = (SELECT min(event_id) FROM t) "
        "THEN TIMESTAMP '2024-12-31 23:00:00' ELSE event_at_utc END AS event_at_utc) FROM t",
    ),
    (
        "events_after_activation",
        "users",
        "SELECT * REPLACE (CASE WHEN activated_at IS NOT NULL AND user_id = "
        "(SELECT min(user_id) FROM t WHERE activated_at IS NOT NULL) "
        "THEN NULL ELSE activated_at END AS activated_at) FROM t",
    ),
    (
        "task_created_once_at_created_at",
        "events",
        "SELECT * FROM t UNION ALL (SELECT * REPLACE (event_id + 500000000 "
        "AS event_id) FROM t WHERE event_name = 'task_created' LIMIT 1)",
    ),
    (
        "task_completed_only_when_done",
        "tasks",
        "SELECT * REPLACE (CASE WHEN status = 'done' AND task_id = "
        "(SELECT min(task_id) FROM t WHERE status = 'done') THEN 'in_progress' "
        "ELSE status END AS status, CASE WHEN status = 'done' AND task_id = "
        "(SELECT min(task_id) FROM t WHERE status = 'done') THEN NULL "
        "ELSE completed_at END AS completed_at) FROM t",
    ),
    (
        "started_event_at_first_started_at",
        "tasks",
        "SELECT * REPLACE (CASE WHEN first_started_at IS NOT NULL "
        "THEN first_started_at + INTERVAL 1 SECOND END AS first_started_at) FROM t",
    ),
    ("blocker_resolved_after_added", "events", "SELECT * FROM t WHERE event_name <> 'blocker_added'"),
    (
        "events_properties",
        "events",
        "SELECT * REPLACE (CASE WHEN event_name = 'task_assigned' THEN '{\"assignee\": 1}' "
        "ELSE properties END AS properties) FROM t",
    ),
    (
        "events_task_context",
        "events",
        "SELECT * REPLACE (CASE WHEN event_name = 'task_completed' THEN NULL ELSE project_id END AS project_id) FROM t",
    ),
    (
        "events_normal_latency",
        "events",
        "SELECT * REPLACE (CASE WHEN event_id = (SELECT min(event_id) FROM t) "
        "THEN event_at_utc + INTERVAL 2 HOUR ELSE ingested_at_utc END AS ingested_at_utc) FROM t",
    ),
    (
        "projects_after_owner_activation",
        "projects",
        "SELECT * REPLACE (created_at - INTERVAL 400 DAY AS created_at) FROM t",
    ),
    ("pk_accounts", "accounts", "SELECT * FROM t UNION ALL (SELECT * FROM t LIMIT 1)"),
    ("pk_projects", "projects", "SELECT * FROM t UNION ALL (SELECT * FROM t LIMIT 1)"),
    ("pk_tasks", "tasks", "SELECT * FROM t UNION ALL (SELECT * FROM t LIMIT 1)"),
    ("pk_events", "events", "SELECT * FROM t UNION ALL (SELECT * FROM t LIMIT 1)"),
    (
        "fk_projects_account",
        "projects",
        f"SELECT * REPLACE ({_one('project_id')} THEN 999999 ELSE account_id END AS account_id) FROM t",
    ),
    (
        "fk_projects_owner",
        "projects",
        f"SELECT * REPLACE ({_one('project_id')} THEN 999999999 ELSE owner_user_id END AS owner_user_id) FROM t",
    ),
    (
        "fk_tasks_creator",
        "tasks",
        f"SELECT * REPLACE ({_one('task_id')} THEN 999999999 ELSE created_by_user_id END AS created_by_user_id) FROM t",
    ),
    (
        "fk_tasks_assignee",
        "tasks",
        "SELECT * REPLACE (CASE WHEN assignee_user_id IS NOT NULL THEN 999999999 END AS assignee_user_id) FROM t",
    ),
    (
        "fk_events_account",
        "events",
        f"SELECT * REPLACE ({_one('event_id')} THEN 999999 ELSE account_id END AS account_id) FROM t",
    ),
    (
        "fk_events_project",
        "events",
        "SELECT * REPLACE (CASE WHEN project_id IS NOT NULL THEN project_id + 1000000 END AS project_id) FROM t",
    ),
    (
        "fk_events_task",
        "events",
        "SELECT * REPLACE (CASE WHEN task_id IS NOT NULL THEN task_id + 5000000 END AS task_id) FROM t",
    ),
    (
        "accounts_plan_tier",
        "accounts",
        f"SELECT * REPLACE ({_one('account_id')} THEN 'gold' ELSE plan_tier END AS plan_tier) FROM t",
    ),
    ("users_role", "users", f"SELECT * REPLACE ({_one('user_id')} THEN 'owner' ELSE role END AS role) FROM t"),
    (
        "tasks_priority",
        "tasks",
        f"SELECT * REPLACE ({_one('task_id')} THEN 'critical' ELSE priority END AS priority) FROM t",
    ),
    (
        "events_handoff_target",
        "events",
        "SELECT * REPLACE (CASE WHEN event_name = 'handoff_completed' THEN "
        "'{\"from_user_id\": ' || user_id || ', \"to_user_id\": 999999999}' "
        "ELSE properties END AS properties) FROM t",
    ),
    (
        "accounts_in_window",
        "accounts",
        f"SELECT * REPLACE ({_one('account_id')} THEN TIMESTAMP '2026-02-01' ELSE created_at END AS created_at) FROM t",
    ),
    (
        "users_after_account",
        "users",
        f"SELECT * REPLACE ({_one('user_id')} THEN TIMESTAMP '2024-06-01' ELSE created_at END AS created_at) FROM t",
    ),
    ("users_activation_order", "users", "SELECT * REPLACE (activated_at - INTERVAL 3000 DAY AS activated_at) FROM t"),
    (
        "projects_archive_order",
        "projects",
        "SELECT * REPLACE (coalesce(archived_at, created_at) - INTERVAL 1 DAY AS archived_at) FROM t",
    ),
    (
        "tasks_after_project_and_creator",
        "tasks",
        f"SELECT * REPLACE ({_one('task_id')} THEN created_at - INTERVAL 400 DAY ELSE created_at END AS created_at) FROM t",
    ),
    (
        "tasks_started_status",
        "tasks",
        "SELECT * REPLACE (CASE WHEN status = 'todo' THEN created_at + INTERVAL 1 HOUR "
        "ELSE first_started_at END AS first_started_at) FROM t",
    ),
    ("events_after_project_and_task", "tasks", "SELECT * REPLACE (created_at + INTERVAL 30 DAY AS created_at) FROM t"),
    ("task_created_only_for_tasks", "tasks", "SELECT * FROM t WHERE task_id <> (SELECT min(task_id) FROM t)"),
    ("task_completed_once_at_completed_at", "events", "SELECT * FROM t WHERE event_name <> 'task_completed'"),
    ("blocked_status_matches_events", "events", "SELECT * FROM t WHERE event_name <> 'blocker_resolved'"),
    (
        "cancelled_has_event",
        "tasks",
        "SELECT * REPLACE (CASE WHEN status = 'todo' THEN 'cancelled' ELSE status END AS status) FROM t",
    ),
    ("project_created_once_at_created_at", "events", "SELECT * FROM t WHERE event_name <> 'project_created'"),
    ("assignee_matches_last_assignment", "tasks", "SELECT * REPLACE (assignee_user_id + 1 AS assignee_user_id) FROM t"),
    (
        "status_changes_legal",
        "events",
        "SELECT * REPLACE (CASE WHEN event_name = 'task_status_changed' THEN "
        '\'{"from_status": "done", "to_status": "todo"}\' ELSE properties END AS properties) FROM t',
    ),
    (
        "work_goes_to_activated_colleagues",
        "users",
        "SELECT * REPLACE (activated_at + INTERVAL 300 DAY AS activated_at) FROM t",
    ),
    ("ledger_late_events_are_late", "events", "SELECT * REPLACE (event_at_utc AS ingested_at_utc) FROM t"),
    (
        "ledger_missing_values_are_null",
        "tasks",
        "SELECT * REPLACE (coalesce(due_at, created_at + INTERVAL 3 DAY) AS due_at) FROM t",
    ),
    ("ledger_internal_matches_flags", "accounts", "SELECT * REPLACE (false AS is_internal) FROM t"),
    (
        "ledger_outliers_hold",
        "tasks",
        "SELECT * REPLACE (completed_at + INTERVAL 1 SECOND AS completed_at, due_at + INTERVAL 1 DAY AS due_at) FROM t",
    ),
    (
        "ledger_duplicates_are_resent",
        "events",
        "SELECT * FROM t UNION ALL (SELECT * REPLACE (ingested_at_utc + "
        "INTERVAL 1 MINUTE AS ingested_at_utc) FROM t LIMIT 1)",
    ),
    (
        "notes_by_current_holder",
        "events",
        "SELECT * REPLACE (CASE WHEN event_name = 'work_note_added' "
        "THEN user_id + 1 ELSE user_id END AS user_id) FROM t",
    ),
]


# rules whose violation needs another dataset than tiny's: where their mutation test lives
MUTATED_ELSEWHERE = {
    "snapshot_cut_at_as_of": "test_truth.py::test_as_of_rule_catches_a_bad_cut (needs an as_of extract)"
}


@pytest.mark.parametrize("rule,table,sql", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_rule_catches_its_violation(tiny_data, tmp_path, rule, table, sql):
    broken = _mutate(tiny_data, tmp_path / "broken", table, sql)
    rules = _rules(broken)
    assert rules.loc[rule, "violations"] > 0, f"{rule} did not catch the mutation"


def _passed(metrics, name):
    value = metrics.loc[name, "passed"]
    return None if value is None else bool(value)


def test_every_rule_has_a_mutation():
    """A new rule must come with a mutation proving it can fail."""
    tested = {m[0] for m in MUTATIONS} | set(MUTATED_ELSEWHERE)
    missing = [q.name for q in checks.load_queries("rules") if q.name not in tested]
    assert not missing, f"rules without a mutation test: {missing}"


def test_metrics_detect_a_flat_week(tiny_data, tmp_path):
    """Moving every event to a Saturday at noon breaks the weekday/weekend and hour-of-day thresholds."""
    broken = _mutate(
        tiny_data,
        tmp_path / "flat",
        "events",
        "SELECT * REPLACE (date_trunc('week', event_at_utc) + INTERVAL 5 DAY + INTERVAL 12 HOUR "
        "AS event_at_utc) FROM t",
    )
    con = duck.dataset(broken, pipeline.load_saved_params(broken))
    metrics = checks.run_metrics(con).set_index("metric")
    # every event on a Saturday: weekday volume 0, ratio 0 < 1.5
    assert metrics.loc["weekday_weekend_ratio", "value"] == 0 and _passed(metrics, "weekday_weekend_ratio") is False
    # every event at noon: 23 empty hours, so the ratio is infinite and passes; the weekday check caught it
    assert _passed(metrics, "hour_max_min_ratio") is True


def test_metrics_detect_empty_weekends_and_noise(tiny_data, tmp_path):
    """No weekend events at all is implausible (ratio infinite); a stream of logins drowns the key events."""
    no_weekend = _mutate(tiny_data, tmp_path / "nw", "events", "SELECT * FROM t WHERE isodow(event_at_utc) <= 5")
    m = checks.run_metrics(duck.dataset(no_weekend, pipeline.load_saved_params(no_weekend))).set_index("metric")
    assert _passed(m, "weekday_weekend_ratio") is False
    noisy = _mutate(
        tiny_data,
        tmp_path / "noisy",
        "events",
        "SELECT * FROM t UNION ALL SELECT * REPLACE (event_id + 500000000 AS event_id, "
        "'login_succeeded' AS event_name, NULL AS project_id, NULL AS task_id, NULL AS properties) "
        "FROM t UNION ALL SELECT * REPLACE (event_id + 600000000 AS event_id, "
        "'login_succeeded' AS event_name, NULL AS project_id, NULL AS task_id, NULL AS properties) FROM t",
    )
    m = checks.run_metrics(duck.dataset(noisy, pipeline.load_saved_params(noisy))).set_index("metric")
    assert _passed(m, "key_event_share") is False and _passed(m, "max_supporting_share") is False
    msg = "; ".join(
        checks.failures(checks.run_rules(duck.dataset(noisy, pipeline.load_saved_params(noisy))), m.reset_index())
    )
    assert "key_event_share" in msg and "max_supporting_share" in msg

"""Every lifecycle rule holds on generated data, and every rule catches the violation it names.

The rules are the SQL files in helpers/quality/sql/rules. Each mutation below plants one bad row (one row
changed, added or removed in one table of a copy of the tiny dataset) and the test asserts the exact
outcome: the named rule reports exactly 1 violation and every other rule 0. Where two rules overlap by
definition, so that one bad row necessarily breaks both, the mutation names the other rule, its count and
why. The activity metrics (sql/qa) get the same treatment: each guardrail fails on a stream planted to
break it, while the others keep passing.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from helpers import duck, io
from helpers.quality import checks
from helpers.schema import KEY_EVENTS

from .conftest import generate, params_variant


def _con(data_dir: Path):
    return duck.dataset(data_dir, io.load_params(data_dir))


def _rules(data_dir: Path):
    return checks.run_rules(_con(data_dir)).set_index("rule")


def _metrics(data_dir: Path):
    return checks.run_metrics(_con(data_dir)).set_index("metric")


def test_every_rule_holds_on_tiny(tiny_data):
    rules = _rules(tiny_data)
    assert len(rules) >= 40
    assert rules.violations.notna().all() and rules.violations.sum() == 0, rules[rules.violations != 0]


@pytest.mark.xdist_group("default")
def test_every_rule_and_threshold_holds_on_default(default_data):
    con = _con(default_data)
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


# --------------------------------------------------------------------------- planting one bad row
def _mutate(src: Path, dst: Path, table: str, select_sql: str) -> tuple[int, int]:
    """Copy a dataset to dst and replace one table (raw.<table>, "ledger" or "not_yet_arrived") by the result
    of select_sql. The query reads the original table as `t` and may read the whole original dataset
    (raw.*, imperfections.ledger, truth.*, the variables window_start, window_end, as_of). Returns (rows
    added, rows removed), comparing whole rows with the original as multisets."""
    shutil.copytree(src, dst)
    if table == "ledger":
        out, relation = io.ledger_path(dst), "imperfections.ledger"
    elif table == "not_yet_arrived":
        out, relation = io.truth_path(dst, table), "truth.not_yet_arrived"
    else:
        shutil.rmtree(io.table_dir(dst, table))
        io.table_dir(dst, table).mkdir()
        out, relation = io.table_dir(dst, table) / "part-00000.parquet", f"raw.{table}"
    con = _con(src)
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"CREATE TEMP VIEW t AS SELECT * FROM {relation}")
    con.execute(f"CREATE TEMP TABLE mutated AS {select_sql}")
    con.execute("COPY mutated TO ? (FORMAT parquet)", [str(out)])
    added = con.execute("SELECT count(*) FROM (FROM mutated EXCEPT ALL FROM t)").fetchall()[0][0]
    removed = con.execute("SELECT count(*) FROM (FROM t EXCEPT ALL FROM mutated)").fetchall()[0][0]
    return added, removed


ONE_ROW = {(1, 1): "changed", (1, 0): "added", (0, 1): "removed"}


def _pick(key: str, where: str) -> str:
    """A condition true for one row of t: the smallest key among the rows where `where` holds."""
    return f"coalesce({key} = (SELECT min({key}) FROM t WHERE {where}) AND ({where}), false)"


def _change(key: str, where: str, **columns: str) -> str:
    """t with the row _pick(key, where) changed: each named column set to its SQL expression (read from the
    row's original values)."""
    cases = ", ".join(
        f"CASE WHEN {_pick(key, where)} THEN {expr} ELSE {col} END AS {col}" for col, expr in columns.items()
    )
    return f"SELECT * REPLACE ({cases}) FROM t"


def _add(key: str, where: str, **columns: str) -> str:
    """t plus a copy of the row _pick(key, where), with the named columns set to their SQL expressions."""
    copy = "SELECT * " + (f"REPLACE ({', '.join(f'{e} AS {c}' for c, e in columns.items())}) " if columns else "")
    return f"SELECT * FROM t UNION ALL ({copy}FROM t WHERE {_pick(key, where)})"


def _drop(key: str, where: str) -> str:
    """t without the row _pick(key, where)."""
    return f"SELECT * FROM t WHERE NOT {_pick(key, where)}"


def _unlisted(table: str, key: str) -> str:
    """The row is not in the imperfection ledger (no planted late arrival, blank or outlier to keep consistent)."""
    return f"{key} NOT IN (SELECT row_key FROM imperfections.ledger WHERE table_name = '{table}')"


EVENT = _unlisted("events", "event_id")  # an event the ledger does not list: no planted late arrival
TASK = _unlisted("tasks", "task_id")
DASHBOARD = f"event_name = 'dashboard_viewed' AND {EVENT}"  # a session event: no task, project or properties
LATENCY = "(ingested_at_utc - event_at_utc)"  # added to a moved event_at_utc, keeps ingestion latency as it was
OWN_TASK = "(SELECT k.{} FROM raw.tasks k WHERE k.task_id = t.task_id)"
OWN_USER = "(SELECT u.{} FROM raw.users u WHERE u.user_id = t.user_id)"
# an assignment whose target can change without touching another rule: the task is reassigned later, before
# anyone works on it (so the assignment is not the last one, and no step or note is by its assignee)
RETARGETABLE = (
    f"event_name = 'task_assigned' AND {EVENT} AND EXISTS (SELECT 1 FROM raw.events n WHERE n.task_id = t.task_id "
    "AND n.event_name = 'task_assigned' AND n.event_at_utc > t.event_at_utc)"
)


def _later(name: str | None = None) -> str:
    """How many events of the row's task come after it (only those named `name`, if given)."""
    only = f" AND n.event_name = '{name}'" if name else ""
    return f"(SELECT count(*) FROM raw.events n WHERE n.task_id = t.task_id AND n.event_at_utc > t.event_at_utc{only})"


# another activated user of the row's account (activated by the row's moment) who is neither its user nor `{}`
COLLEAGUE = (
    "(SELECT min(u.user_id) FROM raw.users u WHERE u.account_id = t.account_id AND u.activated_at <= t.event_at_utc "
    "AND u.user_id <> t.user_id AND u.user_id IS DISTINCT FROM {})"
)
TO_USER = "TRY_CAST(json_extract(properties, '$.to_user_id') AS BIGINT)"
NOWHERE = "999999999"  # an id no account, user, project or task has


class Mutation(NamedTuple):
    rule: str  # the rule the bad row breaks: it must report exactly 1 violation
    table: str
    sql: str  # a SELECT over t (the original table) giving the mutated table
    also: dict[str, int] | None = None  # rules that necessarily fire too (their definitions overlap), with counts


MUTATIONS = [
    # ---- keys (10_keys.sql)
    Mutation("pk_accounts", "accounts", _add("account_id", "NOT is_internal")),
    # a second row with the same user_id, on another (valid) e-mail: an exact copy would repeat the e-mail too
    Mutation("pk_users", "users", _add("user_id", "NOT is_internal", email="'again.' || email")),
    Mutation("pk_projects", "projects", _add("project_id", "true")),
    Mutation("pk_tasks", "tasks", _add("task_id", TASK)),
    Mutation("pk_events", "events", _change("event_id", DASHBOARD, event_id="NULL")),
    # a never-activated user has no project, task or event to follow it
    Mutation(
        "fk_users_account", "users", _change("user_id", "activated_at IS NULL AND NOT is_internal", account_id=NOWHERE)
    ),
    # a project of no account: its owner (a user of a real account) cannot be a user of its account, and its
    # project_created event (an added project has none) is missing
    Mutation(
        "fk_projects_account",
        "projects",
        _add("project_id", "true", project_id=NOWHERE, account_id=NOWHERE),
        also={"fk_projects_owner": 1, "project_created_once_at_created_at": 1},
    ),
    # the project_created event is by the recorded owner: another owner breaks that too
    Mutation(
        "fk_projects_owner",
        "projects",
        _change("project_id", "true", owner_user_id=NOWHERE),
        also={"project_created_once_at_created_at": 1},
    ),
    # a task's events carry its project: moving the task breaks fk_events_task for each of them (this task has one)
    Mutation(
        "fk_tasks_project",
        "tasks",
        _change(
            "task_id",
            f"{TASK} AND (SELECT count(*) FROM raw.events e WHERE e.task_id = t.task_id) = 1",
            project_id=NOWHERE,
        ),
        also={"fk_events_task": 1},
    ),
    # the task_created event is by the recorded creator
    Mutation(
        "fk_tasks_creator",
        "tasks",
        _change("task_id", TASK, created_by_user_id=NOWHERE),
        also={"task_created_once_at_created_at": 1},
    ),
    # a recorded assignee is the last one assigned by the events
    Mutation(
        "fk_tasks_assignee",
        "tasks",
        _change("task_id", f"{TASK} AND assignee_user_id IS NOT NULL", assignee_user_id=NOWHERE),
        also={"assignee_matches_last_assignment": 1},
    ),
    # the session id names its user (user_id * 1e5 + n): an event of no user is in a session of another
    Mutation(
        "fk_events_user",
        "events",
        _change("event_id", DASHBOARD, user_id=NOWHERE),
        also={"session_of_its_user": 1},
    ),
    # fk_events_user also requires the event's account to be its user's (which exists)
    Mutation(
        "fk_events_account", "events", _change("event_id", DASHBOARD, account_id=NOWHERE), also={"fk_events_user": 1}
    ),
    # fk_events_task also requires a task event's project to be its task's
    Mutation(
        "fk_events_project",
        "events",
        _change("event_id", f"event_name = 'task_created' AND {EVENT}", project_id=NOWHERE),
        also={"fk_events_task": 1},
    ),
    # an extra assignment of a task that does not exist (every event of a real task is needed by some rule)
    Mutation(
        "fk_events_task",
        "events",
        _add("event_id", f"event_name = 'task_assigned' AND {EVENT}", event_id="event_id + 500000000", task_id=NOWHERE),
    ),
    # ---- plan history (15_account_plans.sql)
    # a second period takes its predecessor's id: the rows stay in order (by valid_from), only the key repeats
    Mutation(
        "pk_account_plans",
        "account_plans",
        _change("account_plan_id", "account_plan_id % 100 = 2", account_plan_id="account_plan_id - 1"),
    ),
    # a plan period of no account: a whole history of its own (one open period), so only the key breaks
    Mutation(
        "fk_account_plans_account",
        "account_plans",
        _add(
            "account_plan_id",
            "valid_to IS NULL AND account_plan_id % 100 = 1",
            account_id=NOWHERE,
            account_plan_id=f"{NOWHERE}::BIGINT * 100 + 1",
        ),
    ),
    # a closed period (not the last, which must match the account's plan_tier) on an unknown plan
    Mutation(
        "account_plans_values", "account_plans", _change("account_plan_id", "valid_to IS NOT NULL", plan_tier="'gold'")
    ),
    Mutation(
        "account_plans_start_at_signup",
        "account_plans",
        _change("account_plan_id", "account_plan_id % 100 = 1", valid_from="valid_from + INTERVAL 1 SECOND"),
    ),
    Mutation(
        "account_plans_contiguous",
        "account_plans",
        _change("account_plan_id", "valid_to IS NOT NULL", valid_to="valid_to + INTERVAL 1 SECOND"),
    ),
    Mutation(
        "account_plans_open_last",
        "account_plans",
        _change("account_plan_id", "valid_to IS NULL", valid_to="getvariable('window_end') - INTERVAL 1 SECOND"),
    ),
    # the only period of an account (no predecessor to repeat) on another plan than the account's plan_tier
    Mutation(
        "account_plans_last_is_current",
        "account_plans",
        _change(
            "account_plan_id",
            "valid_to IS NULL AND account_plan_id % 100 = 1",
            plan_tier="CASE WHEN plan_tier = 'enterprise' THEN 'team' ELSE 'enterprise' END",
        ),
    ),
    # a last period that starts after the window: its predecessor's valid_to no longer meets it (one row
    # cannot move both)
    Mutation(
        "account_plans_in_window",
        "account_plans",
        _change(
            "account_plan_id",
            "valid_to IS NULL AND account_plan_id % 100 > 1",
            valid_from="getvariable('window_end') + INTERVAL 1 HOUR",
        ),
        also={"account_plans_contiguous": 1},
    ),
    # a first period made the same plan as the period after it: no change between them
    Mutation(
        "account_plans_changes",
        "account_plans",
        _change(
            "account_plan_id",
            "account_plan_id % 100 = 1 AND valid_to IS NOT NULL",
            plan_tier="(SELECT n.plan_tier FROM raw.account_plans n WHERE n.account_plan_id = t.account_plan_id + 1)",
            is_trial="(SELECT n.is_trial FROM raw.account_plans n WHERE n.account_plan_id = t.account_plan_id + 1)",
        ),
    ),
    # ---- values (20_values.sql)
    # the account's last plan period says otherwise
    Mutation(
        "accounts_plan_tier",
        "accounts",
        _change("account_id", "true", plan_tier="'gold'"),
        also={"account_plans_last_is_current": 1},
    ),
    Mutation("users_role", "users", _change("user_id", "true", role="'owner'")),
    Mutation("users_email_reserved", "users", _change("user_id", "NOT is_internal", email="'ceo@gmail.com'")),
    Mutation("tasks_priority", "tasks", _change("task_id", TASK, priority="'critical'")),
    Mutation("tasks_status", "tasks", _change("task_id", f"{TASK} AND status = 'todo'", status="'completed'")),
    Mutation("events_name", "events", _change("event_id", DASHBOARD, event_name="'page_viewed'")),
    # a session event given a project of its account that exists by then
    Mutation(
        "events_task_context",
        "events",
        _change(
            "event_id",
            f"{DASHBOARD} AND EXISTS (SELECT 1 FROM raw.projects p "
            "WHERE p.account_id = t.account_id AND p.created_at <= t.event_at_utc)",
            project_id="(SELECT min(p.project_id) FROM raw.projects p "
            "WHERE p.account_id = t.account_id AND p.created_at <= t.event_at_utc)",
        ),
    ),
    Mutation("events_properties", "events", _change("event_id", DASHBOARD, properties="""'{"tab": "home"}'""")),
    # a hand-off to an activated user of another account: work_goes_to_activated_colleagues requires the same
    # account; the outsider becomes the task's holder, so the task's recorded assignee (the real receiver) is no
    # longer the last one handed to, and the receiver's one later step (the completion) is not by the holder
    Mutation(
        "events_handoff_target",
        "events",
        _change(
            "event_id",
            f"event_name = 'handoff_completed' AND {EVENT} AND {OWN_TASK.format('assignee_user_id')} IS NOT NULL "
            f"AND {_later()} = 1 AND {_later('task_completed')} = 1",
            properties="json_object('from_user_id', user_id, 'to_user_id', (SELECT min(u.user_id) FROM raw.users u "
            "WHERE u.account_id <> t.account_id AND u.activated_at IS NOT NULL))::VARCHAR",
        ),
        also={
            "work_goes_to_activated_colleagues": 1,
            "assignee_matches_last_assignment": 1,
            "steps_by_current_holder": 1,
        },
    ),
    # ---- timestamps (30_timestamps.sql)
    # the account's first plan period starts at the signup as recorded
    Mutation(
        "accounts_in_window",
        "accounts",
        _change("account_id", "NOT is_internal", created_at="getvariable('window_start') - INTERVAL 1 DAY"),
        also={"account_plans_start_at_signup": 1},
    ),
    Mutation(
        "users_after_account",
        "users",
        _change(
            "user_id",
            "NOT is_internal",
            created_at="(SELECT a.created_at FROM raw.accounts a WHERE a.account_id = t.account_id) "
            "- INTERVAL 1 SECOND",
        ),
    ),
    Mutation(
        "users_activation_order",
        "users",
        _change("user_id", "activated_at IS NOT NULL", activated_at="created_at - INTERVAL 1 SECOND"),
    ),
    # the project_created event is at the project's created_at
    Mutation(
        "projects_after_owner_activation",
        "projects",
        _change(
            "project_id",
            "true",
            created_at="(SELECT u.activated_at FROM raw.users u WHERE u.user_id = t.owner_user_id) - INTERVAL 1 SECOND",
        ),
        also={"project_created_once_at_created_at": 1},
    ),
    # archived before it was created (any project: a small dataset may have none archived)
    Mutation(
        "projects_archive_order",
        "projects",
        _change("project_id", "true", archived_at="created_at - INTERVAL 1 SECOND"),
    ),
    # the task_created event is at the task's created_at
    Mutation(
        "tasks_after_project_and_creator",
        "tasks",
        _change(
            "task_id",
            TASK,
            created_at="(SELECT p.created_at FROM raw.projects p WHERE p.project_id = t.project_id) "
            "- INTERVAL 1 SECOND",
        ),
        also={"task_created_once_at_created_at": 1},
    ),
    # the first move into in_progress is at first_started_at, and the task's one assignment now follows its start
    Mutation(
        "tasks_timestamp_order",
        "tasks",
        _change(
            "task_id",
            f"{TASK} AND first_started_at IS NOT NULL AND (SELECT count(*) FROM raw.events e "
            "WHERE e.task_id = t.task_id AND e.event_name = 'task_assigned') = 1",
            first_started_at="created_at - INTERVAL 1 SECOND",
        ),
        also={"started_event_at_first_started_at": 1, "assignments_before_start": 1},
    ),
    Mutation(
        "tasks_completed_iff_done",
        "tasks",
        _change("task_id", f"{TASK} AND status = 'done'", completed_at="NULL"),
    ),
    # a seat removed before its (never-activated) user was invited
    Mutation(
        "users_deactivation_order",
        "users",
        _change("user_id", "activated_at IS NULL", deactivated_at="created_at - INTERVAL 1 MINUTE"),
    ),
    # a seat removed at its user's last event: that event comes after the removal
    Mutation(
        "events_before_deactivation",
        "users",
        _change(
            "user_id",
            "user_id IN (SELECT user_id FROM raw.events GROUP BY 1 HAVING count(*) = count(DISTINCT event_at_utc))",
            deactivated_at="(SELECT max(e.event_at_utc) FROM raw.events e WHERE e.user_id = t.user_id)",
        ),
    ),
    # a todo task marked in_progress without a start (it has no move into in_progress either)
    Mutation(
        "tasks_started_status", "tasks", _change("task_id", f"{TASK} AND status = 'todo'", status="'in_progress'")
    ),
    Mutation(
        "events_in_window",
        "events",
        _change(
            "event_id",
            DASHBOARD,
            event_at_utc="getvariable('window_end')",
            ingested_at_utc=f"getvariable('window_end') + {LATENCY}",
            session_id="user_id * 100000 + 99999",  # a sitting of its own, the user's last: sessions stay in order
        ),
    ),
    Mutation(
        "events_ingested_after",
        "events",
        _change("event_id", DASHBOARD, ingested_at_utc="event_at_utc - INTERVAL 1 SECOND"),
    ),
    Mutation(
        "events_normal_latency",
        "events",
        _change("event_id", DASHBOARD, ingested_at_utc="event_at_utc + INTERVAL 2 HOUR"),
    ),
    Mutation(
        "events_after_activation",
        "events",
        _change(
            "event_id",
            f"{DASHBOARD} AND {OWN_USER.format('activated_at')} > getvariable('window_start') + INTERVAL 1 DAY",
            event_at_utc=f"{OWN_USER.format('activated_at')} - INTERVAL 1 SECOND",
            ingested_at_utc=f"{OWN_USER.format('activated_at')} - INTERVAL 1 SECOND + {LATENCY}",
            session_id="user_id * 100000 + 1",
            client="(SELECT any_value(c.client) FROM raw.events c WHERE c.session_id = t.user_id * 100000 + 1)",
        ),
        # moved into the user's first session (it opens at activation, with a login): before that login
        also={"login_opens_its_session": 1},
    ),
    # a task's first assignment (to its own assigner, activated before) moved to just before the task exists
    Mutation(
        "events_after_project_and_task",
        "events",
        _change(
            "event_id",
            f"event_name = 'task_assigned' AND {EVENT} "
            "AND TRY_CAST(json_extract(properties, '$.assignee_user_id') AS BIGINT) = user_id "
            "AND event_at_utc = (SELECT min(e.event_at_utc) FROM raw.events e WHERE e.task_id = t.task_id "
            "AND e.event_name IN ('task_assigned', 'handoff_completed')) "
            f"AND {OWN_USER.format('activated_at')} < {OWN_TASK.format('created_at')} - INTERVAL 1 SECOND "
            "AND (SELECT p.created_at FROM raw.projects p WHERE p.project_id = t.project_id) "
            f"< {OWN_TASK.format('created_at')} - INTERVAL 1 SECOND",
            event_at_utc=f"{OWN_TASK.format('created_at')} - INTERVAL 1 SECOND",
            ingested_at_utc=f"{OWN_TASK.format('created_at')} - INTERVAL 1 SECOND + {LATENCY}",
        ),
    ),
    # ---- the events against the tables (40_events_vs_tables.sql)
    Mutation(
        "task_created_once_at_created_at",
        "events",
        _add("event_id", f"event_name = 'task_created' AND {EVENT}", event_id="event_id + 500000000"),
    ),
    # a task missing from tasks: its one event (task_created) now points at no task
    Mutation(
        "task_created_only_for_tasks",
        "tasks",
        _drop("task_id", f"{TASK} AND (SELECT count(*) FROM raw.events e WHERE e.task_id = t.task_id) = 1"),
        also={"fk_events_task": 1},
    ),
    Mutation(
        "task_completed_once_at_completed_at", "events", _drop("event_id", f"event_name = 'task_completed' AND {EVENT}")
    ),
    Mutation(
        "task_completed_only_when_done",
        "tasks",
        _change("task_id", f"{TASK} AND status = 'done'", status="'in_progress'", completed_at="NULL"),
    ),
    Mutation(
        "started_event_at_first_started_at",
        "tasks",
        _change(
            "task_id",
            f"{TASK} AND first_started_at IS NOT NULL "
            "AND coalesce(completed_at > first_started_at + INTERVAL 1 SECOND, true)",
            first_started_at="first_started_at + INTERVAL 1 SECOND",
        ),
    ),
    Mutation(
        "blocker_resolved_after_added",
        "events",
        _change(
            "event_id", f"event_name = 'blocker_resolved' AND {EVENT}", properties="""'{"blocker_id": 999999999}'"""
        ),
    ),
    Mutation(
        "blocked_status_matches_events",
        "events",
        _drop("event_id", f"event_name = 'blocker_resolved' AND {EVENT} AND {OWN_TASK.format('status')} <> 'blocked'"),
    ),
    Mutation("cancelled_has_event", "tasks", _change("task_id", f"{TASK} AND status = 'todo'", status="'cancelled'")),
    Mutation(
        "project_created_once_at_created_at", "events", _drop("event_id", f"event_name = 'project_created' AND {EVENT}")
    ),
    Mutation(
        "assignee_matches_last_assignment",
        "tasks",
        _change(
            "task_id",
            f"{TASK} AND assignee_user_id IS NOT NULL AND EXISTS (SELECT 1 FROM raw.users u "
            "WHERE u.account_id = t.account_id AND u.activated_at IS NOT NULL AND u.user_id <> t.assignee_user_id)",
            assignee_user_id="(SELECT min(u.user_id) FROM raw.users u "
            "WHERE u.account_id = t.account_id AND u.activated_at IS NOT NULL AND u.user_id <> t.assignee_user_id)",
        ),
    ),
    # a move into in_progress from a status it cannot come from (its target stays, so the start is unchanged)
    Mutation(
        "status_changes_legal",
        "events",
        _change(
            "event_id",
            f"event_name = 'task_status_changed' AND {EVENT} "
            "AND json_extract_string(properties, '$.to_status') = 'in_progress'",
            properties="""'{"from_status": "blocked", "to_status": "in_progress"}'""",
        ),
    ),
    # an assignment to a never-activated user of the same account
    Mutation(
        "work_goes_to_activated_colleagues",
        "events",
        _change(
            "event_id",
            f"{RETARGETABLE} AND EXISTS (SELECT 1 FROM raw.users u "
            "WHERE u.account_id = t.account_id AND u.activated_at IS NULL)",
            properties="json_object('assignee_user_id', (SELECT min(u.user_id) FROM raw.users u "
            "WHERE u.account_id = t.account_id AND u.activated_at IS NULL))::VARCHAR",
        ),
    ),
    # a work note by an activated colleague (of the same account, activated by then) who does not hold the task
    Mutation(
        "notes_by_current_holder",
        "events",
        _change(
            "event_id",
            f"event_name = 'work_note_added' AND {EVENT} AND EXISTS (SELECT 1 FROM raw.users u "
            "WHERE u.account_id = t.account_id AND u.activated_at <= t.event_at_utc AND u.user_id <> t.user_id)",
            user_id="(SELECT min(u.user_id) FROM raw.users u "
            "WHERE u.account_id = t.account_id AND u.activated_at <= t.event_at_utc AND u.user_id <> t.user_id)",
        ),
        also={"session_of_its_user": 1},  # the note keeps its session, which names the note's real writer
    ),
    # a hand-off made (and named as made) by a colleague who does not hold the task
    Mutation(
        "handoff_by_current_holder",
        "events",
        _change(
            "event_id",
            f"event_name = 'handoff_completed' AND {EVENT} AND {COLLEAGUE.format(TO_USER)} IS NOT NULL",
            user_id=COLLEAGUE.format(TO_USER),
            properties=f"json_object('from_user_id', {COLLEAGUE.format(TO_USER)}, 'to_user_id', {TO_USER})::VARCHAR",
        ),
        also={"session_of_its_user": 1},  # the event keeps its session, which names the real holder
    ),
    # a blocker resolved by a colleague who does not hold the task
    Mutation(
        "steps_by_current_holder",
        "events",
        _change(
            "event_id",
            f"event_name = 'blocker_resolved' AND {EVENT} AND {COLLEAGUE.format('NULL')} IS NOT NULL",
            user_id=COLLEAGUE.format("NULL"),
        ),
        also={"session_of_its_user": 1},  # the event keeps its session, which names the real holder
    ),
    # the one who started the task is assigned it again a second later (same holder: only the order is wrong)
    Mutation(
        "assignments_before_start",
        "events",
        _add(
            "event_id",
            f"event_name = 'task_status_changed' AND {EVENT} AND json_extract_string(properties, '$.to_status') = "
            "'in_progress' AND event_at_utc < getvariable('window_end') - INTERVAL 1 DAY AND NOT EXISTS (SELECT 1 "
            "FROM raw.events n WHERE n.task_id = t.task_id AND n.event_at_utc > t.event_at_utc "
            "AND n.event_at_utc <= t.event_at_utc + INTERVAL 1 SECOND)",
            event_id="event_id + 500000000",
            event_name="'task_assigned'",
            event_at_utc="event_at_utc + INTERVAL 1 SECOND",
            ingested_at_utc="ingested_at_utc + INTERVAL 1 SECOND",
            properties="json_object('assignee_user_id', user_id)::VARCHAR",
        ),
    ),
    # a done task handed off a second after its completion, by its finisher (who still holds it) to a colleague;
    # its assignee is not recorded (so the new last receiver need not match it)
    Mutation(
        "handoffs_while_in_progress",
        "events",
        _add(
            "event_id",
            f"event_name = 'task_completed' AND {EVENT} AND {OWN_TASK.format('assignee_user_id')} IS NULL "
            f"AND {_later()} = 0 AND event_at_utc < getvariable('window_end') - INTERVAL 1 DAY "
            f"AND {COLLEAGUE.format('NULL')} IS NOT NULL",
            event_id="event_id + 500000000",
            event_name="'handoff_completed'",
            event_at_utc="event_at_utc + INTERVAL 1 SECOND",
            ingested_at_utc="ingested_at_utc + INTERVAL 1 SECOND",
            properties=f"json_object('from_user_id', user_id, 'to_user_id', {COLLEAGUE.format('NULL')})::VARCHAR",
        ),
    ),
    # ---- the ledger (50_ledger.sql)
    Mutation(
        "ledger_late_events_are_late",
        "events",
        _change(
            "event_id",
            "event_id IN (SELECT row_key FROM imperfections.ledger WHERE kind = 'late_arrival')",
            ingested_at_utc="event_at_utc + INTERVAL 1 SECOND",
        ),
    ),
    Mutation(
        "ledger_missing_values_are_null",
        "tasks",
        _change(
            "task_id",
            "task_id IN (SELECT row_key FROM imperfections.ledger WHERE kind = 'missing' AND column_name = 'due_at') "
            "AND task_id NOT IN (SELECT row_key FROM imperfections.ledger WHERE kind = 'outlier')",
            due_at="created_at + INTERVAL 3 DAY",
        ),
    ),
    # the ledger forgets one internal user (flipping a flag in the tables scores 2: see the report on this rule)
    Mutation(
        "ledger_internal_matches_flags",
        "ledger",
        _drop("row_key", "kind = 'internal' AND table_name = 'users'"),
    ),
    # the ledger forgets the user of a test workspace (its account is still listed)
    Mutation(
        "ledger_test_workspaces_unflagged",
        "ledger",
        _drop("row_key", "kind = 'test_workspace' AND table_name = 'users'"),
    ),
    Mutation(
        "ledger_outliers_hold",
        "tasks",
        _change(
            "task_id",
            "task_id IN (SELECT row_key FROM imperfections.ledger WHERE kind = 'outlier' AND column_name = 'due_at')",
            due_at="due_at + INTERVAL 1 DAY",
        ),
    ),
    # sessions: an event moved to a session of nobody (the user's last event, so the sessions' order holds)
    Mutation(
        "session_of_its_user",
        "events",
        _change(
            "event_id",
            f"{DASHBOARD} AND event_at_utc = "
            "(SELECT max(x.event_at_utc) FROM raw.events x WHERE x.user_id = t.user_id)",
            session_id="(user_id + 1000000) * 100000 + 1",
        ),
    ),
    Mutation(
        "session_one_client",
        "events",
        _change(
            "event_id",
            f"{DASHBOARD} AND session_id IN (SELECT session_id FROM raw.events GROUP BY 1 HAVING count(*) > 1)",
            client="CASE WHEN client::VARCHAR = 'web' THEN 'ios' ELSE 'web' END",
        ),
    ),
    # a second login in a session (a new event id: no other rule reads logins)
    Mutation(
        "login_opens_its_session",
        "events",
        _add("event_id", f"event_name = 'login_succeeded' AND {EVENT}", event_id="event_id + 500000000"),
    ),
    # a view moved into the user's first session (its client too): that session now ends after the next begins
    Mutation(
        "sessions_do_not_overlap",
        "events",
        _change(
            "event_id",
            f"{DASHBOARD} AND session_id % 100000 >= 3",
            session_id="session_id // 100000 * 100000 + 1",
            client="(SELECT any_value(c.client) FROM raw.events c "
            "WHERE c.session_id = t.session_id // 100000 * 100000 + 1)",
        ),
    ),
    # an unlisted re-delivery: pk_events counts the same thing in total (re-deliveries minus listed duplicates)
    Mutation(
        "ledger_duplicates_are_resent",
        "events",
        _add("event_id", DASHBOARD, ingested_at_utc="ingested_at_utc + INTERVAL 1 MINUTE"),
        also={"pk_events": 1},
    ),
]


def _assert_fired(rules, expected: dict[str, int]) -> None:
    """Exactly the expected rules report violations, with exactly these counts; every rule applies."""
    assert rules.violations.notna().all(), rules[rules.violations.isna()]
    fired = {name: int(v) for name, v in rules.violations.items() if v}
    assert fired == expected


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.rule for m in MUTATIONS])
def test_rule_catches_its_violation(tiny_data, tmp_path, m):
    """One bad row: its rule reports exactly 1 violation, every other rule 0 (or the overlaps listed)."""
    changed = _mutate(tiny_data, tmp_path / "broken", m.table, m.sql)
    assert changed in ONE_ROW, f"the mutation must change, add or remove exactly one row of {m.table}: {changed}"
    _assert_fired(_rules(tmp_path / "broken"), {m.rule: 1, **(m.also or {})})


# One bad row of a kind these rules once counted twice (or flagged wrongly): (rule, table, SELECT, the count the
# rule must report).
COUNTED_ONCE = [
    # a NULL key counts once (count(*) - count(DISTINCT key) counts it; it was counted a second time)
    pytest.param(
        "pk_accounts", "accounts", _add("account_id", "NOT is_internal", account_id="NULL"), 1, id="pk_accounts_null"
    ),
    pytest.param(
        "pk_users",
        "users",
        _add("user_id", "NOT is_internal", user_id="NULL", email="'again.' || email"),
        1,
        id="pk_users_null",
    ),
    pytest.param("pk_projects", "projects", _add("project_id", "true", project_id="NULL"), 1, id="pk_projects_null"),
    pytest.param("pk_tasks", "tasks", _add("task_id", TASK, task_id="NULL"), 1, id="pk_tasks_null"),
    # one user flagged is_internal without a ledger entry is one row in violation (flagged-but-unlisted, and it
    # differs from its account), not two
    pytest.param(
        "ledger_internal_matches_flags",
        "users",
        _change("user_id", "NOT is_internal", is_internal="true"),
        1,
        id="one_user_flag",
    ),
    # latency exactly at the threshold is not late ("late" is > threshold, as ledger_late_events_are_late reads it),
    # so events_normal_latency does not flag it either
    pytest.param(
        "events_normal_latency",
        "events",
        _change(
            "event_id", DASHBOARD, ingested_at_utc="event_at_utc + to_seconds(getvariable('late_threshold_seconds'))"
        ),
        0,
        id="latency_at_threshold",
    ),
]


@pytest.mark.parametrize("rule,table,sql,expected", COUNTED_ONCE)
def test_one_bad_row_counts_once(tiny_data, tmp_path, rule, table, sql, expected):
    """Rules that once miscounted one bad row now report it exactly."""
    assert _mutate(tiny_data, tmp_path / "broken", table, sql) in ONE_ROW
    assert _rules(tmp_path / "broken").loc[rule, "violations"] == expected


# --------------------------------------------------------------------------- the as_of cut, both ways
AS_OF = dt.datetime(2025, 12, 29, 15, 0)  # a Monday afternoon: deliveries on both sides, even in the year-end lull


@pytest.fixture(scope="module")
def as_of_data(tmp_path_factory) -> Path:
    """Tiny as an extract at AS_OF: deliveries ingested later are left out of raw.events, listed in
    truth/not_yet_arrived."""
    base = tmp_path_factory.mktemp("rules_as_of")
    return generate(params_variant(base, {"snapshot.as_of": AS_OF}), base / "data")


SNAPSHOT_MUTATIONS = [
    pytest.param(
        # a session event of the last day before the cut, moved (latency kept) to arrive 1 s after it, still published
        Mutation(
            "snapshot_cut_at_as_of",
            "events",
            _change(
                "event_id",
                f"{DASHBOARD} AND ingested_at_utc > getvariable('as_of') - INTERVAL 1 DAY AND session_id = "
                "(SELECT max(x.session_id) FROM qa.all_events x WHERE x.user_id = t.user_id)",  # no later session
                event_at_utc=f"getvariable('as_of') + INTERVAL 1 SECOND - {LATENCY}",
                ingested_at_utc="getvariable('as_of') + INTERVAL 1 SECOND",
            ),
        ),
        id="published_after_as_of",
    ),
    pytest.param(
        # a session event left out by the cut, moved (latency kept) to arrive exactly at it: as_of is inclusive,
        # so it should have been published (its user was active well before)
        Mutation(
            "snapshot_cut_at_as_of",
            "not_yet_arrived",
            _change(
                "event_id",
                f"{DASHBOARD} AND {OWN_USER.format('activated_at')} < getvariable('as_of') - INTERVAL 1 HOUR "
                # its sitting stays after the user's others and after its login: sessions stay in order
                "AND NOT EXISTS (SELECT 1 FROM qa.all_events x WHERE x.user_id = t.user_id "
                f"AND (x.session_id <> t.session_id OR x.event_name = 'login_succeeded') "
                f"AND x.event_at_utc >= getvariable('as_of') - {LATENCY} AND x.event_id <> t.event_id)",
                event_at_utc=f"getvariable('as_of') - {LATENCY}",
                ingested_at_utc="getvariable('as_of')",
            ),
        ),
        id="listed_but_ingested_by_as_of",
    ),
]


def test_every_rule_holds_on_an_as_of_extract(as_of_data):
    """The extract is clean (so the mutations below start from 0) and both sides of the cut have deliveries."""
    _assert_fired(_rules(as_of_data), {})
    con = _con(as_of_data)
    later = con.execute("SELECT count(*), min(ingested_at_utc) FROM truth.not_yet_arrived").fetchall()[0]
    published = con.execute("SELECT max(ingested_at_utc) FROM raw.events").fetchall()[0][0]
    assert later[0] > 0 and later[1] > AS_OF >= published


@pytest.mark.parametrize("m", SNAPSHOT_MUTATIONS)
def test_snapshot_rule_catches_a_bad_cut(as_of_data, tmp_path, m):
    """One delivery on the wrong side of as_of: exactly 1 violation of snapshot_cut_at_as_of, nothing else."""
    changed = _mutate(as_of_data, tmp_path / "broken", m.table, m.sql)
    assert changed in ONE_ROW, changed
    _assert_fired(_rules(tmp_path / "broken"), {m.rule: 1, **(m.also or {})})


# rules whose failure test lives in another module (none today: keep the reason here when one does)
MUTATED_ELSEWHERE: dict[str, str] = {}


def test_every_rule_has_a_mutation():
    """A new rule must come with a mutation proving it can fail; a mutation must name a rule that exists."""
    tested = {m.rule for m in MUTATIONS} | {p.values[0].rule for p in SNAPSHOT_MUTATIONS} | set(MUTATED_ELSEWHERE)
    names = {q.name for q in checks.load_queries("rules")}
    assert not names - tested, f"rules without a mutation test: {sorted(names - tested)}"
    assert not tested - names, f"mutations of rules that do not exist: {sorted(tested - names)}"
    assert len({m.rule for m in MUTATIONS}) == len(MUTATIONS), "one mutation per rule"


# --------------------------------------------------------------------------- activity guardrails
def _passed(metrics, name):
    value = metrics.loc[name, "passed"]
    return None if value is None else bool(value)


def _others_pass(metrics, *targeted: str) -> None:
    others = metrics.drop(index=list(targeted))
    assert others.passed.map(bool).all(), others[["value", "allowed", "passed"]]


def test_every_threshold_holds_on_tiny(tiny_data):
    """The guardrails all apply to tiny and pass, so each failure below comes from its mutation."""
    metrics = _metrics(tiny_data)
    assert set(metrics.index) == set(checks.THRESHOLDS)
    _others_pass(metrics)


def test_metrics_detect_a_flat_week(tiny_data, tmp_path):
    """Every event moved to a Saturday at noon (UTC) fails the weekday/weekend ratio and the busiest hour's
    share; the local max/min hour ratio (noon UTC is one hour on each zone's clock, the other hours empty:
    inf) has no upper bound and passes it."""
    _mutate(
        tiny_data,
        tmp_path / "flat",
        "events",
        "SELECT * REPLACE (date_trunc('week', event_at_utc) + INTERVAL 5 DAY + INTERVAL 12 HOUR AS event_at_utc) "
        "FROM t",
    )
    metrics = _metrics(tmp_path / "flat")
    # no event on a weekday: weekday volume 0, ratio 0 < 1.5
    assert metrics.loc["weekday_weekend_ratio", "value"] == 0 and _passed(metrics, "weekday_weekend_ratio") is False
    # empty local hours give max/min = inf, which the ratio's range (3 .. inf, a floor against a flat day)
    # accepts; all activity in one hour of the day is caught by the busiest hour's share instead (1.0 > 0.25)
    assert metrics.loc["local_hour_max_min_ratio", "value"] == math.inf
    assert _passed(metrics, "local_hour_max_min_ratio") is True
    assert metrics.loc["busiest_hour_share", "value"] == 1.0 and _passed(metrics, "busiest_hour_share") is False
    # every weekday after the first 28 days is empty, but with no busy weekday around them none is judged
    assert metrics.loc["empty_weekdays_after_first_month", "value"] is None or math.isnan(
        metrics.loc["empty_weekdays_after_first_month", "value"]
    )
    assert "active users" in metrics.loc["empty_weekdays_after_first_month", "not_applicable"]
    _others_pass(metrics, "weekday_weekend_ratio", "empty_weekdays_after_first_month", "busiest_hour_share")


def test_metrics_detect_empty_weekends_and_noise(tiny_data, tmp_path):
    """No weekend events at all is implausible (ratio infinite); a stream of logins drowns the key events."""
    _mutate(tiny_data, tmp_path / "nw", "events", "SELECT * FROM t WHERE isodow(event_at_utc) <= 5")
    m = _metrics(tmp_path / "nw")
    assert m.loc["weekday_weekend_ratio", "value"] == math.inf and _passed(m, "weekday_weekend_ratio") is False
    _others_pass(m, "weekday_weekend_ratio")

    # two logins added per event: key events keep their count, the total triples
    _mutate(
        tiny_data,
        tmp_path / "noisy",
        "events",
        "SELECT * FROM t UNION ALL SELECT * REPLACE (event_id + 500000000 AS event_id, "
        "'login_succeeded' AS event_name, NULL AS project_id, NULL AS task_id, NULL AS properties) "
        "FROM t UNION ALL SELECT * REPLACE (event_id + 600000000 AS event_id, "
        "'login_succeeded' AS event_name, NULL AS project_id, NULL AS task_id, NULL AS properties) FROM t",
    )
    con = _con(tiny_data)
    n, n_key, n_login = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE list_contains(?, event_name)), "
        "count(*) FILTER (WHERE event_name = 'login_succeeded') FROM raw.events",
        [list(KEY_EVENTS)],
    ).fetchall()[0]
    m = _metrics(tmp_path / "noisy")
    assert m.loc["key_event_share", "value"] == pytest.approx(n_key / (3 * n))
    assert m.loc["max_supporting_share", "value"] == pytest.approx((n_login + 2 * n) / (3 * n))
    assert _passed(m, "key_event_share") is False and _passed(m, "max_supporting_share") is False
    _others_pass(m, "key_event_share", "max_supporting_share")
    msg = "; ".join(checks.failures(_rules(tmp_path / "noisy").reset_index(), m.reset_index()))
    assert "key_event_share" in msg and "max_supporting_share" in msg


def test_metrics_detect_a_missing_key_event_type(tiny_data, tmp_path):
    """Without any blocker_resolved, one of the key event types is absent: key_event_types_present fails."""
    assert "blocker_resolved" in KEY_EVENTS
    _mutate(tiny_data, tmp_path / "nokey", "events", "SELECT * FROM t WHERE event_name <> 'blocker_resolved'")
    m = _metrics(tmp_path / "nokey")
    assert m.loc["key_event_types_present", "value"] == len(KEY_EVENTS) - 1
    assert _passed(m, "key_event_types_present") is False
    _others_pass(m, "key_event_types_present")


def test_metrics_detect_a_flat_day(tiny_data, tmp_path):
    """Events dealt round-robin over the 24 UTC hours (same days and minutes): on every zone's clock the busiest
    hour then holds about as many events as the quietest, far under the 3x a working day shows, so
    local_hour_max_min_ratio fails."""
    _mutate(
        tiny_data,
        tmp_path / "flatday",
        "events",
        "SELECT * REPLACE (date_trunc('day', event_at_utc) "
        "+ to_hours((row_number() OVER (ORDER BY event_id) % 24)::BIGINT) "
        "+ (event_at_utc - date_trunc('hour', event_at_utc)) AS event_at_utc) FROM t",
    )
    n = _con(tiny_data).execute("SELECT count(*) FROM raw.events").fetchall()[0][0]
    assert n >= 24 * 10
    m = _metrics(tmp_path / "flatday")
    assert 1.0 <= m.loc["local_hour_max_min_ratio", "value"] < 1.5
    assert _passed(m, "local_hour_max_min_ratio") is False
    _others_pass(m, "local_hour_max_min_ratio")  # the days are unchanged, so the weekday metrics hold


def _weekday_neighbours(data_dir: Path) -> dict[dt.date, float]:
    """For each Mon-Fri day after the first 28 of the window: the mean active users of the other weekdays
    within a week either side (pandas, from the events: the definition the metric states)."""
    params = io.load_params(data_dir)
    events = _con(data_dir).execute("SELECT event_at_utc::DATE AS day, user_id FROM raw.events").df()
    users = events.groupby("day").user_id.nunique()
    first = params.window.start + dt.timedelta(days=28)
    days = [first + dt.timedelta(days=k) for k in range((params.window.end - first).days + 1)]
    weekdays = [d for d in days if d.isoweekday() <= 5]
    active = {d: int(users.get(pd.Timestamp(d), 0)) for d in weekdays}
    out = {}
    for d in weekdays:
        near = [active[o] for o in weekdays if o != d and abs((o - d).days) <= 7]
        out[d] = sum(near) / len(near)
    return out


def test_metrics_detect_an_empty_weekday_after_the_first_month(tiny_data, tmp_path):
    """A weekday with no event after the first 28 days fails where the weekdays around it average 10 or more
    active users; the same gap inside the first 28 days, or amid quiet weekdays (where an empty day can
    happen), is allowed."""
    params = io.load_params(tiny_data)
    assert not params.scenarios.holidays.enabled  # no holiday excuses an empty day
    neighbours = _weekday_neighbours(tiny_data)
    busy = max(neighbours, key=neighbours.get)
    quiet = min(neighbours, key=neighbours.get)
    assert neighbours[busy] >= 10 > neighbours[quiet], (neighbours[busy], neighbours[quiet])
    early = params.window.start + dt.timedelta(days=27)
    while early.isoweekday() > 5:
        early -= dt.timedelta(days=1)
    for name, day, expected in (("busy", busy, 1), ("quiet", quiet, 0), ("early", early, 0)):
        added, removed = _mutate(
            tiny_data, tmp_path / name, "events", f"SELECT * FROM t WHERE event_at_utc::DATE <> DATE '{day}'"
        )
        assert added == 0 and (removed > 0 or name == "quiet"), f"{day} had no event to remove"
        m = _metrics(tmp_path / name)
        assert m.loc["empty_weekdays_after_first_month", "value"] == expected, day
        assert _passed(m, "empty_weekdays_after_first_month") is (expected == 0)
        _others_pass(m, "empty_weekdays_after_first_month")

"""A product with a past (history.launch): the simulation starts at the launch, the extract holds what
exists in the window. The restated rules hold on such an extract and catch what they name; the answer
keys count the window's events only and flag left-censored cohorts; the metric SQL reproduces them; and a
launch on the window's first day is the same dataset as no history at all."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from helpers import blocks, io
from helpers import params as P
from helpers.generate import accounts
from helpers.plotting import behaviour
from helpers.plotting import metrics as plot_metrics
from helpers.quality import metrics
from helpers.schema import ANSWER_KEYS

from .conftest import ROOT, generate, params_variant, scalar
from .test_rules import EVENT, TASK, Mutation, _add, _assert_fired, _change, _con, _drop, _mutate, _rules

LAUNCH = dt.date(2023, 1, 1)
OLDER_TASK = f"{TASK} AND task_id IN (SELECT task_id FROM raw.tasks WHERE created_at < getvariable('window_start'))"


@pytest.fixture(scope="module")
def history_data(tmp_path_factory) -> Path:
    """params/tiny.yaml with the product launched two years before the window (40 signups since: enough older
    tasks still moving inside the window for every mutation below)."""
    base = tmp_path_factory.mktemp("history")
    return generate(params_variant(base, {"history.launch": LAUNCH, "accounts.count": 40}), base / "data")


# --------------------------------------------------------------------------- what the extract holds
def test_extract_begins_mid_story(history_data):
    """Accounts, users and tasks created before the window are in the tables with their true times; the
    events are the window's only; accounts that left before the window are not in the extract."""
    con = _con(history_data)
    params = io.load_params(history_data)
    before = "< getvariable('window_start')"
    assert scalar(con, f"SELECT count(*) FROM raw.accounts WHERE created_at {before}") > 0
    assert scalar(con, f"SELECT count(*) FROM raw.users WHERE activated_at {before}") > 0
    assert scalar(con, f"SELECT count(*) FROM raw.tasks WHERE created_at {before}") > 0
    assert scalar(con, "SELECT min(created_at) FROM raw.accounts") >= dt.datetime.combine(LAUNCH, dt.time())
    assert scalar(con, f"SELECT count(*) FROM raw.events WHERE event_at_utc {before}") == 0
    # older tasks still open at the window's start keep moving inside it
    moving = f"""SELECT count(DISTINCT e.task_id) FROM raw.events e JOIN raw.tasks t USING (task_id)
                 WHERE t.created_at {before} AND e.event_name = 'task_completed'"""
    assert scalar(con, moving) > 0
    # the accounts that churned before the window are left out: fewer than signed up since the launch
    n = scalar(con, "SELECT count(*) FROM raw.accounts")
    assert n < params.accounts.count
    assert blocks.load_plan(history_data).n_accounts == n


def test_every_rule_holds_on_a_history_extract(history_data):
    rules = _rules(history_data)
    assert rules.violations.notna().all() and rules.violations.sum() == 0, rules[rules.violations != 0]


# One bad row of an older entity: the restated rule reports it (and only the overlaps named).
HISTORY_MUTATIONS = [
    # an account that signed up before the product launched (its first plan period no longer starts at signup)
    Mutation(
        "accounts_in_window",
        "accounts",
        _change("account_id", "NOT is_internal", created_at="getvariable('launch_at') - INTERVAL 1 DAY"),
        also={"account_plans_start_at_signup": 1},
    ),
    # a task_created event for a task created before the window (a copy of one of its work notes, renamed)
    Mutation(
        "task_created_once_at_created_at",
        "events",
        _add(
            "event_id",
            f"event_name = 'work_note_added' AND {EVENT} AND task_id IN (SELECT task_id FROM raw.tasks "
            "WHERE created_at < getvariable('window_start'))",
            event_id="event_id + 500000000",
            event_name="'task_created'",
        ),
    ),
    # a task completed inside the window recorded as completed before it (its task_completed now has no place)
    Mutation(
        "task_completed_once_at_completed_at",
        "tasks",
        _change(
            "task_id",
            f"{OLDER_TASK} AND status = 'done' AND completed_at >= getvariable('window_start') "
            "AND first_started_at < getvariable('window_start') - INTERVAL 1 DAY",
            completed_at="getvariable('window_start') - INTERVAL 1 DAY",
        ),
    ),
    # a task started inside the window recorded as started before it (its start event now has no place)
    Mutation(
        "started_event_at_first_started_at",
        "tasks",
        _change(
            "task_id",
            f"{OLDER_TASK} AND first_started_at >= getvariable('window_start') "
            "AND created_at < getvariable('window_start') - INTERVAL 1 DAY",
            first_started_at="getvariable('window_start') - INTERVAL 1 DAY",
        ),
    ),
    # an older task whose last blocker event inside the window resolved its blocker loses that event: the data
    # now says the task is still blocked, and it is not
    Mutation(
        "blocked_status_matches_events",
        "events",
        _drop(
            "event_id",
            f"event_name = 'blocker_resolved' AND {EVENT} AND task_id IN (SELECT task_id FROM raw.tasks "
            "WHERE created_at < getvariable('window_start')) AND task_id IN (SELECT task_id FROM raw.events "
            "WHERE event_name = 'blocker_added') AND NOT EXISTS (SELECT 1 FROM raw.events n WHERE n.task_id = "
            "t.task_id AND n.event_name IN ('blocker_added', 'blocker_resolved') AND n.event_at_utc > t.event_at_utc)",
        ),
    ),
    # a project_created event for a project created before the window (a copy of a task event of it)
    Mutation(
        "project_created_once_at_created_at",
        "events",
        _add(
            "event_id",
            f"event_name = 'work_note_added' AND {EVENT} AND project_id IN (SELECT project_id FROM raw.projects "
            "WHERE created_at < getvariable('window_start'))",
            event_id="event_id + 500000000",
            event_name="'project_created'",
            task_id="NULL",
        ),
    ),
]


@pytest.mark.parametrize("m", HISTORY_MUTATIONS, ids=[m.rule for m in HISTORY_MUTATIONS])
def test_restated_rule_catches_an_older_entity(history_data, tmp_path, m):
    changed = _mutate(history_data, tmp_path / "broken", m.table, m.sql)
    assert changed in {(1, 1), (1, 0), (0, 1)}, f"the mutation must touch exactly one row of {m.table}: {changed}"
    _assert_fired(_rules(tmp_path / "broken"), {m.rule: 1, **(m.also or {})})


# --------------------------------------------------------------------------- answer keys
def test_keys_flag_left_censored_cohorts_and_the_sql_reproduces_them(history_data):
    """Cohorts with members from before the window are listed from the window's first week on, flagged; the
    others start at week 0 unflagged; the metric SQL equals every key, flags included."""
    keys = metrics.answer_keys(history_data)
    first_week = dt.date(2024, 12, 30)  # the Monday of the week holding 2025-01-01
    for name in ("user_retention", "account_retention"):
        k = keys[name]
        old = k[k.cohort_week < first_week]
        assert len(old) and old.left_censored.all(), name
        listed_from = [c + dt.timedelta(weeks=int(k)) for c, k in zip(old.cohort_week, old.week_number, strict=True)]
        assert (old.assign(listed_from=listed_from).groupby("cohort_week").listed_from.min() == first_week).all()
        assert not k[k.cohort_week > first_week].left_censored.any(), name
        assert (k[k.cohort_week > first_week].groupby("cohort_week").week_number.min() == 0).all(), name
    con = _con(history_data)
    computed = metrics.compute(con)
    for name in ANSWER_KEYS:
        c = metrics.compare(name, computed[name], keys[name])
        value_cols = [f"{v}_diff" for v in metrics.VALUES[name]]
        assert (c[value_cols] == 0).all().all() and (c.row == "both").all() and not c.flags_differ.any(), name


def test_a_changed_flag_is_caught(history_data):
    """The reconciliation fails when the SQL gets a cohort's left_censored flag wrong."""
    keys = metrics.answer_keys(history_data)
    computed = metrics.compute(_con(history_data))
    wrong = computed["user_retention"].copy()
    wrong.loc[wrong.left_censored, "left_censored"] = False
    assert metrics.compare("user_retention", wrong, keys["user_retention"]).flags_differ.sum() > 0


def test_charts_read_only_what_begins_inside_the_window(history_data):
    """The funnel counts the window's invitees; the retention curves leave left-censored cohorts out (their
    first weeks are not in the extract)."""
    con = _con(history_data)
    invited = scalar(
        con,
        """SELECT count(*) FROM raw.users u JOIN raw.accounts a USING (account_id)
           WHERE NOT a.is_internal AND u.created_at >= getvariable('window_start')""",
    )
    assert 0 < invited < scalar(con, "SELECT count(*) FROM raw.users WHERE NOT is_internal")
    assert behaviour.funnel_counts(con)["invited"] == invited
    key = metrics.answer_keys(history_data)["user_retention"]
    assert key.left_censored.any()
    assert not plot_metrics.complete_weeks(key, io.load_params(history_data).window.end).left_censored.any()


# --------------------------------------------------------------------------- parameters
def test_launch_on_the_first_day_is_no_history(tmp_path):
    """history.launch = the window's first day gives the same tables as null (the span is the window)."""
    none = generate(params_variant(tmp_path, {"history.launch": None}), tmp_path / "a" / "data")
    first = generate(params_variant(tmp_path, {"history.launch": dt.date(2025, 1, 1)}), tmp_path / "b" / "data")
    assert blocks.content_hashes(none) == blocks.content_hashes(first)


@pytest.mark.parametrize(
    "launch, says",
    [
        (dt.date(2025, 1, 2), "history.launch = 2025-01-02 must not be after the first day of the window"),
        (dt.date(2012, 1, 1), "history.launch = 2012-01-01 is too early"),
    ],
)
def test_launch_outside_what_is_allowed_is_one_clear_error(launch, says):
    with pytest.raises(P.ParamsError) as e:
        P.load([ROOT / "params/tiny.yaml"], [f"history.launch={launch}"])
    assert says in str(e.value)


def test_an_extract_nobody_is_left_in_is_one_clear_error():
    """Every signup left long before the window: a clear error naming the keys to change, not an empty dataset."""
    from .conftest import apply_changes, preset

    churn_fast = {f"accounts.monthly_churn.{tier}": 1.0 for tier in ("free", "team", "business", "enterprise")}
    changes = {
        "history.launch": dt.date(2016, 1, 1),
        "accounts.count": 2,
        "accounts.signup.launch_share": 1.0,  # both sign up in the launch's first weeks...
        "imperfections.internal.account_share": 0.0,  # (internal workspaces never leave)
        **churn_fast,  # ...and leave within months, nine years before the window
    }
    params = P.validate(apply_changes(preset("tiny"), changes))
    with pytest.raises(accounts.EmptyExtract) as e:
        accounts.plan_accounts(params)
    assert str(e.value).startswith("history.launch = 2016-01-01: every one of the 2 accounts")
    assert "raise accounts.count, lower accounts.monthly_churn, or move history.launch" in str(e.value)

"""Unit and property tests of the simulation helpers: streams, counts, sessions, snapping, ids."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import io, streams
from helpers import params as P
from helpers.generate import accounts, block
from helpers.generate.accounts import EmptyExtract
from helpers.generate.sessions import DayPlan, Sessions, SessionShape, build_sessions, utc_offsets
from helpers.quality import checks
from helpers.streams import stream
from helpers.units import DAY, HOUR

from .conftest import ROOT, dataset, generate, params_variant, preset

# ------------------------------------------------------------------ streams


def test_stream_is_keyed_not_ordered():
    a1 = stream(22, "users", 7).random(5)
    stream(22, "users", 8).random(100)  # drawing another block in between changes nothing
    a2 = stream(22, "users", 7).random(5)
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, stream(22, "users", 8).random(5))
    assert not np.array_equal(a1, stream(22, "events", 7).random(5))
    assert not np.array_equal(a1, stream(23, "users", 7).random(5))


# ------------------------------------------------------------------ small numeric helpers


@given(lo=st.integers(0, 50), span=st.integers(0, 500))
def test_log_scale_count_stays_in_range_and_reaches_both_ends(lo, span):
    hi = lo + span
    u = np.r_[0.0, np.linspace(0, 1, 101), 1.0]
    c = streams.log_scale_count(lo, hi, u)
    assert c.min() == lo and c.max() == hi
    assert np.all(np.diff(c) >= 0)


@given(mean_days=st.floats(0.1, 100), limit_days=st.floats(0.001, 400), seed=st.integers(0, 2**32))
def test_truncated_exponential_is_below_its_limit(mean_days, limit_days, seed):
    limit = np.full(200, int(limit_days * DAY), dtype=np.int64)
    lag = streams.truncated_exponential(np.random.default_rng(seed), mean_days * DAY, limit)
    assert np.all(lag >= 0) and np.all(lag < np.maximum(limit, 1))


# ------------------------------------------------------------------ sessions


def _sessions(seed: int, n_users: int = 6, days: int = 60) -> tuple[Sessions, dict]:
    rng = np.random.default_rng(seed)
    start = dt.date(2025, 3, 1)
    w0 = int((np.datetime64(start) - np.datetime64("1970-01-01")).astype("timedelta64[us]").astype(np.int64))
    w1 = w0 + days * DAY
    activated = w0 + rng.integers(0, days * DAY // 2, n_users)
    churn = np.where(
        rng.random(n_users) < 0.5, activated + rng.integers(HOUR, 40 * DAY, n_users), np.iinfo(np.int64).max
    )
    tz = rng.integers(0, len(utc_offsets(start, days)), n_users)
    ses = build_sessions(
        rng=rng,
        start_date=start,
        days=days,
        w0=w0,
        w1=w1,
        tz=tz,
        activated_at=activated,
        churn_at=churn,
        start_hour=rng.uniform(6, 11, n_users),
        plan=DayPlan(
            prob=np.repeat(rng.uniform(0.1, 0.9, n_users)[:, None], days + 2, axis=1),
            intensity=np.ones((n_users, days + 2)),
            extra_sessions=rng.uniform(0.0, 4.0, n_users),
        ),
        shape=SessionShape(
            hour_weights=rng.uniform(0.0, 1.0, 24),
            minutes_median=15.0,
            minutes_sigma=0.8,
            desktop_app_share=0.3,
            mobile_user_share=0.4,
            mobile_session_share=0.2,
            ios_share=0.6,
        ),
    )
    return ses, dict(w0=w0, w1=w1, activated=activated, churn=churn)


@given(seed=st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_sessions_respect_activation_churn_window_and_never_overlap(seed):
    ses, ctx = _sessions(seed)
    u = ses.user
    assert np.all(ses.end > ses.start)
    assert np.all(ses.start >= ctx["activated"][u]) and np.all(ses.start >= ctx["w0"])
    assert np.all(ses.end <= np.minimum(ctx["churn"][u], ctx["w1"]))
    same = u[1:] == u[:-1]
    assert np.all(ses.start[1:][same] >= ses.end[:-1][same])  # sorted, no overlap
    # every user's first session opens at activation
    first = np.r_[True, ~same]
    assert np.array_equal(ses.start[first], ctx["activated"][u[first]])


@given(
    seed=st.integers(0, 2**32), probe=st.lists(st.tuples(st.integers(0, 5), st.floats(0, 1)), min_size=1, max_size=30)
)
@settings(max_examples=60, deadline=None)
def test_snap_returns_the_actors_first_session_moment_at_or_after_t(seed, probe):
    ses, ctx = _sessions(seed)
    actor = np.array([a for a, _ in probe])
    t = ctx["w0"] + (np.array([f for _, f in probe]) * (ctx["w1"] - ctx["w0"])).astype(np.int64)
    out = ses.snap(actor, t, np.random.default_rng(seed))
    for a, ti, o in zip(actor, t, out, strict=True):
        mine = ses.user == a
        later = mine & (ses.end > ti)
        if not later.any():
            assert o == -1
            continue
        first = np.nonzero(later)[0][0]
        assert o >= ti
        assert ses.start[first] <= o < ses.end[first]


def test_other_user_near_never_returns_the_excluded_user():
    ses, _ = _sessions(5, n_users=4)
    after = ses.start_sorted[:50]
    excluded = ses.user_sorted[:50]
    other = ses.other_user_near(after, excluded, 7 * DAY, np.random.default_rng(1))
    assert np.all((other == -1) | (other != excluded))
    assert (other >= 0).any()


# ------------------------------------------------------------------ accounts, ids, independence


def test_account_simulation_does_not_depend_on_call_order():
    p = P.load(ROOT / "params/tiny.yaml")
    plan = accounts.plan_accounts(p)
    alone = block.simulate_account(p, plan, 5)
    for a in (0, 3, 9):
        block.simulate_account(p, plan, a)
    again = block.simulate_account(p, plan, 5)
    for field in ("users", "projects", "tasks", "timeline", "sessions"):
        a, b = getattr(alone, field), getattr(again, field)
        for k in a:
            assert np.array_equal(a[k], b[k]), (field, k)


def test_ids_are_dense_for_users_and_projects_and_account_scoped_for_tasks(tiny_data):
    users = io.read_table(tiny_data, "users", ["user_id"]).column(0).to_numpy()
    projects = io.read_table(tiny_data, "projects", ["project_id"]).column(0).to_numpy()
    tasks = io.to_numpy_columns(io.read_table(tiny_data, "tasks", ["task_id", "account_id"]))
    assert np.array_equal(np.sort(users), np.arange(1, len(users) + 1))
    assert np.array_equal(np.sort(projects), np.arange(1, len(projects) + 1))
    assert np.all(tasks["task_id"] // 10_000_000 == tasks["account_id"])  # the documented id contract
    events = io.to_numpy_columns(io.read_table(tiny_data, "events", ["event_id", "account_id"]))
    assert np.all(events["event_id"] // 1_000_000_000 == events["account_id"])


def test_part_size_changes_layout_not_content(tmp_path, tiny_data):
    """All accounts in one part instead of several: other files, the same content."""
    other = generate(params_variant(tmp_path, {"output.accounts_per_part": 100}), tmp_path / "data")
    assert len(io.parts(io.table_dir(other, "events"))) == 1
    assert len(io.parts(io.table_dir(tiny_data, "events"))) > 1
    assert io.content_hashes(other) == io.content_hashes(tiny_data)


def test_different_seed_gives_different_data(tmp_path, tiny_data):
    """Another seed changes every simulated table."""
    other = generate(params_variant(tmp_path, seed=23), tmp_path / "data")
    a, b = io.content_hashes(other), io.content_hashes(tiny_data)
    assert all(a[t] != b[t] for t in ("users", "tasks", "events"))


def test_event_only_parameter_leaves_entity_tables_unchanged(tmp_path, tiny_data):
    """A parameter of the events only (dashboard views) leaves the entity tables as they were."""
    other = generate(params_variant(tmp_path, {"activity.dashboard_views_per_session": 2.5}), tmp_path / "data")
    a, b = io.content_hashes(other), io.content_hashes(tiny_data)
    assert all(a[t] == b[t] for t in ("accounts", "account_plans", "users", "projects", "tasks"))
    assert a["events"] != b["events"]


def test_timestamps_are_naive_microseconds_and_ids_bigint(tiny_data):
    import pyarrow as pa

    for name in ("accounts", "users", "projects", "tasks", "events"):
        schema = io.read_table(tiny_data, name).schema
        for field in schema:
            if field.name.endswith(("_at", "_at_utc")):
                assert field.type == pa.timestamp("us"), (name, field)
            if field.name.endswith("_id"):
                assert field.type == pa.int64(), (name, field)


def test_events_parts_sorted_by_time(tiny_data):
    for f in io.parts(io.table_dir(tiny_data, "events")):
        t = io.read_parts_file(f, ["event_at_utc"]).column(0).cast("int64").to_numpy()
        assert np.all(np.diff(t) >= 0)


def test_normal_latency_is_seconds_to_minutes(tiny_data):
    # the events as generated, before late arrivals are planted (03 keeps them in state/clean)
    from helpers.io import clean_dir

    ev = io.to_numpy_columns(io.read_parts(clean_dir(tiny_data, "events"), ["event_at_utc", "ingested_at_utc"]))
    lat = (ev["ingested_at_utc"] - ev["event_at_utc"]) / 1e6
    assert lat.min() >= 0 and lat.max() < 3600  # always below the late-arrival threshold (1 hour)
    assert 1 <= np.median(lat) <= 60  # seconds, typically


def test_no_activity_for_never_activated_users(tiny_data):
    users = io.to_numpy_columns(io.read_table(tiny_data, "users", ["user_id", "activated_at"]))
    never = users["user_id"][users["activated_at"] < 0]
    assert len(never) > 0
    ev = io.read_table(tiny_data, "events", ["user_id"]).column(0).to_numpy()
    tasks = io.to_numpy_columns(io.read_table(tiny_data, "tasks", ["created_by_user_id", "assignee_user_id"]))
    assert not np.isin(never, ev).any()
    assert not np.isin(never, tasks["created_by_user_id"]).any()
    assert not np.isin(never, tasks["assignee_user_id"]).any()


def test_emails_use_reserved_domains_only(tiny_data):
    emails = io.read_table(tiny_data, "users", ["email"]).column(0).to_pylist()
    domains = {e.split("@")[1] for e in emails}
    assert all(d.endswith((".example.com", ".example.org", ".example.net", ".test")) for d in domains)


# ------------------------------------------------------------------ property test over random small params


@st.composite
def small_params(draw):
    base = preset("tiny")
    base["seed"] = draw(st.integers(0, 10_000))
    days = draw(st.integers(1, 120))
    start = dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 700)))
    base["window"] = {"start": start, "end": start + dt.timedelta(days=days - 1)}
    base["accounts"]["count"] = draw(st.integers(1, 6))
    umin = draw(st.integers(1, 4))
    base["users_per_account"] = {"min": umin, "max": umin + draw(st.integers(0, 8))}
    pmin = draw(st.integers(0, 2))
    base["projects_per_account"] = {"min": pmin, "max": pmin + draw(st.integers(0, 3))}
    tmin = draw(st.integers(0, 5))
    base["tasks_per_project"] = {"min": tmin, "max": tmin + draw(st.integers(0, 60))}
    for key in ("never_activated_share", "workday_active_prob"):
        base["users"][key] = draw(st.floats(0, 1))
    base["users"]["churn"]["late_monthly_rate"] = draw(st.sampled_from([0.0, 0.04, 1.0]))
    base["users"]["churn"]["early_mean_days"] = draw(st.floats(0.01, 400))
    base["users"]["engagement_sigma"] = draw(st.floats(0, 3))
    base["users"]["activation_lag_hours"] = {"median": draw(st.floats(0.01, 1e6)), "sigma": draw(st.floats(0, 3))}
    for key in ("time_to_start_hours", "cycle_time_days", "blocker_duration_hours", "due_in_days"):
        base["tasks"][key] = {"median": draw(st.floats(0.001, 1e6)), "sigma": draw(st.floats(0, 3))}
    base["tasks"]["created_per_session"] = draw(st.floats(0, 5))
    base["activity"]["weekend_factor"] = draw(st.floats(0, 1))
    for tier in ("free", "team", "business", "enterprise"):
        base["accounts"]["monthly_churn"][tier] = draw(st.sampled_from([0.0, 0.05, 1.0]))
    base["ingestion"] = {
        "latency_seconds": {"median": draw(st.floats(0.001, 1e6)), "sigma": draw(st.floats(0, 3))},
        "max_latency_seconds": draw(st.floats(0.001, 3599.0)),
    }
    for key in (
        "assigned_share",
        "never_started_share",
        "cancelled_share",
        "blocker_prob",
        "second_blocker_prob",
        "handoff_prob",
        "due_date_share",
    ):
        base["tasks"][key] = draw(st.floats(0, 1))
    base["users"]["churn"]["early_share"] = draw(st.floats(0, 1))
    base["output"]["accounts_per_part"] = draw(st.integers(1, 4))
    # a product with a past: launched up to ~2.5 years before the window; teams that change
    if draw(st.booleans()):
        base["history"] = {"launch": start - dt.timedelta(days=draw(st.integers(0, 900)))}
    base["users"]["newcomers"] = {"per_member_year": draw(st.sampled_from([0.0, 0.6, 5.0])), "after_days": 60.0}
    base["users"]["deactivation"]["share"] = draw(st.sampled_from([0.0, 0.8, 1.0]))
    if days <= 2 * base["imperfections"]["outliers"]["long_cycle_threshold_days"]:
        base["imperfections"]["outliers"]["long_cycle_share"] = 0.0  # long cycles need twice their threshold
    return P.validate(base)


@pytest.mark.slow
@given(params=small_params())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_rule_holds_for_random_small_params(tmp_path_factory, params):
    """25 random small parameter sets (one-day windows, no projects or tasks, extreme rates, a history or
    none, teams that change): every rule holds and the counts asked for are the counts made."""
    data_dir = tmp_path_factory.mktemp("prop") / "data"
    path = data_dir.parent / "p.yaml"
    path.write_text(yaml.safe_dump(params.model_dump()))
    try:
        generate(path, data_dir)
    except EmptyExtract as e:  # every signup left before the window: one clear error, nothing to check
        assert params.span != params.window and "so the extract would be empty" in str(e)
        return
    con = dataset(data_dir)
    rules = checks.run_rules(con)
    assert rules.violations.sum() == 0, rules[rules.violations > 0]
    # the counts asked for are the counts made
    counts = con.execute("""
        SELECT (SELECT count(*) FROM raw.accounts),
               (SELECT min(n) FROM (SELECT count(*) AS n FROM raw.users GROUP BY account_id)),
               (SELECT max(n) FROM (SELECT count(*) AS n FROM raw.users GROUP BY account_id)),
               (SELECT count(*) FROM raw.projects),
               (SELECT coalesce(min(n), 0) FROM (SELECT count(t.task_id) AS n FROM raw.projects p
                    LEFT JOIN raw.tasks t USING (project_id) GROUP BY p.project_id)),
               (SELECT coalesce(max(n), 0) FROM (SELECT count(t.task_id) AS n FROM raw.projects p
                    LEFT JOIN raw.tasks t USING (project_id) GROUP BY p.project_id))
    """).fetchall()[0]
    if params.span == params.window:
        assert counts[0] == params.accounts.count
    else:  # the accounts that left before the window are not in the extract
        assert counts[0] <= params.accounts.count
    if counts[0]:
        assert params.users_per_account.min <= counts[1] <= counts[2] <= params.users_per_account.max
    if counts[3]:
        assert params.tasks_per_project.min <= counts[4] <= counts[5] <= params.tasks_per_project.max

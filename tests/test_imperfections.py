"""Imperfections: planted and applied at their target rates, listed in the ledger, breaking no rule.

The expected rates come from the parameters file and the tolerances from binomial statistics computed
here; what the data hold is counted by plain SQL over the tables (and the untouched copies in
state/clean/), never taken from helpers.quality.rates, which is checked against the same numbers."""

from __future__ import annotations

import datetime as dt
import math
import shutil

import numpy as np
import pytest

from helpers import duck, io, pipeline
from helpers import params as P
from helpers.imperfections import inject
from helpers.publish.report import REASONS
from helpers.quality import checks, guardrails, rates
from helpers.schema import TABLES

from .conftest import dataset, generate, incident_window, params_variant, scalar

# params.imperfections.missing.<key> -> the column it blanks
MISSING = {
    "tasks_assignee_user_id": ("tasks", "assignee_user_id"),
    "tasks_due_at": ("tasks", "due_at"),
    "users_timezone": ("users", "timezone"),
    "accounts_industry": ("accounts", "industry"),
    "accounts_country_code": ("accounts", "country_code"),
}
SYNCHRONOUS = ["login_succeeded"]  # written by the auth server as they happen: never late


def binomial_tolerance(rate: float, n: int) -> float:
    """Three standard deviations of a share of n independent draws at `rate`, at least 0.002."""
    return max(0.002, 3 * math.sqrt(rate * (1 - rate) / n))


def observed(data_dir) -> dict[tuple[str, str], dict]:
    """Each imperfection counted by plain SQL (count, denominator) with the rate the parameters ask for
    (`expected`), where a target the data cannot reach is replaced by what they can: a missing share
    below the column's natural nulls (counted in the clean copy) stays at them; far-future due dates
    are never blanked; late arrivals cannot exceed the share of events that may be late, and the
    incident's events are late whatever the share."""
    params = io.load_params(data_dir)
    imp = params.imperfections
    con = dataset(data_dir)
    out = {}
    assert set(type(imp.missing).model_fields) == set(MISSING), "a blankable column this test does not know"
    for key, (table, column) in MISSING.items():
        con.register(f"clean_{table}", io.read_parts(io.clean_dir(data_dir, table)))
        far = int(imp.outliers.far_due_threshold_days * 86400)
        protected = f"due_at > created_at + INTERVAL ({far}) SECOND" if column == "due_at" else "false"
        rows, natural, kept = con.execute(
            f"SELECT count(*), count(*) - count({column}), count(*) FILTER (WHERE {protected}) FROM clean_{table}"
        ).fetchall()[0]
        nulls, n = con.execute(f"SELECT count(*) - count({column}), count(*) FROM raw.{table}").fetchall()[0]
        assert n == rows, (table, "rows added or lost by blanking")
        target = getattr(imp.missing, key)
        expected = min(max(target, natural / rows), 1 - kept / rows)
        # each value that may be blanked is blanked with one chance p: the binomial spread of those draws
        blankable = rows - natural - kept
        p = min(max((target * rows - natural) / blankable, 0.0), 1.0) if blankable else 0.0
        tolerance = max(0.002, 3 * math.sqrt(blankable * p * (1 - p)) / rows)
        out["missing", column] = dict(count=nulls, denominator=n, expected=expected, tolerance=tolerance)

    long_s = int(imp.outliers.long_cycle_threshold_days * 86400)
    far_s = int(imp.outliers.far_due_threshold_days * 86400)
    count, n = con.execute(
        f"SELECT count(*) FILTER (WHERE completed_at - first_started_at > INTERVAL ({long_s}) SECOND), count(*) "
        "FROM raw.tasks WHERE status = 'done'"
    ).fetchall()[0]
    out["outlier", "completed_at"] = dict(count=count, denominator=n, expected=imp.outliers.long_cycle_share)
    count, n = con.execute(
        f"SELECT count(*) FILTER (WHERE due_at > created_at + INTERVAL ({far_s}) SECOND), count(*) FROM raw.tasks"
    ).fetchall()[0]
    out["outlier", "due_at"] = dict(count=count, denominator=n, expected=imp.outliers.far_due_share)

    window = incident_window(params)
    start, end = window[:2] if window else (dt.datetime(1, 1, 1), dt.datetime(1, 1, 1))
    late, events, eligible, held = con.execute(
        """WITH first AS (SELECT event_id, any_value(event_name::VARCHAR) AS event_name,
                                 any_value(event_at_utc) AS event_at_utc, min(ingested_at_utc) AS ingested_at_utc
                          FROM (SELECT * FROM raw.events UNION ALL SELECT * FROM truth.not_yet_arrived)
                          GROUP BY event_id)  -- every delivery, published or left out by an as_of cut
           SELECT count(*) FILTER (WHERE ingested_at_utc - event_at_utc > INTERVAL (?) SECOND), count(*),
                  count(*) FILTER (WHERE NOT list_contains(?, event_name)),
                  count(*) FILTER (WHERE event_at_utc >= ? AND event_at_utc < ?)
           FROM first""",
        [imp.late_arrival.threshold_seconds, SYNCHRONOUS, start, end],
    ).fetchall()[0]
    expected = max(min(imp.late_arrival.share, eligible / events), held / events)
    out["late_arrival", "ingested_at_utc"] = dict(count=late, denominator=events, expected=expected)

    rows, distinct = con.execute(
        "SELECT count(*), count(DISTINCT event_id) FROM (SELECT event_id FROM raw.events "
        "UNION ALL SELECT event_id FROM truth.not_yet_arrived)"  # every delivery, as for late arrivals
    ).fetchall()[0]
    out["duplicate", "event_id"] = dict(count=rows - distinct, denominator=distinct, expected=imp.duplicates.share)

    n_accounts = scalar(con, "SELECT count(*) FROM raw.accounts")
    # exact: a fixed number of the extract's accounts (with a history, fewer than the signups since the launch)
    internal = round(imp.internal.account_share * n_accounts)
    out["internal", "is_internal"] = dict(
        count=scalar(con, "SELECT count(*) FROM raw.accounts WHERE is_internal"),
        denominator=n_accounts,
        expected=internal / n_accounts,
    )
    # unflagged test workspaces: only the ledger names them; they can only be made of accounts of one or two
    # users that are not internal
    sandboxes = round(imp.test_workspaces.account_share * n_accounts)
    small = scalar(
        con,
        """SELECT count(*) FROM raw.accounts a WHERE NOT a.is_internal
           AND (SELECT count(*) FROM raw.users u WHERE u.account_id = a.account_id) <= 2""",
    )
    out["test_workspace", "is_internal"] = dict(
        count=scalar(
            con,
            """SELECT count(*) FROM raw.accounts WHERE NOT is_internal AND account_id IN
               (SELECT row_key FROM imperfections.ledger WHERE kind = 'test_workspace' AND table_name = 'accounts')""",
        ),
        denominator=n_accounts,
        expected=min(sandboxes, small) / n_accounts,
    )
    return out


def assert_within_binomial_tolerance(obs: dict, skip=()) -> None:
    """Every rate within 3 binomial standard deviations of its expected rate: of the blanking draws for a
    missing share, of the whole denominator otherwise."""
    for key, o in obs.items():
        if key in skip:
            continue
        rate = o["count"] / o["denominator"]
        tol = o.get("tolerance") or binomial_tolerance(o["expected"], o["denominator"])
        assert abs(rate - o["expected"]) <= tol, (key, rate, o["expected"], tol, o)


def assert_rates_module_agrees(data_dir, obs: dict) -> None:
    """helpers.quality.rates (what 03, 04 and the manifest show) reports the counts counted here, and
    judges each rate within its tolerance."""
    params = io.load_params(data_dir)
    for r in rates.measure(dataset(data_dir), params):
        o = obs[r.kind, r.column]
        assert (r.count, r.denominator) == (o["count"], o["denominator"]), (r.label, r.as_dict(), o)
        assert r.within_tolerance is not False, r.as_dict()


# --------------------------------------------------------------------------- rates at their targets
def test_every_rate_is_within_tolerance_of_its_target(tiny_data):
    """Tiny: each rate is within 3 binomial standard deviations (at least 0.2 points) of the rate its
    parameter asks for; internal accounts are exactly round(share x count)."""
    obs = observed(tiny_data)
    assert_within_binomial_tolerance(obs)
    internal = obs["internal", "is_internal"]
    assert internal["count"] == round(internal["expected"] * internal["denominator"]) > 0
    sandboxes = obs["test_workspace", "is_internal"]
    assert sandboxes["count"] == round(sandboxes["expected"] * sandboxes["denominator"]) > 0
    assert_rates_module_agrees(tiny_data, obs)


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_default_rates_are_close_to_target(default_data):
    """Default (scenarios on, ~1.4M events): every rate within binomial tolerance, the ones with large
    denominators within 0.2 points."""
    obs = observed(default_data)
    assert_within_binomial_tolerance(obs)
    for key, o in obs.items():
        if key[0] != "missing" or key[1] in ("assignee_user_id", "due_at"):  # big denominators: tight
            assert abs(o["count"] / o["denominator"] - o["expected"]) <= 0.002, (key, o)
    internal = obs["internal", "is_internal"]
    assert internal["count"] == round(internal["expected"] * internal["denominator"]) > 0
    sandboxes = obs["test_workspace", "is_internal"]
    assert sandboxes["count"] == round(sandboxes["expected"] * sandboxes["denominator"]) > 0
    assert_rates_module_agrees(default_data, obs)


def test_rates_at_zero(tmp_path):
    """Shares set to 0: nothing is planted, blanked beyond the natural nulls or delayed, and every rule holds."""
    path = params_variant(
        tmp_path,
        {
            "imperfections.late_arrival.share": 0.0,
            "imperfections.internal.account_share": 0.0,
            "imperfections.test_workspaces.account_share": 0.0,
            "imperfections.outliers.long_cycle_share": 0.0,
            "imperfections.outliers.far_due_share": 0.0,
            "imperfections.missing.users_timezone": 0.0,
            "imperfections.missing.accounts_industry": 0.0,
        },
    )
    d = generate(path, tmp_path / "zero")
    obs = observed(d)
    # natural long cycles may remain: they are not imperfections (the ledger below lists none)
    assert_within_binomial_tolerance(obs, skip=[("outlier", "completed_at")])
    assert obs["late_arrival", "ingested_at_utc"]["count"] == 0
    assert obs["internal", "is_internal"]["count"] == 0
    assert obs["test_workspace", "is_internal"]["count"] == 0
    assert obs["outlier", "due_at"]["count"] == 0
    assert obs["missing", "timezone"]["count"] == 0 and obs["missing", "industry"]["count"] == 0
    con = dataset(d)
    assert scalar(con, "SELECT count(*) FROM imperfections.ledger WHERE kind <> 'missing'") == 0
    assert checks.failures(checks.run_rules(con)) == []
    assert_rates_module_agrees(d, obs)


def test_rates_at_one(tmp_path):
    """Shares set to 1: every blankable value blanked, every account internal, every event late except
    the logins, which are never late (so a late share of 1 is not reachable); every rule holds."""
    path = params_variant(
        tmp_path,
        {
            "imperfections.late_arrival.share": 1.0,
            "imperfections.internal.account_share": 1.0,
            "imperfections.missing.users_timezone": 1.0,
            "imperfections.missing.accounts_industry": 1.0,
            "imperfections.missing.tasks_assignee_user_id": 1.0,
        },
    )
    d = generate(path, tmp_path / "one")
    obs = observed(d)
    assert_within_binomial_tolerance(obs)
    for column in ("timezone", "industry", "assignee_user_id"):
        assert obs["missing", column]["count"] == obs["missing", column]["denominator"] > 0, column
    assert obs["internal", "is_internal"]["count"] == obs["internal", "is_internal"]["denominator"] > 0
    con = dataset(d)
    # every event but logins (written synchronously by the auth server) arrives late; the logins are on time
    late = "ingested_at_utc - event_at_utc > INTERVAL 1 HOUR"
    not_late = scalar(con, f"SELECT count(*) FROM raw.events WHERE NOT ({late}) AND event_name <> 'login_succeeded'")
    assert not_late == 0
    logins, late_logins = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {late}) FROM raw.events WHERE event_name = 'login_succeeded'"
    ).fetchall()[0]
    assert logins > 0 and late_logins == 0
    assert checks.failures(checks.run_rules(con)) == []
    assert_rates_module_agrees(d, obs)


# --------------------------------------------------------------------------- the ledger
def test_ledger_agrees_with_the_tables(tiny_data):
    """Exact counts: the ledger lists every late first delivery, every internal account and user, and for
    each blanked column exactly the rows that had a value in the clean copy and have none now (so ledger
    rows + natural nulls = nulls in the table); a blanked value's original is kept."""
    params = io.load_params(tiny_data)
    con = dataset(tiny_data)
    ledger = dict(
        con.execute(
            "SELECT kind || ':' || coalesce(column_name, ''), count(*) FROM imperfections.ledger GROUP BY 1"
        ).fetchall()
    )
    obs = observed(tiny_data)
    assert ledger["late_arrival:ingested_at_utc"] == obs["late_arrival", "ingested_at_utc"]["count"] > 0
    internal_accounts = round(params.imperfections.internal.account_share * params.accounts.count)
    assert scalar(con, "SELECT count(*) FROM raw.accounts WHERE is_internal") == internal_accounts
    internal_users = scalar(con, "SELECT count(*) FROM raw.users WHERE is_internal")
    assert internal_users == scalar(
        con, "SELECT count(*) FROM raw.users JOIN raw.accounts a USING (account_id) WHERE a.is_internal"
    )
    assert ledger["internal:is_internal"] == internal_accounts + internal_users
    for table, column in MISSING.values():
        key = TABLES[table].primary_key
        con.register(f"clean_{table}", io.read_parts(io.clean_dir(tiny_data, table)))
        natural = scalar(con, f"SELECT count(*) - count({column}) FROM clean_{table}")
        final = scalar(con, f"SELECT count(*) - count({column}) FROM raw.{table}")
        listed = ledger.get(f"missing:{column}", 0)
        assert listed + natural == final, (table, column, listed, natural, final)
        blanked = f"""SELECT c.{key} FROM clean_{table} c JOIN raw.{table} f USING ({key})
                      WHERE c.{column} IS NOT NULL AND f.{column} IS NULL"""
        in_ledger = f"""SELECT row_key FROM imperfections.ledger
                        WHERE kind = 'missing' AND table_name = '{table}' AND column_name = '{column}'"""
        assert scalar(con, f"SELECT count(*) FROM (({blanked}) EXCEPT ({in_ledger}))") == 0, column
        assert scalar(con, f"SELECT count(*) FROM (({in_ledger}) EXCEPT ({blanked}))") == 0, column
    # blanked values: the clean copy had a value, the table now has none; the ledger keeps the original
    wrong = scalar(
        con,
        """SELECT count(*) FROM imperfections.ledger l JOIN clean_tasks c ON c.task_id = l.row_key
           WHERE l.kind = 'missing' AND l.column_name = 'due_at' AND c.due_at <> l.original_value::TIMESTAMP""",
    )
    assert wrong == 0
    malformed = scalar(
        con,
        """SELECT count(*) FROM imperfections.ledger
           WHERE column_name IN ('due_at', 'completed_at', 'ingested_at_utc')
             AND ((original_value IS NOT NULL AND TRY_CAST(original_value AS TIMESTAMP) IS NULL)
               OR (new_value IS NOT NULL AND TRY_CAST(new_value AS TIMESTAMP) IS NULL))""",
    )
    assert malformed == 0


# --------------------------------------------------------------------------- on default
@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_late_delays_follow_the_profile(default_data):
    """Late arrivals: all beyond the hour, most of them hours late (web retries, the incident, a desktop app
    asleep until the next session), the rest days (offline phones, a laptop left shut over the weekend)."""
    con = dataset(default_data)
    hours = np.array(
        [
            r[0]
            for r in con.execute("""SELECT date_diff('second', event_at_utc, ingested_at_utc) / 3600
        FROM raw.events WHERE ingested_at_utc - event_at_utc > INTERVAL 1 HOUR""").fetchall()
        ]
    )
    assert hours.min() > 1.0
    assert 0.55 <= np.mean(hours < 24) <= 0.9  # most are hours late; the rest days (offline phones)
    assert np.quantile(hours, 0.99) > 48


# Events that upload what the user wrote (retried most by a web client on a flaky network) and an analytics
# beacon (fire-and-forget: dropped rather than retried), as product engineers know them.
CONTENT = ["task_created", "work_note_added", "blocker_added", "project_created"]
BEACON = ["dashboard_viewed"]


def _late_events(con, params, where: str = "true") -> str:
    """Events (first deliveries) outside the ingestion incident, with `late`, `hours` late and their user's
    local time (`local`, null without a time zone), as a SQL subquery."""
    window = incident_window(params)
    start, end = window[:2] if window else (dt.datetime(1, 1, 1), dt.datetime(1, 1, 1))
    seconds = params.imperfections.late_arrival.threshold_seconds
    return f"""(SELECT e.*, e.client::VARCHAR AS c, e.event_name::VARCHAR AS name,
                      date_diff('second', e.event_at_utc, e.ingested_at_utc) / 3600.0 AS hours,
                      e.ingested_at_utc - e.event_at_utc > INTERVAL ({seconds}) SECOND AS late,
                      timezone(u.timezone, e.event_at_utc AT TIME ZONE 'UTC') AS local
               FROM qa.events e JOIN raw.users u USING (user_id)
               WHERE NOT (e.event_at_utc >= TIMESTAMP '{start}' AND e.event_at_utc < TIMESTAMP '{end}') AND {where})"""


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_late_arrivals_differ_by_client(default_data):
    """Late events come from causes tied to the client: phones go offline (late most often, by days, more
    outside working hours), the desktop app sleeps with the laptop (late overnight, sent when the user
    opens it again), web clients retry (late least long: a few hours)."""
    con, params = dataset(default_data), io.load_params(default_data)
    events = _late_events(con, params, "e.event_name <> 'login_succeeded'")
    rows = con.execute(
        f"""SELECT CASE WHEN c IN ('ios', 'android') THEN 'phone' ELSE c END, avg(late::INT),
                   median(hours) FILTER (WHERE late) FROM {events} GROUP BY 1"""
    ).fetchall()
    share, median = {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}
    assert share["phone"] > 4 * max(share["web"], share["desktop"]), share
    assert median["phone"] > 24 and median["web"] < 4, median  # days vs hours
    assert median["phone"] > median["desktop"] > 2 * median["web"], median  # the laptop sleeps overnight
    # phones: offline more on commutes, evenings and weekends than at the desk
    off, on = con.execute(
        f"""SELECT avg(late::INT) FILTER (WHERE isodow(local) > 5 OR hour(local) NOT BETWEEN 9 AND 17),
                   avg(late::INT) FILTER (WHERE isodow(local) <= 5 AND hour(local) BETWEEN 9 AND 17)
            FROM {events} WHERE c IN ('ios', 'android') AND local IS NOT NULL"""
    ).fetchall()[0]
    assert off > 1.5 * on, (off, on)
    # the desktop app sends its queue as the user opens it again: at the start of one of their desktop
    # sessions (within the normal latency), mostly after the working day (overnight)
    max_latency = params.ingestion.max_latency_seconds
    woke, overnight = con.execute(
        f"""WITH starts AS (SELECT user_id, min(event_at_utc) AS at FROM qa.events WHERE client = 'desktop'
                            GROUP BY user_id, session_id)
            SELECT avg((EXISTS (SELECT 1 FROM starts s WHERE s.user_id = d.user_id AND s.at <= d.ingested_at_utc
                                  AND d.ingested_at_utc <= s.at + INTERVAL ({max_latency}) SECOND))::INT),
                   avg((hours > 12)::INT)
            FROM {events} d WHERE c = 'desktop' AND late"""
    ).fetchall()[0]
    assert woke > 0.9 and overnight > 0.35, (woke, overnight)


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_late_arrivals_differ_by_event_type(default_data):
    """A web client retries the requests that upload content most and analytics beacons least; logins are
    written synchronously and never late (but for the incident). So across all clients content events are
    late more often and sooner (retries) than dashboard views (late mostly from sleeping and offline apps)."""
    con, params = dataset(default_data), io.load_params(default_data)
    events = _late_events(con, params)
    content, other, beacon = con.execute(
        f"""SELECT avg(late::INT) FILTER (WHERE list_contains(?, name)), avg(late::INT) FILTER (WHERE NOT
                   list_contains(?, name) AND NOT list_contains(?, name) AND name <> 'login_succeeded'),
                   avg(late::INT) FILTER (WHERE list_contains(?, name)) FROM {events} WHERE c = 'web'""",
        [CONTENT, CONTENT, BEACON, BEACON],
    ).fetchall()[0]
    assert content > 2 * other > 4 * beacon > 0, (content, other, beacon)
    rows = con.execute(
        f"SELECT name, avg(late::INT), median(hours) FILTER (WHERE late) FROM {events} GROUP BY 1"
    ).fetchall()
    share, median = {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}
    assert share["login_succeeded"] == 0
    for name in ("task_created", "work_note_added"):
        assert share[name] > 1.3 * share["dashboard_viewed"], share
        assert share[name] > 1.3 * share["task_status_changed"], share
        assert median[name] < median["dashboard_viewed"] / 2, median


def test_late_plan_meets_the_target_in_expectation(tiny_data):
    """The chances the plan solves give exactly the target count of late events in expectation: the
    incident's events plus, for every other event that may be late, its cause's chance times its weight."""
    params = io.load_params(tiny_data)
    con = duck.connect(params=params)
    plan = inject.late_probabilities(params, tiny_data, con)
    events = duck.parts(con, io.clean_dir(tiny_data, "events"))
    users = duck.parts(con, io.clean_dir(tiny_data, "users"))
    window = incident_window(params)
    start, end = window[:2] if window else (dt.datetime(1, 1, 1), dt.datetime(1, 1, 1))
    held = "event_at_utc >= ? AND event_at_utc < ?"
    cause = "CASE WHEN client::VARCHAR IN ('ios', 'android') THEN ? WHEN client::VARCHAR = 'desktop' THEN ? ELSE ? END"
    n, expected = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE {held}) + coalesce(sum(least(1.0, ({cause}) * w))
                   FILTER (WHERE NOT ({held}) AND event_name::VARCHAR <> 'login_succeeded'), 0)
            FROM (SELECT *, {inject.late_weight_sql(params)} AS w
                  FROM {events} LEFT JOIN (SELECT user_id, timezone FROM {users}) USING (user_id))""",
        [start, end, plan.offline, plan.asleep, plan.retry, start, end],
    ).fetchall()[0]
    assert expected == pytest.approx(params.imperfections.late_arrival.share * n, rel=1e-9)
    assert min(plan.offline, plan.asleep, plan.retry) > 0


@pytest.mark.parametrize(
    "want,capacity,expected",
    [
        (100.0, {"offline": 1000, "asleep": 1000, "retry": 1000}, {"offline": 35, "asleep": 25, "retry": 40}),
        (
            100.0,
            {"offline": 10, "asleep": 1000, "retry": 1000},
            {"offline": 10, "asleep": 90 * 25 / 65, "retry": 90 * 40 / 65},
        ),
        (100.0, {"offline": 0, "asleep": 5, "retry": 1000}, {"offline": 0, "asleep": 5, "retry": 95}),
        (100.0, {"offline": 20, "asleep": 30, "retry": 40}, {"offline": 20, "asleep": 30, "retry": 40}),
    ],
)
def test_split_late_gives_what_a_cause_cannot_take_to_the_others(want, capacity, expected):
    """Each cause takes its share of the late events; a cause with too few events takes them all and the
    others share the rest, so the parts add up to the wanted count (or every event)."""
    got = inject.split_late(want, {"offline": 0.35, "asleep": 0.25, "retry": 0.40}, capacity)
    assert got == pytest.approx(expected)
    assert sum(got.values()) == pytest.approx(min(want, sum(capacity.values())))


def test_a_sleeping_app_wakes_at_the_users_next_session_after_the_break():
    """wake_times: the first of the same user's sessions that starts at or after the moment due, else -1."""
    s = 1_000_000  # microseconds per second
    stride = 100_000
    session = np.array([1 * stride + 1, 1 * stride + 1, 1 * stride + 2, 1 * stride + 3, 2 * stride + 1])
    at = np.array([0, 10, 5000, 100_000, 50]) * s
    query = np.array([1 * stride + 1, 1 * stride + 1, 1 * stride + 3, 2 * stride + 1, 1 * stride + 2])
    due = np.array([3601, 6000, 200_000, 100, 5000]) * s
    assert inject.wake_times(session, at, query, due).tolist() == [5000 * s, 100_000 * s, -1, -1, 5000 * s]


def test_late_cause_shares_must_add_up_to_one(tmp_path):
    """The cause shares split the late events: parameters whose shares do not add up to 1 are refused."""
    with pytest.raises(P.ParamsError, match="add up to 1"):
        params_variant(tmp_path, {"imperfections.late_arrival.retry_share": 0.5})


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_missing_values_follow_their_causes(default_data):
    """Where the generation notes say values go missing, they do: the billing country mostly on free
    plans, the time zone mostly for users who never signed in, due dates by team habit, assignees on
    old backlog (each column still at its target share)."""
    con = dataset(default_data)
    free, paid = con.execute(
        "SELECT avg((country_code IS NULL)::INT) FILTER (WHERE plan_tier = 'free'), "
        "avg((country_code IS NULL)::INT) FILTER (WHERE plan_tier <> 'free') FROM raw.accounts"
    ).fetchall()[0]
    assert free > 3 * paid, (free, paid)
    never, signed_in = con.execute(
        "SELECT avg((timezone IS NULL)::INT) FILTER (WHERE activated_at IS NULL), "
        "avg((timezone IS NULL)::INT) FILTER (WHERE activated_at IS NOT NULL) FROM raw.users"
    ).fetchall()[0]
    assert never > 4 * signed_in, (never, signed_in)
    # some teams never fill due dates (only far-future placeholders, outliers, keep theirs): at random,
    # 20+ tasks all without a date would be a 1-in-a-million event at a 50% share
    habit = scalar(
        con,
        """SELECT count(*) FROM (SELECT account_id FROM raw.tasks GROUP BY account_id
           HAVING count(*) >= 20 AND count(due_at) = count(*) FILTER (WHERE due_at > created_at + INTERVAL 365 DAY))""",
    )
    assert habit >= 2, habit
    first, last = con.execute(
        """SELECT avg((assignee_user_id IS NULL)::INT)
                      FILTER (WHERE created_at < getvariable('window_start') + INTERVAL 91 DAY),
                  avg((assignee_user_id IS NULL)::INT)
                      FILTER (WHERE created_at >= getvariable('window_end') - INTERVAL 91 DAY)
           FROM raw.tasks"""
    ).fetchall()[0]
    assert first > last + 0.01, (first, last)  # assignees are lost more on old backlog
    assert "mostly free plans" in REASONS["missing", "country_code"]
    assert "never signed in" in REASONS["missing", "timezone"]


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_internal_accounts_give_themselves_away(default_data):
    """Internal workspaces: .test emails, QA/Test/Internal/Demo names, scripted bursts of quick tasks."""
    con = dataset(default_data)
    rows = con.execute("""SELECT a.account_name, u.email, u.full_name
                          FROM raw.accounts a JOIN raw.users u USING (account_id) WHERE a.is_internal""").fetchall()
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


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_no_imperfection_breaks_a_rule_on_default(default_data):
    assert checks.failures(checks.run_rules(dataset(default_data))) == []


# --------------------------------------------------------------------------- idempotence, independence
def test_applying_twice_gives_the_same_tables(tmp_path, tiny_data):
    """03 starts from the clean copies: running it again changes no table."""
    copy = tmp_path / "again"
    shutil.copytree(tiny_data, copy)
    pipeline.apply_imperfections(copy, progress=False)
    assert io.content_hashes(copy) == io.content_hashes(tiny_data)


def test_late_arrival_rate_leaves_entity_tables_unchanged(tmp_path, tiny_data):
    """Another late share and another split between its causes change the events only."""
    changes = {
        "imperfections.late_arrival.share": 0.1,
        "imperfections.late_arrival.offline_share": 0.6,
        "imperfections.late_arrival.retry_share": 0.15,
        "imperfections.late_arrival.retry_content_weight": 5,
    }
    other = generate(params_variant(tmp_path, changes), tmp_path / "late")
    a, b = io.content_hashes(other), io.content_hashes(tiny_data)
    assert all(a[t] == b[t] for t in ("accounts", "users", "projects", "tasks"))
    assert a["events"] != b["events"]


def test_duplicates_option_repeats_event_ids_and_breaks_no_rule(tmp_path):
    """duplicates.share 0.05: about 5% of the events are delivered once more, each the same event received
    again a little later; every rule and threshold holds."""
    d = generate(params_variant(tmp_path, {"imperfections.duplicates.share": 0.05}), tmp_path / "dups")
    obs = observed(d)
    dup = obs["duplicate", "event_id"]
    assert dup["count"] > 0
    assert abs(dup["count"] / dup["denominator"] - dup["expected"]) <= binomial_tolerance(0.05, dup["denominator"]), dup
    con = dataset(d)
    repeated = scalar(con, "SELECT count(*) FROM (SELECT event_id FROM raw.events GROUP BY 1 HAVING count(*) > 1)")
    assert repeated == dup["count"]  # each re-sent once
    assert scalar(con, "SELECT count(*) FROM imperfections.ledger WHERE kind = 'duplicate'") == dup["count"]
    # the re-sent copy is the same event, received again a little later
    same = scalar(
        con,
        """SELECT count(DISTINCT (event_id, user_id, event_name, event_at_utc, properties)) = count(DISTINCT event_id)
           FROM raw.events""",
    )
    assert same
    assert checks.failures(checks.run_rules(con), checks.run_metrics(con)) == []
    assert_rates_module_agrees(d, obs)


def test_duplicates_are_off_by_default(tiny_data):
    """tiny.yaml leaves duplicates off: no event_id repeats and the ledger lists no duplicate."""
    assert io.load_params(tiny_data).imperfections.duplicates.share == 0
    con = dataset(tiny_data)
    assert scalar(con, "SELECT count(*) - count(DISTINCT event_id) FROM raw.events") == 0
    assert scalar(con, "SELECT count(*) FROM imperfections.ledger WHERE kind = 'duplicate'") == 0


# --------------------------------------------------------------------------- degenerate datasets
@pytest.mark.parametrize(
    "label,changes",
    [
        (
            "one-day window",
            {
                "window.start": dt.date(2025, 3, 3),
                "window.end": dt.date(2025, 3, 3),
                "imperfections.outliers.long_cycle_share": 0.0,
            },
        ),
        ("no tasks", {"tasks_per_project.min": 0, "tasks_per_project.max": 0, "tasks.created_per_session": 0.0}),
        ("no projects", {"projects_per_account.min": 0, "projects_per_account.max": 0}),
        ("one account, one user", {"accounts.count": 1, "users_per_account.min": 1, "users_per_account.max": 1}),
    ],
)
def test_guardrails_say_not_applicable_instead_of_failing(tmp_path, label, changes):
    """Degenerate but valid parameters: empty tables keep their columns and types, and the guardrails
    say 'not applicable' where there is nothing to judge, never 'fail'."""
    d = generate(params_variant(tmp_path, changes), tmp_path / "d")
    params = io.load_params(d)
    for name, table in TABLES.items():  # empty tables keep their columns and types
        assert io.read_table(d, name).schema.equals(table.arrow_schema), name
    pipeline.build_warehouse(d)
    report = guardrails.guardrails(duck.warehouse(d, params), params)
    assert not (report.status == guardrails.FAIL).any(), report[report.status == guardrails.FAIL]
    assert (report.status == guardrails.NA).any()
    assert (report.status == guardrails.PASS).any()


@pytest.mark.parametrize("want", [0.0, 7.0, 20.0, 60.0, 129.0, 130.0])
def test_weighted_blanking_meets_the_wanted_count(want):
    """Blanking with weights: the expected count is exactly the wanted one, heavier values blanked first,
    the chance of a value proportional to its weight until it reaches 1."""
    weights, counts = np.array([1.0, 8.0, 3.0]), np.array([100, 20, 10])
    s = inject.scale_for(weights, counts, want)
    chance = np.minimum(s * weights, 1.0)
    assert (counts * chance).sum() == pytest.approx(want)
    assert chance[1] >= chance[2] >= chance[0]
    if chance[1] < 1.0:
        assert chance[1] == pytest.approx(8 * chance[0])


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_phones_resend_more_often(default_data):
    """Re-sent deliveries come mostly from flaky networks: a phone's event is re-sent about
    duplicates.mobile_weight times as often as a web or desktop one, and the total stays at its share."""
    params = io.load_params(default_data)
    con = dataset(default_data)
    rows = con.execute(
        """SELECT list_contains(getvariable('mobile_clients'), client::VARCHAR) AS phone,
                  (count(*) - count(DISTINCT event_id)) / count(DISTINCT event_id) AS resent
           FROM qa.all_events GROUP BY phone"""
    ).fetchall()
    resent = dict(rows)
    weight = params.imperfections.duplicates.mobile_weight
    assert 0.6 * weight < resent[True] / resent[False] < 1.4 * weight, resent

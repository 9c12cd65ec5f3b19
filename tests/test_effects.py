"""Imperfections that bite (issue 14): on the default extract a naive query is measurably wrong where
the notes say it is, the careful SQL reaches the keys but for the extract's cut, and each cause's
effect on each metric is measured and recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from helpers import duck, io
from helpers import params as P
from helpers.publish import package
from helpers.quality import effects, metrics

pytestmark = pytest.mark.xdist_group("default")


@pytest.fixture(scope="module")
def default_con(default_data):
    params = io.load_params(default_data)
    con = duck.dataset(default_data, params)
    yield con, params
    con.close()


def _key(default_data, name: str, scope: str) -> pd.DataFrame:
    key = metrics.answer_keys(default_data)[name]
    return key[key.scope == scope].reset_index(drop=True)


def test_default_is_an_extract_with_resent_deliveries(default_con):
    """default.yaml turns both on: an as_of cut inside the window's last day, and re-sent deliveries
    that repeat key events' ids."""
    con, params = default_con
    assert params.snapshot.as_of is not None and params.snapshot.as_of.date() == params.window.end
    repeated, later = con.execute(
        "SELECT (SELECT count(*) - count(DISTINCT event_id) FROM raw.events "
        "        WHERE list_contains(getvariable('key_events'), event_name)), "
        "       (SELECT count(*) FROM truth.not_yet_arrived)"
    ).fetchall()[0]
    assert repeated > 1000  # key events delivered twice: a naive count of events is inflated
    assert later > 1000  # the evening after the cut and the late deliveries still on their way


def test_naive_active_users_are_off_by_internal_users_and_the_cut(default_data, default_con):
    """The naive 7-day active users (raw events, no dedup, internal included) land on the key of scope
    'all' (internal users in) on every day before the cut, so they exceed the external key wherever
    internal users are active, and fall below both keys on the day of the cut."""
    con, params = default_con
    naive = metrics.external(effects.run(con, "active_users_7d", naive=True)).set_index("day").active_users
    every = _key(default_data, "active_users_7d", "all").set_index("day").active_users
    ext = _key(default_data, "active_users_7d", "external").set_index("day").active_users
    before = naive.index < params.snapshot.as_of.date() - dt.timedelta(days=1)
    assert (naive[before] == every[before]).all()  # duplicates add no user; internal users all are in
    assert ((naive - ext)[before] > 0).sum() > 300  # internal users make it wrong most days
    last = params.window.end
    assert naive[last] < every[last] and naive[last] - ext[last] < (every - ext)[last]  # the cut takes users away


def test_each_cause_measured_on_each_metric(default_data, default_con):
    """Every cause has an effect row per metric; the as_of cut and late deliveries only take users
    away and only at the end; internal workspaces add exactly the internal users the keys count;
    re-sent deliveries and missing values move no count of distinct users."""
    con, params = default_con
    found = {(e.cause, e.metric): e for e in effects.measure(con, params)}
    assert set(found) == {(c, m) for c in effects.CAUSES for m in metrics.ANSWER_KEYS}
    cut = found["as_of", "active_users_7d"]
    assert cut.net < 0 and cut.at == str(params.window.end)
    assert found["late_arrival", "active_users_7d"].net <= 0
    every = _key(default_data, "active_users_7d", "all").set_index("day").active_users
    ext = _key(default_data, "active_users_7d", "external").set_index("day").active_users
    internal_users = int((every - ext).sum())
    assert abs(found["internal", "active_users_7d"].net - internal_users) <= 0.01 * internal_users
    assert found["internal", "account_retention"].net > 0
    for cause in ("duplicate", "missing", "outlier"):
        assert all(found[cause, m].rows == 0 for m in metrics.ANSWER_KEYS), cause


def test_an_effect_is_measured_not_assumed(default_con):
    """The summary of a difference counts rows, sums them and finds the largest (a planted change)."""
    con, _ = default_con
    key = metrics.external(effects.run(con, "active_users_7d"))
    shifted = key.copy()
    shifted.loc[10, "active_users"] += 7
    shifted.loc[20, "active_users"] -= 2
    e = effects.difference("active_users_7d", shifted, key, int(key.active_users.sum()), "test")
    assert (e.rows, e.net, e.largest, e.at) == (2, 5, 7, str(key.day[10]))
    assert e.largest_share == pytest.approx(7 / key.active_users[10])


def test_metrics_read_no_column_that_missing_values_or_outliers_touch():
    """Why missing values and outliers move no metric: no metric SQL mentions such a column, and the
    check would notice one that did."""
    assert effects.reads_columns(("assignee_user_id", "due_at", "timezone", "completed_at")) == []
    assert effects.reads_columns(("activated_at",)) == ["user_retention"] * 2  # careful and naive


def test_the_dictionary_says_what_sql_must_handle_in_each_preset():
    """default (an extract with re-sent deliveries) and tiny (complete, none re-sent) get different
    advice, each with the effect measured on that dataset when there is one."""
    root = Path(__file__).resolve().parents[1]
    cut = effects.Effect("as_of", "active_users_7d", 1, -30, -1e-4, -30, "2025-12-31", -0.029)
    default = package.data_dictionary(P.load(root / "params/default.yaml"), [cut])
    section = default.split("## What your SQL must handle in this dataset", 1)[1].split("\n## ", 1)[0]
    assert "taken at 2025-12-31 18:00:00 UTC" in section and "2025-12-30" in section  # the last whole day
    assert "-30 in 1 row; largest -30 (-2.9%), 2025-12-31" in section
    assert "about 0.5% high" in section and "Test workspaces nobody flagged" in section
    tiny = package.data_dictionary(P.load(root / "params/tiny.yaml"), [])
    assert "The extract is complete" in tiny and "none in this dataset" in tiny

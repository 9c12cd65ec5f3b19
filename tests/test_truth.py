"""Answer keys, scenarios, as_of extracts and increments (issue 6).

The answer keys come from the simulation's state; here they are recomputed a third way, in pandas
from the published events (plus what an as_of extract left out), and must match row for row."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from helpers import duck, io, pipeline
from helpers.quality import checks, metrics
from helpers.schema import ANSWER_KEYS, SCENARIOS, TABLES

from .conftest import dataset, generate, params_variant, run_workbook

KEY = ["task_created", "task_completed", "handoff_completed", "blocker_resolved"]


def _read(data_dir, name) -> pd.DataFrame:
    return pq.read_table(io.table_dir(data_dir, name)).to_pandas()


def _events_every_delivery(data_dir) -> pd.DataFrame:
    events = _read(data_dir, "events")
    later = io.truth_dir(data_dir) / "not_yet_arrived.parquet"
    if later.exists():
        events = pd.concat([events, pq.read_table(later).to_pandas()], ignore_index=True)
    return events


def _monday(ts: pd.Series) -> pd.Series:
    day = ts.dt.normalize()
    return (day - pd.to_timedelta(day.dt.day_of_week, unit="D")).dt.date


def _retention(cohort: pd.DataFrame, activity: pd.DataFrame, window) -> pd.DataFrame:
    """cohort (who, joined, cohort_week), activity (who, week): for every cohort week and every week k = 0, 1, ...
    while cohort_week + 7k is on or before the window's last day and, for a cohort older than the window, from
    the week holding its first day on: the cohort's size, how many of its members were active in week k, and
    whether any member joined before the window (left_censored)."""
    start = pd.Timestamp(window.start)
    size = cohort.groupby("cohort_week").agg(
        cohort_size=("who", "size"), left_censored=("joined", lambda j: (j < start).any())
    )
    first_week = _monday(pd.Series([start])).iloc[0]
    grid = pd.DataFrame(
        [
            (cw, k)
            for cw in size.index
            for k in range(max(0, (first_week - cw).days // 7), (window.end - cw).days // 7 + 1)
        ],
        columns=["cohort_week", "week_number"],
    )
    hits = cohort.merge(activity.drop_duplicates(), on="who")
    hits["week_number"] = (pd.to_datetime(hits.week) - pd.to_datetime(hits.cohort_week)).dt.days // 7
    retained = hits[hits.week_number >= 0].groupby(["cohort_week", "week_number"]).size().rename("retained")
    rows = grid.merge(size.reset_index(), on="cohort_week").merge(
        retained.reset_index(), how="left", on=["cohort_week", "week_number"]
    )
    return rows.assign(retained=rows.retained.fillna(0).astype("int64"))


def independent_keys(data_dir, params) -> dict[str, pd.DataFrame]:
    """The three metrics by the issue's definitions, in pandas from the events (deduplicated by event_id):
    a user is active on the 7 days from each day they had a key event; a cohort (users by activation
    week, accounts by signup week) retains a member in week k when it has a key event that week. Scope
    "external" leaves out internal accounts and their users."""
    events = _events_every_delivery(data_dir)
    key = events[events.event_name.astype(str).isin(KEY)].drop_duplicates("event_id")
    accounts = _read(data_dir, "accounts")[["account_id", "created_at", "is_internal"]]
    users = _read(data_dir, "users")[["user_id", "account_id", "activated_at"]]
    internal = set(accounts.account_id[accounts.is_internal])
    days = pd.date_range(params.window.start, params.window.end, freq="D")
    user_days = key.assign(day=key.event_at_utc.dt.normalize())[["user_id", "account_id", "day"]].drop_duplicates()
    user_weeks = key.assign(week=_monday(key.event_at_utc))[["user_id", "account_id", "week"]].drop_duplicates()
    out = {"active_users_7d": [], "user_retention": [], "account_retention": []}
    for scope in ("all", "external"):

        def keep(account_ids: pd.Series, scope=scope) -> np.ndarray:
            return np.ones(len(account_ids), bool) if scope == "all" else ~account_ids.isin(internal).to_numpy()

        ud = user_days[keep(user_days.account_id)]
        spread = pd.concat(
            [pd.DataFrame({"user_id": ud.user_id, "on": ud.day + pd.Timedelta(days=i)}) for i in range(7)]
        )
        active = spread.drop_duplicates().groupby("on").size().reindex(days, fill_value=0)
        out["active_users_7d"].append(
            pd.DataFrame({"day": days.date, "scope": scope, "active_users": active.to_numpy()})
        )

        activated = users[users.activated_at.notna() & keep(users.account_id)]
        user_cohorts = pd.DataFrame(
            {"who": activated.user_id, "joined": activated.activated_at, "cohort_week": _monday(activated.activated_at)}
        )
        user_activity = user_weeks[["user_id", "week"]].rename(columns={"user_id": "who"})
        out["user_retention"].append(_retention(user_cohorts, user_activity, params.window).assign(scope=scope))

        kept = accounts[keep(accounts.account_id)]
        account_cohorts = pd.DataFrame(
            {"who": kept.account_id, "joined": kept.created_at, "cohort_week": _monday(kept.created_at)}
        )
        account_activity = user_weeks[["account_id", "week"]].rename(columns={"account_id": "who"})
        out["account_retention"].append(
            _retention(account_cohorts, account_activity, params.window).assign(scope=scope)
        )
    return {name: metrics.normalise(pd.concat(frames, ignore_index=True)) for name, frames in out.items()}


def _assert_same(name, ours: pd.DataFrame, key: pd.DataFrame) -> None:
    cols = metrics.KEYS[name] + metrics.VALUES[name] + metrics.FLAGS.get(name, [])
    a = ours[cols].sort_values(metrics.KEYS[name]).reset_index(drop=True)
    b = key[cols].sort_values(metrics.KEYS[name]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


AS_OF = dt.datetime(2025, 12, 29, 15)


@pytest.fixture(scope="module")
def tiny_as_of(tmp_path_factory):
    """Tiny with an as_of extract on a late-December afternoon (a Monday: deliveries on both sides of
    the cut even in the year-end lull), daily increments and duplicate deliveries."""
    base = tmp_path_factory.mktemp("as_of")
    path = params_variant(
        base,
        {
            "snapshot.as_of": AS_OF,
            "snapshot.increments": True,
            "imperfections.duplicates.share": 0.01,
        },
    )
    return generate(path, base / "data")


def test_answer_keys_equal_an_independent_computation_on_tiny(tiny_data):
    """Tiny: the three answer keys equal the pandas computation from the events, row for row; the
    internal account makes scope "all" differ from "external"."""
    params = io.load_params(tiny_data)
    keys = metrics.answer_keys(tiny_data)
    ours = independent_keys(tiny_data, params)
    assert len(keys["active_users_7d"]) == 2 * params.window.days
    assert keys["active_users_7d"].active_users.max() > 0
    for name in ANSWER_KEYS:
        _assert_same(name, ours[name], keys[name])
    # the internal account is in scope "all" only: the scopes differ somewhere
    a = keys["active_users_7d"].pivot(index="day", columns="scope", values="active_users")
    assert (a["all"] >= a["external"]).all() and (a["all"] > a["external"]).any()


def test_answer_keys_hold_with_duplicates_and_as_of(tiny_as_of):
    """With re-sent deliveries and an as_of extract, the keys still equal the pandas computation over
    every delivery (the published ones and those not yet arrived)."""
    params = io.load_params(tiny_as_of)
    keys = metrics.answer_keys(tiny_as_of)
    ours = independent_keys(tiny_as_of, params)
    for name in ANSWER_KEYS:
        _assert_same(name, ours[name], keys[name])


@pytest.mark.slow
@pytest.mark.xdist_group("default")  # one build of the default dataset
def test_answer_keys_equal_an_independent_computation_on_default(default_data):
    """Default (every scenario on, an installed base since 2023, ~1.4M events): the answer keys and their
    left_censored flags equal the pandas computation, row for row."""
    params = io.load_params(default_data)
    assert params.scenarios.feature_launch.enabled and params.scenarios.ingestion_incident.enabled
    keys = metrics.answer_keys(default_data)
    ours = independent_keys(default_data, params)
    assert len(keys["active_users_7d"]) == 2 * params.window.days
    assert params.history.launch < params.window.start  # an installed base: cohorts older than the window
    assert keys["user_retention"].left_censored.any() and keys["account_retention"].left_censored.any()
    for name in ANSWER_KEYS:
        assert len(keys[name]) > 700, name
        _assert_same(name, ours[name], keys[name])


def test_as_of_removes_exactly_the_deliveries_ingested_after_it(tiny_data, tiny_as_of):
    """Published deliveries are those ingested by as_of, the rest are listed as not yet arrived, and
    together they are the stream without the cut; every rule passes."""
    as_of = pd.Timestamp(AS_OF)
    published = _read(tiny_as_of, "events")
    later = pq.read_table(io.truth_dir(tiny_as_of) / "not_yet_arrived.parquet").to_pandas()
    assert len(later) > 0 and (later.ingested_at_utc > as_of).all()
    assert (published.ingested_at_utc <= as_of).all()
    # published + not yet arrived = the stream without the cut (same params otherwise): compare with
    # the same preset generated without as_of (duplicates differ, so compare first deliveries only)
    every = pd.concat([published, later]).sort_values("ingested_at_utc", kind="stable").drop_duplicates("event_id")
    full = _read(tiny_data, "events")
    assert io.content_hash_arrow(pa_table(every), TABLES["events"]) == io.content_hash_arrow(
        pa_table(full), TABLES["events"]
    )
    # every rule and guardrail passes: they excuse exactly the listed deliveries
    rules = checks.run_rules(dataset(tiny_as_of))
    assert rules.passed.all(), rules[~rules.passed]


def test_as_of_rule_catches_a_bad_cut(tiny_as_of, tmp_path):
    """Dropping one published delivery that is not listed, or listing one that was published, fails the rule."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_as_of, copy)
    later = io.truth_dir(copy) / "not_yet_arrived.parquet"
    t = pq.read_table(later)
    early = pq.read_table(io.part_path(io.table_dir(copy, "events"), 0)).slice(0, 3)
    import pyarrow as pa

    pq.write_table(pa.concat_tables([t, early.cast(t.schema)]), later)  # 3 published deliveries also listed
    rules = checks.run_rules(dataset(copy)).set_index("rule")
    assert rules.loc["snapshot_cut_at_as_of", "violations"] == 3


def test_increments_hold_the_published_events_by_ingestion_day(tiny_as_of):
    """One folder per ingestion day, each holding that day's deliveries in ingestion order; together
    exactly the published events."""
    folder = tiny_as_of / "events_increments"
    days = sorted(folder.glob("ingested_date=*"))
    assert len(days) > 300
    seen = []
    for d in days:
        t = pq.read_table(d).to_pandas()  # the folder's files
        day = dt.date.fromisoformat(d.name.split("=", 1)[1])
        assert (t.ingested_at_utc.dt.date == day).all()
        assert t.ingested_at_utc.is_monotonic_increasing
        seen.append(t)
    inc = pa_table(pd.concat(seen, ignore_index=True))
    assert io.content_hash_arrow(inc, TABLES["events"]) == io.content_hash(
        io.table_dir(tiny_as_of, "events"), TABLES["events"]
    )


def pa_table(df: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(df[TABLES["events"].column_names], preserve_index=False)


def test_metrics_sql_reproduces_the_keys_and_as_of_explains_the_rest(tiny_as_of):
    """The metric SQL over the warehouse agrees with the keys; where the published data differ, the as_of
    cut explains it, and only in the last days."""
    params = io.load_params(tiny_as_of)
    pipeline.build_warehouse(tiny_as_of)
    con = duck.warehouse(tiny_as_of, params)
    published = metrics.compute(con)
    complete = metrics.compute(metrics.connect_complete(tiny_as_of, params))
    keys = metrics.answer_keys(tiny_as_of)
    rec = {r.metric: r for r in metrics.reconcile(published, complete, keys, params.snapshot.as_of)}
    assert all(r.agrees for r in rec.values())
    assert rec["active_users_7d"].rows_off_published > 0  # the cut shows in the last days...
    assert rec["active_users_7d"].first_off >= dt.date(2025, 12, 25)  # ...and only there
    metrics.assert_agree(list(rec.values()), params.snapshot.as_of)


def test_metrics_check_fails_on_a_wrong_key(tiny_data):
    """The reconciliation passes on the real keys and names the metric and the row count on a wrong one."""
    published = metrics.compute(dataset(tiny_data))
    keys = metrics.answer_keys(tiny_data)
    assert all(r.agrees for r in metrics.reconcile(published, published, keys, None))
    wrong = {k: v.copy() for k, v in keys.items()}
    wrong["user_retention"].loc[5, "retained"] += 1
    rec = metrics.reconcile(published, published, wrong, None)
    with pytest.raises(AssertionError, match="user_retention: 1 rows differ"):
        metrics.assert_agree(rec, None)


def test_rerunning_events_forgets_what_03_derived_from_the_old_events(tiny_as_of, tmp_path):
    """02 after 03 (as_of, duplicates, increments on): the old not-yet-arrived deliveries and increments
    go with the old events, and every rule 02 runs still holds."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_as_of, copy)
    assert (io.truth_dir(copy) / "not_yet_arrived.parquet").exists() and (copy / "events_increments").exists()
    pipeline.generate_events(copy, progress=False)
    pipeline.write_answer_keys(copy)
    assert not (io.truth_dir(copy) / "not_yet_arrived.parquet").exists()
    assert not (copy / "events_increments").exists()
    rules = checks.run_rules(dataset(copy))
    failed = rules[rules.passed.eq(False)]  # ledger rules do not apply until 03 reruns (passed is None)
    assert failed.empty and rules.passed.eq(True).sum() >= 40, failed


@pytest.mark.slow
def test_frictionless_validates_a_published_as_of_dataset(tiny_as_of, tmp_path):
    """The whole descriptor of a dataset with an as_of extract and duplicates: raw tables, answer keys,
    not_yet_arrived and the ledger."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    copy = tmp_path / "copy"
    shutil.copytree(tiny_as_of, copy)
    pipeline.write_manifest(copy)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("frictionless")), "validate", "datapackage.json", "--json"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    names = {t["name"] for t in report["tasks"]}
    assert {"truth_not_yet_arrived", "truth_active_users_7d", "imperfections_ledger", "events"} <= names
    assert proc.returncode == 0 and report["valid"], [e for t in report["tasks"] for e in t["errors"]][:5]


@pytest.mark.slow
def test_workbook_runs_with_every_option_on(tmp_path):
    """A papermill run of tiny with every scenario on, an as_of extract, duplicates, increments and CSV:
    every notebook passes, 05 quantifies what as_of left out, and the dataset is published."""
    import json

    path = params_variant(
        tmp_path,
        {
            "snapshot.as_of": dt.datetime(2025, 12, 31, 12),
            "snapshot.increments": True,
            "imperfections.duplicates.share": 0.01,
            **{f"scenarios.{name}.enabled": True for name in SCENARIOS},
        },
    )
    data_dir, reports_dir = tmp_path / "data" / "every", tmp_path / "reports" / "every"
    assert run_workbook(data_dir, reports_dir, params=path) == 0
    m = json.loads((data_dir / "manifest.json").read_text())
    assert m["snapshot"]["as_of"] == "2025-12-31T12:00:00" and m["snapshot"]["increments_days"] > 300
    assert sum(n.startswith("scenario ") for n in m["notes"]) == 4
    assert m["truth"]["not_yet_arrived"]["rows"] > 0
    assert (data_dir / "csv" / "events.csv").exists()
    preview = (reports_dir / "05_metrics_preview.html").read_text()
    assert "once the deliveries after as_of are added" in preview and "as of 2025-12-31 12:00:00 UTC" in preview

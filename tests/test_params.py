"""Parameters: strict YAML, strict types, one-line errors, exit code 2 and nothing written."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pytest
import yaml

from helpers import params as P
from helpers import run

from .conftest import ROOT, TINY, apply_changes, params_variant, preset, run_workbook, write_params


def test_shipped_params_are_valid():
    """Both shipped presets load and share the seed and the window."""
    for name in ("default", "tiny"):
        p = P.load(ROOT / f"params/{name}.yaml")
        assert p.seed == 22
        assert p.window.start.isoformat() == "2025-01-01" and p.window.end.isoformat() == "2025-12-31"


def _write_unvalidated(tmp_path, data: dict):
    """Parameters written as YAML without validating them first (what a user may write)."""
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _overlay(tmp_path, text: str, name: str = "p.yaml"):
    """A file that extends params/tiny.yaml with `text` (YAML as a user types it: the loader is under test)."""
    return write_params(tmp_path, f"extends: {TINY}\n{text}\n", name)


BAD = [
    # (description, YAML text over tiny.yaml, expected in the message): deliberately malformed values
    ("string seed", "seed: '7'", "seed"),
    ("boolean seed", "seed: true", "seed"),
    ("octal-looking seed", "seed: 012", "012"),
    ("yes is not a boolean", "seed: yes", "seed"),
    ("fractional count", "accounts: {count: 16.5}", "accounts.count"),
    ("rate above 1", "users: {never_activated_share: 1.5}", "users.never_activated_share"),
    ("negative rate", "users: {never_activated_share: -0.1}", "users.never_activated_share"),
    ("NaN rate", "users: {never_activated_share: .nan}", "users.never_activated_share"),
    ("infinite rate", "users: {never_activated_share: .inf}", "users.never_activated_share"),
    ("min above max", "users_per_account: {min: 30, max: 25}", "users_per_account"),
    ("end before start", "window: {end: 2024-12-31}", "window"),
    ("unknown key", "sede: 3", "sede"),
    ("misspelled nested key", "activity: {weekend_factr: 0.2}", "activity.weekend_factr"),
    ("duplicate key", "seed: 22\nseed: 23", "duplicate key"),
    ("python object tag", "seed: !!python/object/apply:os.system ['echo pwned']", "python"),
    (
        "all weights zero",
        "tasks: {priority_weights: {low: 0, medium: 0, high: 0, urgent: 0}}",
        "tasks.priority_weights",
    ),
    ("sigma too wide", "tasks: {cycle_time_days: {median: 2.5, sigma: 4.5}}", "tasks.cycle_time_days.sigma"),
    ("latency at the late threshold", "ingestion: {max_latency_seconds: 3600}", "ingestion.max_latency_seconds"),
    ("window before 2000", "window: {start: 1969-11-01}", "window.start"),
    ("too many users per account", "users_per_account: {max: 20000}", "users_per_account.max"),
    ("no user per account", "users_per_account: {min: 0}", "users_per_account.min"),
    ("window too short for long cycles", "window: {end: 2025-01-31}", "too short"),
    ("a key event that cannot happen", "accounts: {count: 20}\ntasks: {blocker_prob: 0}", "tasks.blocker_prob"),
    ("hand-offs without a colleague", "accounts: {count: 20}\nusers_per_account: {max: 1}", "users_per_account.max"),
    (
        "launch before the window",
        "scenarios: {feature_launch: {enabled: true, date: 2024-06-02}}",
        "scenarios.feature_launch.date",
    ),
    ("launch on the last day", "scenarios: {feature_launch: {enabled: true, date: 2025-12-31}}", "a week after"),
    (
        "unknown plan tier in the segment",
        "scenarios: {feature_launch: {plan_tiers: [business, gold]}}",
        "scenarios.feature_launch.plan_tiers",
    ),
    (
        "incident backfill not late",
        "scenarios: {ingestion_incident: {enabled: true, backfill_delay_hours: 0.5}}",
        "scenarios.ingestion_incident.backfill_delay_hours",
    ),
    (
        "incident outside the window",
        "scenarios: {ingestion_incident: {enabled: true, start: 2026-09-16T13:00:00}}",
        "scenarios.ingestion_incident.start",
    ),
    (
        "extra day off outside the window",
        "scenarios: {holidays: {enabled: true, extra_days: [2024-12-27, 2025-12-29]}}",
        "scenarios.holidays.extra_days holds 2024-12-27",
    ),
    (
        "extra day off listed twice, even when off",
        "scenarios: {holidays: {enabled: false, extra_days: [2025-12-29, 2025-12-29]}}",
        "scenarios.holidays.extra_days lists 2025-12-29 twice",
    ),
    ("a list of holidays (the calendars know them)", "scenarios: {holidays: {days: [2025-01-01]}}", "extra_days"),
    ("Friday factor above 2", "activity: {weekday_factors: {fri: 2.5}}", "activity.weekday_factors.fri"),
    ("lull from 32 December", "activity: {year_end_lull: {from_december_day: 32}}", "from_december_day"),
    (
        "revamp without 4 weeks of cohorts after it",
        "scenarios: {onboarding_revamp: {enabled: true, date: 2025-12-01}}",
        "scenarios.onboarding_revamp.date",
    ),
    ("launch segment tier twice", "scenarios: {feature_launch: {plan_tiers: [business, business]}}", "a tier twice"),
    ("as_of before the window", "snapshot: {as_of: 2024-12-31T00:00:00}", "snapshot.as_of"),
    ("as_of not a time", "snapshot: {as_of: tomorrow}", "snapshot.as_of"),
    ("csv not a boolean", "output: {csv: yes}", "output.csv"),
]


@pytest.mark.parametrize("label,text,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_value_is_one_line_exit_2_nothing_written(tmp_path, capsys, label, text, expected):
    """The run stops before writing anything, with one line that names the key and the file that gave it."""
    path = _overlay(tmp_path, text)
    data_dir, reports_dir = tmp_path / "data" / "x", tmp_path / "reports" / "x"
    code = run_workbook(data_dir, reports_dir, params=path)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert expected in err, err
    assert str(path.name) in err
    assert not (tmp_path / "data").exists() and not (tmp_path / "reports").exists()


def test_a_whole_file_missing_a_key_is_told_it_may_extend_a_base(tmp_path, capsys):
    """A complete file without `seed` (no base) gets one line naming the key, and how a base would supply it."""
    data = preset()
    del data["seed"]
    path = _write_unvalidated(tmp_path, data)
    assert run.main(["--params", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"parameters error: {path}: missing key 'seed' (or name a base that has it: `extends: default.yaml`)"
    ]


def test_python_tag_is_never_executed(tmp_path, monkeypatch):
    """A YAML python/object tag is refused by the loader, and its command never runs."""
    marker = tmp_path / "pwned"
    with pytest.raises(P.ParamsError):
        P.load(_overlay(tmp_path, f"seed: !!python/object/apply:os.system ['touch {marker}']"))
    assert not marker.exists()


def test_error_names_value_and_what_is_allowed(tmp_path):
    """A value out of range is named in the message with the bound it breaks."""
    path = _write_unvalidated(tmp_path, apply_changes(preset(), {"users.never_activated_share": 1.5}))
    with pytest.raises(P.ParamsError) as exc:
        P.load(path)
    msg = str(exc.value)
    assert "1.5" in msg and re.search(r"less than or equal to 1", msg), msg


def test_unknown_key_lists_allowed_keys(tmp_path):
    """A misspelled key is refused and the message lists the keys allowed there."""
    data = preset()
    data["activity"]["weekend_factr"] = data["activity"].pop("weekend_factor")
    path = _write_unvalidated(tmp_path, data)
    with pytest.raises(P.ParamsError) as exc:
        P.load(path)
    assert "weekend_factor" in str(exc.value)  # the allowed keys are listed


def test_missing_file(tmp_path, capsys):
    """A parameters file that does not exist is a usage error (exit 2)."""
    assert run.main(["--params", str(tmp_path / "nope.yaml")]) == 2
    assert "no such parameters file" in capsys.readouterr().err


def test_usage_error_exit_2(capsys):
    """No arguments at all: argparse's usage error, exit 2."""
    with pytest.raises(SystemExit) as exc:
        run.main([])
    assert exc.value.code == 2


def test_strict_loader_keeps_plain_yaml():
    """The strict loader still reads ordinary YAML; `yes` stays a string."""
    data = P.load_yaml("a: 1\nb: true\nc: 2025-01-01\nd: 0\ne: -3\nf: 1_000\n")
    assert data["a"] == 1 and data["b"] is True and data["d"] == 0 and data["e"] == -3 and data["f"] == 1000
    assert P.load_yaml("x: yes")["x"] == "yes"  # a string, never a boolean


def test_resolved_params_round_trip_and_hash_is_stable():
    """Resolved parameters survive JSON and back; the hash is stable and changes with the seed."""
    p = P.load(ROOT / "params/tiny.yaml")
    assert P.from_json_dict(P.to_json_dict(p)) == p
    assert P.params_sha256(p) == P.params_sha256(P.load(ROOT / "params/tiny.yaml"))
    q = P.validate(apply_changes(preset(), {"seed": 23}))
    assert P.params_sha256(q) != P.params_sha256(p)


def test_as_of_with_an_offset_becomes_naive_utc(tmp_path):
    """An as_of with a UTC offset is stored as naive UTC and survives the JSON round trip."""
    plus_two = dt.timezone(dt.timedelta(hours=2))
    p = P.load(params_variant(tmp_path, {"snapshot.as_of": dt.datetime(2025, 12, 31, 20, tzinfo=plus_two)}))
    assert p.snapshot.as_of.isoformat() == "2025-12-31T18:00:00"
    assert P.from_json_dict(P.to_json_dict(p)) == p


# --------------------------------------------------------------------------- layers
def test_shipped_presets_are_overlays_that_repeat_nothing():
    """tiny and large extend default.yaml and every value they give differs from it (no copied keys)."""
    default = preset("default")
    for name in ("tiny", "large"):
        own = P.load_yaml((ROOT / "params" / f"{name}.yaml").read_text())
        assert own.pop(P.EXTENDS) == "default.yaml"

        def same(mine, base, at=()):
            if isinstance(mine, dict):
                return [k for key, v in mine.items() for k in same(v, base[key], (*at, key))]
            return [".".join(at)] if mine == base else []

        assert same(own, default) == [], name
        assert len((ROOT / "params" / f"{name}.yaml").read_text().splitlines()) < 40


def test_three_line_overlay_layers_files_sets_and_seed_in_order(tmp_path):
    """Later layers win: a base, the overlay, later files, each --set, then --seed."""
    first = write_params(tmp_path, f"extends: {ROOT / 'params/default.yaml'}\nseed: 7\naccounts:\n  count: 50\n")
    assert len(first.read_text().splitlines()) == 4  # extends, seed, a section and its count
    p = P.load(first)
    assert (p.seed, p.accounts.count, p.window.end) == (7, 50, dt.date(2025, 12, 31))
    assert p.accounts.plan_by_company_size == P.load(ROOT / "params/default.yaml").accounts.plan_by_company_size
    second = write_params(tmp_path, "accounts: {count: 60}\nwindow: {start: 2024-12-01}\n", "second.yaml")
    loaded = P.load_layers([first, second], ["accounts.count=70", P.set_layer("seed=9", "--seed 9")])
    p = loaded.params
    assert (p.seed, p.accounts.count, p.window.end, p.window.start) == (
        9,
        70,
        dt.date(2025, 12, 31),
        dt.date(2024, 12, 1),
    )
    assert [d.get("file") or d["set"] for d in loaded.describe(tmp_path)] == [
        "default.yaml",
        "p.yaml",
        "second.yaml",
        "accounts.count=70",
        "seed=9",
    ]


def test_a_shared_base_is_applied_once_and_never_undoes_an_earlier_file(tmp_path):
    """--params tiny.yaml --params mine.yaml (mine extends default.yaml too): tiny's values stay."""
    mine = write_params(tmp_path, f"extends: {ROOT / 'params/default.yaml'}\nseed: 5\n", "mine.yaml")
    p = P.load([TINY, mine])
    assert (p.accounts.count, p.seed) == (18, 5)


def test_extends_is_relative_to_the_file_and_may_chain(tmp_path, monkeypatch):
    """A base is found beside the file that names it, whatever the working directory; bases may extend bases."""
    (tmp_path / "presets" / "team").mkdir(parents=True)
    write_params(tmp_path / "presets", f"extends: {TINY}\naccounts: {{count: 12}}\n", "small.yaml")
    leaf = write_params(tmp_path / "presets" / "team", "extends: ../small.yaml\nseed: 3\n", "mine.yaml")
    monkeypatch.chdir(tmp_path)
    p = P.load("presets/team/mine.yaml")
    tiny_max = preset("tiny")["users_per_account"]["max"]  # the chain's root gives the rest
    assert (p.accounts.count, p.seed, p.users_per_account.max) == (12, 3, tiny_max)
    assert tiny_max != preset("default")["users_per_account"]["max"]
    assert P.load(leaf) == p


def test_extends_cycle_and_missing_base_are_errors(tmp_path):
    """A base that extends its child, or a base that does not exist, is one line naming the file."""
    write_params(tmp_path, "extends: b.yaml\nseed: 1\n", "a.yaml")
    write_params(tmp_path, "extends: a.yaml\nseed: 2\n", "b.yaml")
    with pytest.raises(P.ParamsError, match=r"cycle: a.yaml -> b.yaml -> a.yaml"):
        P.load(tmp_path / "a.yaml")
    path = write_params(tmp_path, "extends: nope.yaml\nseed: 1\n", "c.yaml")
    with pytest.raises(P.ParamsError, match=r"c.yaml: extends = 'nope.yaml': no such parameters file"):
        P.load(path)


@pytest.mark.parametrize(
    "assignment,expected",
    [
        ("accounts.cont=5", "--set accounts.cont=5: unknown key 'accounts.cont' (did you mean 'accounts.count'?)"),
        ("accounts.count=abc", "--set accounts.count=abc: accounts.count = 'abc' is not allowed"),
        ("window.end.day=3", "'window.end' is a value, not a section"),
        ("accounts.count", "write key.path=value"),
        ("users.never_activated_share=2", "users.never_activated_share = 2 is not allowed: Input should be less"),
    ],
)
def test_bad_set_names_the_set_the_key_and_what_is_allowed(capsys, assignment, expected):
    """A --set of an unknown key or a wrong type is an error naming it (exit 2, one line)."""
    assert run.main(["--params", str(TINY), "--set", assignment, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    """A file with four mistakes (a type, an unknown key, a range, a date outside the window) gets four
    lines in one run, each naming the file and the key; exit 2, nothing written."""
    path = write_params(
        tmp_path,
        f"extends: {ROOT / 'params/default.yaml'}\nseed: '7'\naccounts: {{cont: 50}}\n"
        "users: {never_activated_share: 1.5}\nscenarios: {feature_launch: {date: 2026-01-05}}\n",
    )
    assert run_workbook(tmp_path / "data" / "x", params=path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4, err
    keys = ["seed", "accounts.cont", "users.never_activated_share", "feature_launch.date"]
    for line, key in zip(err, keys, strict=True):
        assert line.startswith(f"parameters error: {path}: ") and key in line, line
    assert not (tmp_path / "data").exists()


def test_a_shorter_window_names_every_scenario_outside_it(capsys):
    """default.yaml with window.end moved to March: each of the three dated scenarios is named, the long
    cycles that need a longer window and the extract's as_of (December), in one run (the holidays come
    from each year's calendars: no edit)."""
    assert run.main(["--params", str(ROOT / "params/default.yaml"), "--set", "window.end=2025-03-31", "--dry-run"]) == 2
    err = capsys.readouterr().err
    keys = ("feature_launch", "ingestion_incident", "onboarding_revamp", "outliers.long_cycle_share", "snapshot.as_of")
    for key in keys:
        assert key in err, err
    assert "holidays" not in err
    assert len(err.strip().splitlines()) == 5  # three scenarios, 60-day cycles in a quarter, a cut after it
    assert "--set window.end=2025-03-31" in err  # the layer that broke the rule is named


def test_relative_paths_resolve_against_the_working_directory(tmp_path, monkeypatch, capsys):
    """--params, --data-dir and --reports-dir typed relative are relative to where the command runs."""
    (tmp_path / "mine.yaml").write_text(f"extends: {TINY}\nseed: 4\n")
    monkeypatch.chdir(tmp_path)
    assert run.main(["--params", "mine.yaml", "--data-dir", "out/d", "--reports-dir", "out/r", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"it would write {tmp_path / 'out/d'} and {tmp_path / 'out/r'}" in out, out


@pytest.mark.slow
def test_a_three_line_overlay_runs_and_the_manifest_records_its_layers(tmp_path):
    """extends, a seed and an account count: the whole workbook publishes it; the manifest holds the resolved
    parameters (every value) and the layers (files with their digests, then the command line)."""
    mine = write_params(tmp_path, f"extends: {TINY}\nseed: 5\naccounts: {{count: 10}}\n", "mine.yaml")
    assert len(mine.read_text().splitlines()) == 3
    data_dir = tmp_path / "data" / "mine"
    assert run_workbook(data_dir, None, "--set", "imperfections.internal.account_share=0.1", params=mine) == 0
    manifest = json.loads((data_dir / "manifest.json").read_text())
    expected = P.load(mine, ["imperfections.internal.account_share=0.1"])
    assert manifest["params"] == P.to_json_dict(expected) and manifest["params_sha256"] == P.params_sha256(expected)
    assert (manifest["seed"], manifest["row_counts"]["accounts"]) == (5, 10)
    layers = manifest["params_layers"]
    assert [d.get("file") or d["set"] for d in layers] == [
        "params/default.yaml",
        "params/tiny.yaml",
        "mine.yaml",
        "imperfections.internal.account_share=0.1",
    ]
    assert layers[2]["sha256"] == hashlib.sha256(mine.read_bytes()).hexdigest()


def test_a_set_layer_is_recorded_as_typed():
    """A --set of a section is merged key by key and recorded as the user typed it (no Python reprs)."""
    loaded = P.load_layers([TINY], ["window={start: 2025-02-01, end: 2025-08-31}"])
    assert (loaded.params.window.start, loaded.params.window.end) == (dt.date(2025, 2, 1), dt.date(2025, 8, 31))
    assert loaded.describe(ROOT)[-1] == {"set": "window={start: 2025-02-01, end: 2025-08-31}"}

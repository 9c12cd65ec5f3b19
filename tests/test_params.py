"""Parameters: strict YAML, strict types, one-line errors, exit code 2 and nothing written."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import yaml

from helpers import params as P
from helpers import run

from .conftest import ROOT, apply_changes, params_variant, preset, run_workbook, tiny_yaml, write_params


def test_shipped_params_are_valid():
    """Both shipped presets load and share the seed and the window."""
    for name in ("default", "tiny"):
        p = P.load(ROOT / f"params/{name}.yaml")
        assert p.seed == 22
        assert p.window.start.isoformat() == "2025-01-01" and p.window.end.isoformat() == "2025-12-31"


def _replace(text: str, old: str, new: str) -> str:
    """A text edit of the YAML (the loader itself is under test): the old text must be there."""
    assert old in text, old
    return text.replace(old, new, 1)


def _write_unvalidated(tmp_path, data: dict):
    """Parameters written as YAML without validating them first (what a user may write)."""
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


BAD = [
    # (description, text edit of tiny.yaml, expected key in the message): deliberately malformed YAML text
    ("string seed", ("seed: 22", "seed: '7'"), "seed"),
    ("boolean seed", ("seed: 22", "seed: true"), "seed"),
    ("octal-looking seed", ("seed: 22", "seed: 012"), "012"),
    ("yes is not a boolean", ("seed: 22", "seed: yes"), "seed"),
    ("fractional count", ("count: 16", "count: 16.5"), "accounts.count"),
    ("rate above 1", ("never_activated_share: 0.12", "never_activated_share: 1.5"), "users.never_activated_share"),
    ("negative rate", ("never_activated_share: 0.12", "never_activated_share: -0.1"), "users.never_activated_share"),
    ("NaN rate", ("never_activated_share: 0.12", "never_activated_share: .nan"), "users.never_activated_share"),
    ("infinite rate", ("never_activated_share: 0.12", "never_activated_share: .inf"), "users.never_activated_share"),
    (
        "min above max",
        ("users_per_account: {min: 1, max: 25}", "users_per_account: {min: 30, max: 25}"),
        "users_per_account",
    ),
    ("end before start", ("end: 2025-12-31", "end: 2024-12-31"), "window"),
    ("unknown key", ("seed: 22", "seed: 22\nsede: 3"), "sede"),
    ("misspelled nested key", ("weekend_factor:", "weekend_factr:"), "activity.weekend_factr"),
    ("duplicate key", ("seed: 22", "seed: 22\nseed: 23"), "duplicate key"),
    ("python object tag", ("seed: 22", "seed: !!python/object/apply:os.system ['echo pwned']"), "python"),
    (
        "all weights zero",
        (
            "priority_weights: {low: 0.25, medium: 0.45, high: 0.22, urgent: 0.08}",
            "priority_weights: {low: 0, medium: 0, high: 0, urgent: 0}",
        ),
        "tasks.priority_weights",
    ),
    (
        "sigma too wide",
        ("cycle_time_days: {median: 2.5, sigma: 1.1}", "cycle_time_days: {median: 2.5, sigma: 4.5}"),
        "tasks.cycle_time_days.sigma",
    ),
    (
        "latency at the late threshold",
        ("max_latency_seconds: 900", "max_latency_seconds: 3600"),
        "ingestion.max_latency_seconds",
    ),
    ("window before 2000", ("start: 2025-01-01", "start: 1969-11-01"), "window.start"),
    (
        "too many users per account",
        ("users_per_account: {min: 1, max: 25}", "users_per_account: {min: 1, max: 20000}"),
        "users_per_account.max",
    ),
    ("window too short for long cycles", ("end: 2025-12-31", "end: 2025-01-31"), "too short"),
    ("missing key", ("seed: 22                          # spec: reproducibility\n", ""), "missing key 'seed'"),
    (
        "launch before the window",
        (
            "enabled: false\n    name: Hand-off assistant\n    date: 2025-06-02",
            "enabled: true\n    name: Hand-off assistant\n    date: 2024-06-02",
        ),
        "scenarios.feature_launch.date",
    ),
    (
        "unknown plan tier in the segment",
        ("plan_tiers: [business, enterprise]", "plan_tiers: [business, gold]"),
        "scenarios.feature_launch.plan_tiers",
    ),
    (
        "incident backfill not late",
        (
            "enabled: false\n    start: 2025-09-16T13:00:00    # UTC\n    hours: 5\n    backfill_delay_hours: 3 ",
            "enabled: true\n    start: 2025-09-16T13:00:00\n    hours: 5\n    backfill_delay_hours: 0.5 ",
        ),
        "scenarios.ingestion_incident.backfill_delay_hours",
    ),
    (
        "incident outside the window",
        ("enabled: false\n    start: 2025-09-16T13:00:00", "enabled: true\n    start: 2026-09-16T13:00:00"),
        "scenarios.ingestion_incident.start",
    ),
    (
        "holiday outside the window",
        ("enabled: false\n    days: [2025-01-01,", "enabled: true\n    days: [2024-12-25, 2025-01-01,"),
        "scenarios.holidays.days",
    ),
    (
        "holiday listed twice, even when off",
        ("days: [2025-01-01,", "days: [2025-01-01, 2025-01-01,"),
        "scenarios.holidays.days lists 2025-01-01 twice",
    ),
    (
        "holidays on without days",
        (
            "enabled: false\n    days: [2025-01-01, 2025-04-18, 2025-04-21, 2025-05-01, "
            "2025-12-24, 2025-12-25, 2025-12-26, 2025-12-31]",
            "enabled: true\n    days: []",
        ),
        "lists no days",
    ),
    (
        "launch segment tier twice",
        ("plan_tiers: [business, enterprise]", "plan_tiers: [business, business]"),
        "lists a tier twice",
    ),
    ("as_of before the window", ("as_of: null", "as_of: 2024-12-31T00:00:00"), "snapshot.as_of"),
    ("as_of not a time", ("as_of: null", "as_of: tomorrow"), "snapshot.as_of"),
    ("csv not a boolean", ("csv: true", "csv: yes"), "output.csv"),
]


@pytest.mark.parametrize("label,edit,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_value_is_one_line_exit_2_nothing_written(tmp_path, capsys, label, edit, expected):
    """The run stops before writing anything, with one line that names the key and the file."""
    path = write_params(tmp_path, _replace(tiny_yaml(), *edit))
    data_dir, reports_dir = tmp_path / "data" / "x", tmp_path / "reports" / "x"
    code = run_workbook(data_dir, reports_dir, params=path)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert expected in err, err
    assert str(path.name) in err
    assert not (tmp_path / "data").exists() and not (tmp_path / "reports").exists()


def test_python_tag_is_never_executed(tmp_path, monkeypatch):
    """A YAML python/object tag is refused by the loader, and its command never runs."""
    marker = tmp_path / "pwned"
    text = _replace(tiny_yaml(), "seed: 22", f"seed: !!python/object/apply:os.system ['touch {marker}']")
    with pytest.raises(P.ParamsError):
        P.load(write_params(tmp_path, text))
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

"""Cleaning never touches a published dataset; removing datasets says so in its name and takes their links."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import runs

from .conftest import ROOT


def _published(data_root, reports_root, name: str, run_ids: list[str]):
    """A dataset as helpers.run leaves it: runs under data/.runs/NAME, the last one published."""
    folder = data_root / runs.RUNS / name
    for run_id in run_ids:
        (folder / run_id / "reports").mkdir(parents=True)
        (folder / run_id / "PUBLISHED").write_text(run_id)
        (folder / run_id / "manifest.json").write_text("{}")
    runs.publish(folder / run_ids[-1], data_root / name)
    runs.link_reports(reports_root / name, data_root / name)
    return folder


def test_clean_keeps_published_datasets_and_user_files(tmp_path):
    data_root, reports_root = tmp_path / "data", tmp_path / "reports"
    folder = _published(data_root, reports_root, "default", ["20260101T000000Z-1", "20260102T000000Z-2"])
    (folder / "20260103T000000Z-3").mkdir()  # a killed run (no mark)
    (folder / "20260104T000000Z-4").mkdir()
    (folder / "20260104T000000Z-4" / "FAILED").write_text("x")
    (folder / "legacy-20260101T000000Z-1").mkdir()  # a user's old folder, moved aside by an old version
    (folder / ".lock").write_text("pid 1")
    (data_root / "_scratch" / "tiny").mkdir(parents=True)
    (data_root / "README.md").write_text("mine")
    (data_root / "my-notes").mkdir()

    removed = runs.clean(data_root)

    assert sorted(p.name for p in removed) == [
        "20260101T000000Z-1", "20260103T000000Z-3", "20260104T000000Z-4", "_scratch",
    ]  # fmt: skip
    assert (data_root / "default" / "manifest.json").exists()  # the link still resolves
    assert (reports_root / "default").resolve() == (folder / "20260102T000000Z-2" / "reports").resolve()
    for kept in ("legacy-20260101T000000Z-1", ".lock"):
        assert (folder / kept).exists(), kept
    assert (data_root / "README.md").read_text() == "mine" and (data_root / "my-notes").is_dir()


def test_clean_datasets_removes_the_datasets_and_their_links_only(tmp_path):
    data_root, reports_root = tmp_path / "data", tmp_path / "reports"
    _published(data_root, reports_root, "default", ["20260101T000000Z-1"])
    _published(data_root, reports_root, "tiny", ["20260101T000000Z-5"])
    (reports_root / "assumptions_log.md").write_text("kept")
    (reports_root / "figures").mkdir()
    (data_root / "elsewhere").symlink_to(tmp_path, target_is_directory=True)  # a user's own link

    runs.clean_datasets(data_root, reports_root)

    assert not os.path.lexists(data_root / "default") and not os.path.lexists(data_root / "tiny")
    assert not os.path.lexists(reports_root / "default") and not os.path.lexists(reports_root / "tiny")
    assert not any((data_root / runs.RUNS / "default").iterdir())
    assert (reports_root / "assumptions_log.md").read_text() == "kept" and (reports_root / "figures").is_dir()
    assert (data_root / "elsewhere").is_symlink()


def test_make_clean_runs_the_clean_that_keeps_datasets(tmp_path):
    """`make clean` calls `python -m helpers.runs clean` (the Makefile's line), which names what it kept."""
    makefile = (ROOT / "Makefile").read_text()
    assert "$(PY) -m helpers.runs clean\n" in makefile
    assert "rm -rf" not in makefile
    data_root = tmp_path / "data"
    _published(data_root, tmp_path / "reports", "default", ["20260101T000000Z-1"])
    out = subprocess.run([sys.executable, "-m", "helpers.runs", "clean", "--data-root", str(data_root)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "published datasets kept: default" in out
    assert (data_root / "default" / "manifest.json").exists()

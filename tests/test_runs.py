"""Cleaning never touches a published dataset; removing datasets says so in its name and takes their links."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from helpers import io, run, runs

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


# --------------------------------------------------------------------------- a user's files are never touched
def _snapshot(folder) -> dict[str, tuple]:
    """Every entry under `folder` (not following links): its kind, bytes and mode, by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", path.stat().st_mode)
        else:
            out[rel] = ("file", path.read_bytes(), path.stat().st_mode)
    return out


def _users_folder(parent):
    """A folder of a user's own: notes, a subfolder, a hidden file."""
    mine = parent / "my data"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes, keep them\n")
    (mine / "sub" / "table.csv").write_bytes(b"a,b\n1,2\n")
    (mine / ".hidden").write_text("x")
    return mine


@pytest.mark.parametrize("which", ["--data-dir", "--reports-dir"])
@pytest.mark.parametrize("extra", [[], ["--dry-run"]])
def test_an_existing_folder_that_is_not_a_dataset_is_refused_and_left_untouched(tmp_path, capsys, which, extra):
    """--data-dir or --reports-dir on a user's folder: one line naming it, exit 2, checked before anything
    is written: the folder is byte-for-byte as it was and nothing new appears beside it (no .runs, no lock)."""
    mine = _users_folder(tmp_path)
    before = _snapshot(tmp_path)
    other = {"--data-dir": tmp_path / "data" / "tiny", "--reports-dir": tmp_path / "reports" / "tiny"}
    other[which] = mine
    argv = ["--params", str(ROOT / "params/tiny.yaml"), "--data-dir", str(other["--data-dir"])]
    code = run.main([*argv, "--reports-dir", str(other["--reports-dir"]), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and which in err[0] and str(mine) in err[0] and "not a dataset" in err[0], err
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda p: (p.mkdir(), (p / "manifest.json").write_text("{}")), "older saas-synth"),
        (lambda p: p.write_text("a file"), "existing file"),
        (lambda p: p.symlink_to(p.parent / "elsewhere", target_is_directory=True), "did not make"),
        (lambda p: p.mkdir(), "not a dataset"),
    ],
    ids=["older-dataset-folder", "file", "user-link", "empty-folder"],
)
def test_anything_at_the_data_dir_but_our_link_is_refused(tmp_path, capsys, make, says):
    """An older version's real dataset folder (manifest.json), a file, a link a user made, even an empty
    folder: exit 2, one line saying what it is, nothing written anywhere."""
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "ds"
    make(target)
    before = _snapshot(tmp_path)
    code = run.main(["--params", str(ROOT / "params/tiny.yaml"), "--data-dir", str(target)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and says in err[0] and str(target) in err[0], err
    if says == "older saas-synth":
        assert "rm -r" in err[0] and "choose a path" in err[0]
    assert _snapshot(tmp_path) == before


def test_publish_never_moves_a_users_folder(tmp_path):
    """runs.publish and runs.link_reports refuse what is not their own link (no legacy-* move)."""
    mine = _users_folder(tmp_path)
    before = _snapshot(tmp_path)
    run_dir = tmp_path / runs.RUNS / mine.name / "20260101T000000Z-1"
    with pytest.raises(runs.NotOurs, match="left untouched"):
        runs.publish(run_dir, mine)
    with pytest.raises(runs.NotOurs, match="left untouched"):
        runs.link_reports(mine, tmp_path / "data" / "x")
    assert _snapshot(tmp_path) == before


def test_our_links_are_accepted_and_replaced(tmp_path):
    """The links a run made (data/NAME into its runs folder, reports/NAME to data/NAME/reports) pass the
    check and are replaced by the next publish; a link into another dataset's runs folder does not."""
    data_root, reports_root = tmp_path / "data", tmp_path / "reports"
    folder = _published(data_root, reports_root, "tiny", ["20260101T000000Z-1"])
    runs.check_targets(data_root / "tiny", reports_root / "tiny")
    (folder / "20260102T000000Z-2" / "reports").mkdir(parents=True)
    runs.publish(folder / "20260102T000000Z-2", data_root / "tiny")
    assert (data_root / "tiny").resolve() == (folder / "20260102T000000Z-2").resolve()
    (data_root / "other").symlink_to(os.path.relpath(folder / "20260101T000000Z-1", data_root))
    with pytest.raises(runs.NotOurs):
        runs.check_targets(data_root / "other", reports_root / "other")


# --------------------------------------------------------------------------- scratch state beside the run
def test_scratch_lives_beside_a_run_and_goes_with_it(tmp_path):
    """A run folder's scratch state is data/.runs/NAME/.scratch/RUN_ID/state (not in the published folder),
    found through the data/NAME link too; pruning and cleaning remove it with its run, and scratch whose
    run is gone, and keep the published run's. A folder that is not a run, or keeps state/ inside, holds it."""
    data_root = tmp_path / "data"
    folder = _published(data_root, tmp_path / "reports", "tiny", ["20260101T000000Z-1", "20260102T000000Z-2"])
    old, new = folder / "20260101T000000Z-1", folder / "20260102T000000Z-2"
    assert io.state_root(data_root / "tiny") == folder.resolve() / runs.SCRATCH / new.name / "state"
    assert io.state_root(new) == io.state_root(data_root / "tiny")
    for run_dir in (old, new, folder / "20260103T000000Z-3"):
        run_dir.mkdir(exist_ok=True)
        io.state_root(run_dir).mkdir(parents=True)
        (io.state_root(run_dir) / "params.json").write_text("{}")
    shutil.rmtree(folder / "20260103T000000Z-3")  # its scratch is left behind: an orphan
    assert not (new / "state").exists()

    runs.prune(folder, [new], keep=1)

    assert sorted(p.name for p in (folder / runs.SCRATCH).iterdir()) == [new.name]
    runs.clean_datasets(data_root, tmp_path / "reports")
    assert not (folder / runs.SCRATCH).exists()

    inside = folder / "20260104T000000Z-4"
    (inside / "state").mkdir(parents=True)  # helpers.run --state-inside, or an older run
    assert io.state_root(inside) == inside / "state"
    assert io.state_root(tmp_path / "scratch") == tmp_path / "scratch" / "state"

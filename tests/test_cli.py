"""The `saas-synth` command: installed as a console script, its subcommands, an export that travels (a plain
folder whose content hashes match its manifest), and Ctrl-C during a run (one line, exit 130, nothing left)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from helpers import cli, io, pipeline, runs, verify

from .conftest import ROOT, TINY, run_workbook


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def test_the_console_script_is_declared_and_every_help_reads():
    """pyproject installs `saas-synth` (helpers.cli:entry) for Python 3.11 and newer; --help lists the four
    subcommands and each subcommand has its own help (exit 0)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"saas-synth": "helpers.cli:entry"}
    assert project["requires-python"] == ">=3.11"
    out = subprocess.run([sys.executable, "-m", "helpers.cli", "--help"], capture_output=True, text=True, env=_env())
    assert out.returncode == 0 and out.stdout.startswith("usage: saas-synth")
    for command in ("run", "verify", "export", "list"):
        assert f"\n    {command} " in out.stdout, command
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        assert exit_info.value.code == 0


def test_usage_errors_are_one_line_and_exit_2(capsys, tmp_path):
    """No command, a missing option, an export onto a non-empty folder: one line each, exit 2."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run"])
    assert exit_info.value.code == 2 and "--params" in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path / "out"), "--dataset", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a published dataset" in err[0]
    assert not (tmp_path / "out").exists() and sorted(os.listdir(tmp_path)) == []


def test_ctrl_c_in_any_subcommand_is_one_line_and_exit_130(monkeypatch, capsys, tmp_path):
    """A KeyboardInterrupt inside a subcommand becomes one line naming what did not happen, and 130."""

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "export_dataset", interrupted)
    assert cli.main(["export", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err == "interrupted: nothing exported\n"


def _plain(folder: Path) -> list[str]:
    """Every symlink under `folder` (walking without following links)."""
    links = []
    for here, dirs, files in os.walk(folder, followlinks=False):
        links += [os.path.join(here, n) for n in dirs + files if os.path.islink(os.path.join(here, n))]
    return links


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_export_is_a_plain_folder_whose_content_hashes_match(tiny_run, tmp_path, capsys):
    """`export` copies the published dataset as a plain folder: no symlink anywhere, reports/ a real folder,
    no scratch state (unless --with-state); its content hashes, recomputed, equal the manifest's, and verify
    passes on it. A second export onto the same folder is refused (exit 2) and changes nothing."""
    code, data_dir, _ = tiny_run
    assert code == 0
    manifest = json.loads((data_dir / "manifest.json").read_text())
    out = tmp_path / "copy of [tiny]"
    assert cli.main(["export", str(out), "--dataset", str(data_dir)]) == 0
    assert _plain(out) == []
    assert (
        (out / "reports").is_dir() and not (out / "reports").is_symlink() and (out / "reports" / "index.html").is_file()
    )
    assert not (out / "state").exists() and not (out / "PUBLISHED").exists()
    assert io.content_hashes(out) == manifest["content_hashes"]
    assert verify.problems(out) == []
    assert sorted(os.listdir(tmp_path)) == [out.name]  # no temporary sibling left
    # without its scratch state an export still knows its parameters (the manifest's), so 05 runs on it
    assert not io.params_path(out).exists() and io.load_params(out) == io.load_params(data_dir)
    assert pipeline.first_to_run("05_metrics_preview", out) is None

    capsys.readouterr()
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert cli.main(["export", str(out), "--dataset", str(data_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "not an empty folder" in err[0]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before

    with_state = tmp_path / "with-state"
    assert cli.main(["export", str(with_state), "--dataset", str(data_dir), "--with-state"]) == 0
    assert _plain(with_state) == []
    assert io.state_root(with_state) == with_state / "state"
    assert io.load_params(with_state) == io.load_params(data_dir)  # the notebooks can re-run steps on it


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_list_shows_each_published_dataset_and_its_real_folder(tiny_run, capsys):
    """`list`: name, parameter files and seed, row counts, when published, size, and the real folder the
    data/NAME link points to (which is what `cp -r` would not copy)."""
    _, data_dir, _ = tiny_run
    (data_dir.parent / "notes").mkdir(exist_ok=True)  # not a dataset: not listed
    assert cli.main(["list", "--data-root", str(data_dir.parent)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tiny: params/default.yaml + params/tiny.yaml (seed 22), published ")
    assert "notes" not in out
    counts = json.loads((data_dir / "manifest.json").read_text())["row_counts"]
    assert f"events {counts['events']:,}" in out and f"accounts {counts['accounts']:,}" in out
    assert f"folder: {data_dir.resolve()}" in out and "scratch state beside it" in out


def _kernels_of(pid: int) -> list[int]:
    """Processes started by a kernel manager in process `pid` (jupyter_client sets JPY_PARENT_PID)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"JPY_PARENT_PID={pid}".encode() in environ:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find kernel processes")
def test_ctrl_c_during_a_run_leaves_one_line_and_a_clean_next_run(tmp_path):
    """Ctrl-C (SIGINT to the whole foreground process group, as a terminal sends it) while a tiny run is in
    a notebook: exit 130, exactly one line after the signal, no traceback, no kernel left running, the lock
    released, no staged run left; the next run publishes."""
    data_dir, reports_dir = tmp_path / "data" / "tiny", tmp_path / "reports" / "tiny"
    argv = ["--params", str(TINY), "--data-dir", str(data_dir), "--reports-dir", str(reports_dir)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers.cli", "run", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        for line in proc.stderr:
            if "01_entities ..." in line:  # the kernel is running 01_entities
                break
        else:
            pytest.fail(f"the run ended before 01_entities: {proc.wait()}")
        for _ in range(600):  # the kernel of 01_entities starts just after that line
            kernels = _kernels_of(proc.pid)
            if kernels:
                break
            time.sleep(0.05)
        assert kernels, "no kernel found for the run"
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, after = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert after == "interrupted: nothing published\n" and stdout == ""
    assert [k for k in kernels if Path(f"/proc/{k}").exists()] == []
    runs.acquire_lock(runs.runs_dir(data_dir), wait=False).close()  # released
    assert sorted(p.name for p in runs.runs_dir(data_dir).iterdir()) == [".lock"]
    assert not os.path.lexists(data_dir) and not os.path.lexists(reports_dir)

    assert run_workbook(data_dir, reports_dir) == 0
    assert verify.problems(data_dir) == []


@pytest.mark.parametrize("published", [False, True])
def test_an_interrupted_run_says_what_happened_and_keeps_a_published_run(tmp_path, capsys, published):
    """Ctrl-C before the publishing switch: the staged run and its scratch are removed, "nothing
    published". After it (the link already points at the run): the run is kept and the line says so."""
    from helpers import run

    data_dir, reports_dir = tmp_path / "data" / "tiny", tmp_path / "reports" / "tiny"
    stage = runs.runs_dir(data_dir) / "20260101T000000Z-1"
    (stage / "reports").mkdir(parents=True)
    runs.scratch_dir(stage).mkdir(parents=True)
    if published:
        runs.publish(stage, data_dir)
        runs.link_reports(reports_dir, data_dir)
    previous = signal.getsignal(signal.SIGINT)
    try:
        code = run._interrupted(run.Run(None, None, data_dir, reports_dir, stage.name, 1))
    finally:  # it ignores a second Ctrl-C while it cleans up; this process keeps its own handler
        signal.signal(signal.SIGINT, previous)
    err = capsys.readouterr().err.splitlines()
    assert code == 130 and len(err) == 1
    if published:
        assert err[0].startswith("interrupted after publishing: ") and str(data_dir) in err[0]
        assert stage.is_dir() and (data_dir / "reports").resolve() == (stage / "reports").resolve()
    else:
        assert err == ["interrupted: nothing published"]
        assert not stage.exists() and not runs.scratch_dir(stage).exists()


def test_run_without_the_clone_says_how_to_install(monkeypatch, tmp_path, capsys):
    """Installed without -e, the package has no notebooks beside it: `run` says so in one line (exit 2)
    and writes nothing, instead of failing inside papermill."""
    from helpers import run

    monkeypatch.setattr(run, "NOTEBOOKS_DIR", tmp_path / "site-packages" / "notebooks")
    data_dir = tmp_path / "data" / "tiny"
    assert cli.main(["run", "--params", str(TINY), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install -e ." in err[0] and str(tmp_path) in err[0]
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_list_into_a_reader_that_left_says_nothing(tiny_run):
    """`saas-synth list | head -1`: the reader closes the pipe before list writes; no error line, exit 0."""
    code, data_dir, _ = tiny_run
    assert code == 0
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes
    proc = subprocess.run(
        [sys.executable, "-m", "helpers.cli", "list", "--data-root", str(data_dir.parent)],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        timeout=120,
    )
    os.close(write)
    assert proc.returncode == 0 and proc.stderr == ""


def test_after_ctrl_c_papermill_logs_to_the_run_log_only(tmp_path, capfd):
    """An interrupted notebook client may log its kernel's death after Ctrl-C; papermill's logger has no
    handler, so Python would print it on the terminal beside the one line: it goes to run.log instead."""
    import logging

    from helpers import run as run_module

    papermill_log = logging.getLogger("papermill")
    saved = (list(papermill_log.handlers), papermill_log.propagate, list(run_module.log.handlers))
    try:
        run_module._setup_logging(tmp_path / "run.log")
        run_module.papermill_to_run_log()
        papermill_log.error("Kernel died while waiting for execute reply.")
        for h in run_module.log.handlers:
            h.flush()
        assert capfd.readouterr().err == ""
        assert "Kernel died while waiting for execute reply." in (tmp_path / "run.log").read_text()
    finally:
        for h in run_module.log.handlers:
            h.close()
        papermill_log.handlers[:], papermill_log.propagate, run_module.log.handlers[:] = saved

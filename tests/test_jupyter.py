"""The notebooks as users open them, in subprocesses: papermill's own command line, JupyterLab by
`make lab`, and nbval (which leaves no folder behind)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT

BIN = Path(sys.executable).parent
VENV = Path(sys.prefix)


def _papermill(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """papermill's own CLI on a shipped notebook, its output notebook in tmp_path."""
    return subprocess.run(
        [str(BIN / "papermill"), *args], cwd=tmp_path, capture_output=True, text=True, timeout=180, env=os.environ
    )


@pytest.mark.slow
def test_papermill_help_notebook_shows_types_defaults_and_help(tmp_path):
    out = _papermill("--help-notebook", str(ROOT / "notebooks/00_setup.ipynb"), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "Unknown type" not in text
    assert 'params_path: str (default "") parameters file (YAML); empty: $SAAS_SYNTH_PARAMS' in text
    assert "$SAAS_SYNTH_PARAMS, else params/tiny.yaml" in text
    assert 'data_dir: str (default "") the dataset folder; empty: $SAAS_SYNTH_DATA_DIR' in text


@pytest.mark.slow
def test_papermill_with_an_unknown_parameter_fails_naming_it(tmp_path):
    """An unknown name stops the notebook in its first cells, before anything is written."""
    data_dir = tmp_path / "d"
    nb = str(ROOT / "notebooks/00_setup.ipynb")
    out = _papermill(nb, "out.ipynb", "-p", "data_dir", str(data_dir), "-p", "colour", "red", tmp_path=tmp_path)
    assert out.returncode != 0
    assert "NotebookError: 00_setup: unknown parameter(s) colour (allowed: params_path, data_dir)" in out.stderr
    assert not data_dir.exists()


@pytest.mark.slow
def test_papermill_given_a_params_file_with_f_fails_with_the_params_path_hint(tmp_path):
    """`-f params/default.yaml` passes the file's keys as parameters (it used to generate tiny, exit 0)."""
    nb, data_dir = str(ROOT / "notebooks/00_setup.ipynb"), tmp_path / "d"
    out = _papermill(
        nb, "out.ipynb", "-f", str(ROOT / "params/default.yaml"), "-p", "data_dir", str(data_dir), tmp_path=tmp_path
    )
    assert out.returncode != 0
    line = next(x for x in out.stderr.splitlines() if x.startswith("NotebookError"))
    assert "unknown parameter(s) accounts," in line and "seed" in line
    assert "pass -p params_path params/default.yaml" in line
    assert not data_dir.exists()  # nothing generated (it used to generate tiny and exit 0)


@pytest.mark.slow
def test_nbval_removes_its_dataset_folder(tmp_path):
    """A pytest session with nbval makes one scratch dataset folder (the notebooks' kernels see it) and
    removes it at the end; a folder given in $SAAS_SYNTH_DATA_DIR is the user's and stays."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    seen = tmp_path / "seen.json"
    (tmp_path / "record_folder.py").write_text(
        "import json, os\n"
        "def pytest_collection_finish(session):\n"
        "    d = os.environ.get('SAAS_SYNTH_DATA_DIR')\n"
        f"    open({str(seen)!r}, 'w').write(json.dumps([d, bool(d) and os.path.isdir(d)]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SAAS_SYNTH_DATA_DIR"}
    env.update(TMPDIR=str(tmp), PYTHONPATH=os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "record_folder"]
    cmd += ["--nbval-lax", "--collect-only", "-q", "notebooks/00_setup.ipynb"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    folder, existed = json.loads(seen.read_text())
    assert existed and Path(folder).parent == tmp and Path(folder).name.startswith("saas-synth-nbval-")
    assert list(tmp.iterdir()) == []  # removed at the end, nothing else left
    mine = tmp_path / "mine"
    mine.mkdir()
    env["SAAS_SYNTH_DATA_DIR"] = str(mine)
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(seen.read_text()) == [str(mine), True]
    assert mine.is_dir() and list(tmp.iterdir()) == []


def _make_lab(*args: str) -> list[str]:
    """`make lab` with this test's environment as the venv (its installation taken as done)."""
    return ["make", "-s", "lab", f"VENV={VENV}", "-o", f"{VENV}/.installed", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str, str]:
    """Status, Location header and body of a GET, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **kw):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=5) as r:
            return r.status, r.headers.get("Location", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location", ""), ""


def test_make_lab_command_line():
    """The project root served, notebooks/ opened first, --allow-root only when running as root."""
    out = subprocess.run([*_make_lab(), "-n"], cwd=ROOT, capture_output=True, text=True, check=True)
    argv = shlex.split(out.stdout.strip().splitlines()[-1])
    assert argv[:2] == [f"{VENV}/bin/jupyter", "lab"]
    assert "--ServerApp.root_dir=." in argv and "--LabApp.default_url=/lab/tree/notebooks" in argv
    assert ("--allow-root" in argv) == (os.getuid() == 0)


@pytest.mark.slow
def test_make_lab_serves_the_project_root_and_opens_at_notebooks(tmp_path):
    """JupyterLab started by `make lab` (headless, a free port) lists notebooks/ and params/ and sends
    its start page to /lab/tree/notebooks; then it is stopped."""
    port, token = _free_port(), "saas-synth-test"
    lab_args = f"LAB_ARGS=--no-browser --port={port} --IdentityProvider.token={token}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = tmp_path / "lab.log"
    with log.open("w") as out:  # a file, not a pipe: the server's log never blocks it
        proc = subprocess.Popen(_make_lab(lab_args), cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if _get(f"{base}/api/status?token={token}")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not start"
            time.sleep(0.5)
        status, _, body = _get(f"{base}/api/contents/notebooks?token={token}")
        assert status == 200
        assert {"00_setup.ipynb", "05_metrics_preview.ipynb"} <= {c["name"] for c in json.loads(body)["content"]}
        status, _, body = _get(f"{base}/api/contents/params?token={token}")
        assert status == 200 and "default.yaml" in {c["name"] for c in json.loads(body)["content"]}
        status, location, _ = _get(f"{base}/?token={token}")
        assert status in (301, 302) and location.split("?")[0].endswith("/lab/tree/notebooks")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

"""Root pytest configuration: notebooks run under nbval use tiny params and a temporary dataset folder,
made when the session starts and removed when it ends (only the folder this session made; a folder
given in $SAAS_SYNTH_DATA_DIR is the user's and stays)."""

import os
import shutil
import tempfile

from helpers.pipeline import ENV_DATA_DIR, ENV_PARAMS

NBVAL_PREFIX = "saas-synth-nbval-"
_made: list[str] = []  # the folder this session made, if any

os.environ.setdefault(ENV_PARAMS, "params/tiny.yaml")


def _runs_notebooks(config) -> bool:
    return bool(getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False))


def pytest_configure(config):
    """Under nbval, a scratch dataset folder for the notebooks (their kernels inherit the variable)."""
    if _runs_notebooks(config) and not os.environ.get(ENV_DATA_DIR):
        folder = tempfile.mkdtemp(prefix=NBVAL_PREFIX)
        _made.append(folder)
        os.environ[ENV_DATA_DIR] = folder


def pytest_unconfigure(config):
    """Remove the folder pytest_configure made (and only that one), and forget it."""
    while _made:
        folder = _made.pop()
        if os.environ.get(ENV_DATA_DIR) == folder:
            del os.environ[ENV_DATA_DIR]
        shutil.rmtree(folder, ignore_errors=True)

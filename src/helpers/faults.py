"""Named failure points, for the tests of what a failed or killed run leaves behind.

SAAS_SYNTH_FAULT=<name> raises at the point named <name>; SAAS_SYNTH_FAULT=exit:<name> ends the
process there at once, as SIGKILL would (no cleanup, no handler). Unset, a point does nothing.
"""

from __future__ import annotations

import os

FAULT_ENV = "SAAS_SYNTH_FAULT"


def fault_point(name: str) -> None:
    """Fail here if the environment asks for it (see the module docstring)."""
    fault = os.environ.get(FAULT_ENV)
    if fault == name:
        raise RuntimeError(f"fault injected at {name} ({FAULT_ENV})")
    if fault == f"exit:{name}":
        os._exit(137)

"""make bench's phase-by-phase view of a whole run (issue 16): read from the run's own manifest."""

from __future__ import annotations

import json

import pytest

from helpers import bench
from helpers.run import NOTEBOOKS


@pytest.mark.slow
def test_a_whole_runs_phases_name_every_step_and_add_up_to_the_run(tiny_run):
    """Every notebook, the HTML and the manifest-and-publish rest appear, and the phases add up to the
    run's seconds (to rounding); the note line splits generation (01 + 02) from what follows it."""
    code, data_dir, _ = tiny_run
    assert code == 0
    timings = json.loads((data_dir / "manifest.json").read_text())["timings_seconds"]
    seconds = timings["total_before_manifest"] + 2.5  # the run as the bench's clock saw it
    ph = bench.phases(timings, seconds)
    assert list(ph) == [*NOTEBOOKS, "html", "manifest_and_publish"]
    assert sum(ph.values()) == pytest.approx(seconds, abs=0.1 * len(ph))
    assert ph["manifest_and_publish"] == pytest.approx(2.5, abs=0.05)
    line = bench.phase_line("tiny", {"seconds": seconds, "phases": ph})
    generation = ph["01_entities"] + ph["02_events"]
    assert f"generation (01 + 02) {generation:.0f} s" in line
    assert f"after generation {seconds - generation:.0f} s" in line
    assert bench.phase_line("tiny", {"seconds": seconds}) == ""  # an old bench file has no phases

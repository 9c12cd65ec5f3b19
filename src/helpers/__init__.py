"""saas-synth helpers: the logic the notebooks call (params, streams, entities, events, io, checks, plots, run)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["PROJECT_ROOT"]

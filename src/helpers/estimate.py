"""What a run will make, before it runs: row counts and disk space (`--dry-run`, the disk check).

Accounts, users and projects come from the accounts plan (exact). Tasks and events come from simulating a
sample of accounts in memory (every account up to SAMPLE_ACCOUNTS; beyond, that many spread evenly over
the signup order) and scaling by users. Disk space is a model of the published folder, calibrated on
the shipped presets (see DISK).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .generate.accounts import plan_accounts
from .generate.block import simulate_account
from .generate.events import block_events
from .params import Params

SAMPLE_ACCOUNTS = 240


@dataclass(frozen=True)
class DiskModel:
    """Bytes of a published dataset folder: fixed reports, a warehouse with a floor, Parquet (tables,
    state, truth) per event, CSV copies per event (measured on tiny, default and large, 2026-12-03)."""

    reports: float = 7.25e6  # 1.25e6 of it: 04's behaviour charts and realism table (notebook and HTML);
    # 0.5e6: the late-arrivals-by-cause chart in 03 and 04 (tiny measured 6.89e6 before it, 7.40e6 after)
    warehouse_floor: float = 6.0e6  # tiny's warehouse in storage format v1.1.0 (DuckDB 1.1+): 6.04e6; 5.5e6 before
    warehouse_per_event: float = 35.0
    parquet_per_event: float = 61.0
    csv_per_event: float = 140.0

    def bytes(self, events: float, csv: bool) -> int:
        warehouse = max(self.warehouse_floor, self.warehouse_per_event * events)
        per_event = self.parquet_per_event + (self.csv_per_event if csv else 0.0)
        return int(self.reports + warehouse + per_event * events)


DISK = DiskModel()


@dataclass(frozen=True)
class Estimate:
    accounts: int
    users: int
    projects: int
    tasks: int
    events: int
    disk_bytes: int
    sampled_accounts: int

    def rows(self) -> dict[str, int]:
        """What --dry-run prints."""
        return {
            "accounts": self.accounts,
            "users": self.users,
            "projects": self.projects,
            "tasks (approx.)": self.tasks,
            "events (approx.)": self.events,
            "disk bytes (approx.)": self.disk_bytes,
        }


def estimate(params: Params) -> Estimate:
    """Row counts and disk bytes of the run these parameters make (a sample of accounts simulated in memory)."""
    plan = plan_accounts(params)
    n = plan.n_accounts
    sample = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_ACCOUNTS)).round().astype(int))
    tasks = events = users = 0
    for a in sample:
        sim = simulate_account(params, plan, int(a))
        accounts = range(int(a), int(a) + 1)
        events += len(block_events(params, accounts, sim.users, sim.sessions, sim.projects, sim.timeline)["event_id"])
        tasks += len(sim.tasks["task_id"])
        users += len(sim.users["user_id"])
    scale = plan.total_users / max(users, 1)
    est_events = events * scale * (1.0 + params.imperfections.duplicates.share)
    return Estimate(
        accounts=n,
        users=plan.total_users,
        projects=int(plan.n_projects.sum()),
        tasks=round(tasks * scale),
        events=round(est_events),
        disk_bytes=DISK.bytes(est_events, params.output.csv),
        sampled_accounts=len(sample),
    )

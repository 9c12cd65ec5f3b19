"""Projects of a block of accounts: created in a session of an activated user at (or after) the time
the account plan set for them, named from a pool, archived a while after their last task closed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import Params
from ..units import DAY, MINUTE, to_us
from . import vocab
from .accounts import AccountPlan, Block
from .arrays import group_rank
from .sessions import Sessions

NONE = -1  # not archived
NAME_POOL = np.array([f"{a} {k}" for a in vocab.PROJECT_AREAS for k in vocab.PROJECT_KINDS], dtype=object)


@dataclass(frozen=True)
class Projects:
    """The projects of a block, one row each (grouped by account, in plan order)."""

    project_id: np.ndarray
    acct: np.ndarray  # block-local account
    created: np.ndarray  # us
    owner: np.ndarray  # block-local user index
    session: np.ndarray  # the creating session (row of the sessions sorted by account, start)
    name: np.ndarray

    def __len__(self) -> int:
        return len(self.project_id)


def place_projects(params: Params, plan: AccountPlan, block: Block, ses: Sessions) -> Projects:
    """Each project is created in the first session (of any user of its account) that starts at or
    after its nominal time, a few minutes into it; the same name twice in one account gets " 2", " 3"."""
    draws = block.draws(params, "projects")
    counts = plan.n_projects[block.accounts]
    first, total = int(plan.project_offset[block.accounts[0]]), int(counts.sum())
    acct = np.repeat(np.arange(len(block)), counts)
    nominal = plan.project_nominal_at[first : first + total]
    k = np.searchsorted(ses.sorted_key, ses.start_key(acct, nominal), side="left")
    k = np.minimum(k, ses.account_hi[acct] - 1)
    start, end = ses.start_sorted[k], ses.end_sorted[k]
    offset = np.minimum(draws.exponential(15.0 * MINUTE, counts), (end - start) * 0.3).astype(np.int64)
    name_idx = np.floor(draws.random(counts) * len(NAME_POOL)).astype(np.int64)
    for_sort = np.lexsort((name_idx, acct))
    repeat = np.zeros(total, dtype=np.int64)
    repeat[for_sort] = group_rank(acct[for_sort] * len(NAME_POOL) + name_idx[for_sort])
    name = np.where(
        repeat == 0, NAME_POOL[name_idx], NAME_POOL[name_idx] + " " + (repeat + 1).astype(str).astype(object)
    )
    project_id = first + 1 + np.arange(total, dtype=np.int64)
    return Projects(project_id, acct, start + offset, ses.user_sorted[k], k, name)


def archive_times(
    params: Params,
    block: Block,
    projects: Projects,
    task_project: np.ndarray,
    task_closed: np.ndarray,
    task_closed_at: np.ndarray,
    w1: int,
) -> np.ndarray:
    """Per project: when it was archived (NONE if live). A project is archived, with probability
    projects.archive_share, a lognormal lag after its last task closed, only if it has tasks, all are
    closed, and the lag ends inside the window."""
    n = len(projects)
    counts = np.bincount(projects.acct, minlength=len(block))
    draws = block.draws(params, "archive")
    open_tasks = np.bincount(task_project, weights=~task_closed, minlength=n)
    last_close = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_close, task_project, task_closed_at)
    has_tasks = np.bincount(task_project, minlength=n) > 0
    lag_days = params.projects.archive_lag_days
    archive_at = last_close + to_us(draws.lognormal(lag_days.median * DAY, lag_days.sigma, counts))
    chosen = draws.random(counts) < params.projects.archive_share
    return np.where(has_tasks & (open_tasks == 0) & chosen & (archive_at < w1), archive_at, NONE)

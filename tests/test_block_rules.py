"""The account rules counted block by block agree with the same SQL over the whole dataset.

A rule with `-- scope: account` (helpers.quality.checks) runs on each block of accounts where the blocks run
(helpers.blocks.account_rule_violations); its count is the blocks' sum. These tests hold the two paths to the
same numbers: on clean data, and on every planted bad row of tests/test_rules.py (one row changed, added or
removed), with the changed table laid out in blocks again as the generator lays it out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from helpers import blocks, duck, io
from helpers.quality import checks

from .test_rules import MUTATIONS, _mutate

BLOCK_TABLES = duck.BLOCK_TABLES


def _whole(data_dir: Path):
    return checks.run_rules(duck.dataset(data_dir, io.load_params(data_dir))).set_index("rule")


def _combined(data_dir: Path, **where):
    per_account = blocks.account_rule_violations(data_dir, progress=False, **where)
    con = duck.dataset(data_dir, io.load_params(data_dir))
    return checks.run_rules(con, per_account=per_account).set_index("rule")


def _relay_in_blocks(data_dir: Path) -> None:
    """Lay every block table out again as the generator does: part k holds the rows of block k's accounts
    (a row of no account, a planted bad row, goes to the nearest block)."""
    params = io.load_params(data_dir)
    size, n_blocks = params.output.accounts_per_part, len(blocks.part_ranges(data_dir))
    for name in BLOCK_TABLES:
        folder = io.table_dir(data_dir, name)
        rows = pa.concat_tables([io.read_parts_file(f) for f in io.parts(folder)])
        account = pc.fill_null(rows.column("account_id"), 1).to_numpy()
        part = np.clip((account - 1) // size, 0, n_blocks - 1)
        for f in io.parts(folder):
            f.unlink()
        for k in np.unique(part):
            io.write_part(rows.filter(pa.array(part == k)), folder, int(k))


def test_account_rules_read_only_what_a_block_has():
    """A block has no ledger, no qa.redelivered of the whole dataset and no truth beyond its own late
    deliveries: an account rule reads none of them (the qa views give it the block's events)."""
    account = checks.account_rules()
    assert len(account) >= 40
    for q in account:
        for outside in ("imperfections.ledger", "qa.redelivered", "truth."):
            assert outside not in q.sql, f"{q.name} reads {outside} but is checked block by block"


def test_every_rule_is_in_one_scope():
    scopes = {q.name: q.scope for q in checks.load_queries("rules")}
    assert set(scopes.values()) == {checks.DATASET, checks.ACCOUNT}
    # keys unique across accounts can only be judged over the whole dataset
    assert {scopes[n] for n in ("pk_users", "pk_tasks", "pk_events", "users_email_reserved")} == {checks.DATASET}


def test_blocks_agree_on_tiny_in_process_and_on_workers(tiny_data):
    whole = _whole(tiny_data)
    assert whole.violations.sum() == 0
    for workers in (1, 2):
        combined = _combined(tiny_data, workers=workers)
        assert (combined.violations == whole.violations).all()
        assert set(combined[combined.checked == checks.BY_BLOCK].index) == {q.name for q in checks.account_rules()}


def test_blocks_on_a_dask_cluster(tiny_data, dask_cluster):
    per_block = blocks.account_rule_violations(tiny_data, progress=False, scheduler=dask_cluster.scheduler_address)
    con = duck.dataset(tiny_data, io.load_params(tiny_data))
    assert per_block == checks.violations(con, checks.account_rules())


@pytest.mark.xdist_group("default")
def test_blocks_agree_on_default(default_data):
    con = duck.dataset(default_data, io.load_params(default_data))
    assert blocks.account_rule_violations(default_data, progress=False) == checks.violations(
        con, checks.account_rules()
    )


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.rule for m in MUTATIONS])
def test_a_planted_bad_row_counts_the_same_block_by_block(tiny_data, tmp_path, m):
    """Every rule's count on a dataset with one bad row: the same whether the account rules ran block by
    block or over the whole dataset; the bad row fails the run either way."""
    broken = tmp_path / "broken"
    _mutate(tiny_data, broken, m.table, m.sql)
    _relay_in_blocks(broken)
    whole, combined = _whole(broken), _combined(broken)
    assert combined.violations.to_dict() == whole.violations.to_dict()
    assert combined.loc[m.rule, "violations"] == 1
    assert checks.failures(combined.reset_index())

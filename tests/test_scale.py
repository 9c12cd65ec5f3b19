"""Scale: block-vectorised generation equals account-by-account generation; the data do not depend on
how blocks are scheduled (1, 2 or 7 workers, a Dask cluster); memory does not grow with the dataset."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import blocks, io
from helpers import params as P
from helpers.generate import accounts, arrays, block, events
from helpers.generate.arrays import order_by
from helpers.io import ledger_path
from helpers.streams import AccountDraws, stream

from .conftest import ROOT, TINY, generate, params_variant


def _fingerprint(data_dir) -> dict:
    """Content hashes of every table plus the ledger's rows (order-free)."""
    ledger = pa.parquet.read_table(ledger_path(data_dir))
    rows = sorted(map(tuple, ledger.to_pandas().astype(str).itertuples(index=False)))
    return {"tables": io.content_hashes(data_dir), "ledger": rows}


# ------------------------------------------------------------------ per-account streams, vectorised


def test_account_draws_are_each_accounts_own_draws():
    counts = np.array([3, 0, 5, 1])
    keys = [11, 12, 13, 14]
    D = AccountDraws(22, "tasks", keys)
    got = np.concatenate([D.random(counts), D.normal(1.0, 2.0, counts), D.poisson(np.arange(9) + 0.5, counts)])
    rows = np.arange(9) + 0.5
    ends = np.cumsum(counts)
    # the same draws, account by account, from fresh generators
    gens = [stream(22, "tasks", k) for k in keys]
    want = [g.random(c) for g, c in zip(gens, counts, strict=True)]
    want += [g.normal(1.0, 2.0, c) for g, c in zip(gens, counts, strict=True)]
    want += [g.poisson(rows[end - c : end]) for g, c, end in zip(gens, counts, ends, strict=True)]
    assert np.array_equal(got, np.concatenate(want))


def test_a_block_simulates_each_account_as_if_alone(monkeypatch):
    p = P.load(ROOT / "params/tiny.yaml")
    plan = accounts.plan_accounts(p)
    alone = [block.simulate_account(p, plan, a) for a in range(8)]
    monkeypatch.setattr(block, "CHUNK_USERS", 12)  # the block is also split into user-bounded chunks
    together = block.simulate_block(p, plan, range(0, 8))
    for field in ("users", "projects", "tasks", "timeline", "sessions", "user_latent"):
        got = getattr(together, field)
        for k in got:
            parts = [getattr(s, field)[k] for s in alone]
            want = pa.concat_arrays(parts) if isinstance(parts[0], pa.Array) else np.concatenate(parts)
            assert got[k].equals(want) if isinstance(want, pa.Array) else np.array_equal(got[k], want), (field, k)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), max_size=60))
def test_event_order_is_the_stable_order_by_time_then_account(rows):
    t = np.array([10**15 + x * 1_000_000 for x, _ in rows], dtype=np.int64)
    acct = np.array([a for _, a in rows], dtype=np.int64)
    assert np.array_equal(arrays.stable_order(t, acct, 4, 10**15), np.lexsort((acct, t)))
    assert np.array_equal(order_by(acct, t, 10**15), np.lexsort((t, acct)))


# ------------------------------------------------------------------ scheduling never changes the data


@pytest.mark.slow
@pytest.mark.xdist_group("workers")
def test_content_is_the_same_for_1_2_and_7_workers(tmp_path, tiny_data):
    """The same tables and ledger whether the blocks run on 1, 2 or 7 worker processes."""
    reference = _fingerprint(tiny_data)  # generated in-process (tiny: one worker)
    for workers in (2, 7):
        data_dir = generate(TINY, tmp_path / f"w{workers}", workers=workers)
        assert _fingerprint(data_dir) == reference, f"{workers} workers"
    one = generate(TINY, tmp_path / "w1", workers=1)
    assert _fingerprint(one) == reference


@pytest.mark.slow
@pytest.mark.xdist_group("dask")
def test_a_dask_cluster_writes_the_same_data(dask_cluster, tmp_path, tiny_data):
    """The same tables and ledger from a Dask cluster of 2 workers, both of which ran blocks."""
    import distributed

    data_dir = generate(TINY, tmp_path / "dask", scheduler=dask_cluster.scheduler_address)
    assert _fingerprint(data_dir) == _fingerprint(tiny_data)
    with distributed.Client(dask_cluster.scheduler_address) as client:  # the blocks ran on both workers
        done = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(done) == 2 and all(n > 0 for n in done.values())


# ------------------------------------------------------------------ bounded memory

PEAK_RSS = """
import json, resource, sys
from helpers import pipeline
pipeline.setup(sys.argv[1], sys.argv[2])
pipeline.generate_entities(sys.argv[2], progress=False, workers=1)
n = pipeline.generate_events(sys.argv[2], progress=False, workers=1)["events"]
print(json.dumps({"events": n, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@pytest.mark.slow
@pytest.mark.xdist_group("memory")
def test_peak_memory_does_not_grow_with_the_dataset(tmp_path):
    """A scaled-down preset at 1x and 9x the accounts: the events stream through blocks of 32
    accounts, so the larger run's peak RSS stays within a block's worth of the smaller one's. The peak
    follows the largest block, so the blocks are kept alike (teams of at most 40, no history: with
    three-year-old accounts of up to 250 users next to new ones, nine times the blocks hold a much larger
    largest block, though nothing accumulates: measured, +23 MB this way, +127 MB with default's mix)."""
    peaks = {}
    for scale, n_accounts in (("1x", 100), ("9x", 900)):
        path = params_variant(
            tmp_path,
            {
                "output.accounts_per_part": 32,
                "accounts.count": n_accounts,
                "users_per_account.max": 40,
                "history.launch": None,
            },
            base="default",
            name=f"{scale}.yaml",
        )
        out = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, str(path), str(tmp_path / scale)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        peaks[scale] = json.loads(out.stdout.strip().splitlines()[-1])
    small, large = peaks["1x"], peaks["9x"]
    assert large["events"] > 6 * small["events"]
    # holding the events would cost ~80 bytes each in memory: >120 MB more at 9x
    held = 80 * (large["events"] - small["events"]) / 2**20
    assert held > 120
    assert large["peak_mb"] - small["peak_mb"] < 60, peaks


# ------------------------------------------------------------------ bounded-memory QA, the runner's options


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300))
def test_profile_quantiles_equal_duckdbs_exact_ones(values):
    import duckdb

    from helpers.quality import profile

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?::DOUBLE[]) AS v", [values])
    got = profile.distribution(con, "SELECT v FROM t")
    n, lo, qs, hi, mean = con.execute(
        "SELECT count(*), min(v), quantile_cont(v, [0.1, 0.5, 0.9, 0.99]), max(v), avg(v) FROM t"
    ).fetchall()[0]
    assert (got["n"], got["min"], got["max"]) == (n, lo, hi)
    assert got["mean"] == pytest.approx(mean, rel=1e-9, abs=1e-6)
    for key, want in zip(("p10", "median", "p90", "p99"), qs, strict=True):
        assert got[key] == pytest.approx(want, rel=1e-9, abs=1e-6), key


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--workers", "0"], "argument --workers: '0' is not allowed; use a whole number >= 1"),
        (["--workers", "two"], "argument --workers: 'two' is not allowed; use a whole number >= 1"),
        (
            ["--scheduler", "localhost"],
            "argument --scheduler: 'localhost' is not a scheduler address; use e.g. tcp://HOST:8786",
        ),
    ],
)
def test_bad_worker_options_are_one_line_and_exit_2(tmp_path, capsys, args, expected):
    from helpers import run

    with pytest.raises(SystemExit) as exit_info:
        run.main(["--params", str(ROOT / "params/tiny.yaml"), "--data-dir", str(tmp_path / "d"), *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err
    assert not (tmp_path / "d").exists()


@pytest.mark.slow  # waits for the Dask client's connection timeout (~10 s)
def test_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path, capsys):
    """A scheduler nobody listens at: exit 1 with one line, nothing written, the environment as it was."""
    from helpers import run

    code = run.main(
        [
            "--params",
            str(ROOT / "params/tiny.yaml"),
            "--data-dir",
            str(tmp_path / "d"),
            "--scheduler",
            "tcp://127.0.0.1:9",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cannot reach the Dask scheduler at tcp://127.0.0.1:9") and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the lock
    assert "SAAS_SYNTH_SCHEDULER" not in __import__("os").environ  # the caller's environment is left as it was


# ------------------------------------------------------------------ events of a block: ids and pieces never matter


def _part_inputs(data_dir, k=0):
    read = {
        "users": io.to_numpy_columns(
            io.read_parts_file(io.part_path(io.table_dir(data_dir, "users"), k), ["user_id", "account_id"])
        ),
        "sessions": io.to_numpy_columns(io.read_parts_file(io.part_path(io.state_dir(data_dir, "sessions"), k))),
        "projects": io.to_numpy_columns(
            io.read_parts_file(
                io.part_path(io.table_dir(data_dir, "projects"), k),
                ["project_id", "account_id", "owner_user_id", "created_at"],
            )
        ),
        "timeline": io.to_numpy_columns(
            io.read_parts_file(io.part_path(io.state_dir(data_dir, "timeline"), k), blocks.TIMELINE_FOR_EVENTS)
        ),
    }
    return blocks.saved_params(data_dir), blocks.part_ranges(data_dir)[k], read


USER_COLUMNS = {
    "users": ["user_id"],
    "sessions": ["user_id"],
    "projects": ["owner_user_id"],
    "timeline": [
        c for c in blocks.TIMELINE_FOR_EVENTS if c.endswith("_id") and c not in ("task_id", "account_id", "project_id")
    ],
}


def test_events_do_not_depend_on_where_the_blocks_user_ids_start(tiny_data):
    """A block far into a big dataset (user ids past 16,384, where packed search keys would overflow
    if they were not block-local) gives the same events, with its user ids."""
    params, accounts, read = _part_inputs(tiny_data)
    shift = 40_000
    moved = {
        name: {k: (np.where(v >= 0, v + shift, v) if k in USER_COLUMNS[name] else v) for k, v in cols.items()}
        for name, cols in read.items()
    }
    base = events.block_events(params, accounts, *read.values())
    far = events.block_events(params, accounts, *moved.values())
    assert np.array_equal(far["user_id"] - shift, base["user_id"])
    assert np.array_equal(far["session_id"] - shift * events.SESSION_ID_STRIDE, base["session_id"])  # user-scoped
    for k in base:
        if k not in ("user_id", "session_id", "prop_a", "prop_b"):
            assert np.array_equal(far[k], base[k]), k


def test_events_of_a_block_do_not_depend_on_its_pieces(tiny_data, monkeypatch):
    params, accounts, read = _part_inputs(tiny_data)
    whole = events.block_events(params, accounts, *read.values())
    monkeypatch.setattr(events, "CHUNK_USERS", 3)  # a few users per piece: many pieces, merged by time
    pieces = events.block_events(params, accounts, *read.values())
    for k in whole:
        assert np.array_equal(whole[k], pieces[k]), k


def test_sessions_refuse_more_users_than_their_keys_hold():
    from helpers.generate.arrays import MAX_USERS
    from helpers.generate.sessions import Sessions

    one = np.array([MAX_USERS], dtype=np.int64)
    with pytest.raises(ValueError, match="at most 16,383 users"):
        Sessions(one, one * 0 + 10, one * 0 + 20, 0)


def test_background_writer_reports_a_failed_write_and_never_hides_the_callers_error(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where a folder should be")
    table = pa.table({"x": [1, 2, 3]})
    # the failed write surfaces (at the next write or at the end)
    with pytest.raises(OSError), io.BackgroundWriter() as writer:
        writer.write(table, blocked / "t", 0)
        writer.write(table, tmp_path / "ok", 0)
    with pytest.raises(KeyError, match="the block's own error"), io.BackgroundWriter() as writer:
        writer.write(table, blocked / "t", 1)
        raise KeyError("the block's own error")

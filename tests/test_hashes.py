"""Content hashes computed part by part, where the blocks run (issue 16): the same values as hashing each
table whole, whatever the workers or the scheduler, and still sensitive to any changed value."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from helpers import blocks, io
from helpers.schema import TABLES


def test_hash_sums_add_up_in_any_order(tiny_data):
    """The sums of disjoint pieces add up to the sums of the whole, so pieces may be hashed anywhere and
    combined in any order."""
    events = io.read_table(tiny_data, "events")
    table = TABLES["events"]
    whole = io.content_hash_arrow(events, table)
    thirds = [events.slice(0, 5000), events.slice(5000, 7000), events.slice(12000)]
    sums = [io._hash_sums(piece.to_batches(), table) for piece in thirds]
    assert sum(s.rows for s in sums) == events.num_rows
    assert io.hash_digest(table, sums) == whole
    assert io.hash_digest(table, list(reversed(sums))) == whole
    assert io.hash_digest(table, sums[:2]) != whole  # a piece left out shows


def test_part_by_part_equals_whole_tables_in_process_and_on_workers(tiny_data):
    """blocks.content_hashes (each part a block) gives exactly io.content_hashes (each table read whole),
    in this process and on a pool of two worker processes."""
    whole = io.content_hashes(tiny_data)
    assert set(whole) == set(TABLES)
    assert blocks.content_hashes(tiny_data, progress=False, workers=1) == whole
    assert blocks.content_hashes(tiny_data, progress=False, workers=2) == whole


@pytest.mark.slow
def test_part_by_part_on_a_dask_cluster(tiny_data, dask_cluster):
    """On a Dask cluster every part is hashed on the workers, with the same values."""
    assert blocks.content_hashes(tiny_data, progress=False, scheduler=dask_cluster.scheduler_address) == (
        io.content_hashes(tiny_data)
    )


def test_one_changed_value_in_one_part_changes_that_table_only(tiny_data, tmp_path):
    """A single value changed in one part of tasks changes the tasks hash and no other table's."""
    copy = tmp_path / "data"
    shutil.copytree(tiny_data, copy)
    before = blocks.content_hashes(copy, progress=False, workers=1)
    part = io.parts(io.table_dir(copy, "tasks"))[-1]
    tasks = io.read_parts_file(part)
    title = tasks.column("title")
    changed = pc.if_else(pa.array([i == 0 for i in range(tasks.num_rows)]), "a different title", title)
    io.write_table(tasks.set_column(tasks.schema.get_field_index("title"), "title", changed), part)
    after = blocks.content_hashes(copy, progress=False, workers=1)
    assert after["tasks"] != before["tasks"]
    assert {k: v for k, v in after.items() if k != "tasks"} == {k: v for k, v in before.items() if k != "tasks"}
    assert after == io.content_hashes(copy)


def test_03_records_what_it_published_and_the_manifest_uses_it(tiny_data):
    """03 hashes every part it publishes while the rows are in memory: the recorded sums are those of the
    files, for every part of the tables it writes, and blocks.content_hashes then reads none of them."""
    for name in ("accounts", "users", "tasks", "events"):
        recorded = io.recorded_part_hashes(tiny_data, name)
        files = io.parts(io.table_dir(tiny_data, name))
        assert sorted(recorded) == [f.name for f in files]
        assert all(recorded[f.name] == io.part_hash_sums(f, TABLES[name]) for f in files)
    assert blocks.content_hashes(tiny_data, progress=False, workers=1) == io.content_hashes(tiny_data)


def test_a_part_rewritten_after_it_was_recorded_is_hashed_again(tiny_data, tmp_path):
    """A recorded sum stands only for the file version it was taken from: once the part is rewritten, the
    manifest hashes the file (a deliberately wrong record, kept while the file is unchanged, shows that the
    record is what is used)."""
    copy = tmp_path / "data"
    shutil.copytree(tiny_data, copy)  # new files: nothing recorded for tiny_data applies to them
    part = io.parts(io.table_dir(copy, "events"))[0]
    wrong = io.HashSums(1, 2, 3)
    io.record_part_hashes(copy, [("events", io.part_number(part), wrong)])
    assert io.recorded_part_hashes(copy, "events") == {part.name: wrong}
    assert blocks.content_hashes(copy, progress=False, workers=1)["events"] != io.content_hashes(copy)["events"]
    io.write_table(io.read_parts_file(part), part)  # the same rows, a new file
    assert io.recorded_part_hashes(copy, "events") == {}
    assert blocks.content_hashes(copy, progress=False, workers=1) == io.content_hashes(copy)

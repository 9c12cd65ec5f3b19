"""helpers.verify names any truncated or edited file of a published dataset."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import io, pipeline, verify


@pytest.fixture()
def published(tiny_data, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(tiny_data, copy)
    pipeline.write_manifest(copy)
    return copy


def test_intact_dataset_verifies(published, capsys):
    assert verify.main([str(published)]) == 0
    assert "intact" in capsys.readouterr().out


def test_truncated_part_is_named(published, capsys):
    part = io.parts(io.table_dir(published, "events"))[1]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    assert verify.main([str(published)]) == 1
    err = capsys.readouterr().err
    assert part.name in err and "unreadable" in err


def test_edited_value_is_detected(published, capsys):
    part = io.parts(io.table_dir(published, "tasks"))[0]
    table = pq.read_table(part)
    titles = table.column("title").to_pylist()
    titles[0] = "edited by hand"
    edited = table.set_column(
        table.column_names.index("title"), table.schema.field("title"), pa.array(titles, pa.string())
    )
    pq.write_table(edited, part)
    assert verify.main([str(published)]) == 1
    err = capsys.readouterr().err
    assert "raw/tasks" in err and "content differs" in err


def test_missing_rows_are_counted(published, capsys):
    part = io.parts(io.table_dir(published, "users"))[0]
    table = pq.read_table(part)
    pq.write_table(table.slice(1), part)
    assert verify.main([str(published)]) == 1
    assert "the manifest says" in capsys.readouterr().err


def test_unpublished_folder(tmp_path, capsys):
    assert verify.main([str(tmp_path)]) == 1
    assert "manifest.json: missing" in capsys.readouterr().err


def test_edited_answer_key_is_detected(published, capsys):
    path = published / "truth" / "user_retention.parquet"
    table = pq.read_table(path)
    retained = table.column("retained").to_pylist()
    retained[3] += 1
    pq.write_table(
        table.set_column(
            table.column_names.index("retained"), table.schema.field("retained"), pa.array(retained, pa.int64())
        ),
        path,
    )
    assert verify.main([str(published)]) == 1
    err = capsys.readouterr().err
    assert "truth/user_retention.parquet: content differs" in err


def test_missing_answer_key_is_named(published, capsys):
    (published / "truth" / "active_users_7d.parquet").unlink()
    assert verify.main([str(published)]) == 1
    assert "active_users_7d.parquet: missing" in capsys.readouterr().err

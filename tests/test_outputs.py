"""Outputs that need no outside help: the README's and default.yaml's figures match the default dataset,
the ER diagram follows the schema, CSV copies include the answer keys and the ledger, and nullable ids
load as integers."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import io
from helpers.load import tables
from helpers.publish import figures, package
from helpers.schema import LEDGER, TABLES, TRUTH_TABLES

from .conftest import ROOT


@pytest.mark.slow
@pytest.mark.xdist_group("default")
def test_committed_figures_match_the_default_dataset(default_data):
    """README.md and params/default.yaml hold exactly what the generator renders from the default dataset
    and the committed bench file (rewrite them with `python -m helpers.publish.figures`)."""
    stale = figures.stale(default_data)
    assert not stale, f"{[p.name for p in stale]} out of date: rewrite them with `make figures`"
    c = figures.counts(default_data)
    readme = (ROOT / "README.md").read_text()
    events = sum(pq.ParquetFile(p).metadata.num_rows for p in io.parts(io.table_dir(default_data, "events")))
    assert f"{events:,} published events" in readme  # counted here, not by the module under test
    assert f"{events:,} events (seed 22)" in (ROOT / "params/default.yaml").read_text()
    assert c.rows["events"] == events


def test_figures_blocks_are_replaced_and_missing_markers_named(tmp_path):
    """A stale block is rewritten, the text around it kept; a file without the markers is an error naming
    the block."""
    path = tmp_path / "README.md"
    text = "before\n<!-- figures:begin glance -->\nold figure\n<!-- figures:end -->\nafter\n"
    assert figures.render(text, path, {"glance": "new figure"}) == text.replace("old figure", "new figure")
    yaml_path = tmp_path / "default.yaml"
    y = "# head\n# figures:begin header\n# old\n# figures:end\nseed: 22\n"
    assert figures.render(y, yaml_path, {"header": "# new"}) == y.replace("# old", "# new")
    with pytest.raises(ValueError, match="no block 'speed'"):
        figures.render(text, path, {"speed": "x"})


def test_readme_names_manifest_keys_as_written_and_points_nowhere_outside():
    """The README names timings_seconds (the manifest's key) and sends readers to no file outside the
    repository."""
    readme = (ROOT / "README.md").read_text()
    assert "timings_seconds" in readme and "), timings." not in readme
    assert "../shared" not in readme and "shared/spec" not in readme
    assert "## The spec's decisions, in brief" in readme


def test_er_diagram_follows_the_schema():
    """Every table and column appears, every foreign key is one relationship labelled with its column
    (optional where the key may be null); the diagram is in the data dictionary and the README."""
    er = package.er_diagram()
    lines = er.splitlines()
    assert lines[0] == "erDiagram"
    relations = [line.strip() for line in lines if "--" in line]
    expected = []
    for t in TABLES.values():
        assert f"    {t.name} {{" in lines
        for c in t.columns:
            assert any(line.split()[:2] == [c.sql_type, c.name] for line in lines), (t.name, c.name)
        for c in t.columns:
            if c.references:
                parent = c.references.split(".")[0]
                expected.append(f'{parent} {"|o" if c.nullable else "||"}--o{{ {t.name} : "{c.name}"')
    assert sorted(relations) == sorted(expected)
    assert len(expected) == 12
    assert 'users |o--o{ tasks : "assignee_user_id"' in relations
    assert f"```mermaid\n{er}\n```" in package.data_dictionary()
    assert f"```mermaid\n{er}\n```" in (ROOT / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_csv_copies_include_the_answer_keys_and_the_ledger(tiny_run):
    """With output.csv on (tiny), every truth/ file and the ledger have a CSV copy holding the same rows,
    listed in csv/datapackage.json."""
    _, data_dir, _ = tiny_run
    descriptor = json.loads((data_dir / "csv" / "datapackage.json").read_text())
    listed = {r["name"]: r["path"] for r in descriptor["resources"]}
    sources = {f"truth_{t.name}": (t, io.truth_path(data_dir, t.name)) for t in TRUTH_TABLES.values()}
    sources["imperfections_ledger"] = (LEDGER, io.ledger_path(data_dir))
    copied = 0
    for name, (t, parquet) in sources.items():
        if not parquet.exists():
            continue
        copied += 1
        assert listed[name] == f"{name}.csv"
        back = package.read_csv_copy(data_dir / "csv" / listed[name], name)
        original = pq.read_table(parquet).select(t.column_names)
        assert back.num_rows == original.num_rows > 0, name
        assert back.to_pylist() == original.cast(back.schema).to_pylist(), name
    assert copied >= 5  # three answer keys, scenarios, the ledger


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_nullable_ids_load_as_integers(tiny_run):
    """tasks.assignee_user_id has nulls: pandas' default reading makes it float64; the documented reading
    and helpers.load.tables keep int64 with the same values and nulls."""
    _, data_dir, _ = tiny_run
    raw = pq.ParquetDataset(io.parts(io.table_dir(data_dir, "tasks"))).read(columns=["assignee_user_id"])
    ids = raw.column("assignee_user_id")
    assert ids.null_count > 0 and pa.types.is_integer(ids.type)
    assert pd.read_parquet(data_dir / "raw" / "tasks").assignee_user_id.dtype == "float64"  # the trap
    documented = pd.read_parquet(data_dir / "raw" / "tasks", dtype_backend="pyarrow").assignee_user_id
    loaded = tables(data_dir, ["tasks"])["tasks"].assignee_user_id
    for column in (documented, loaded):
        assert pa.types.is_int64(column.dtype.pyarrow_dtype)
        assert column.isna().sum() == ids.null_count
    assert [None if pd.isna(v) else v for v in loaded] == ids.to_pylist()
    assert set(tables(data_dir)) == set(TABLES)

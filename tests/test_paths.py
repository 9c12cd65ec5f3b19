"""Any folder name a user gives works: no path is pasted into SQL text or read as a glob or a template.

Each hostile folder sits beside a decoy whose name a glob of it would match, so reading the wrong
files shows up as wrong counts, not only as errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import duck, io, run, verify

from .conftest import ROOT

# Characters people do put in folder names, and those the tools around us give a meaning to: SQL
# quotes, glob characters (* ? [ ] { }), papermill's templates ({name}), shell and URL specials,
# spaces, non-ASCII, a newline.
HOSTILE = [
    "o'brien",
    "run [v2]",
    "a*b",
    "what?",
    "{x,y}",
    "{params_path}",
    'say "hi"',
    "$HOME %d;#&",
    "ü ß 東京",
    "tab\tand\nline",
]


def _decoy(name: str) -> str:
    """A sibling name that a glob of `name` would also match."""
    return name.replace("*", "X").replace("?", "Q").replace("[v2]", "v").replace("{x,y}", "x") + "-decoy"


@pytest.mark.parametrize("name", HOSTILE)
def test_parquet_reads_exactly_the_files_named(tmp_path, name):
    for folder, rows in ((tmp_path / name, 3), (tmp_path / _decoy(name), 5)):
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"x": list(range(rows))}), io.part_path(folder, 0))
    con = duck.connect()
    assert con.execute(f"SELECT count(*), sum(x) FROM {duck.parts(con, tmp_path / name)}").fetchall() == [(3, 3)]
    con.execute(f"CREATE VIEW v AS SELECT * FROM {duck.parquet(con, io.parts(tmp_path / name))}")
    assert con.execute("SELECT count(*) FROM v").fetchall() == [(3,)]


@pytest.mark.parametrize("name", HOSTILE)
def test_copy_writes_to_exactly_the_path_named(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    con = duck.connect()
    with io.replacing(folder / "out.parquet") as tmp:
        con.execute("COPY (SELECT 42 AS x) TO ? (FORMAT parquet)", [str(tmp)])
    assert pq.read_table(folder / "out.parquet").column("x").to_pylist() == [42]
    assert sorted(p.name for p in folder.iterdir()) == ["out.parquet"]


def test_a_backslash_is_refused_in_one_line_naming_the_folder(tmp_path, capsys):
    """DuckDB reads a backslash in a database path as a separator: warehouse.duckdb could not live there."""
    target = tmp_path / "back\\slash" / "tiny"
    code = run.main(["--params", str(ROOT / "params/tiny.yaml"), "--data-dir", str(target), "--dry-run"])
    err = capsys.readouterr().err.strip()
    assert code == run.EXIT_USAGE and len(err.splitlines()) == 1
    assert "--data-dir" in err and "backslash" in err and repr(str(target)) in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_the_workbook_runs_publishes_and_verifies_under_a_hostile_folder(tmp_path, tiny_data):
    """The whole run (papermill, DuckDB, the warehouse, the package, HTML) under one folder holding every
    hostile character but the backslash, beside a decoy a glob of it would match: the same content as
    the in-process tiny dataset, verified, with its reports."""
    hostile = "o'brien/run [v2]/a*b?c {x,y} {data_dir} üß $HOME %d;#&\"q"
    base = tmp_path / hostile
    (tmp_path / _decoy(hostile) / "data" / "tiny" / "raw").mkdir(parents=True)
    data_dir, reports_dir = base / "data" / "tiny", base / "reports" / "tiny"
    code = run.main(["--params", str(ROOT / "params/tiny.yaml"), "--data-dir", str(data_dir),
                     "--reports-dir", str(reports_dir), "--timeout", "600"])  # fmt: skip
    assert code == 0
    assert verify.problems(data_dir) == []
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert manifest["content_hashes"] == io.content_hashes(tiny_data)
    index = (reports_dir / "index.html").read_text()
    assert all(f'href="{nb}.html"' in index for nb in run.NOTEBOOKS) and "all guardrails pass" in index
    con = duck.warehouse(data_dir, io.load_params(data_dir))
    assert con.execute("SELECT count(*) FROM raw.events").fetchall()[0][0] == manifest["row_counts"]["events"]

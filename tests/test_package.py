"""The Frictionless descriptors (datapackage.json over the Parquet parts, csv/datapackage.json over the
CSV copies) and the CSV copies themselves: valid for `frictionless validate`, the same content as the
Parquet, NULL and the empty string kept apart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from helpers import io
from helpers.imperfections import ledger
from helpers.publish import package
from helpers.schema import TABLES

FRICTIONLESS = Path(sys.executable).with_name("frictionless")

pytestmark = pytest.mark.xdist_group("package")


def _copy_raw(src: Path, dst: Path) -> Path:
    """A dataset folder holding a copy of src's published tables only (the session dataset stays untouched)."""
    shutil.copytree(io.table_dir(src, "accounts").parent, dst / "raw")
    return dst


@pytest.fixture(scope="module")
def packaged(tiny_data, tmp_path_factory) -> Path:
    """The tiny preset's published tables with the package written beside them, CSV copies included."""
    data_dir = _copy_raw(tiny_data, tmp_path_factory.mktemp("package") / "tiny")
    package.write_package(data_dir, "tiny", csv=True)
    return data_dir


def _validate(descriptor: Path) -> tuple[int, dict]:
    """`frictionless validate --json` as a user runs it, from the descriptor's folder."""
    proc = subprocess.run(
        [str(FRICTIONLESS), "validate", descriptor.name, "--json"],
        cwd=descriptor.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _problems(report: dict) -> list:
    return report["errors"] + [
        (t["name"], e["type"], e.get("note"), e.get("fieldName")) for t in report["tasks"] for e in t["errors"]
    ]


@pytest.mark.slow  # `frictionless validate` in a subprocess
def test_frictionless_validates_the_parquet_package(packaged):
    """Types, required, allowed values, primary and foreign keys of the Parquet resources pass. frictionless
    5.21 reads only the first file of a multi-file Parquet resource, so this covers the first part of each
    table (the CSV test below covers every row)."""
    code, report = _validate(packaged / "datapackage.json")
    assert code == 0 and report["valid"], _problems(report)
    tasks = {t["name"]: t for t in report["tasks"]}
    assert set(tasks) == set(TABLES)
    for name, task in tasks.items():
        first = pq.ParquetFile(io.parts(io.table_dir(packaged, name))[0]).metadata.num_rows
        assert task["valid"] and not task["warnings"], (name, task["errors"][:3], task["warnings"])
        assert task["stats"]["fields"] == len(TABLES[name].columns)
        assert task["stats"]["rows"] >= first > 0, name


@pytest.mark.slow  # `frictionless validate` in a subprocess
def test_frictionless_validates_every_row_of_the_csv_copies(packaged):
    code, report = _validate(packaged / "csv" / "datapackage.json")
    assert code == 0 and report["valid"], _problems(report)
    tasks = {t["name"]: t for t in report["tasks"]}
    assert set(tasks) == set(TABLES)
    for name, task in tasks.items():
        assert task["valid"] and not task["warnings"], (name, task["errors"][:3], task["warnings"])
        assert task["stats"]["rows"] == io.row_count(io.table_dir(packaged, name)), name


@pytest.mark.slow  # `frictionless validate` in a subprocess
def test_frictionless_catches_broken_keys_in_the_csv_copies(packaged, tmp_path):
    """The CSV check is not a formality: a repeated primary key and a dangling foreign key fail it."""
    csv_dir = shutil.copytree(packaged / "csv", tmp_path / "csv")
    users = (csv_dir / "users.csv").read_text(encoding="utf-8").splitlines()
    header, first = users[0].split(","), users[1].split(",")
    first[header.index("account_id")] = "999999"
    users.append(users[1])  # user_id repeated
    users.append(",".join([str(10**9), *first[1:]]))  # a new user of an account that does not exist
    (csv_dir / "users.csv").write_text("\n".join(users) + "\n", encoding="utf-8")
    code, report = _validate(csv_dir / "datapackage.json")
    assert code != 0 and not report["valid"]
    kinds = {(t["name"], e["type"]) for t in report["tasks"] for e in t["errors"]}
    assert {("users", "primary-key"), ("users", "foreign-key")} <= kinds, kinds


def test_frictionless_catches_a_null_id_and_a_bad_value_in_parquet(packaged, tmp_path):
    """Only nullable fields accept pandas' NULL spellings ("nan", "NaT"): a NULL in a required integer and a
    value outside the allowed set still fail."""
    from frictionless import Package

    data_dir = _copy_raw(packaged, tmp_path / "d")
    part = io.parts(io.table_dir(data_dir, "accounts"))[0]
    t = pq.read_table(part)
    ids = t.column("account_id").to_pylist()
    tiers = t.column("plan_tier").to_pylist()
    ids[0], tiers[1] = None, "gold"
    t = t.set_column(0, t.schema.field(0).with_nullable(True), pa.array(ids, pa.int64()))
    t = t.set_column(t.schema.get_field_index("plan_tier"), "plan_tier", pa.array(tiers, pa.string()))
    pq.write_table(t, part)
    package.write_package(data_dir, "tiny")
    resource = Package(str(data_dir / "datapackage.json")).get_resource("accounts")
    report = resource.validate()
    assert not report.valid
    errors = {tuple(e) for e in report.flatten(["type", "fieldName"])}
    assert ("type-error", "account_id") in errors, errors
    assert ("constraint-error", "plan_tier") in errors, errors


def test_csv_copies_hold_the_parquet_rows_in_part_order(packaged):
    for name, t in TABLES.items():
        path = package.csv_path(packaged, name)
        assert path.read_text(encoding="utf-8").split("\n", 1)[0] == ",".join(t.column_names)
        back = package.read_csv_copy(path, name)
        assert back.column_names == t.column_names
        assert back.num_rows == io.row_count(io.table_dir(packaged, name)) > 0
        assert io.content_hash_arrow(back, t) == io.content_hash(io.table_dir(packaged, name), t), name
        # same rows in the same order: part order, then row order within a part
        parquet = pa.concat_tables([pq.read_table(p) for p in io.parts(io.table_dir(packaged, name))])
        canonical = pa.table({c.name: pc.cast(back.column(c.name), c.type) for c in t.columns})
        assert (io.row_hashes(canonical, t.column_names) == io.row_hashes(parquet, t.column_names)).all(), name
    assert not [p for p in (packaged / "csv").iterdir() if ".tmp" in p.name]  # written atomically


def test_csv_timestamps_are_iso_with_microseconds(packaged):
    events = package.csv_path(packaged, "events").read_text(encoding="utf-8").splitlines()
    header = events[0].split(",")
    row = events[1].split(",")
    first = pq.read_table(io.parts(io.table_dir(packaged, "events"))[0]).slice(0, 1).to_pylist()[0]
    assert row[header.index("event_at_utc")] == first["event_at_utc"].strftime("%Y-%m-%d %H:%M:%S.%f")
    assert row[header.index("event_name")] == first["event_name"]  # a dictionary in Parquet: plain text here


def test_null_and_empty_string_stay_distinct_in_the_csv_copies(packaged, tmp_path):
    data_dir = _copy_raw(packaged, tmp_path / "d")
    part = io.parts(io.table_dir(data_dir, "accounts"))[0]
    t = pq.read_table(part)
    industry = t.column("industry").to_pylist()
    industry[0], industry[1], industry[2] = "", None, 'Retail, "quoted"'
    t = t.set_column(t.schema.get_field_index("industry"), t.schema.field("industry"), pa.array(industry, pa.string()))
    pq.write_table(t, part)
    written = package.write_csv_copies(data_dir)
    assert written == [package.csv_path(data_dir, name) for name in TABLES]
    lines = package.csv_path(data_dir, "accounts").read_text(encoding="utf-8").splitlines()
    col = lines[0].split(",").index("industry")
    assert lines[1].split(",")[col] == '""' and lines[2].split(",")[col] == ""  # empty string quoted, NULL empty
    back = package.read_csv_copy(package.csv_path(data_dir, "accounts"), "accounts")
    assert back.column("industry").to_pylist()[:3] == ["", None, 'Retail, "quoted"']
    assert io.content_hash_arrow(back, TABLES["accounts"]) == io.content_hash(
        io.table_dir(data_dir, "accounts"), TABLES["accounts"]
    )
    # and the hash tells them apart: the same rows with a NULL for the empty string hash differently
    industry[0] = None
    nulled = t.set_column(t.schema.get_field_index("industry"), "industry", pa.array(industry, pa.string()))
    assert io.content_hash_arrow(nulled, TABLES["accounts"]) != io.content_hash_arrow(back, TABLES["accounts"])


def test_datapackage_lists_exactly_the_published_columns_and_parts(packaged):
    kinds = {
        "int64": "integer",
        "timestamp[us]": "datetime",
        "string": "string",
        "bool": "boolean",
        "dictionary<values=string, indices=int8, ordered=0>": "string",
    }
    parquet = json.loads((packaged / "datapackage.json").read_text())
    csv = json.loads((packaged / "csv" / "datapackage.json").read_text())
    assert [r["name"] for r in parquet["resources"]] == list(TABLES) == [r["name"] for r in csv["resources"]]
    for name, t in TABLES.items():
        parts = io.parts(io.table_dir(packaged, name))
        published = pq.read_schema(parts[0])
        p = next(r for r in parquet["resources"] if r["name"] == name)
        c = next(r for r in csv["resources"] if r["name"] == name)
        assert p["path"] == [part.relative_to(packaged).as_posix() for part in parts] and p["format"] == "parquet"
        assert c["path"] == f"{name}.csv" and (packaged / "csv" / c["path"]).exists()
        for resource in (p, c):
            fields = resource["schema"]["fields"]
            assert [f["name"] for f in fields] == published.names
            assert [f["type"] for f in fields] == [kinds[str(published.field(n).type)] for n in published.names]
            assert all(f["description"] for f in fields)
            assert [f.get("constraints", {}).get("required", False) for f in fields] == [
                not c_.nullable for c_ in t.columns
            ]
            assert resource["schema"]["primaryKey"] == [t.primary_key]
            fks = {
                (fk["fields"][0], fk["reference"]["resource"], fk["reference"]["fields"][0])
                for fk in resource["schema"].get("foreignKeys", [])
            }
            assert fks == {(col.name, *col.references.split(".")) for col in t.foreign_keys}


def test_events_declare_no_primary_key_when_deliveries_repeat(packaged, tmp_path):
    data_dir = _copy_raw(packaged, tmp_path / "d")
    part = io.parts(io.table_dir(data_dir, "events"))[0]
    t = pq.read_table(part)
    pq.write_table(pa.concat_tables([t, t.slice(0, 1)]), part)  # one event delivered twice, as the ledger
    # records it (the ledger lists every re-sent delivery: rule ledger_duplicates_are_resent)

    first = t.slice(0, 1)
    at = first.column("ingested_at_utc")
    io.ledger_path(data_dir).parent.mkdir(parents=True, exist_ok=True)
    io.write_table(
        ledger.rows("events", first.column("event_id"), "duplicate", "event_id", at, at), io.ledger_path(data_dir)
    )
    descriptor = package.datapackage(data_dir, "tiny")
    schemas = {r["name"]: r["schema"] for r in descriptor["resources"]}
    assert "primaryKey" not in schemas["events"] and schemas["tasks"]["primaryKey"] == ["task_id"]


def test_write_package_writes_csv_copies_only_on_request(packaged, tmp_path):
    data_dir = _copy_raw(packaged, tmp_path / "d")
    written = package.write_package(data_dir, "tiny")
    assert not (data_dir / "csv").exists()
    assert {p.name for p in written} == {"schema.sql", "data_dictionary.md", "sources.yml", "datapackage.json"}
    written = package.write_package(data_dir, "tiny", csv=True)
    assert set(written) >= {package.csv_path(data_dir, name) for name in TABLES} | {
        data_dir / "csv" / "datapackage.json"
    }
    assert all(p.exists() for p in written)

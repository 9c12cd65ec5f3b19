"""warehouse.duckdb: the dataset as one self-contained DuckDB file, what Stage 3 SQL runs against.

Schemas: raw (the tables, loaded from the Parquet parts, with PRIMARY and FOREIGN KEYs on the entity
tables that declare them; the fact tables' keys are checked by SQL), imperfections (the ledger),
truth (the answer keys, as tables) and qa (the views every rule reads: helpers.duck).

Written in an older storage format (STORAGE_VERSION, read by DuckDB MIN_DUCKDB and newer), not the
format of the DuckDB that writes it: DuckDB 1.x refuses a file in DuckDB 2's format, and many users'
BI tools, dbt installs and notebooks pin DuckDB 1.x.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import duck, io
from ..faults import fault_point
from ..schema import LEDGER, TABLES, ddl

# The one home of the warehouse's file-format facts (the manifest and the README state them; tests check
# that DuckDB MIN_DUCKDB opens the file). STORAGE_VERSION is the oldest storage format that holds what the
# warehouse holds; MIN_DUCKDB the oldest DuckDB release that opens it and reads every table and view.
STORAGE_VERSION = "v1.1.0"
MIN_DUCKDB = "1.1.0"
_ALIAS = "warehouse"  # the attached database's name while it is built


def build(data_dir: str | Path) -> Path:
    """Create data_dir/warehouse.duckdb from the dataset folder, built under a temporary name and renamed."""
    data_dir = Path(data_dir)
    final = data_dir / "warehouse.duckdb"
    with io.replacing(final) as tmp, _writable(tmp) as database:
        con = duck.connect()
        try:
            _attach(con, database)
            _load(con, data_dir)
            con.execute(f"CHECKPOINT {_ALIAS}")
        finally:
            con.close()
        Path(f"{database}.wal").unlink(missing_ok=True)
    return final


def info() -> dict[str, str]:
    """What the manifest says about the warehouse: its file, storage format and the oldest DuckDB that opens it."""
    return {"file": "warehouse.duckdb", "storage_version": STORAGE_VERSION, "min_duckdb": MIN_DUCKDB}


def _attach(con, database: Path) -> None:
    """Attach a new database file in storage format STORAGE_VERSION (the path a bound parameter) and make
    it the default catalog, so every CREATE lands in it and its views name no catalog."""
    con.execute(f"ATTACH ? AS {_ALIAS} (STORAGE_VERSION '{STORAGE_VERSION}')", [str(database)])
    con.execute(f"USE {_ALIAS}")


@contextmanager
def _writable(path: Path) -> Iterator[Path]:
    """Where DuckDB can write the database that ends up at `path`. DuckDB reads a '?' in a database path
    as the start of options and writes its WAL to a wrong place, so under such a folder the database is
    built in the temporary folder and moved (it is then only read, which works)."""
    if "?" not in str(path):
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="saas-synth-warehouse-"))
    try:
        yield folder / "warehouse.duckdb"
        shutil.move(folder / "warehouse.duckdb", path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _load(con, data_dir: Path) -> None:
    con.execute("CREATE SCHEMA raw")
    for name, table in TABLES.items():
        con.execute(ddl(table))
        source = duck.parts(con, io.table_dir(data_dir, name))
        con.execute(f"INSERT INTO raw.{name} SELECT {', '.join(table.column_names)} FROM {source}")
        fault_point("warehouse")
    con.execute("CREATE SCHEMA imperfections")
    con.execute(ddl(LEDGER, schema="imperfections", constraints=False))
    ledger = io.ledger_path(data_dir)
    if ledger.exists():  # before (or without) 03_imperfections: the same columns, no rows
        con.execute(f"INSERT INTO imperfections.ledger SELECT * FROM {duck.parquet(con, [ledger])}")
    duck.define_truth(con, data_dir, as_tables=True)
    duck.define_qa_views(con)
    duck.prepare_redelivered(con)

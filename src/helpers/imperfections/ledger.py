"""The imperfection ledger (imperfections/ledger.parquet, schema.LEDGER): one row per row touched or
planted, with the value before and after as text. Parts are collected per block and merged by
`finish`, sorted, so the file does not depend on how blocks were scheduled."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import duck, io
from ..schema import LEDGER

LEDGER_SCHEMA = LEDGER.arrow_schema
ORDER = "table_name, kind, column_name, row_key, original_value, new_value"


def as_text(values: pa.Array) -> pa.Array:
    """Values as ledger text (timestamps ISO 8601, UTC, no zone suffix; %S carries the microseconds)."""
    if pa.types.is_timestamp(values.type):
        return pc.strftime(values, format="%Y-%m-%dT%H:%M:%S")
    return pc.cast(values, pa.string())


def rows(table: str, keys, kind: str, column: str | None, original, new) -> pa.Table:
    """Ledger rows for `keys` of `table`: `original` and `new` are arrays of values (or None: NULL)."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    n = len(keys)

    def text(values):
        if values is None:
            return pa.nulls(n, pa.string())
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return as_text(values) if isinstance(values, pa.Array) else pa.array(values, pa.string())

    return pa.table(
        {
            "table_name": pa.array([table] * n, pa.string()),
            "row_key": pa.array(keys, pa.int64()),
            "kind": pa.array([kind] * n, pa.string()),
            "column_name": pa.array([column] * n, pa.string()),
            "original_value": text(original),
            "new_value": text(new),
        },
        schema=LEDGER_SCHEMA,
    )


def parts_dir(data_dir: Path) -> Path:
    """Where blocks leave their ledger rows (one folder per table) until `finish` merges them."""
    return Path(data_dir) / "imperfections" / ".parts"


def planted(data_dir: Path) -> pa.Table:
    """Ledger rows for what the simulation planted: internal accounts and their users, unflagged test
    workspaces and their users, outliers.
    DuckDB selects the few planted rows from the clean parts and the timeline (never whole tables)."""
    con = duck.connect()
    try:
        ledgers = []
        for name, key in (("accounts", "account_id"), ("users", "user_id")):
            ids = (
                con.sql(
                    f"SELECT {key} FROM {duck.parts(con, io.clean_dir(data_dir, name))} "
                    f"WHERE is_internal ORDER BY {key}"
                )
                .to_arrow_table()
                .column(0)
            )
            ledgers.append(rows(name, ids, "internal", "is_internal", ["false"] * len(ids), ["true"] * len(ids)))
        ledgers += _test_workspaces(con, data_dir)
        timeline = duck.parts(con, io.state_dir(data_dir, "timeline"))
        long_cycle = con.sql(f"""SELECT task_id, make_timestamp(original_done_at) AS was, make_timestamp(done_at) AS now
                                 FROM {timeline} WHERE planted_long_cycle ORDER BY task_id""").to_arrow_table()
        ledgers.append(
            rows("tasks", long_cycle["task_id"], "outlier", "completed_at", long_cycle["was"], long_cycle["now"])
        )
        tasks = duck.parts(con, io.clean_dir(data_dir, "tasks"))
        far_due = con.sql(f"""SELECT t.task_id, make_timestamp(s.original_due_at) AS was, t.due_at AS now
                              FROM {timeline} s JOIN {tasks} t USING (task_id)
                              WHERE s.planted_far_due ORDER BY t.task_id""").to_arrow_table()
        ledgers.append(rows("tasks", far_due["task_id"], "outlier", "due_at", far_due["was"], far_due["now"]))
    finally:
        con.close()
    return pa.concat_tables(ledgers)


def _test_workspaces(con, data_dir: Path) -> list[pa.Table]:
    """Ledger rows of the unflagged test workspaces (state account_latent.test_workspace) and their users:
    column is_internal, what they really are ('true') and what the flag says ('false')."""
    latent = duck.parts(con, io.state_dir(data_dir, "account_latent"))
    users = duck.parts(con, io.clean_dir(data_dir, "users"))
    accounts = con.sql(f"SELECT account_id FROM {latent} WHERE test_workspace ORDER BY 1").to_arrow_table().column(0)
    user_ids = (
        con.sql(
            f"SELECT user_id FROM {users} WHERE account_id IN (SELECT account_id FROM {latent} WHERE test_workspace) "
            "ORDER BY 1"
        )
        .to_arrow_table()
        .column(0)
    )
    return [
        rows(table, ids, "test_workspace", "is_internal", ["true"] * len(ids), ["false"] * len(ids))
        for table, ids in (("accounts", accounts), ("users", user_ids))
    ]


def finish(data_dir: str | Path) -> int:
    """imperfections/ledger.parquet: the planted rows plus every block's rows, sorted by DuckDB (out of
    core) and written atomically; the block parts are removed. Returns the ledger's rows."""
    data_dir = Path(data_dir)
    io.write_part(planted(data_dir).cast(LEDGER_SCHEMA), parts_dir(data_dir) / "planted", 0)
    files = sorted(parts_dir(data_dir).glob("*/part-*.parquet"))
    con = duck.connect()
    try:
        with io.replacing(io.ledger_path(data_dir)) as tmp:
            con.execute(
                f"COPY (SELECT * FROM {duck.parquet(con, files)} ORDER BY {ORDER}) "
                "TO ? (FORMAT parquet, COMPRESSION zstd)",
                [str(tmp)],
            )
            count = pq.ParquetFile(tmp).metadata.num_rows
    finally:
        con.close()
    shutil.rmtree(parts_dir(data_dir), ignore_errors=True)
    return count


def forget(data_dir: Path) -> None:
    """No ledger (and no leftover block parts): the tables it described are being regenerated."""
    io.ledger_path(data_dir).unlink(missing_ok=True)
    shutil.rmtree(parts_dir(data_dir), ignore_errors=True)

"""The extract as production takes it: an `as_of` cut (deliveries ingested later are not published but
listed in truth/not_yet_arrived.parquet) and the daily increments (events_increments/ingested_date=.../),
the files an incremental warehouse load reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .. import duck, io
from ..params import Params
from ..units import moment_us


def cut_at_as_of(params: Params, events: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(published, not yet arrived): with snapshot.as_of set, deliveries ingested after it are not in
    the extract."""
    as_of = params.snapshot.as_of
    if as_of is None or events.num_rows == 0:
        return events, events.slice(0, 0)
    later = pc.cast(events.column("ingested_at_utc"), pa.int64()).to_numpy() > moment_us(as_of)
    return events.filter(pa.array(~later)), events.filter(pa.array(later))


def not_yet_arrived_parts_dir(data_dir: Path) -> Path:
    """Where blocks leave the deliveries their as_of cut removed, until `finish_not_yet_arrived`."""
    return io.truth_dir(data_dir) / ".not_yet_arrived_parts"


def finish_not_yet_arrived(data_dir: Path) -> None:
    """truth/not_yet_arrived.parquet (the events' columns, by event_id and delivery) when the as_of cut
    removed any delivery; no file otherwise."""
    folder = not_yet_arrived_parts_dir(data_dir)
    files = io.parts(folder)
    if files:
        con = duck.connect()
        try:
            with io.replacing(io.truth_path(data_dir, "not_yet_arrived")) as tmp:
                con.execute(
                    f"COPY (SELECT * FROM {duck.parquet(con, files)} ORDER BY event_id, ingested_at_utc) "
                    "TO ? (FORMAT parquet, COMPRESSION zstd)",
                    [str(tmp)],
                )
        finally:
            con.close()
    shutil.rmtree(folder, ignore_errors=True)


def forget(data_dir: Path) -> None:
    """Nothing derived from earlier events survives: no not-yet-arrived deliveries, no increments."""
    io.truth_path(data_dir, "not_yet_arrived").unlink(missing_ok=True)
    shutil.rmtree(not_yet_arrived_parts_dir(data_dir), ignore_errors=True)
    shutil.rmtree(Path(data_dir) / io.INCREMENTS_DIR, ignore_errors=True)


def write_increments(data_dir: str | Path) -> int:
    """events_increments/ingested_date=YYYY-MM-DD/part-0.parquet: the published events split by the UTC
    day they were ingested, each file ordered by ingestion time and event_id; written beside the final
    folder and renamed. Returns the number of days."""
    data_dir = Path(data_dir)
    con = duck.connect()
    try:
        con.execute("SET threads = 1")  # one file per day, rows in the ORDER BY order
        with io.replacing(data_dir / io.INCREMENTS_DIR) as tmp:
            con.execute(
                f"""COPY (SELECT *, ingested_at_utc::DATE AS ingested_date
                          FROM {duck.parts(con, io.table_dir(data_dir, "events"))}
                          ORDER BY ingested_at_utc, event_id)
                    TO ? (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (ingested_date),
                          FILENAME_PATTERN 'part-{{i}}')""",
                [str(tmp)],
            )
    finally:
        con.close()
    return len(list((data_dir / io.INCREMENTS_DIR).glob("ingested_date=*")))

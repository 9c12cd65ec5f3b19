"""The dataset folder: where each file lives, writing it safely, reading it back, hashing its content.

Layout of a dataset folder (data/NAME/):
    raw/<table>/part-NNNNN.parquet      published tables (naive timestamp[us] UTC, BIGINT ids)
    imperfections/ledger.parquet        every row an imperfection touched or planted
    truth/<answer key>.parquet          answer keys, scenarios, deliveries an as_of extract left out
    events_increments/ingested_date=YYYY-MM-DD/   the events by ingestion day (optional)
    warehouse.duckdb, manifest.json     written at the end of a run
The simulation's scratch state (`state_root`, not published: ~40 MB on default, more than raw/):
    params.json                         the resolved parameters (00_setup)
    <name>/, plan/                      the latent state later notebooks need
    clean/<table>/                      the untouched tables 03_imperfections starts from
It lives beside a run of ours (data/.runs/NAME/.scratch/RUN_ID/state, kept and removed with its run),
inside the folder as state/ for any other folder (notebooks run alone) or when the folder already has
a state/ (`helpers.run --state-inside`, or a dataset made by an older version).
Every file is written under a temporary name beside it and renamed into place (`replacing`), so a
reader never sees half a file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .params import Params, from_json_dict
from .runs import RUNS, scratch_dir
from .schema import TABLES, Table

PART_FORMAT = "part-{:05d}.parquet"
INCREMENTS_DIR = "events_increments"  # daily extracts by ingestion day (snapshot.increments)
_PRIME = np.uint64(0x100000001B3)


def part_path(folder: Path, part: int) -> Path:
    return Path(folder) / PART_FORMAT.format(part)


def part_number(path: Path) -> int:
    """part-00012.parquet -> 12."""
    return int(Path(path).stem.split("-")[1])


@contextmanager
def replacing(final: str | Path) -> Iterator[Path]:
    """A temporary path beside `final` to write to; when the block ends without an error, it replaces
    `final` in one rename (a folder replaces a folder), else it is removed. Readers see the old file or
    the new one, never half of one."""
    final = Path(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def parquet_options(schema: pa.Schema) -> dict:
    """zstd; integers and timestamps delta-encoded (ids and times are near-sorted: smaller and
    faster to write than dictionaries); dictionaries only for text."""
    ints = [f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_timestamp(f.type)]
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)]
    return dict(compression="zstd", use_dictionary=text, column_encoding=dict.fromkeys(ints, "DELTA_BINARY_PACKED"))


STATE_OPTIONS = dict(compression="lz4", use_dictionary=False)  # scratch state: fast to write and read


def write_part(table: pa.Table, folder: Path, part: int) -> Path:
    """Write one part atomically (temporary file, then rename). State parts (under state/) are
    written for speed, published tables for size (parquet_options)."""
    folder = Path(folder)
    if os.environ.get("SAAS_SYNTH_FAULT") == f"enospc:{folder.name}":  # tests: a full disk, simulated
        raise OSError(errno.ENOSPC, f"No space left on device (simulated while writing {folder.name})")
    folder.mkdir(parents=True, exist_ok=True)
    final = part_path(folder, part)
    options = STATE_OPTIONS if folder.parent.name == "state" else parquet_options(table.schema)
    with replacing(final) as tmp:
        pq.write_table(table, tmp, row_group_size=1_000_000, **options)
        if os.environ.get("SAAS_SYNTH_FAULT") == f"exit:write:{folder.name}":  # tests: killed mid-write
            os._exit(137)
    return final


class BackgroundWriter:
    """Writes parts on one background thread while the caller computes the next block (pyarrow
    encodes and compresses without holding the GIL). At most `max_pending` writes wait, so memory
    stays bounded; the first error is raised by the next `write` or by `close`, and closing always
    waits for every write that was started."""

    def __init__(self, max_pending: int = 8) -> None:
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self._pending = deque()
        self._max_pending = max_pending

    def write(self, table: pa.Table, folder: Path, part: int) -> None:
        while self._pending and (self._pending[0].done() or len(self._pending) >= self._max_pending):
            self._pending.popleft().result()  # a failed write raises here, at the next write
        self._pending.append(self._pool.submit(write_part, table, folder, part))

    def close(self, raise_errors: bool = True) -> None:
        try:
            while self._pending:
                future = self._pending.popleft()
                if raise_errors:
                    future.result()
                else:
                    future.exception()  # waits; the caller's own error is the one that matters
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(raise_errors=exc_type is None)


def json_safe(obj):
    """NaN and infinities become null (strict JSON has neither); containers are walked."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_json(obj, path: Path) -> None:
    """Strict JSON (no NaN/Infinity), written atomically."""
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(json_safe(obj), indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")


def write_text(text: str, path: Path) -> None:
    """A UTF-8 text file, written atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_table(table: pa.Table, path: Path) -> None:
    """One Parquet file (zstd), written atomically: answer keys, the ledger."""
    with replacing(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def state_root(data_dir: str | Path) -> Path:
    """Where a dataset folder's scratch state lives: its own state/ when that exists (kept inside on
    purpose, or an older layout) or when the folder is not a run of ours; for a run folder
    (data/.runs/NAME/RUN_ID, or the data/NAME link to one) beside the run, in
    data/.runs/NAME/.scratch/RUN_ID/state, so the published folder holds no scratch and a notebook
    re-run on a published dataset still finds it. A pure function of the folder: every notebook,
    worker and process agrees."""
    inside = Path(data_dir) / "state"
    if inside.is_dir():
        return inside
    run = Path(os.path.realpath(data_dir))
    if run.parent.parent.name == RUNS:
        return scratch_dir(run) / "state"
    return inside


def params_path(data_dir: str | Path) -> Path:
    """The resolved parameters every notebook of a dataset reads (saved by 00_setup)."""
    return state_root(data_dir) / "params.json"


def _saved_params(data_dir: Path) -> dict | None:
    """The saved parameters as JSON data: 00_setup's params.json (scratch state), else a published
    dataset's manifest (which holds the same resolved parameters, so an export without its scratch
    state still knows them); None when neither exists."""
    path = params_path(data_dir)
    if path.exists():
        return json.loads(path.read_text())
    manifest = Path(data_dir) / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())["params"]
    return None


def has_params(data_dir: Path) -> bool:
    """Whether 00_setup's parameters can be read in this folder (see load_params)."""
    return params_path(data_dir).is_file() or (Path(data_dir) / "manifest.json").is_file()


def load_params(data_dir: Path) -> Params:
    """The parameters 00_setup saved in a dataset folder (or, published, its manifest's)."""
    data = _saved_params(Path(data_dir))
    if data is None:
        raise FileNotFoundError(
            f"{params_path(data_dir)} not found: run 00_setup (or python -m helpers.run) for this dataset first"
        )
    return from_json_dict(data)


def table_dir(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "raw" / name


def state_dir(data_dir: Path, name: str) -> Path:
    """One table of the simulation's scratch state (see state_root)."""
    return state_root(data_dir) / name


def clean_dir(data_dir: Path, name: str) -> Path:
    """The untouched copy of a table, kept by 03_imperfections (it always starts from there)."""
    return state_root(data_dir) / "clean" / name


def ledger_path(data_dir: Path) -> Path:
    return Path(data_dir) / "imperfections" / "ledger.parquet"


def truth_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "truth"


def truth_path(data_dir: Path, name: str) -> Path:
    return truth_dir(data_dir) / f"{name}.parquet"


def parts(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("part-*.parquet"))


def read_parts(folder: Path, columns: list[str] | None = None, filter=None) -> pa.Table:
    """All parts of a folder as one Arrow table (small tables and state only)."""
    files = parts(folder)
    if not files:
        raise FileNotFoundError(f"no part files in {folder}")
    return ds.dataset([str(f) for f in files], format="parquet").to_table(columns=columns, filter=filter)


def read_parts_file(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One part file as an Arrow table."""
    return pq.read_table(path, columns=columns)


def read_table(data_dir: Path, name: str, columns: list[str] | None = None) -> pa.Table:
    return read_parts(table_dir(data_dir, name), columns)


def row_count(folder: Path) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in parts(folder))


def to_numpy_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """Arrow -> numpy: timestamps as int64 us, null ids/timestamps as -1, strings as object arrays."""
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = pc.cast(col, pa.int64())
        if pa.types.is_integer(col.type):
            if col.null_count:
                col = col.fill_null(-1)
            out[name] = col.to_numpy().astype(np.int64, copy=False)
        elif pa.types.is_dictionary(col.type):
            out[name] = pc.cast(col, pa.string()).to_numpy(zero_copy_only=False)
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


def from_numpy_columns(cols: dict, table: Table) -> pa.Table:
    """numpy columns (timestamps int64 us, -1 = null for nullable ids/timestamps) -> Arrow table."""
    arrays = []
    for c in table.columns:
        x = cols[c.name]
        if pa.types.is_timestamp(c.type) or pa.types.is_integer(c.type):
            x = np.asarray(x, dtype=np.int64)
            mask = (x < 0) if c.nullable else None
            arr = pa.array(x, pa.int64(), mask=mask)
            arrays.append(arr.cast(c.type) if pa.types.is_timestamp(c.type) else arr)
        elif pa.types.is_boolean(c.type):
            arrays.append(pa.array(np.asarray(x, dtype=bool), pa.bool_()))
        elif isinstance(x, (pa.Array, pa.ChunkedArray)):
            arrays.append(x.cast(c.type))
        else:
            arrays.append(pa.array(x, pa.string()).cast(c.type))
    return pa.Table.from_arrays(arrays, schema=table.arrow_schema)


def from_numpy_state(cols: dict) -> pa.Table:
    """Latent state columns (numpy) -> Arrow, types inferred (int64, float64, bool)."""
    return pa.table({k: pa.array(v) for k, v in cols.items()})


# --------------------------------------------------------------------------- content hashes
def _column_hash(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """pandas' hash_array of every value (NULL: a constant); text is hashed one distinct value at a time."""
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks != 1:
            return np.concatenate([_column_hash(c) for c in col.chunks] or [np.empty(0, np.uint64)])
        col = col.chunk(0)
    if pa.types.is_timestamp(col.type):
        col = pc.cast(col, pa.int64())
    if pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.int8())
    valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        h = pd.util.hash_array(np.asarray(pc.fill_null(col, 0).to_numpy(zero_copy_only=False)))
    else:
        h = _text_hash(col)
    return np.where(valid, h, np.uint64(0x9E3779B97F4A7C15))


def _text_hash(col: pa.Array) -> np.ndarray:
    """hash_array of each text value, computed once per distinct value (the values dictionary-encoded by
    pyarrow, as hash_array itself factorizes them): the same numbers, without a Python string per row."""
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    distinct = pd.util.hash_array(np.asarray(col.dictionary.to_numpy(zero_copy_only=False), dtype=object))
    if not len(distinct):  # no value at all (every row NULL, or no rows)
        return np.zeros(len(col), np.uint64)
    return distinct[pc.fill_null(col.indices, 0).to_numpy(zero_copy_only=False)]


def row_hashes(table: pa.Table, columns: list[str]) -> np.ndarray:
    """One uint64 per row, from the values of `columns` in that order (types canonicalised)."""
    h = np.full(table.num_rows, np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in columns:
            h = (h ^ _column_hash(table.column(name))) * _PRIME
    return h


@dataclass(frozen=True)
class HashSums:
    """What content_hash summarises of some rows: their count and two 64-bit sums of row hashes. Sums of
    disjoint row sets add up (mod 2**64), so parts can be hashed anywhere, in any order, and combined."""

    rows: int = 0
    a: int = 0
    b: int = 0

    def __add__(self, other: HashSums) -> HashSums:
        return HashSums(self.rows + other.rows, (self.a + other.a) % 2**64, (self.b + other.b) % 2**64)


def content_hash(folder: Path, table: Table) -> str:
    """A hash of a table's rows that ignores row order, part count and file format.

    Rows are hashed column by column from canonical values (timestamps as int64 us, dictionaries
    decoded); the multiset of row hashes is summarised by two 64-bit sums (HashSums), then sha256 with
    the column names and the row count.
    """
    return hash_digest(table, (part_hash_sums(f, table) for f in parts(folder)))


def part_hash_sums(path: Path, table: Table) -> HashSums:
    """The HashSums of one Parquet part of `table` (read in batches of a million rows)."""
    return _hash_sums(pq.ParquetFile(path).iter_batches(batch_size=1_000_000, columns=table.column_names), table)


def hash_digest(table: Table, sums) -> str:
    """content_hash from the HashSums of disjoint pieces of the table (parts, blocks), in any order."""
    total = sum(sums, HashSums())
    digest = hashlib.sha256()
    digest.update(json.dumps(table.column_names).encode())
    digest.update(f"{total.rows}:{total.a:016x}:{total.b:016x}".encode())
    return digest.hexdigest()


def arrow_hash_sums(data: pa.Table, table: Table) -> HashSums:
    """The HashSums of rows in memory, as part_hash_sums gives for a Parquet part holding them (columns by
    name, cast to the schema's Arrow types first: string_view or large_string compare equal to string)."""
    columns = []
    for c in table.columns:
        col = data.column(c.name)
        columns.append(col if col.type == c.type else pc.cast(col, c.type))
    canonical = pa.Table.from_arrays(columns, names=table.column_names)
    return _hash_sums(canonical.to_batches(max_chunksize=1_000_000), table)


PART_HASHES = "part_hashes.json"  # under the scratch state: the HashSums of parts, taken as they were written


def file_stamp(path: Path) -> list[int]:
    """What identifies one version of a file: a rewrite (always a new file, renamed into place) changes it."""
    st = Path(path).stat()
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def record_part_hashes(data_dir: Path, written: list[tuple[str, int, HashSums]]) -> None:
    """Remember the HashSums of published parts (table, part number, sums) just written, each with its
    file's stamp, so that the manifest need not read them again (recorded_part_hashes)."""
    path = state_root(data_dir) / PART_HASHES
    known = json.loads(path.read_text()) if path.exists() else {}
    for name, part, sums in written:
        f = part_path(table_dir(data_dir, name), part)
        known.setdefault(name, {})[f.name] = [*file_stamp(f), sums.rows, sums.a, sums.b]
    write_json(known, path)


def recorded_part_hashes(data_dir: Path, name: str) -> dict[str, HashSums]:
    """The recorded HashSums of table `name`'s parts whose file is still the one that was hashed (same
    stamp); a part rewritten since, or never recorded, is absent (hash it from the file)."""
    path = state_root(data_dir) / PART_HASHES
    known = json.loads(path.read_text()).get(name, {}) if path.exists() else {}
    out = {}
    for f in parts(table_dir(data_dir, name)):
        entry = known.get(f.name)
        if entry and entry[:3] == file_stamp(f):
            out[f.name] = HashSums(*entry[3:])
    return out


def content_hash_arrow(data: pa.Table, table: Table) -> str:
    """content_hash of rows already in memory (e.g. a CSV copy read back): the same value as content_hash
    gives for Parquet parts holding the same rows (arrow_hash_sums)."""
    return hash_digest(table, [arrow_hash_sums(data, table)])


def _hash_sums(batches, table: Table) -> HashSums:
    total_a = np.uint64(0)
    total_b = np.uint64(0)
    rows = 0
    with np.errstate(over="ignore"):
        for batch in batches:
            t = pa.Table.from_batches([batch])
            h = row_hashes(t, table.column_names)
            mixed = pd.util.hash_array(h)
            total_a = total_a + h.sum(dtype=np.uint64)
            total_b = total_b + mixed.sum(dtype=np.uint64)
            rows += t.num_rows
    return HashSums(rows, int(total_a), int(total_b))


def content_hashes(data_dir: Path) -> dict[str, str]:
    return {name: content_hash(table_dir(data_dir, name), t) for name, t in TABLES.items()}

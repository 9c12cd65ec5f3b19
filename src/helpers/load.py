"""Load a published dataset's tables into pandas without float conversion of nullable ids.

pandas' default Parquet reading turns an integer column with nulls into float64 (an assignee id 42
becomes 42.0, and ids above 2**53 would lose digits). Arrow-backed dtypes keep int64 with <NA>:

    from helpers.load import tables
    t = tables("data/default")            # {table: DataFrame}, every raw table
    t["tasks"].assignee_user_id.dtype      # int64[pyarrow]

(the same as `pd.read_parquet("data/default/raw/tasks", dtype_backend="pyarrow")` per table).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from . import io
from .schema import TABLES


def table(data_dir: str | Path, name: str) -> pd.DataFrame:
    """One raw table, its parts in order, with Arrow-backed dtypes (ids stay int64 where null)."""
    if name not in TABLES:
        raise ValueError(f"table {name!r} is not one of {', '.join(TABLES)}")
    parts = io.parts(io.table_dir(Path(data_dir), name))
    arrow = pq.ParquetDataset(parts, schema=TABLES[name].arrow_schema).read() if parts else TABLES[name].empty()
    return arrow.to_pandas(types_mapper=pd.ArrowDtype)


def tables(data_dir: str | Path, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every raw table of a dataset folder (or those named), as table() loads them."""
    return {n: table(data_dir, n) for n in names or TABLES}

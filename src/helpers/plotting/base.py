"""What every chart shares: the notebook style, readable tables, DuckDB-binned histograms, markers.
Aggregates are computed by DuckDB, so a chart never pulls a whole table into pandas."""

from __future__ import annotations

import duckdb
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = {"weekday": "#3b6ea8", "weekend": "#e0893e"}
BLUE, ORANGE, GREY, RED = "#3b6ea8", "#e0893e", "#b9c4cf", "#c0392b"


def is_key_event(column: str = "event_name") -> str:
    """SQL: the event is a key event (the DuckDB variable key_events, set from the schema)."""
    return f"list_contains(getvariable('key_events'), {column})"


def style() -> None:
    sns.set_theme(style="whitegrid", context="notebook")
    plt.rcParams.update({"figure.figsize": (10, 3.6), "figure.dpi": 100, "axes.titlesize": 12})


def table(df: pd.DataFrame, precision: int = 1):
    """A DataFrame as a readable report table: no index, text left-aligned, thousands separated."""
    text_cols = [c for c in df.columns if df[c].dtype == object or str(df[c].dtype).startswith(("string", "str"))]
    styled = df.style.hide(axis="index").format(precision=precision, thousands=",", na_rep="n/a")
    id_cols = [c for c in df.columns if str(c).endswith("_id") or c == "row_key"]
    if id_cols:  # identifiers are not quantities: no thousands separators
        styled = styled.format("{}", subset=id_cols, na_rep="n/a")
    if text_cols:
        styled = styled.set_properties(subset=text_cols, **{"text-align": "left"})
    return styled.set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])


def _df(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def _log_histogram(ax, con, sql: str, bins: int) -> int:
    """A log-x histogram of column v (> 0) of a query, binned by DuckDB (millions of values never reach
    Python); returns the number of values drawn."""
    lo, hi, n = con.execute(f"SELECT min(v), max(v), count(*) FROM ({sql}) WHERE v > 0").fetchall()[0]
    if not n:
        return 0
    hi = max(hi, lo * 1.0001)
    edges = np.geomspace(lo, hi, bins + 1)
    counts = dict(
        con.execute(f"""SELECT least(floor(ln(v / {lo}) / ln({hi} / {lo}) * {bins}), {bins - 1})::INTEGER AS b,
                                         count(*) FROM ({sql}) WHERE v > 0 GROUP BY b""").fetchall()
    )
    ax.stairs([counts.get(i, 0) for i in range(bins)], edges, fill=True, color="#3b6ea8", alpha=0.85)
    ax.set_xscale("log")
    return int(n)


def _mark(ax, when, label: str, color: str = "#c0392b") -> None:
    ax.axvline(pd.Timestamp(when), color=color, ls="--", lw=1.2, label=label)


def _off(ax, scenario: str) -> None:
    ax.text(
        0.5,
        0.5,
        f"scenario {scenario} is off in these parameters",
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="#777777",
    )

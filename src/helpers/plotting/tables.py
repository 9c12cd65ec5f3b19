"""Tables the notebooks show: the parameters, a dataset folder, imperfection plans and rates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..params import to_json_dict


def params_table(params) -> pd.DataFrame:
    """Every parameter as one row: dotted key and value."""
    rows = []

    def walk(prefix, value):
        if isinstance(value, dict) and not all(isinstance(v, (int, float)) for v in value.values()):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            rows.append({"parameter": prefix, "value": value})

    walk("", to_json_dict(params))
    return pd.DataFrame(rows)


def folder_table(folder) -> pd.DataFrame:
    """Files under a dataset folder (relative paths, sizes), hidden files left out."""
    folder = Path(folder)
    rows = [
        {"path": str(p.relative_to(folder)), "bytes": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(x.startswith(".") for x in p.parts)
    ]
    return pd.DataFrame(rows, columns=["path", "bytes"])


def rates_table(rates: list) -> pd.DataFrame:
    """Every imperfection's target, reachable and measured rate (in %), tolerance and definition."""

    def pct(x):
        return None if x is None else 100 * x

    return pd.DataFrame(
        [
            {
                "imperfection": r.label,
                "target %": pct(r.target_rate),
                "reachable %": pct(r.achievable_rate),
                "measured %": pct(r.measured_rate),
                "tolerance ± pts": pct(r.tolerance),
                "rows": r.count,
                "of": r.denominator,
                "definition": r.definition,
            }
            for r in rates
        ]
    )


def missing_plan_table(plans: list) -> pd.DataFrame:
    """Per blankable column (imperfections.inject.MissingPlan): natural nulls, target and the blanking probability."""
    return pd.DataFrame(
        [
            {
                "column": f"{m.table}.{m.column}",
                "rows": m.rows,
                "natural nulls": m.natural_nulls,
                "natural share %": 100 * m.natural_nulls / m.rows if m.rows else None,
                "target %": 100 * m.target,
                "blanking probability": m.probability,
            }
            for m in plans
        ]
    )


def realism_table(measures: pd.DataFrame) -> pd.DataFrame:
    """quality.realism.measures as a report table: each measure, its value, the range real products fall in,
    pass / outside (no data: the dataset holds nothing to measure it on) and what real products do."""

    def bound(x: float) -> str:
        return f"{x:g}"

    def real_range(low: float, high: float) -> str:
        if high == float("inf"):
            return f">= {bound(low)}"
        return bound(low) if low == high else f"{bound(low)} to {bound(high)}"

    def verdict(row) -> str:
        if row.value is None or pd.isna(row.value):
            return "no data"
        return "pass" if row.real else "outside"

    return pd.DataFrame(
        {
            "measure": measures.measure,
            "value": measures.value,
            "real products": [real_range(lo, hi) for lo, hi in zip(measures.low, measures.high, strict=True)],
            "verdict": [verdict(r) for r in measures.itertuples()],
            "what real products do": measures.expected,
        }
    )

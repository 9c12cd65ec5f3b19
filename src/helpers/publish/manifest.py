"""manifest.json, written last: what the dataset is, how it was made and how to check it. It holds no
absolute path, host name or worker count, so two runs of the same parameters give the same manifest
(but for the timings)."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import duckdb

from .. import duck, io, scenarios
from ..params import SCHEMA_VERSION, Params, params_sha256, to_json_dict
from ..quality import effects, rates
from ..schema import TABLES
from . import package, truth, warehouse

PACKAGES = (
    "numpy",
    "pandas",
    "pyarrow",
    "duckdb",
    "faker",
    "tzdata",
    "pydantic",
    "papermill",
    "nbconvert",
    "matplotlib",
    "seaborn",
)


def package_versions() -> dict[str, str | None]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _connection(data_dir: Path, params: Params) -> duckdb.DuckDBPyConnection:
    """The warehouse when 04 has built it (its qa.redelivered is stored: no pass over the events to find the
    re-sent ones), else views over the Parquet parts: the same tables, the same numbers."""
    if (data_dir / "warehouse.duckdb").is_file():
        return duck.warehouse(data_dir, params)
    return duck.dataset(data_dir, params)


def imperfection_rates(con: duckdb.DuckDBPyConnection, params: Params) -> list[dict]:
    """Every imperfection's measured rate (helpers.quality.rates), floats rounded to 6 places."""
    measured = rates.measure(con, params)
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.as_dict().items()} for r in measured]


def late_arrivals_by(con: duckdb.DuckDBPyConnection, params: Params) -> dict[str, list[dict]]:
    """Late share and delay by client and by event type (helpers.quality.rates.late_by), rounded."""
    return {
        by: [
            {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}
            for row in rates.late_by(con, params, by)
        ]
        for by in rates.LATE_BY
    }


def notes(params: Params) -> list[str]:
    """One line per thing a user of the data must know: duplicates, each enabled scenario, an extract."""
    out = []
    if params.imperfections.duplicates.share > 0:
        out.append(
            f"events: duplicate deliveries are on (imperfections.duplicates.share = "
            f"{params.imperfections.duplicates.share:g}): a re-sent event repeats its event_id; "
            "deduplicate by event_id (the warehouse view qa.events does)"
        )
    out += [f"scenario {line}" for line in scenarios.notes(params)]
    if params.snapshot.as_of:
        out.append(
            f"events: an extract as of {params.snapshot.as_of.isoformat()} UTC: deliveries ingested later "
            "are not in raw/events but in truth/not_yet_arrived.parquet"
        )
    return out


def build(
    data_dir: Path,
    params: Params,
    name: str,
    timings: dict | None = None,
    layers: list | None = None,
    hashes: dict[str, str] | None = None,
) -> dict:
    """The manifest's content (see the README's output contract); `hashes`: the content hashes when the
    caller computed them already (helpers.blocks.content_hashes, part by part on the workers)."""
    table = scenarios.scenarios_table(params).to_pandas()
    con = _connection(data_dir, params)
    try:
        measured, late_by = imperfection_rates(con, params), late_arrivals_by(con, params)
    finally:
        con.close()
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": "saas-synth",
        "name": name,
        "seed": params.seed,
        "params": to_json_dict(params),
        "params_sha256": params_sha256(params),
        "params_layers": layers or [],
        "package_versions": package_versions(),
        "row_counts": {t: io.row_count(io.table_dir(data_dir, t)) for t in TABLES},
        "parts": {t: len(io.parts(io.table_dir(data_dir, t))) for t in TABLES},
        "content_hashes": hashes if hashes is not None else io.content_hashes(data_dir),
        "imperfections": measured,
        "imperfection_effects": [e.as_dict() for e in effects.from_profile(data_dir)],
        "late_arrivals_by": late_by,
        "grain": {t: table_.grain for t, table_ in TABLES.items()},
        "notes": notes(params),
        "scenarios": table.assign(starts_at=table.starts_at.astype(str), ends_at=table.ends_at.astype(str)).to_dict(
            "records"
        ),
        "truth": truth.truth_files(data_dir),
        "warehouse": warehouse.info(),  # its storage format and the oldest DuckDB that opens it
        "snapshot": {
            "as_of": params.snapshot.as_of.isoformat() if params.snapshot.as_of else None,
            "increments_days": len(list((data_dir / io.INCREMENTS_DIR).glob("ingested_date=*"))),
        },
        "timings_seconds": {k: round(v, 3) for k, v in (timings or {}).items()},
    }


def write(
    data_dir: str | Path,
    timings: dict | None = None,
    name: str | None = None,
    layers: list | None = None,
    hashes: dict[str, str] | None = None,
) -> dict:
    """The package beside the data (schema.sql, data_dictionary.md, sources.yml, datapackage.json; CSV
    copies on request), then manifest.json, last."""
    data_dir = Path(data_dir)
    params = io.load_params(data_dir)
    name = name or data_dir.name
    manifest = build(data_dir, params, name, timings, layers, hashes)
    measured = effects.from_profile(data_dir)
    package.write_package(data_dir, name, csv=params.output.csv, params=params, effects=measured)
    io.write_json(manifest, data_dir / "manifest.json")
    return manifest

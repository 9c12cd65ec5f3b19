"""Re-check a published dataset against its manifest: `python -m helpers.verify data/NAME`.

Every table's row count (from the Parquet metadata) and content hash (from the rows) must match
manifest.json; every part must be readable to the end; every answer key in truth/ must match the
manifest's rows and sha256. Prints one line per problem, naming the
file, and exits 0 when the dataset is intact, 1 when it is not, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq

from . import PROJECT_ROOT, io
from .schema import TABLES


def problems(data_dir: str | Path) -> list[str]:
    """Everything wrong with a dataset folder, one readable line each (empty when intact)."""
    data_dir = Path(data_dir)
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.exists():
        return [f"{manifest_path}: missing (not a published dataset, or the run did not finish)"]
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{manifest_path}: unreadable: {exc}"]
    out = []
    for name, table in TABLES.items():
        folder = io.table_dir(data_dir, name)
        files = io.parts(folder)
        if not files:
            out.append(f"{folder}: no part files")
            continue
        broken = False
        for f in files:
            try:
                pf = pq.ParquetFile(f)
                for i in range(pf.num_row_groups):
                    pf.read_row_group(i)
            except Exception as exc:
                out.append(f"{f}: unreadable (truncated or corrupt): {type(exc).__name__}: {str(exc)[:120]}")
                broken = True
        if broken:
            continue
        try:
            rows = io.row_count(folder)
            if rows != manifest.get("row_counts", {}).get(name):
                out.append(f"{folder}: {rows:,} rows, the manifest says {manifest.get('row_counts', {}).get(name)}")
            elif io.content_hash(folder, table) != manifest.get("content_hashes", {}).get(name):
                out.append(f"{folder}: content differs from the manifest (a part was edited or replaced)")
        except Exception as exc:
            out.append(f"{folder}: cannot be checked: {type(exc).__name__}: {str(exc)[:120]}")
    out += _truth_problems(data_dir, manifest.get("truth", {}))
    return out


def _truth_problems(data_dir: Path, listed: dict) -> list[str]:
    """The answer keys (truth/*.parquet) against the manifest's rows and sha256."""
    from .publish.truth import truth_files

    out = []
    for name in listed:
        if not (io.truth_dir(data_dir) / f"{name}.parquet").exists():
            out.append(f"{io.truth_dir(data_dir) / name}.parquet: missing")
    try:
        found = truth_files(data_dir)
    except Exception as exc:
        unreadable = f"{io.truth_dir(data_dir)}: unreadable answer key: {type(exc).__name__}: {str(exc)[:120]}"
        return [*out, unreadable]
    for name, entry in found.items():
        if name not in listed:
            out.append(f"{io.truth_dir(data_dir) / name}.parquet: not in the manifest")
        elif entry != listed[name]:
            out.append(f"{io.truth_dir(data_dir) / name}.parquet: content differs from the manifest")
    return out


def add_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The check's one argument, on `ap` (this module's parser, or the `saas-synth verify` subcommand's)."""
    ap.add_argument(
        "data_dir", metavar="DATASET", help="a published dataset: a folder (data/NAME, an export) or a NAME"
    )
    return ap


def dataset_path(text: str) -> Path:
    """A dataset as the user names it: a path (relative to the current folder), else NAME for data/NAME."""
    path = Path(text).expanduser()
    if os.path.lexists(path) or os.sep in text:
        return path
    named = PROJECT_ROOT / "data" / text
    return named if os.path.lexists(named) else path


def run(args: argparse.Namespace) -> int:
    """Print each problem (stderr) and a summary line; 0 intact, 1 not."""
    data_dir = dataset_path(args.data_dir)
    found = problems(data_dir)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(f"{data_dir}: {len(found)} problem(s)", file=sys.stderr)
        return 1
    print(f"{data_dir}: intact (row counts, content hashes and answer keys match manifest.json)")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.verify", description=__doc__.split("\n\n")[0])
    return run(add_arguments(ap).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

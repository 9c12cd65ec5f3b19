"""Figures quoted in the README and in params/default.yaml's header, rendered from measured sources so
they cannot drift: row counts from the default dataset (exact and deterministic: seed 22), speed and
memory from the committed bench results (reports/bench/latest.json, written by `make bench`), the
entity-relationship diagram from helpers.schema.

Each generated block sits between markers, `<!-- figures:begin NAME -->` ... `<!-- figures:end -->` in
Markdown and `# figures:begin NAME` ... `# figures:end` in YAML; everything outside them is left as it
is. Rewrite them after a change that moves a figure (a test fails until you do):

    python -m helpers.publish.figures                          # from data/default and the bench file
    python -m helpers.publish.figures --data-dir DIR --check   # exit 1 if a file would change
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import PROJECT_ROOT, io
from ..schema import TABLES
from .package import er_diagram

README = PROJECT_ROOT / "README.md"
DEFAULT_PARAMS = PROJECT_ROOT / "params" / "default.yaml"
BENCH = PROJECT_ROOT / "reports" / "bench" / "latest.json"
# The bench's presets: (params file, accounts factor), as helpers.bench.PRESETS runs them.
BENCH_PRESETS = {"default": ("default.yaml", 1), "10x": ("default.yaml", 10), "large": ("large.yaml", 1)}


@dataclass(frozen=True)
class Counts:
    """What the default dataset holds, counted from its Parquet files and ledger."""

    rows: dict[str, int]
    internal_accounts: int
    test_workspaces: int
    resent: int
    rates: dict[str, tuple[float, bool]]  # imperfection label -> (measured rate, within tolerance)


def counts(data_dir: Path) -> Counts:
    """Rows per table (Parquet footers), internal accounts, unflagged test workspaces and re-sent deliveries
    (the ledger's rows of kinds test_workspace and duplicate), and each imperfection's measured rate
    (quality.rates, as 04_qa_profile measures it)."""
    from .. import duck
    from ..quality import rates

    data_dir = Path(data_dir)
    rows = {t: sum(pq.ParquetFile(p).metadata.num_rows for p in io.parts(io.table_dir(data_dir, t))) for t in TABLES}
    accounts = pq.ParquetDataset(io.parts(io.table_dir(data_dir, "accounts"))).read(columns=["is_internal"])
    internal = pc.sum(accounts.column("is_internal")).as_py() or 0
    ledger = pq.read_table(io.ledger_path(data_dir), columns=["kind", "table_name"]).to_pylist()
    kinds = [f"{r['table_name']}.{r['kind']}" for r in ledger]  # a test workspace's users have rows too
    params = io.load_params(data_dir)
    con = duck.dataset(data_dir, params)
    try:
        measured = {r.label: (r.measured_rate, bool(r.within_tolerance)) for r in rates.measure(con, params)}
    finally:
        con.close()
    return Counts(rows, internal, kinds.count("accounts.test_workspace"), kinds.count("events.duplicate"), measured)


def glance(c: Counts) -> str:
    """README "The data, at a glance": what the default dataset holds."""
    r = c.rows
    return (
        f"{r['accounts']:,} accounts ({c.internal_accounts:,} internal, {c.test_workspaces:,} unflagged test "
        f"workspaces) with {r['account_plans']:,} plan periods, {r['users']:,} users, {r['projects']:,} "
        f"projects, {r['tasks']:,} tasks and {r['events']:,} published events ({c.resent:,} of them re-sent "
        "deliveries). " + _rates(c.rates)
    )


def _rates(measured: dict[str, tuple[float, bool]]) -> str:
    """The imperfections' verdict and the rates readers ask about first."""
    every = all(ok for _, ok in measured.values())
    verdict = "Every imperfection is within tolerance of its target" if every else "NOT every imperfection is on target"
    late, assignee = measured["late_arrival: events.ingested_at_utc"][0], measured["missing: tasks.assignee_user_id"][0]
    cycles, resent = measured["outlier: tasks.completed_at"][0], measured["duplicate: events.event_id"][0]
    return (
        f"{verdict} (late arrivals {100 * late:.3f}%, the incident's included; missing assignees "
        f"{100 * assignee:.2f}%; long cycles {100 * cycles:.2f}% of done tasks; re-sent deliveries "
        f"{100 * resent:.2f}% of events)."
    )


def _whole_run(bench: dict) -> dict:
    return bench["presets"]["default"]["whole_run"]


def default_header(c: Counts, bench: dict) -> str:
    """params/default.yaml's header line: the dataset it makes and how long the whole run took."""
    r, run = c.rows, _whole_run(bench)
    return (
        f"# {r['accounts']:,} accounts, {r['users']:,} users, {r['tasks']:,} tasks and {r['events']:,} events "
        f"(seed 22); the whole run took {run['seconds']:.0f} s\n# on {bench['machine']['cpus_usable']} cores "
        f"(make bench, {bench['date']}: reports/bench/latest.json)."
    )


def _m(x: float) -> str:
    return f"{x / 1e6:.2f}M"


def speed(bench: dict, params_dir: Path = PROJECT_ROOT / "params") -> str:
    """README "Speed and scale": the bench's table (events per second of wall time, memory, whole runs)."""
    from ..params import load_layers

    m = bench["machine"]
    lines = [
        f"**Measured** (`make bench`, {bench['date']}; {m['cpu']}, {m['cpus_usable']} usable cores, "
        f"{m['memory_gb']} GB, Python {m['python']}; every measurement in a fresh process; events per second of "
        "wall time; `reports/bench/latest.json`):",
        "",
        "| preset | events | generation alone, 1 worker | + Parquet write, 1 worker | alone, 2 workers "
        "| + write, 2 workers | ceiling | ratio | peak RSS (generation) | whole papermill run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, p in bench["presets"].items():
        file, factor = BENCH_PRESETS[name]
        accounts = load_layers([params_dir / file]).params.accounts.count * factor
        run = p.get("whole_run")
        whole = f"{run['seconds']:.0f} s, largest process {run['peak_rss_mb']:,} MB" if run else "not run"
        rates = " | ".join(_m(p[k]["events_per_second"]) for k in ("generate_1", "generate_write_1", "generate_2"))
        lines.append(
            f"| {name} ({accounts:,} signups) | {p['events']:,} | {rates} | "
            f"{_m(p['generate_write_2']['events_per_second'])} | {_m(p['ceiling']['events_per_second'])} | "
            f"{p['ratio_to_ceiling']:.2f} | {p['generate_write_1']['peak_rss_mb']:,} MB | {whole} |"
        )
    return "\n".join(lines + _phases(bench))


def _phases(bench: dict) -> list[str]:
    """The whole runs phase by phase (seconds): each notebook, the HTML, the manifest and publishing, and
    generation (01 + 02) against everything after it."""
    runs = {name: p["whole_run"] for name, p in bench["presets"].items() if p.get("whole_run", {}).get("phases")}
    if not runs:
        return []
    names = list(next(iter(runs.values()))["phases"])
    lines = [
        "",
        "Whole runs, phase by phase (seconds of wall time; generation = 01 + 02):",
        "",
        "| preset | whole | " + " | ".join(n.replace("_", " ") for n in names) + " | generation | after it |",
        "|---|" + "---:|" * (len(names) + 3),
    ]
    for name, run in runs.items():
        ph = run["phases"]
        generation = ph.get("01_entities", 0) + ph.get("02_events", 0)
        cells = " | ".join(f"{ph.get(n, 0):.0f}" for n in names)
        lines.append(
            f"| {name} | {run['seconds']:.0f} | {cells} | {generation:.0f} | {run['seconds'] - generation:.0f} |"
        )
    return lines


def blocks(data_dir: Path, bench_path: Path = BENCH) -> dict[Path, dict[str, str]]:
    """Every generated block, by file and name."""
    c, bench = counts(data_dir), json.loads(Path(bench_path).read_text())
    return {
        README: {"glance": glance(c), "speed": speed(bench), "er": "```mermaid\n" + er_diagram() + "\n```"},
        DEFAULT_PARAMS: {"header": default_header(c, bench)},
    }


def _markers(path: Path, name: str) -> tuple[str, str]:
    """The begin and end markers of block `name` in a file of path's kind (YAML comments or Markdown)."""
    if path.suffix in (".yaml", ".yml"):
        return f"# figures:begin {name}\n", "# figures:end"
    return f"<!-- figures:begin {name} -->\n", "<!-- figures:end -->"


def render(text: str, path: Path, named: dict[str, str]) -> str:
    """text with each named block's body replaced; a block whose markers are missing is an error naming it."""
    for name, body in named.items():
        begin, end = _markers(path, name)
        found = re.search(re.escape(begin) + r".*?" + re.escape(end), text, re.S)
        if found is None:
            raise ValueError(f"{path.name}: no block {name!r} (markers {begin.strip()} ... {end})")
        text = text[: found.start()] + begin + body + "\n" + end + text[found.end() :]
    return text


def stale(data_dir: Path, bench_path: Path = BENCH) -> list[Path]:
    """The files whose committed blocks differ from what data_dir and the bench file render."""
    return [p for p, named in blocks(data_dir, bench_path).items() if render(p.read_text(), p, named) != p.read_text()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.publish.figures", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(PROJECT_ROOT / "data" / "default"), help="the default dataset")
    ap.add_argument("--bench", default=str(BENCH), help="bench results (default reports/bench/latest.json)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file is out of date")
    args = ap.parse_args(argv)
    if not (Path(args.data_dir) / "raw").is_dir():
        print(f"usage error: --data-dir {args.data_dir} is not a dataset (run make run first)", file=sys.stderr)
        return 2
    if args.check:
        out = stale(Path(args.data_dir), Path(args.bench))
        for p in out:
            print(f"out of date: {p.relative_to(PROJECT_ROOT)} (python -m helpers.publish.figures)", file=sys.stderr)
        return 1 if out else 0
    for path, named in blocks(Path(args.data_dir), Path(args.bench)).items():
        text = path.read_text()
        new = render(text, path, named)
        if new != text:
            io.write_text(new, path)
            print(f"rewrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

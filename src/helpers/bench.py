"""`make bench`: generation speed and memory, measured (never asserted in tests).

For each preset (default, 10x = the default at ten times the accounts, large):
- the ceiling: a plain pyarrow write of a same-sized table of random events (numpy columns, 1-million
  row chunks, ParquetWriter on a background thread, the same Parquet options as the dataset);
- generation alone (every block simulated and its events derived, nothing written), then generation
  plus Parquet write (01 + 02: all tables and state), each with one worker and with all cores;
- the peak RSS of the largest process (sampled from /proc: the bench's children, kernels, workers);
- the wall time of the whole papermill run (`python -m helpers.run`, all notebooks and HTML).
Every measurement runs in a fresh process; default and 10x report the median of 3 runs. Results:
printed, and saved to reports/bench/latest.json.

    python -m helpers.bench                    # default, 10x, large
    python -m helpers.bench --presets default  # just one
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import PROJECT_ROOT

PRESETS = {"default": ("params/default.yaml", 1), "10x": ("params/default.yaml", 10), "large": ("params/large.yaml", 1)}


# ------------------------------------------------------------------ what runs in the child processes


def _ceiling(n_events: int, out: str) -> dict:
    """Random events with the events schema, written in 1M-row chunks by a background ParquetWriter."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .io import parquet_options
    from .schema import CLIENTS, EVENT_NAMES, EVENTS

    rng = np.random.default_rng(0)
    chunk = 1_000_000
    started = time.perf_counter()
    writer = pq.ParquetWriter(out, EVENTS.arrow_schema, **parquet_options(EVENTS.arrow_schema))
    pending = None
    pool = __import__("concurrent.futures").futures.ThreadPoolExecutor(1)
    t0 = 1_735_689_600_000_000
    for lo in range(0, n_events, chunk):
        n = min(chunk, n_events - lo)
        t = np.sort(t0 + rng.integers(0, 365 * 86_400_000_000, n))
        has_task = rng.random(n) < 0.8
        props = np.where(rng.random(n) < 0.35, '{"blocker_id": 12345678901}', None)
        table = pa.table(
            {
                "event_id": pa.array(lo + np.arange(n, dtype=np.int64)),
                "account_id": pa.array(rng.integers(1, 15_000, n)),
                "user_id": pa.array(rng.integers(1, 330_000, n)),
                "session_id": pa.array(rng.integers(100_001, 33_000_000_000, n)),
                "client": pa.DictionaryArray.from_arrays(
                    pa.array(rng.integers(0, len(CLIENTS), n).astype(np.int8)), pa.array(CLIENTS)
                ),
                "event_name": pa.DictionaryArray.from_arrays(
                    pa.array(rng.integers(0, len(EVENT_NAMES), n).astype(np.int8)), pa.array(EVENT_NAMES)
                ),
                "event_at_utc": pa.array(t, pa.timestamp("us")),
                "ingested_at_utc": pa.array(t + rng.integers(1_000_000, 60_000_000, n), pa.timestamp("us")),
                "project_id": pa.array(rng.integers(1, 50_000, n), mask=~has_task),
                "task_id": pa.array(rng.integers(10_000_000, 10**11, n), mask=~has_task),
                "properties": pa.array(props, pa.string()),
            }
        ).cast(EVENTS.arrow_schema)
        if pending is not None:
            pending.result()
        pending = pool.submit(writer.write_table, table, row_group_size=chunk)
    if pending is not None:
        pending.result()
    writer.close()
    pool.shutdown()
    return {"events": n_events, "seconds": time.perf_counter() - started}


def _generate_only(params_path: str, workers: int) -> dict:
    """Every block simulated and its events derived in memory; nothing written."""
    from . import blocks, pipeline

    folder = tempfile.mkdtemp(prefix="bench-plan-")
    try:
        pipeline.setup(params_path, folder)
        started = time.perf_counter()
        blocks.save_plan_only(folder)
        tasks = [(k,) for k in range(len(blocks.part_ranges(Path(folder))))]
        counts = blocks.run_blocks(blocks.simulate_only_block, Path(folder), tasks, "blocks", False, workers=workers)
        return {"events": int(sum(counts)), "seconds": time.perf_counter() - started}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _generate_and_write(params_path: str, workers: int, folder: str) -> dict:
    from . import pipeline

    pipeline.setup(params_path, folder)
    started = time.perf_counter()
    pipeline.generate_entities(folder, progress=False, workers=workers)
    middle = time.perf_counter()
    events = pipeline.generate_events(folder, progress=False, workers=workers)["events"]
    done = time.perf_counter()
    return {
        "events": events,
        "seconds": done - started,
        "entities_seconds": middle - started,
        "events_seconds": done - middle,
    }


CHILD = {"ceiling": _ceiling, "generate": _generate_only, "generate_write": _generate_and_write}


# ------------------------------------------------------------------ the parent: processes and memory


class PeakRSS:
    """Samples the peak RSS (VmHWM) of a process and all its descendants from /proc, 4 times a second."""

    def __init__(self, root: int) -> None:
        self.root, self.peaks, self._stop = root, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _descendants(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo += children.get(pid, [])
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._descendants():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peaks[pid] = max(self.peaks.get(pid, 0), int(line.split()[1]) // 1024)
                except OSError:
                    pass
            self._stop.wait(0.25)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peaks.values(), default=0)


def _median_of(runs: int, kind: str, *args) -> dict:
    """The run with the median events/s of `runs` fresh-process runs (small presets: a shared VM
    moves single runs by +-20%); every run's events/s is kept."""
    results = sorted((_child(kind, *args) for _ in range(runs)), key=lambda r: r["events_per_second"])
    median = dict(results[len(results) // 2])
    median["runs_events_per_second"] = [round(r["events_per_second"]) for r in results]
    return median


def _child(kind: str, *args) -> dict:
    """Run one measurement in a fresh Python process; its result and the peak RSS of its process tree."""
    code = f"import json, sys; from helpers import bench; print(json.dumps(bench.CHILD[{kind!r}](*{args!r})))"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    rss = PeakRSS(proc.pid)
    out, _ = proc.communicate()
    peak = rss.stop()
    if proc.returncode:
        raise RuntimeError(f"bench {kind}{args} failed (exit {proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak
    result["events_per_second"] = result["events"] / result["seconds"] if result.get("seconds") else None
    return result


def _whole_run(params_path: str, scratch: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "helpers.run",
        "--params",
        params_path,
        "--data-dir",
        str(scratch / "data"),
        "--reports-dir",
        str(scratch / "reports"),
        "--keep",
        "1",
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rss = PeakRSS(proc.pid)
    _, err = proc.communicate()
    peak = rss.stop()
    if proc.returncode:  # the run's own lines say which notebook failed, why, and where the staged run is
        said = "\n".join(line for line in err.splitlines() if "FAILED" in line or "staged run" in line)
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode})\n{said}")
    seconds = time.perf_counter() - started
    manifest = json.loads((scratch / "data" / "manifest.json").read_text(encoding="utf-8"))
    return {"seconds": seconds, "peak_rss_mb": peak, "phases": phases(manifest["timings_seconds"], seconds)}


def phases(timings: dict[str, float], seconds: float) -> dict[str, float]:
    """Where a whole run's time went, from its manifest's timings_seconds: each notebook, the HTML, and
    the rest (manifest with its content hashes, package, publishing: the run's seconds minus the
    timed steps, so the phases add up to the run)."""
    steps = {k: round(v, 1) for k, v in timings.items() if k != "total_before_manifest"}
    return {**steps, "manifest_and_publish": round(seconds - timings["total_before_manifest"], 1)}


def phase_line(name: str, run: dict) -> str:
    """One line for the table's notes: a whole run's phases (generation is 01 + 02)."""
    ph = run.get("phases")
    if not ph:
        return ""
    generation = ph.get("01_entities", 0) + ph.get("02_events", 0)
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in ph.items())
    return (
        f"\n{name}: whole run {run['seconds']:.0f} s: {parts}; generation (01 + 02) {generation:.0f} s, "
        f"after generation {run['seconds'] - generation:.0f} s"
    )


def _scaled(params_path: str, factor: int, scratch: Path) -> str:
    """The preset's params, with factor x the accounts."""
    if factor == 1:
        return str(PROJECT_ROOT / params_path)
    from .params import load, to_json_dict

    resolved = to_json_dict(load(PROJECT_ROOT / params_path))
    resolved["accounts"]["count"] *= factor
    out = scratch / f"x{factor}.json"
    out.write_text(json.dumps(resolved))
    return str(out)


def bench(presets: list[str], whole_run: bool = True) -> dict:
    from .parallel import default_workers

    cores = default_workers()
    results = {
        "machine": {
            "python": platform.python_version(),
            "cpus_usable": cores,
            "cpu": _cpu_name(),
            "memory_gb": _memory_gb(),
            "system": platform.platform(),
        },
        "date": time.strftime("%Y-%m-%d"),
        "presets": {},
    }
    for name in presets:
        path, factor = PRESETS[name]
        (PROJECT_ROOT / "data").mkdir(exist_ok=True)  # a fresh clone has no data/ until the first run
        scratch = Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=PROJECT_ROOT / "data"))
        try:
            params_path = _scaled(path, factor, scratch)
            r: dict = {}
            runs = 3 if name != "large" else 1
            print(f"[{name}] generation + Parquet write, 1 worker (median of {runs}) ...", file=sys.stderr)
            r["generate_write_1"] = _median_of(runs, "generate_write", params_path, 1, str(scratch / "g1"))
            shutil.rmtree(scratch / "g1", ignore_errors=True)
            events = r["generate_write_1"]["events"]
            print(f"[{name}] ceiling: pyarrow write of {events:,} random events ...", file=sys.stderr)
            r["ceiling"] = _child("ceiling", events, str(scratch / "ceiling.parquet"))
            (scratch / "ceiling.parquet").unlink(missing_ok=True)
            print(f"[{name}] generation alone, 1 worker ...", file=sys.stderr)
            r["generate_1"] = _median_of(runs, "generate", params_path, 1)
            if cores > 1:
                print(f"[{name}] generation alone and with Parquet write, {cores} workers ...", file=sys.stderr)
                r[f"generate_{cores}"] = _median_of(runs, "generate", params_path, cores)
                r[f"generate_write_{cores}"] = _median_of(
                    runs, "generate_write", params_path, cores, str(scratch / "gn")
                )
                shutil.rmtree(scratch / "gn", ignore_errors=True)
            if whole_run and name != "10x":
                print(f"[{name}] whole papermill run (python -m helpers.run) ...", file=sys.stderr)
                r["whole_run"] = _whole_run(params_path, scratch)
            r["events"] = events
            r["ratio_to_ceiling"] = r["generate_write_1"]["events_per_second"] / r["ceiling"]["events_per_second"]
            results["presets"][name] = r
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    default, tenx = results["presets"].get("default"), results["presets"].get("10x")
    if default and tenx:
        results["scaling_10x_vs_default"] = (
            tenx["generate_write_1"]["events_per_second"] / default["generate_write_1"]["events_per_second"]
        )
    return results


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _what(key: str) -> str:
    return "generation alone" if key.startswith("generate_") and "write" not in key else "generation + Parquet write"


def table(results: dict) -> str:
    """The results as a Markdown table (the README shows it)."""
    lines = ["| preset | events | measurement | events/s | seconds | peak RSS (MB) |", "|---|---:|---|---:|---:|---:|"]
    for name, r in results["presets"].items():
        for key, label in (
            [
                ("ceiling", "ceiling: pyarrow write of random events"),
                ("generate_1", "generation alone, 1 worker"),
                ("generate_write_1", "generation + Parquet write, 1 worker"),
            ]
            + [
                (k, f"{_what(k)}, {k.rsplit('_', 1)[1]} workers")
                for k in r
                if k.rsplit("_", 1)[-1].isdigit() and k.rsplit("_", 1)[1] != "1"
            ]
            + [("whole_run", "whole papermill run (all notebooks, HTML)")]
        ):
            if key not in r:
                continue
            m = r[key]
            eps = f"{m['events_per_second']:,.0f}" if m.get("events_per_second") else ""
            lines.append(f"| {name} | {r['events']:,} | {label} | {eps} | {m['seconds']:.1f} | {m['peak_rss_mb']:,} |")
    for name, r in results["presets"].items():
        lines.append(f"\n{name}: generation + write with 1 worker = {r['ratio_to_ceiling']:.2f} of the ceiling")
    lines += [line for name, r in results["presets"].items() if (line := phase_line(name, r.get("whole_run", {})))]
    if "scaling_10x_vs_default" in results:
        lines.append(f"10x vs default events/s (1 worker, with write): {results['scaling_10x_vs_default']:.2f}")
    m = results["machine"]
    lines.append(
        f"\nMachine: {m['cpu']}, {m['cpus_usable']} usable cores, {m['memory_gb']} GB, Python {m['python']} "
        f"({results['date']})."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default="default,10x,large", help="comma-separated: default, 10x, large")
    ap.add_argument("--no-run", action="store_true", help="skip the whole papermill runs")
    args = ap.parse_args(argv)
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        print(f"usage error: --presets: {', '.join(unknown)} not allowed; use {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    results = bench(presets, whole_run=not args.no_run)
    out = PROJECT_ROOT / "reports" / "bench" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # a subset of presets updates those presets, keeping the others' latest figures
        previous = json.loads(out.read_text())
        merged = dict(previous.get("presets", {}))
        for k, v in results["presets"].items():  # measurements not repeated now (e.g. --no-run) are kept
            merged[k] = dict(merged.get(k, {}), **v)
        results["presets"] = {k: merged[k] for k in PRESETS if k in merged}
        default, tenx = results["presets"].get("default"), results["presets"].get("10x")
        if default and tenx:
            results["scaling_10x_vs_default"] = (
                tenx["generate_write_1"]["events_per_second"] / default["generate_write_1"]["events_per_second"]
            )
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nsaved {out.relative_to(PROJECT_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

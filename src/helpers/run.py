"""Run the whole workbook: `python -m helpers.run --params params/NAME.yaml`.

Validates the parameters (exit 2, nothing written, on a bad value), executes the notebooks in order
with papermill into a staging folder (04_qa_profile loads the DuckDB warehouse and checks every
guardrail), renders code-free HTML reports, writes the manifest, the generation notes and an index
page, and only then publishes: data/NAME and reports/NAME are replaced by the
staged ones. A failed run publishes nothing; its staging folder is kept (marked FAILED) for
inspection, and the previous dataset stays as it was.

Publishing swaps a symlink (data/NAME -> data/.runs/NAME/RUN_ID) with one atomic rename, so
data/NAME always holds either the previous complete dataset or the new one. One run per dataset at a
time (a lock); the last 3 published and 3 failed runs are kept.

Exit codes: 0 published (or a dry run); 1 a step or guardrail failed, or the disk refused (nothing
published); 2 bad parameters or usage (nothing written); 3 another run of the dataset holds the lock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from . import PROJECT_ROOT
from .io import write_json
from .params import ParamsError, load, to_json_dict
from .pipeline import fault_point, resolve, write_manifest
from .report import write_run_reports

NOTEBOOKS = ("00_setup", "01_entities", "02_events", "03_imperfections", "04_qa_profile")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
BATCH_ENV = "SAAS_SYNTH_BATCH"
log = logging.getLogger("saas-synth")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(EXIT_USAGE, f"usage error: {message} (see --help)\n")


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"--keep must be at least 1 (the published run), not {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = _Parser(prog="python -m helpers.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", required=True, help="parameters file, e.g. params/default.yaml")
    ap.add_argument("--data-dir", help="dataset folder to publish (default: data/NAME, NAME = params file stem)")
    ap.add_argument("--reports-dir", help="reports folder to publish (default: reports/NAME)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds one notebook cell may run (default 3600)")
    ap.add_argument("--keep", type=_at_least_one, default=3,
                    help="published and failed runs kept per dataset under data/.runs/NAME (default 3 of each)")
    ap.add_argument("--dry-run", action="store_true",
                    help="validate the parameters, print what the run would make, write nothing")
    ap.add_argument("--wait", action="store_true", help="wait for another run of the same dataset to finish")
    return ap.parse_args(argv)


def _setup_logging(log_file: Path) -> None:
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    fmt.converter = time.gmtime  # the log is in UTC, like the data
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    file = logging.FileHandler(log_file, encoding="utf-8")
    file.setFormatter(fmt)
    log.addHandler(console)
    log.addHandler(file)
    log.propagate = False


def _quiet_kernel_manager():
    """A kernel manager whose ipykernel logs errors only, so a batch run's stderr carries no
    'Kernel is running over TCP' warning (the kernel listens on 127.0.0.1 for this run only)."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            return cmd + ["--IPKernelApp.log_level=ERROR"]

    return QuietKernelManager


def check_parameters(notebook: Path, names) -> None:
    """A notebook must have one cell tagged `parameters` that defines every name we pass: papermill
    itself only warns about an unknown parameter, and would run a notebook with no such cell."""
    import ast

    import nbformat

    cells = [c for c in nbformat.read(notebook, as_version=4).cells
             if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{notebook.name}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    defined = {t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign)
               for t in node.targets if isinstance(t, ast.Name)}
    unknown = sorted(set(names) - defined)
    if unknown:
        raise ValueError(f"{notebook.name}: unknown parameter(s) {', '.join(unknown)}; "
                         f"its parameters cell defines {', '.join(sorted(defined))}")


def execute_notebook(name: str, out_dir: Path, parameters: dict, timeout: int) -> Path:
    """Execute notebooks/NAME.ipynb with papermill into out_dir; the kernel starts in the project root."""
    import papermill as pm

    check_parameters(PROJECT_ROOT / "notebooks" / f"{name}.ipynb", parameters)
    out = out_dir / f"{name}.ipynb"
    pm.execute_notebook(
        str(PROJECT_ROOT / "notebooks" / f"{name}.ipynb"), str(out), parameters=parameters,
        cwd=str(PROJECT_ROOT), execution_timeout=timeout, progress_bar=False, log_output=False,
        kernel_name="python3", report_mode=False, kernel_manager_class=_quiet_kernel_manager(),
    )
    return out


def render_html(notebook: Path) -> Path:
    """A code-free HTML rendering (markdown, tables and charts only) beside the executed notebook."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    out = notebook.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def publish(run_dir: Path, final: Path) -> None:
    """Point `final` at `run_dir` with one atomic rename of a symlink: a reader of `final` sees
    either the previous complete dataset or the new one, never a mix or nothing.

    A `final` that is still a real folder (made by an older version) is first moved into the runs
    folder as legacy-*, where it is kept (remove it by hand); only during that one-time move is
    `final` briefly absent."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not final.is_symlink():
        os.replace(final, run_dir.parent / f"legacy-{run_dir.name}")
    link = final.with_name(f".{final.name}.link-{os.getpid()}")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(run_dir, final.parent), target_is_directory=True)
    os.replace(link, final)


def prune(runs_dir: Path, protect: list[Path | None], keep: int) -> list[Path]:
    """Keep the newest `keep` published and `keep` failed runs (and every `protect`ed one: the run in
    progress, the published target); remove the rest,
    and every run left unmarked by a process that was killed (callers hold the dataset's lock, so no
    unmarked run other than the current one is still going)."""
    runs = sorted((p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    failed = [p for p in runs if (p / "FAILED").exists()]
    done = [p for p in runs if p not in failed and (p / "PUBLISHED").exists()]
    killed = [p for p in runs if p not in failed and p not in done and not p.name.startswith("legacy-")]
    keep_safe = {p.resolve() for p in protect if p is not None}
    doomed = [p for p in failed[:-keep] + done[:-keep] + killed if p.resolve() not in keep_safe]
    for p in doomed:
        shutil.rmtree(p, ignore_errors=True)
    return doomed


def link_reports(reports_dir: Path, data_dir: Path) -> None:
    """reports/NAME is a fixed symlink to data/NAME/reports (made once; an old real folder is kept
    beside it as NAME.legacy-*)."""
    target = Path(os.path.relpath(data_dir / "reports", reports_dir.parent))
    if reports_dir.is_symlink() and Path(os.readlink(reports_dir)) == target:
        return
    reports_dir.parent.mkdir(parents=True, exist_ok=True)
    if reports_dir.exists() and not reports_dir.is_symlink():
        os.replace(reports_dir, reports_dir.with_name(f"{reports_dir.name}.legacy-{os.getpid()}"))
    link = reports_dir.with_name(f".{reports_dir.name}.link-{os.getpid()}")
    link.unlink(missing_ok=True)
    link.symlink_to(target, target_is_directory=True)
    os.replace(link, reports_dir)


class Locked(RuntimeError):
    pass


def acquire_lock(runs_dir: Path, wait: bool):
    """An exclusive lock per dataset (flock on runs_dir/.lock); released when the process ends."""
    import fcntl

    runs_dir.mkdir(parents=True, exist_ok=True)
    handle = open(runs_dir / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise Locked(f"{runs_dir.parent.parent / runs_dir.name} is being generated by {holder}; "
                     "wait for it to finish (or pass --wait)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def estimate(params) -> dict:
    """Row-count and disk estimates from the account plan and a sample of simulated accounts (in memory)."""
    import numpy as np

    from .entities import plan_accounts
    from .simulate import simulate_account

    plan = plan_accounts(params)
    sample = np.unique(np.linspace(0, plan.n_accounts - 1, min(plan.n_accounts, 12)).astype(int))
    sims = [simulate_account(params, plan, int(a)) for a in sample]
    sessions = sum(len(s.sessions["session_start"]) for s in sims)
    tasks = sum(len(s.tasks["task_id"]) for s in sims)
    scale = plan.total_users / max(sum(len(s.users["user_id"]) for s in sims), 1)
    est_tasks = tasks * scale
    est_events = est_tasks * 5.3 + sessions * scale * 1.25  # events per task and per session (default calibration)
    bytes_per_event = 40  # zstd Parquet, all tables (measured: ~110 bytes/event for the whole folder)
    return {"accounts": plan.n_accounts, "users": plan.total_users, "projects": int(plan.n_projects.sum()),
            "tasks (approx.)": int(est_tasks), "events (approx.)": int(est_events),
            "disk bytes (approx.)": int(est_events * bytes_per_event * 3)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ[BATCH_ENV] = "1"  # kernels inherit it: no progress bars inside the rendered reports
    params_path = resolve(args.params)
    try:
        params = load(params_path)
    except ParamsError as exc:
        print(f"parameters error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    name = params_path.stem
    data_dir = resolve(args.data_dir) if args.data_dir else PROJECT_ROOT / "data" / name
    reports_dir = resolve(args.reports_dir) if args.reports_dir else PROJECT_ROOT / "reports" / name
    if args.dry_run:
        est = estimate(params)
        print(f"dry run: {params_path.name} is valid; it would write {_rel(data_dir)} and {_rel(reports_dir)}")
        for k, v in est.items():
            print(f"  {k:22s} {v:>15,}")
        print("nothing was written")
        return EXIT_OK
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"
    data_runs = data_dir.parent / ".runs" / data_dir.name
    try:
        lock = acquire_lock(data_runs, args.wait)
    except Locked as exc:
        print(f"locked: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except OSError as exc:
        print(f"cannot write {_rel(data_runs)}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        return _locked_run(args, params, params_path, data_dir, reports_dir, data_runs, run_id)
    finally:
        lock.close()  # releases the lock (so does the end of the process, whatever ends it)


def _locked_run(args, params, params_path, data_dir, reports_dir, data_runs, run_id) -> int:
    need = estimate(params)["disk bytes (approx.)"]
    free = shutil.disk_usage(data_runs).free
    if need > free:
        print(f"not enough disk space: this run needs about {need / 1e9:.1f} GB in {_rel(data_runs)}, "
              f"{free / 1e9:.1f} GB are free; nothing was written", file=sys.stderr)
        return EXIT_FAILED
    # the reports live inside the data run, so one rename publishes both (reports/NAME -> data/NAME/reports)
    stage_data = data_runs / run_id
    stage_reports = stage_data / "reports"
    resolved = stage_reports / "params.resolved.json"
    try:
        stage_reports.mkdir(parents=True)
        _setup_logging(stage_reports / "run.log")
        write_json(to_json_dict(params), resolved)
    except OSError as exc:
        print(f"cannot write the staging folder {_rel(stage_data)}: {exc.strerror or exc}; nothing was published",
              file=sys.stderr)
        return EXIT_FAILED

    steps = len(NOTEBOOKS) + 2
    log.info("saas-synth run %s: params %s (seed %d), %d accounts, window %s..%s",
             run_id, params_path.name, params.seed, params.accounts.count, params.window.start, params.window.end)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    step = "?"
    try:
        for i, nb in enumerate(NOTEBOOKS, 1):
            step = nb
            t0 = time.perf_counter()
            log.info("[%d/%d] %s ...", i, steps, nb)
            # notebooks get only validated values: the path of the resolved parameters, and the folder
            execute_notebook(nb, stage_reports, {"params_path": str(resolved), "data_dir": str(stage_data)},
                             args.timeout)
            timings[nb] = time.perf_counter() - t0
            log.info("[%d/%d] %s done in %.1fs", i, steps, nb, timings[nb])
        step = "html"
        t0 = time.perf_counter()
        log.info("[%d/%d] rendering HTML reports ...", steps - 1, steps)
        for nb in NOTEBOOKS:
            render_html(stage_reports / f"{nb}.ipynb")
            fault_point("html")
        timings["html"] = time.perf_counter() - t0
        step = "manifest"
        log.info("[%d/%d] writing manifest.json (content hashes) ...", steps, steps)
        timings["total_before_manifest"] = time.perf_counter() - started
        manifest = write_manifest(stage_data, timings, name=data_dir.name)
        write_run_reports(stage_data, stage_reports, data_dir, reports_dir, NOTEBOOKS)
    except Exception as exc:  # noqa: BLE001 - any failure: report it, publish nothing
        for nb in NOTEBOOKS:  # what ran is still worth reading: render it (best effort)
            executed = stage_reports / f"{nb}.ipynb"
            if executed.exists() and not executed.with_suffix(".html").exists():
                try:
                    render_html(executed)
                except Exception:  # noqa: BLE001
                    pass
        try:
            for folder in (stage_data, stage_reports):
                (folder / "FAILED").write_text(f"{step}: {_describe(exc)}\n", encoding="utf-8")
        except OSError:  # a full disk may refuse even the marker; the run stays unpublished either way
            pass
        log.error("FAILED at %s: %s", step, _describe(exc))
        log.error("nothing published; staged run kept for inspection: %s and %s",
                  _rel(stage_data), _rel(stage_reports))
        prune(data_runs, [_target(data_dir), stage_data], args.keep)
        return EXIT_FAILED

    fault_point("publish")
    log.info("publishing %s and %s", _rel(data_dir), _rel(reports_dir))
    logging.shutdown()
    try:
        publish(stage_data, data_dir)  # the one atomic switch: data and its reports together
        link_reports(reports_dir, data_dir)
        (stage_data / "PUBLISHED").write_text(run_id + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"publishing failed: {exc.strerror or exc}; {_rel(data_dir)} is unchanged", file=sys.stderr)
        return EXIT_FAILED
    prune(data_runs, [stage_data, _target(data_dir)], args.keep)
    rows = ", ".join(f"{k} {v:,}" for k, v in manifest["row_counts"].items())
    done = f"published {_rel(data_dir)} and {_rel(reports_dir)} in {time.perf_counter() - started:.1f}s: {rows}"
    print(done, file=sys.stderr)
    try:
        with open(reports_dir / "run.log", "a", encoding="utf-8") as f:
            f.write(f"{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')} INFO {done}\n")
    except OSError:  # the dataset is published; a log line that cannot be written changes nothing
        pass
    return EXIT_OK


def _describe(exc: BaseException) -> str:
    """One line: a notebook's own error (papermill keeps ename/evalue), else the exception."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {str(evalue).strip().splitlines()[0] if evalue else ''}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _target(link: Path) -> Path | None:
    return link.resolve() if link.is_symlink() else None


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(p)


if __name__ == "__main__":
    sys.exit(main())

"""The runs folder of a dataset: staging, locking, publishing by a symlink swap, pruning and cleaning.

A run stages everything (data, and its reports inside it) in data/.runs/NAME/RUN_ID; publishing
points the symlink data/NAME at it with one atomic rename, and reports/NAME is a fixed symlink to
data/NAME/reports, so one switch publishes both. A run folder is marked PUBLISHED or FAILED; one
with neither mark was left by a killed process.

    python -m helpers.runs clean            scratch folders and unlinked runs; published datasets stay
    python -m helpers.runs clean-datasets   also every published dataset, with its data/ and reports/ links
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
from pathlib import Path

from . import PROJECT_ROOT

RUNS = ".runs"
SCRATCH = ".scratch"  # data/.runs/NAME/.scratch/RUN_ID: a run's scratch state, beside it (helpers.io.state_root)


def runs_dir(data_dir: Path) -> Path:
    """data/.runs/NAME for the dataset published at data/NAME."""
    return data_dir.parent / RUNS / data_dir.name


def scratch_dir(run_dir: Path) -> Path:
    """data/.runs/NAME/.scratch/RUN_ID: the scratch of the run data/.runs/NAME/RUN_ID (not published;
    removed with its run)."""
    return run_dir.parent / SCRATCH / run_dir.name


def remove_run(run_dir: Path) -> None:
    """A run folder and its scratch."""
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(scratch_dir(run_dir), ignore_errors=True)
    with contextlib.suppress(OSError):  # the .scratch folder itself, once empty
        scratch_dir(run_dir).parent.rmdir()


def _orphan_scratch(folder: Path, keep: set[Path]) -> list[Path]:
    """Scratch folders under folder/.scratch whose run is gone (and is not in `keep`)."""
    root = folder / SCRATCH
    names = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return [p for p in names if not (folder / p.name).is_dir() and (folder / p.name).resolve() not in keep]


class NotOurs(ValueError):
    """A path a run would replace holds something that is not a dataset of ours (a user's folder or
    file, a link elsewhere, or a real folder made by an older saas-synth)."""


def is_run_link(path: Path) -> bool:
    """True when `path` is a symlink into its own runs folder (data/NAME -> .runs/NAME/RUN_ID): the
    only thing at data/NAME a run may replace. The link may dangle (its run was removed)."""
    if not path.is_symlink():
        return False
    target = Path(os.path.abspath(path.parent / os.readlink(path)))
    return target.parent == Path(os.path.abspath(runs_dir(path)))


def is_reports_link(path: Path, data_dir: Path) -> bool:
    """True when `path` is a symlink to data_dir/reports, or to the reports of another dataset link of
    ours (a reports folder re-pointed with --data-dir): the only thing at reports/NAME a run may replace."""
    if not path.is_symlink():
        return False
    target = Path(os.path.abspath(path.parent / os.readlink(path)))
    if target == Path(os.path.abspath(data_dir / "reports")):
        return True
    return target.name == "reports" and is_run_link(target.parent)


def check_targets(data_dir: Path, reports_dir: Path) -> None:
    """Raise NotOurs (one line, naming the path) unless each of data_dir and reports_dir is absent or a
    link this tool made. Called before anything is written: a user's file or folder is never moved,
    hidden, replaced or deleted, and nothing is created beside it."""
    for path, what, ours in (
        (data_dir, "--data-dir", is_run_link(data_dir)),
        (reports_dir, "--reports-dir", is_reports_link(reports_dir, data_dir)),
    ):
        if ours or not os.path.lexists(path):
            continue
        if path.is_symlink():
            kind = f"a link to {os.readlink(path)} that this tool did not make"
        elif path.is_dir() and (path / "manifest.json").exists():
            kind = (
                "a dataset folder made by an older saas-synth (a real folder, not a link into "
                f"{RUNS}/); move or remove it yourself (e.g. rm -r {shlex.quote(str(path))})"
            )
        elif path.is_dir():
            kind = "an existing folder that is not a dataset of this tool"
        else:
            kind = "an existing file"
        raise NotOurs(f"{what} {path} is {kind}; it is left untouched; choose a path that does not exist yet")


def publish(run_dir: Path, final: Path) -> None:
    """Point `final` at `run_dir` with one atomic rename of a symlink: a reader of `final` sees
    either the previous complete dataset or the new one, never a mix or nothing. Anything at `final`
    other than a link of ours raises NotOurs and stays as it is."""
    if os.path.lexists(final) and not is_run_link(final):
        raise NotOurs(f"{final} is not a dataset link of this tool; it is left untouched")
    final.parent.mkdir(parents=True, exist_ok=True)
    _swap_link(final, os.path.relpath(run_dir, final.parent))


def link_reports(reports_dir: Path, data_dir: Path) -> None:
    """reports/NAME is a fixed symlink to data/NAME/reports (made once). Anything at reports/NAME
    other than such a link raises NotOurs and stays as it is."""
    target = Path(os.path.relpath(data_dir / "reports", reports_dir.parent))
    if reports_dir.is_symlink() and Path(os.readlink(reports_dir)) == target:
        return
    if os.path.lexists(reports_dir) and not is_reports_link(reports_dir, data_dir):
        raise NotOurs(f"{reports_dir} is not a reports link of this tool; it is left untouched")
    reports_dir.parent.mkdir(parents=True, exist_ok=True)
    _swap_link(reports_dir, target)


def _swap_link(final: Path, target) -> None:
    link = final.with_name(f".{final.name}.link-{os.getpid()}")
    link.unlink(missing_ok=True)
    link.symlink_to(target, target_is_directory=True)
    os.replace(link, final)


def prune(folder: Path, protect: list[Path | None], keep: int) -> list[Path]:
    """Keep the newest `keep` published and `keep` failed runs (and every `protect`ed one: the run in
    progress, the published target); remove the rest, and every run left unmarked by a process that
    was killed (callers hold the dataset's lock, so no unmarked run other than the current one is
    still going), with their scratch and any scratch whose run is gone. legacy-* folders (a user's files
    that versions before 0.2 moved aside) are never removed."""
    runs = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    failed = [p for p in runs if (p / "FAILED").exists()]
    done = [p for p in runs if p not in failed and (p / "PUBLISHED").exists()]
    killed = [p for p in runs if p not in failed and p not in done and not p.name.startswith("legacy-")]
    keep_safe = {p.resolve() for p in protect if p is not None}
    doomed = [p for p in failed[:-keep] + done[:-keep] + killed if p.resolve() not in keep_safe]
    for p in doomed:
        remove_run(p)
    for p in _orphan_scratch(folder, keep_safe):
        shutil.rmtree(p, ignore_errors=True)
    return doomed


class Locked(RuntimeError):
    pass


def acquire_lock(folder: Path, wait: bool):
    """An exclusive lock per dataset (flock on <runs folder>/.lock); released when the process ends."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / ".lock", "a+")  # noqa: SIM115 - held open for the life of the run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise Locked(
            f"{folder.parent.parent / folder.name} is being generated by {holder}; "
            "wait for it to finish (or pass --wait)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


# --------------------------------------------------------------------------- cleaning
def published_links(data_root: Path) -> dict[Path, Path]:
    """data/NAME symlinks into data/.runs: link -> the run folder it publishes."""
    runs_root = (data_root / RUNS).resolve()
    if not data_root.is_dir():
        return {}
    return {p: p.resolve() for p in data_root.iterdir() if p.is_symlink() and p.resolve().parent.parent == runs_root}


def clean(data_root: Path) -> list[Path]:
    """Remove data/_scratch (notebooks run alone) and, under data/.runs/NAME/, every run no data/NAME
    link points to (failed, killed and superseded runs). Published datasets, locks, legacy-* folders
    (a user's files that versions before 0.2 moved aside) and anything else in data/ stay. Returns what was removed."""
    removed = []
    scratch = data_root / "_scratch"
    if scratch.is_dir():
        shutil.rmtree(scratch)
        removed.append(scratch)
    published = set(published_links(data_root).values())
    for dataset in sorted((data_root / RUNS).glob("*/")):
        for run in sorted(p for p in dataset.iterdir() if p.is_dir() and not p.name.startswith((".", "legacy-"))):
            if run.resolve() not in published:
                remove_run(run)
                removed.append(run)
        for scratch in _orphan_scratch(dataset, set()):
            shutil.rmtree(scratch)
            removed.append(scratch)
    return removed


def clean_datasets(data_root: Path, reports_root: Path) -> list[Path]:
    """`clean`, then every published dataset too: its data/NAME link, its run folder, and each
    reports/NAME link into data/. A user's own files (anything that is not one of these links or a
    run folder) stay. Returns what was removed."""
    removed = clean(data_root)
    for link, run in published_links(data_root).items():
        link.unlink()
        remove_run(run)
        removed += [link, run]
    data_root = Path(os.path.abspath(data_root))
    for link in sorted(reports_root.iterdir()) if reports_root.is_dir() else []:
        if link.is_symlink() and Path(os.path.abspath(reports_root / os.readlink(link))).is_relative_to(data_root):
            link.unlink()
            removed.append(link)
    return removed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.runs", description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("clean", "clean-datasets"))
    ap.add_argument("--data-root", type=Path, default=PROJECT_ROOT / "data")
    ap.add_argument("--reports-root", type=Path, default=PROJECT_ROOT / "reports")
    args = ap.parse_args(argv)
    if args.action == "clean":
        removed = clean(args.data_root)
    else:
        removed = clean_datasets(args.data_root, args.reports_root)
    for path in removed:
        print(f"removed {path}")
    kept = sorted(p.name for p in published_links(args.data_root))
    print(f"{len(removed)} removed; published datasets kept: {', '.join(kept) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

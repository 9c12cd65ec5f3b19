"""saas-synth: make, check, copy and list synthetic datasets of a B2B SaaS team tool.

    saas-synth run --params params/default.yaml     make and publish data/default and reports/default
    saas-synth verify default                       re-check a dataset against its manifest.json
    saas-synth export /some/where --dataset default copy a dataset as a plain folder (no links, no scratch)
    saas-synth list                                 the published datasets, where they live, their size

`pip install .` (or `pip install -e .`) installs this command; `python -m helpers.run` is the same run.
Exit codes: 0 done; 1 failed (nothing published or exported); 2 usage (nothing written); 3 locked;
130 interrupted (Ctrl-C: one line says what happened).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEBUG_ENV = "SAAS_SYNTH_DEBUG"  # set to 1 to see the traceback of an unexpected error


class UsageError(ValueError):
    """A bad argument: one line, exit 2, nothing written."""


def build_parser() -> argparse.ArgumentParser:
    """The command and its four subcommands; `run` takes exactly the options of `python -m helpers.run`."""
    from . import run, verify

    ap = run._Parser(
        prog="saas-synth",
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n" + "\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    run.add_arguments(
        sub.add_parser(
            "run",
            help="make a dataset and publish it (the same as python -m helpers.run)",
            description="Run the whole workbook and publish the dataset (the same as python -m helpers.run).\n\n"
            + "\n\n".join(run.__doc__.split("\n\n")[1:]),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    ).set_defaults(handler=run.run_parsed, interrupted="interrupted: nothing published")
    verify.add_arguments(
        sub.add_parser(
            "verify",
            help="re-check a dataset: row counts, content hashes and answer keys against its manifest.json",
            description="Re-check a published dataset (or an export) against its manifest.json. "
            + verify.__doc__.split("\n\n")[1].replace("\n", " "),
        )
    ).set_defaults(handler=verify.run, interrupted="interrupted: nothing was changed")
    export = sub.add_parser(
        "export",
        help="copy a published dataset to DIR as a plain folder: no links, the reports inside, no scratch state",
        description="Copy a published dataset to DIR as a plain folder that travels: every link followed, its "
        "reports/ a real folder, the simulation's scratch state left out unless --with-state. DIR must not exist "
        "(or be an empty folder); the copy is made beside it under a hidden name and renamed into place, so DIR "
        "never holds half a dataset. `cp -r data/NAME` copies only a link; use this instead.",
    )
    export.add_argument("dir", metavar="DIR", help="the new folder (must not exist yet, or be empty)")
    export.add_argument(
        "--dataset",
        default="default",
        metavar="NAME|PATH",
        help="the dataset to copy: NAME for data/NAME, or a dataset folder (default: default)",
    )
    export.add_argument(
        "--with-state",
        action="store_true",
        help="also copy the simulation's scratch state as DIR/state (~40 MB on default; lets the notebooks "
        "re-run steps on the copy)",
    )
    export.set_defaults(handler=export_dataset, interrupted="interrupted: nothing exported")
    listing = sub.add_parser(
        "list",
        help="the published datasets: name, parameters and seed, row counts, when published, size on disk",
        description="The published datasets under the data folder: name, parameter files and seed, row "
        "counts, when published, size on disk, and the real folder a data/NAME link points to.",
    )
    listing.add_argument("--data-root", metavar="DIR", help="the data folder to list (default: data/ of the project)")
    listing.set_defaults(handler=list_datasets, interrupted="interrupted")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Parse and run one subcommand: its exit code. Errors are one line (exit 1, or 2 for usage)."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.command is None:
        ap.error("choose a command: run, verify, export or list")
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(args.interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader left (`saas-synth list | head -1`): nothing more to say to it
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return EXIT_FAILED


def entry() -> None:
    """The console script: main(), with Ctrl-C anywhere (even while importing) one line and exit 130."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    exit_now(code)


def exit_now(code: int) -> None:
    """End the process with `code`; after Ctrl-C without the interpreter's shutdown, where an abandoned
    kernel client's sockets and event loop would print their own complaints."""
    if code != EXIT_INTERRUPTED:
        sys.exit(code)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


# --------------------------------------------------------------------------- export
EXPORT_SKIP = ("state", "PUBLISHED", "FAILED")  # scratch (copied only with --with-state) and run bookkeeping


def export_dataset(args: argparse.Namespace) -> int:
    """Copy a published dataset to args.dir as a plain folder, all or nothing (see the subcommand's help)."""
    from . import io
    from .verify import dataset_path

    source = dataset_path(args.dataset)
    if not (source / "manifest.json").is_file():
        raise UsageError(f"--dataset {args.dataset}: {source} is not a published dataset (no manifest.json)")
    real = Path(os.path.realpath(source))
    dest = Path(os.path.abspath(Path(args.dir).expanduser()))
    _check_export_target(dest, real)
    state = io.state_root(source)
    if args.with_state and not state.is_dir():
        raise UsageError(f"--with-state: {source} has no scratch state (it was exported without it, or removed)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.export-{os.getpid()}")
    try:
        shutil.copytree(real, tmp, symlinks=False, ignore=lambda d, names: _skipped(real, d, names))
        if args.with_state:
            shutil.copytree(state, tmp / "state", symlinks=False)
        os.replace(tmp, dest)  # one rename: DIR holds the whole copy or nothing
    except OSError as exc:
        print(f"export failed: {exc.strerror or exc}: {exc.filename or dest}; nothing exported", file=sys.stderr)
        return EXIT_FAILED
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    files = [p for p in dest.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(f"exported {source} ({real.name}) to {dest}: {len(files):,} files, {_size(size)}; check it with "
          f"saas-synth verify {dest}")  # fmt: skip
    return EXIT_OK


def _check_export_target(dest: Path, source: Path) -> None:
    """DIR must be new (or an empty real folder) and neither inside the dataset nor holding it."""
    if os.path.lexists(dest) and (dest.is_symlink() or not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} already exists and is not an empty folder; choose a new folder")
    resolved = Path(os.path.realpath(dest))
    if resolved.is_relative_to(source) or source.is_relative_to(resolved):
        raise UsageError(f"{dest} is inside the dataset {source} (or holds it); choose a folder elsewhere")


def _skipped(root: Path, folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in EXPORT_SKIP} if Path(folder) == root else set()


# --------------------------------------------------------------------------- list
def list_datasets(args: argparse.Namespace) -> int:
    """One block per dataset under the data folder (links of ours, and real folders of older versions)."""
    from . import PROJECT_ROOT

    root = Path(args.data_root).expanduser() if args.data_root else PROJECT_ROOT / "data"
    found = (
        [p for p in sorted(root.iterdir()) if not p.name.startswith((".", "_")) and _is_dataset(p)]
        if root.is_dir()
        else []
    )
    if not found:
        print(f"no published datasets in {root} (make one with: saas-synth run --params params/tiny.yaml)")
        return EXIT_OK
    for path in found:
        print(_describe(path))
    return EXIT_OK


def _is_dataset(path: Path) -> bool:
    return (path / "manifest.json").is_file()


def _describe(path: Path) -> str:
    """name, parameters (seed), when published, size (and scratch), row counts, the real folder."""
    from . import io, runs
    from .params import layers_text

    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    real = Path(os.path.realpath(path))
    layers = layers_text(manifest.get("params_layers", []))
    stamp = real / "PUBLISHED" if (real / "PUBLISHED").exists() else real / "manifest.json"
    when = dt.datetime.fromtimestamp(stamp.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    size = _size(_bytes(real))
    state = io.state_root(path)
    if state.is_dir() and not state.is_relative_to(real):
        size += f" (+ {_size(_bytes(state))} scratch state beside it)"
    rows = ", ".join(f"{k} {v:,}" for k, v in manifest.get("row_counts", {}).items())
    if runs.is_run_link(path):
        where = f"{real}  (a link: copy it with saas-synth export DIR --dataset {path.name})"
    elif path.is_symlink():
        where = f"{real}  (a link made elsewhere)"
    else:
        where = f"{real}  (a real folder: made by an older saas-synth, or an export)"
    return (
        f"{path.name}: {layers or '?'} (seed {manifest.get('seed', '?')}), published {when}, {size}\n"
        f"  rows: {rows}\n"
        f"  folder: {where}"
    )


def _bytes(folder: Path) -> int:
    """Bytes of the files under `folder` (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} GB"


if __name__ == "__main__":
    entry()

"""The steps the notebooks call, in order; each reads and writes the dataset folder, never a kernel's
memory, so a notebook can be rerun alone.

    setup(params_path, data_dir)   -> Params       00_setup: validate, lay out the folder, save params
    generate_entities(data_dir)    -> row counts   01_entities: accounts (+ plans), users, projects, tasks, state
    generate_events(data_dir)      -> row counts   02_events: the event stream from the saved state
    write_answer_keys(data_dir)    -> row counts   02_events: truth/ from the simulation's state
    apply_imperfections(data_dir)  -> Imperfected  03_imperfections: blank, delay, re-send; the ledger
    build_warehouse(data_dir)      -> Path         04_qa_profile: warehouse.duckdb
    check_account_rules(data_dir)  -> violations   04_qa_profile: the account rules, block by block
    write_manifest(data_dir, ...)  -> dict         the runner, last: the package and manifest.json

Blocks of `output.accounts_per_part` accounts run where helpers.blocks puts them; every random draw
is keyed by account, so block size and scheduling change the file layout only, never the content.
State files (helpers.io.state_root) hold times as int64 microseconds since the epoch (UTC), -1 for "none".

Each notebook starts the same way (`notebook_defaults`): the names papermill injected must be its
parameters (papermill itself only warns about an unknown one), the defaults apply where none was
given, and the steps before it must have left what it reads (`STEPS`, one table): run out of order, a
notebook says in one line which notebook to run first.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import PROJECT_ROOT, blocks, duck, io, scenarios
from .blocks import last_run_summary  # noqa: F401 - the notebooks' summary line
from .faults import fault_point
from .generate.accounts import plan_accounts
from .imperfections import inject, ledger, snapshot
from .io import load_params as load_saved_params
from .params import EXTENDS, Params, load, to_json_dict
from .publish import manifest, truth, warehouse
from .schema import ANSWER_KEYS, ENTITY_TABLES, IMPERFECT_TABLES, TABLES
from .units import NEVER

ENV_PARAMS = "SAAS_SYNTH_PARAMS"
ENV_DATA_DIR = "SAAS_SYNTH_DATA_DIR"


def resolve(path: str | os.PathLike) -> Path:
    """Relative paths are relative to the project root (nbval and papermill start in different folders)."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


PARAMETERS = ("params_path", "data_dir")  # every notebook's parameters cell, in this order
_BEFORE = "_names_before_parameters"  # where before_parameters keeps the names it saw


class NotebookError(RuntimeError):
    """A notebook started wrongly (an unknown parameter, run out of order): shown as one line, no traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [f"{type(self).__name__}: {self}"]


@dataclass(frozen=True)
class Step:
    """One notebook: what it leaves in the dataset folder, the step whose output it reads, and whether it
    writes into the folder (then never into a published dataset)."""

    notebook: str
    leaves: str  # in words, for the message
    left: Callable[[Path], bool]  # whether a dataset folder holds it
    needs: str | None
    writes: bool = True


def _has_parts(data_dir: Path, tables: tuple[str, ...]) -> bool:
    return all(io.parts(io.table_dir(data_dir, name)) for name in tables)


STEPS = (
    Step("00_setup", "the validated parameters", io.has_params, None),
    Step("01_entities", "the entity tables", lambda d: _has_parts(d, ENTITY_TABLES), "00_setup"),
    Step(
        "02_events",
        "the events and the answer keys",
        lambda d: _has_parts(d, ("events",)) and all(io.truth_path(d, k).is_file() for k in ANSWER_KEYS),
        "01_entities",
    ),
    Step("03_imperfections", "the imperfection ledger", lambda d: io.ledger_path(d).is_file(), "02_events"),
    Step("04_qa_profile", "warehouse.duckdb", lambda d: (d / "warehouse.duckdb").is_file(), "03_imperfections"),
    Step("05_metrics_preview", "nothing (it only reads)", lambda d: False, "04_qa_profile", writes=False),
)
_STEP = {s.notebook: s for s in STEPS}


def first_to_run(notebook: str, data_dir: Path) -> Step | None:
    """The earliest step `notebook` depends on (directly or through the steps before it) whose output
    data_dir lacks; None when everything it reads is there."""
    chain, step = [], _STEP[notebook]
    while step.needs is not None:
        step = _STEP[step.needs]
        chain.append(step)
    return next((s for s in reversed(chain) if not s.left(data_dir)), None)


def require(notebook: str, data_dir: Path) -> None:
    """Raise NotebookError (one line) when the notebook cannot run on data_dir: a step before it has not
    run there (naming the notebook to run first), or it would write into a published dataset."""
    step = _STEP[notebook]
    if step.writes and (data_dir / "manifest.json").exists():
        raise NotebookError(
            f"{notebook} writes into the dataset folder, and {data_dir} is a published dataset (manifest.json): "
            "a notebook never changes one; its reports are in reports/NAME/, or choose a scratch folder"
        )
    missing = first_to_run(notebook, data_dir)
    if missing is None:
        return
    needs = _STEP[step.needs]
    then = "" if missing is needs else f", then each notebook up to {needs.notebook}"
    raise NotebookError(
        f"{notebook} needs {needs.leaves} of {needs.notebook}: run {missing.notebook} first{then} "
        f"(dataset folder {data_dir})"
    )


def before_parameters(namespace: dict) -> None:
    """Remember the names a notebook has defined before its parameters cell (the cell before it calls
    this), so that notebook_defaults can tell what papermill injected after it."""
    namespace[_BEFORE] = frozenset(namespace) | {_BEFORE}


def injected_names(namespace: dict) -> set[str]:
    """Names that appeared since before_parameters, the parameters excluded: what papermill injected
    beyond them (empty when before_parameters was not called this time: nothing to compare with). The
    mark is used once, so running the cell again later in JupyterLab compares nothing."""
    before = namespace.pop(_BEFORE, None)
    if before is None:
        return set()
    return {n for n in namespace if n not in before and n not in PARAMETERS and not n.startswith("_")}


def check_parameters(notebook: str, namespace: dict) -> None:
    """Only the known parameters, each a string: an unknown name (or a file's keys, `papermill -f
    params.yaml`) is an error in one line naming it and what is allowed."""
    unknown = injected_names(namespace)
    allowed = f"allowed: {', '.join(PARAMETERS)}"
    if unknown & (set(Params.model_fields) | {EXTENDS}):
        raise NotebookError(
            f"{notebook}: unknown parameter(s) {', '.join(sorted(unknown))}: keys of a parameters file, which "
            "the notebook reads whole: pass -p params_path params/default.yaml (or your own file) instead of "
            f"-f FILE or -p KEY ({allowed})"
        )
    if unknown:
        raise NotebookError(f"{notebook}: unknown parameter(s) {', '.join(sorted(unknown))} ({allowed})")
    for name in PARAMETERS:
        value = namespace.get(name, "")
        if not isinstance(value, str):
            raise NotebookError(
                f"{notebook}: parameter {name} = {value!r} ({type(value).__name__}): a path is expected "
                f"(papermill -r {name} VALUE passes it as text)"
            )


def notebook_defaults(notebook: str, namespace: dict) -> tuple[Path, Path]:
    """The first cell after the parameters: check what papermill injected, apply the defaults (the
    environment, else tiny params and a scratch folder; relative to the project root) and check that the
    notebooks before this one have run on the folder. Returns (params_path, data_dir)."""
    check_parameters(notebook, namespace)
    params_path = namespace.get("params_path") or os.environ.get(ENV_PARAMS) or "params/tiny.yaml"
    data_dir = namespace.get("data_dir") or os.environ.get(ENV_DATA_DIR) or f"data/_scratch/{Path(params_path).stem}"
    params_path, data_dir = resolve(params_path), resolve(data_dir)
    require(notebook, data_dir)
    return params_path, data_dir


def setup(params_path: str | os.PathLike, data_dir: str | os.PathLike) -> Params:
    """Validate params, empty and lay out the dataset folder, save the resolved params and the scenarios."""
    params = load(resolve(params_path))
    data_dir = Path(data_dir)
    duck.supported_folder(data_dir, "data_dir")
    if (data_dir / "manifest.json").exists():
        raise FileExistsError(
            f"{data_dir} holds a published dataset (manifest.json): a notebook never "
            "overwrites one; choose a scratch folder, or publish with python -m helpers.run"
        )
    state = io.state_root(data_dir)  # decided before emptying it: it stays where it is
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    for sub in ("raw", "truth", "csv", io.INCREMENTS_DIR):
        shutil.rmtree(data_dir / sub, ignore_errors=True)
    for f in ("warehouse.duckdb", "manifest.json"):
        (data_dir / f).unlink(missing_ok=True)
    for name in TABLES:
        io.table_dir(data_dir, name).mkdir(parents=True, exist_ok=True)
    for name in blocks.STATE_TABLES:
        io.state_dir(data_dir, name).mkdir(parents=True, exist_ok=True)
    io.write_json(to_json_dict(params), io.params_path(data_dir))
    io.truth_dir(data_dir).mkdir(parents=True, exist_ok=True)
    io.write_table(scenarios.scenarios_table(params), io.truth_path(data_dir, "scenarios"))
    return params


def _forget(data_dir: Path, tables: tuple[str, ...]) -> None:
    """Regenerated tables void what later steps derived from them: their untouched copies, the ledger,
    the answer keys, the deliveries an as_of extract left out and the increments (03 redoes them); no
    stale part survives a run with fewer parts."""
    for name in tables:
        shutil.rmtree(io.clean_dir(data_dir, name), ignore_errors=True)
        for old in io.parts(io.table_dir(data_dir, name)):
            old.unlink()
    ledger.forget(data_dir)
    truth.forget_answer_keys(data_dir)
    snapshot.forget(data_dir)


def generate_entities(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> dict[str, int]:
    """Plan accounts (accounts and account_plans), simulate every block of accounts, write the entity tables
    and state."""
    data_dir = Path(data_dir)
    params = load_saved_params(data_dir)
    _forget(data_dir, (*IMPERFECT_TABLES, "account_plans", "projects"))
    for name in blocks.STATE_TABLES:
        for old in io.parts(io.state_dir(data_dir, name)):
            old.unlink()
    plan = plan_accounts(params)
    io.write_part(plan.accounts, io.table_dir(data_dir, "accounts"), 0)
    io.write_part(plan.account_plans, io.table_dir(data_dir, "account_plans"), 0)
    churn_at = np.where(plan.churn_at == NEVER, -1, plan.churn_at)
    account_latent = {
        "account_id": np.arange(1, plan.n_accounts + 1, dtype=np.int64),
        "churn_at": churn_at,
        "test_workspace": plan.sandbox,  # unflagged sandboxes (the ledger lists them) and real customers that
        "lookalike": plan.lookalike,  # look like one (listed nowhere else)
    }
    io.write_part(io.from_numpy_state(account_latent), io.state_dir(data_dir, "account_latent"), 0)
    blocks.save_plan(plan, data_dir)
    tasks = [(k,) for k in range(len(blocks.part_ranges(data_dir)))]
    blocks.run_blocks(blocks.entities_block, data_dir, tasks, "entities (account blocks)", progress, workers, scheduler)
    return {name: io.row_count(io.table_dir(data_dir, name)) for name in ENTITY_TABLES}


def generate_events(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> dict[str, int]:
    """Derive every account's events from the saved state, one part per block of accounts."""
    data_dir = Path(data_dir)
    _forget(data_dir, ("events",))
    tasks = [(k,) for k in range(len(blocks.part_ranges(data_dir)))]
    counts = blocks.run_blocks(
        blocks.events_block, data_dir, tasks, "events (account blocks)", progress, workers, scheduler
    )
    return {"events": int(sum(counts))}


def write_answer_keys(data_dir: str | os.PathLike) -> dict[str, int]:
    """truth/: the answer keys from the simulation's state (helpers.publish.truth), rows per file."""
    return truth.write_answer_keys(data_dir, load_saved_params(Path(data_dir)))


@dataclass(frozen=True)
class Imperfected:
    """What 03 did: the plan it followed and the ledger's rows."""

    missing: list[inject.MissingPlan]
    late: inject.LatePlan  # each cause's chance for a weight-1 event
    ledger_rows: int


def apply_imperfections(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> Imperfected:
    """03_imperfections: blank values, delay and re-send events, cut an as_of extract, write the ledger
    and the increments (idempotent: it starts from state/clean). Parts are worked as blocks."""
    data_dir = Path(data_dir)
    params = load_saved_params(data_dir)
    plan = inject.plan(params, data_dir)
    tasks = [(name, part, plan) for name, part in plan.work]
    done = blocks.run_blocks(
        blocks.imperfections_block, data_dir, tasks, "imperfections (parts)", progress, workers, scheduler
    )
    written = [(name, part, d.hash_sums) for (name, part), d in zip(plan.work, done, strict=True)]
    io.record_part_hashes(data_dir, written)  # the manifest's content hashes, taken as the parts were written
    rows = ledger.finish(data_dir)
    snapshot.finish_not_yet_arrived(data_dir)
    if params.snapshot.increments:
        snapshot.write_increments(data_dir)
    fault_point("imperfections")
    return Imperfected(plan.missing, plan.late, rows)


def build_warehouse(data_dir: str | os.PathLike) -> Path:
    """warehouse.duckdb beside the data (helpers.publish.warehouse)."""
    return warehouse.build(data_dir)


def check_account_rules(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> dict[str, int]:
    """04_qa_profile: each account rule's violations, counted block by block where the blocks run
    (helpers.blocks.account_rule_violations); the guardrails take them instead of scanning the warehouse."""
    return blocks.account_rule_violations(data_dir, progress, workers, scheduler)


def write_manifest(
    data_dir: str | os.PathLike, timings: dict | None = None, name: str | None = None, layers: list | None = None
) -> dict:
    """The package and manifest.json, written last (helpers.publish.manifest); `layers` says where the
    parameters came from. The content hashes are computed part by part where the blocks run."""
    return manifest.write(data_dir, timings, name, layers, hashes=blocks.content_hashes(data_dir))

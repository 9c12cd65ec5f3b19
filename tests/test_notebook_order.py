"""How each notebook starts, without running the notebooks: its parameters (typed for papermill, an
unknown one refused in one line) and the order they run in (run out of order, a notebook names the one
to run first)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from helpers import pipeline, run

from .conftest import ROOT, TINY

ORDER = ("00_setup", "01_entities", "02_events", "03_imperfections", "04_qa_profile", "05_metrics_preview")


def _cells(name: str) -> list:
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).cells


def _require_all(data_dir: Path) -> dict[str, str | None]:
    """For every notebook: None when it may run on data_dir, else the one-line error it gives."""
    out: dict[str, str | None] = {}
    for name in ORDER:
        try:
            pipeline.require(name, data_dir)
            out[name] = None
        except pipeline.NotebookError as exc:
            out[name] = str(exc)
    return out


def test_the_order_table_covers_every_notebook_in_order():
    """One step per shipped notebook, in the runner's order, each needing the one before it."""
    shipped = tuple(sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")))
    assert shipped == ORDER == run.NOTEBOOKS
    assert [s.notebook for s in pipeline.STEPS] == list(ORDER)
    assert [s.needs for s in pipeline.STEPS] == [None, *ORDER[:-1]]


@pytest.mark.parametrize("name", ORDER)
def test_each_notebook_checks_its_parameters_and_order_first(name):
    """The code cell before the parameters marks the names defined so far; the cell after it (the first
    one after papermill's injected cell) calls notebook_defaults with the notebook's own name; the
    parameters cell defines exactly params_path and data_dir, typed."""
    cells = _cells(name)
    i = next(k for k, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    assert [c.cell_type for c in cells[i - 1 : i + 2]] == ["code", "code", "code"]
    assert "pipeline.before_parameters(globals())" in cells[i - 1].source
    assert cells[i + 1].source.startswith(f'params_path, data_dir = pipeline.notebook_defaults("{name}", globals())')
    assert all(not c.get("outputs") for c in cells if c.cell_type == "code")  # committed without outputs
    run.check_parameters(ROOT / "notebooks" / f"{name}.ipynb", ["params_path", "data_dir"])
    with pytest.raises(ValueError, match="unknown parameter"):
        run.check_parameters(ROOT / "notebooks" / f"{name}.ipynb", ["seed"])


@pytest.mark.parametrize("name", ORDER)
def test_papermill_infers_each_parameter_with_type_default_and_help(name):
    """papermill's own inspection (what --help-notebook prints): both parameters, type str, default "",
    and a help line naming the environment variable and the fallback."""
    found = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
    assert list(found) == ["params_path", "data_dir"]
    for param, env, fallback in (
        ("params_path", "$SAAS_SYNTH_PARAMS", "params/tiny.yaml"),
        ("data_dir", "$SAAS_SYNTH_DATA_DIR", "data/_scratch/"),
    ):
        p = found[param]
        assert (p["inferred_type_name"], p["default"]) == ("str", '""'), p
        assert env in p["help"] and fallback in p["help"], p


def _namespace(**injected) -> dict:
    """A notebook's globals as papermill leaves them: names before the parameters cell, the marks, the
    parameters cell's defaults, then what papermill injected."""
    ns = {"Markdown": object(), "pipeline": pipeline, "In": [], "_i1": ""}
    pipeline.before_parameters(ns)
    ns.update(params_path="", data_dir="")
    ns.update(injected)
    return ns


def test_an_unknown_parameter_is_one_line_naming_it_and_the_allowed_ones():
    with pytest.raises(pipeline.NotebookError) as err:
        pipeline.check_parameters("03_imperfections", _namespace(colour="red", data_dir="x"))
    assert str(err.value) == "03_imperfections: unknown parameter(s) colour (allowed: params_path, data_dir)"
    assert err.value._render_traceback_() == [f"NotebookError: {err.value}"]  # IPython shows this one line


def test_a_parameters_files_keys_are_refused_with_the_params_path_hint():
    """`papermill -f params/default.yaml` injects the file's keys: refused, pointing to -p params_path."""
    keys = {"seed": 22, "window": {"start": "2025-01-01"}, "accounts": {"count": 300}, "extends": "default.yaml"}
    with pytest.raises(pipeline.NotebookError) as err:
        pipeline.check_parameters("00_setup", _namespace(**keys))
    message = str(err.value)
    assert "accounts, extends, seed, window" in message and "-p params_path params/default.yaml" in message
    assert "\n" not in message


def test_a_parameter_that_is_not_text_is_refused():
    with pytest.raises(pipeline.NotebookError, match=r"data_dir = 5 \(int\): a path is expected"):
        pipeline.check_parameters("01_entities", _namespace(data_dir=5))


def test_running_a_cell_again_in_jupyterlab_compares_nothing(tmp_path, monkeypatch):
    """The mark is used once: run again after the notebook defined more names, the defaults cell does not
    take them for injected parameters; the environment gives the defaults."""
    monkeypatch.setenv(pipeline.ENV_PARAMS, "params/default.yaml")
    monkeypatch.setenv(pipeline.ENV_DATA_DIR, str(tmp_path))
    ns = _namespace()
    assert pipeline.notebook_defaults("00_setup", ns) == (ROOT / "params/default.yaml", tmp_path)
    ns.update(params=object(), con=object(), counts={})
    assert pipeline.notebook_defaults("00_setup", ns) == (ROOT / "params/default.yaml", tmp_path)
    ns.update(params_path="params/tiny.yaml")  # a value given wins over the environment
    assert pipeline.notebook_defaults("00_setup", ns)[0] == TINY


def test_out_of_order_each_notebook_names_the_one_to_run_first(tmp_path):
    """The real steps on tiny, one at a time: after each, every notebook up to the next one may run, and
    every later one says, in one line, which notebook to run first and what it needs."""
    data_dir = tmp_path / "d"
    steps = [
        lambda: pipeline.setup(TINY, data_dir),
        lambda: pipeline.generate_entities(data_dir, progress=False),
        lambda: (pipeline.generate_events(data_dir, progress=False), pipeline.write_answer_keys(data_dir)),
        lambda: pipeline.apply_imperfections(data_dir, progress=False),
        lambda: pipeline.build_warehouse(data_dir),
    ]
    needs_words = {
        "01_entities": "the validated parameters of 00_setup",
        "02_events": "the entity tables of 01_entities",
        "03_imperfections": "the events and the answer keys of 02_events",
        "04_qa_profile": "the imperfection ledger of 03_imperfections",
        "05_metrics_preview": "warehouse.duckdb of 04_qa_profile",
    }
    for done in range(len(steps) + 1):
        said = _require_all(data_dir)
        for k, name in enumerate(ORDER):
            if k <= done:
                assert said[name] is None, (done, name, said[name])
            else:
                first, last_needed = ORDER[done], ORDER[k - 1]
                then = "" if first == last_needed else f", then each notebook up to {last_needed}"
                assert said[name] == (
                    f"{name} needs {needs_words[name]}: run {first} first{then} (dataset folder {data_dir})"
                ), (done, name)
        if done < len(steps):
            steps[done]()
    # entities made again: the events, answer keys and ledger derived from the old ones are gone
    pipeline.generate_entities(data_dir, progress=False)
    said = _require_all(data_dir)
    assert said["02_events"] is None
    assert said["03_imperfections"].endswith(f"run 02_events first (dataset folder {data_dir})")
    assert said["05_metrics_preview"].endswith(
        f"run 02_events first, then each notebook up to 04_qa_profile (dataset folder {data_dir})"
    )


def test_a_published_dataset_is_read_never_written(tiny_data, tmp_path):
    """With manifest.json (a published dataset), the notebooks that write refuse it in one line; 05,
    which only reads, runs; setup itself refuses it too."""
    data_dir = tmp_path / "published"
    shutil.copytree(tiny_data, data_dir)
    pipeline.build_warehouse(data_dir)
    (data_dir / "manifest.json").write_text(json.dumps({"schema_version": 1}))
    said = _require_all(data_dir)
    assert said["05_metrics_preview"] is None
    for name in ORDER[:-1]:
        assert said[name].startswith(f"{name} writes into the dataset folder, and {data_dir} is a published dataset")
    with pytest.raises(FileExistsError, match="published dataset"):
        pipeline.setup(TINY, data_dir)

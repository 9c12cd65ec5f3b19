"""Parameters: read strictly, layered, validated all at once, resolved to one model.

Rules this package guarantees:
- YAML is read strictly (helpers.params.strict_yaml): no Python objects, no duplicate keys, only
  `true`/`false` as booleans, no ambiguous integers.
- A preset may extend another and give only what differs; several files and `--set key.path=value`
  layer over each other, later winning (helpers.params.layers).
- Every key is known and every value has the exact type and range asked for (helpers.params.model),
  and every rule across keys holds (helpers.params.cross).
- A problem raises ParamsError listing every problem found, one line each, naming the layer that gave
  the value (the file, or the --set), the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from . import cross
from .layers import EXTENDS, Key, Layer, Merged, file_layers, layers_text, merge, set_layer
from .model import SCHEMA_VERSION, Params, canonical_json, params_sha256, to_json_dict
from .strict_yaml import ParamsError, load_yaml

__all__ = [
    "EXTENDS",
    "SCHEMA_VERSION",
    "Layer",
    "Loaded",
    "Params",
    "ParamsError",
    "canonical_json",
    "from_json_dict",
    "layers_text",
    "load",
    "load_layers",
    "load_yaml",
    "params_sha256",
    "read",
    "set_layer",
    "to_json_dict",
    "validate",
]


@dataclass(frozen=True)
class Loaded:
    """Validated parameters and the layers they came from, in the order applied."""

    params: Params
    layers: tuple[Layer, ...]

    def describe(self, root: Path | None = None) -> list[dict]:
        """The layers as the manifest records them: files (below `root`, else by name) with their digests,
        then the values set on the command line."""
        return [layer.describe(root) for layer in self.layers]


def read(paths: Sequence[str | os.PathLike], sets: Sequence[str | Layer] = ()) -> tuple[Merged, list[str]]:
    """Every layer read and merged, not yet validated, and the problems of --set values that could not
    be used (left out, so validation still reports everything else). A file that cannot be read is an
    error at once."""
    layers = file_layers(paths)
    problems: list[str] = []
    for s in sets:
        try:
            layers.append(s if isinstance(s, Layer) else set_layer(s))
        except ParamsError as exc:
            problems += exc.problems
    return merge(layers), problems


def load_layers(paths: Sequence[str | os.PathLike], sets: Sequence[str | Layer] = ()) -> Loaded:
    """Read, layer and validate: the parameters and where each layer came from."""
    paths = list(paths)
    if any(Path(p).suffix == ".json" for p in paths):
        if len(paths) > 1 or sets:
            raise ParamsError("resolved parameters (.json) are complete: give them alone, without other layers")
        return Loaded(_load_json(Path(paths[0])), ())
    merged, problems = read(paths, sets)
    try:
        params = _validate(merged)
    except ParamsError as exc:
        raise ParamsError(problems + exc.problems) from None
    if problems:
        raise ParamsError(problems)
    return Loaded(params, merged.layers)


def load(path: str | os.PathLike | Sequence[str | os.PathLike], sets: Sequence[str | Layer] = ()) -> Params:
    """Read and validate a parameters file (or several, layered), or the resolved JSON a run hands its
    notebooks."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    return load_layers(paths, sets).params


def validate(data: Any, source: str = "<params>") -> Params:
    """Validate a mapping already parsed from YAML (one layer named `source`)."""
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: the file must hold a mapping of keys to values, not {type(data).__name__}")
    return _validate(merge([Layer(source, data)]))


def from_json_dict(data: dict, source: str = "<resolved params>") -> Params:
    """Rebuild Params from to_json_dict output (dates come back from ISO strings), checked like any file."""
    try:
        params = Params.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        raise ParamsError(_field_lines(exc.errors(include_url=False), lambda key: source)) from None
    lines = [f"{source}: {p.message}" for p in cross.problems(_sections(params))]
    if lines:
        raise ParamsError(lines)
    return params


def _load_json(path: Path) -> Params:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such parameters file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParamsError(f"{path}: cannot read: {exc}") from None
    return from_json_dict(data, str(path))


# --------------------------------------------------------------------------- validation
def _sections(params: Params) -> dict[str, Any]:
    return {name: getattr(params, name) for name in Params.model_fields}


def _valid_sections(data: dict, bad: set[str]) -> dict[str, Any]:
    """The top-level sections without an error, validated on their own (for the rules across keys)."""
    return {
        name: TypeAdapter(field.annotation).validate_python(data[name])
        for name, field in Params.model_fields.items()
        if name not in bad and name in data
    }


def _validate(merged: Merged) -> Params:
    """Params, or ParamsError with every problem: each key's own, then the rules across keys."""
    data, lines, params = merged.data, [], None
    try:
        params = Params.model_validate(data)
        sections = _sections(params)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        lines += _field_lines(errors, merged.origin, hint_extends=_one_file(merged))
        sections = _valid_sections(data, {str(e["loc"][0]) for e in errors if e["loc"]})
    for p in cross.problems(sections):
        lines.append(f"{merged.latest([tuple(k.split('.')) for k in (p.key, *p.read)])}: {p.message}")
    if lines:
        raise ParamsError(lines)
    assert params is not None
    return params


def _one_file(merged: Merged) -> bool:
    return sum(layer.sha256 is not None for layer in merged.layers) <= 1


def _format_loc(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) if loc else "(top level)"


def _allowed_keys(loc: tuple) -> list[str]:
    model: Any = Params
    for part in loc:
        field = getattr(model, "model_fields", {}).get(str(part))
        if field is None:
            return []
        model = field.annotation
    return sorted(getattr(model, "model_fields", {}).keys())


def _unknown(loc: tuple, origin: Callable[[Key], str]) -> tuple[str, str | None]:
    """The line for an unknown key, and the allowed key it resembles (a typo), if any."""
    allowed = _allowed_keys(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    line = f"{origin(tuple(map(str, loc)))}: unknown key '{_format_loc(loc)}'{hint}; allowed here: {', '.join(allowed)}"
    return line, close[0] if close else None


def _field_lines(errors: list[dict], origin: Callable[[Key], str], hint_extends: bool = False) -> list[str]:
    """One line per key with an error, in the model's order; a misspelled key is reported once (as
    unknown, with the key it resembles), not also as that key missing."""
    locs = [tuple(p for p in err["loc"] if p != "function-after") for err in errors]
    typos = set()
    for err, loc in zip(errors, locs, strict=True):
        if err["type"] == "extra_forbidden" and (close := _unknown(loc, origin)[1]):
            typos.add((*loc[:-1], close))
    lines: dict[tuple, str] = {}
    for err, loc in zip(errors, locs, strict=True):
        where = origin(tuple(map(str, loc)))
        if loc in lines or (err["type"] == "missing" and loc in typos):
            continue
        if err["type"] == "extra_forbidden":
            lines[loc] = _unknown(loc, origin)[0]
        elif err["type"] == "missing":
            extends = f" (or name a base that has it: `{EXTENDS}: default.yaml`)" if hint_extends else ""
            hint_extends = False  # said once
            lines[loc] = f"{where}: missing key '{_format_loc(loc)}'{extends}"
        elif isinstance(value := err.get("input"), dict):  # a rule across keys of one section: name the section
            lines[loc] = f"{where}: {_format_loc(loc) + ': ' if loc else ''}{_msg(err)}"
        else:
            lines[loc] = f"{where}: {_format_loc(loc)} = {value!r} is not allowed: {_msg(err)}"
    return list(lines.values())


def _msg(err: dict) -> str:
    return err["msg"].removeprefix("Value error, ").replace("\n", " ")

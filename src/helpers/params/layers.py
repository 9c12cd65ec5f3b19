"""Layered parameters: files that extend a base, several files, and single values from the command line.

Rules this module guarantees:
- A file may name its base (`extends: default.yaml`, relative to the file's own folder) and give only
  what differs; bases may extend bases (a cycle is an error).
- Layers apply in order, later ones winning: for each file its bases first, then the file; a base
  already applied by an earlier file is not applied again (so it never undoes that file's values);
  then each `--set key.path=value` in the order given.
- Mappings merge key by key; anything else (a number, a date, a list) replaces the value below it.
- Every value remembers the layer that gave it (`origins`), so an error names the file, or the
  `--set`, to change.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Params
from .strict_yaml import ParamsError, load_yaml

EXTENDS = "extends"
Key = tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    """One source of values: a file (with the digest of its bytes) or a `--set key=value`."""

    source: str  # how messages name it: the file's path as given or found, or "--set key=value"
    data: dict
    sha256: str | None = None  # a file's bytes
    path: Path | None = None  # a file's absolute path
    assignment: str | None = None  # a value set on the command line, as typed: key.path=value

    def describe(self, root: Path | None = None) -> dict:
        """What the manifest records: a file by its path below `root` (else its name) and digest; a value set
        on the command line as key=value."""
        if self.path is None:
            return {"set": self.assignment}
        try:
            shown = self.path.relative_to(root).as_posix() if root else self.path.name
        except ValueError:
            shown = self.path.name
        return {"file": shown, "sha256": self.sha256}


def layers_text(described: list[dict]) -> str:
    """The layers in the order applied, for people (from Layer.describe: the manifest's params_layers):
    files by path, then --set key=value."""
    return " + ".join(d.get("file") or f"--set {d.get('set')}" for d in described)


@dataclass(frozen=True)
class Merged:
    """The layers applied: every value, and for every key the layer that gave it last."""

    data: dict
    origins: dict[Key, str]
    layers: tuple[Layer, ...]

    def origin(self, key: Key) -> str:
        """The layer behind a key (or behind its nearest section that a layer gave)."""
        for n in range(len(key), 0, -1):
            if key[:n] in self.origins:
                return self.origins[key[:n]]
        return self.layers[-1].source if self.layers else "<params>"

    def latest(self, keys: Sequence[Key]) -> str:
        """Of the layers behind these keys, the one applied last."""
        order = {layer.source: i for i, layer in enumerate(self.layers)}
        return max((self.origin(k) for k in keys), key=lambda source: order.get(source, -1))


def shown(path: Path) -> str:
    """A path as messages show it: relative to the working directory when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read(path: Path, source: str) -> tuple[dict, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ParamsError(f"{source}: no such parameters file") from None
    except OSError as exc:
        raise ParamsError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{source}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    data = load_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: the file must hold a mapping of keys to values, not {type(data).__name__}")
    return data, hashlib.sha256(raw).hexdigest()


def _chain(path: Path, source: str, seen: tuple[Path, ...] = ()) -> list[tuple[Path, Layer]]:
    """The file's bases (outermost first), then the file."""
    real = path.resolve()
    if real in seen:
        loop = " -> ".join(p.name for p in (*seen, real))
        raise ParamsError(f"{source}: {EXTENDS} makes a cycle: {loop}")
    data, digest = _read(path, source)
    base = data.pop(EXTENDS, None)
    layers: list[tuple[Path, Layer]] = []
    if base is not None:
        if not isinstance(base, str) or not base.strip():
            raise ParamsError(f"{source}: {EXTENDS} = {base!r} is not allowed: the path of a parameters file")
        base_path = Path(os.path.expanduser(base))
        base_path = base_path if base_path.is_absolute() else path.parent / base_path
        if not base_path.is_file():
            raise ParamsError(f"{source}: {EXTENDS} = {base!r}: no such parameters file ({shown(base_path)})")
        layers = _chain(base_path, shown(base_path), (*seen, real))
    return [*layers, (real, Layer(source, data, digest, real))]


def file_layers(paths: Sequence[str | os.PathLike]) -> list[Layer]:
    """Each file's chain of bases and itself, in order; a file already applied is not applied again."""
    out: list[Layer] = []
    applied: set[Path] = set()
    for given in paths:
        for real, layer in _chain(Path(given), str(given)):
            if real not in applied:
                applied.add(real)
                out.append(layer)
    return out


def _known_key(dotted: str, source: str) -> Key:
    """The key path of a --set, every part a field of the model (else an error naming it)."""
    key: Key = tuple(dotted.split("."))
    model: Any = Params
    for i, part in enumerate(key):
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            where = ".".join(key[:i]) or "the top level"
            allowed = sorted(fields or [])
            close = difflib.get_close_matches(part, allowed, n=1)
            hint = f" (did you mean '{'.'.join((*key[:i], close[0]))}'?)" if close else ""
            if not fields:
                raise ParamsError(f"{source}: unknown key '{dotted}': '{where}' is a value, not a section")
            raise ParamsError(f"{source}: unknown key '{dotted}'{hint}; allowed in {where}: {', '.join(allowed)}")
        model = fields[part].annotation
    return key


def set_layer(assignment: str, source: str | None = None) -> Layer:
    """A layer from `key.path=value`: the value is read as YAML (`50`, `0.2`, `2025-03-31`, `[a, b]`, `null`).
    `source` is how messages name it (default: `--set key.path=value`)."""
    source = source or f"--set {assignment}"
    dotted, eq, text = assignment.partition("=")
    dotted = dotted.strip()
    if not eq or not dotted:
        raise ParamsError(f"{source}: not allowed: write key.path=value, e.g. --set accounts.count=50")
    key = _known_key(dotted, source)
    value = load_yaml(text, source) if text.strip() else None
    data: Any = value
    for part in reversed(key):
        data = {part: data}
    return Layer(source, data, assignment=f"{dotted}={text.strip()}")


def _apply(into: dict, data: dict, source: str, origins: dict[Key, str], at: Key = ()) -> None:
    for k, v in data.items():
        key = (*at, str(k))
        origins[key] = source
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _apply(into[k], v, source, origins, key)
        else:
            into[k] = _copy(v)
            _mark(v, source, origins, key)


def _copy(v: Any) -> Any:
    return {k: _copy(x) for k, x in v.items()} if isinstance(v, dict) else v


def _mark(v: Any, source: str, origins: dict[Key, str], at: Key) -> None:
    """Origins for every key below a value that replaced what was there."""
    for k in [k for k in origins if len(k) > len(at) and k[: len(at)] == at]:
        del origins[k]  # what a replaced section held no longer exists
    if isinstance(v, dict):
        for k, x in v.items():
            origins[(*at, str(k))] = source
            _mark(x, source, origins, (*at, str(k)))


def merge(layers: Sequence[Layer]) -> Merged:
    """The layers applied in order (later wins; mappings merge, other values replace)."""
    data: dict = {}
    origins: dict[Key, str] = {}
    for layer in layers:
        _apply(data, layer.data, layer.source, origins)
    return Merged(data, origins, tuple(layers))

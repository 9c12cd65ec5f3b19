"""A strict YAML loader for parameters files.

Rules it guarantees: a safe loader that builds no Python objects; duplicate keys are errors; only
`true`/`false` are booleans (not `yes`/`on`); integers with leading zeros (`012`) are refused. Any YAML
problem is one line naming the file and the line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class ParamsError(ValueError):
    """Parameters that cannot be used: one line per problem (`problems`), each naming the key, the
    value and what is allowed; str() joins them."""

    def __init__(self, problems: str | list[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars and duplicate-key detection."""


_StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_DECIMAL_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if not _DECIMAL_INT.match(str(text)):
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"integer {text!r} is ambiguous (leading zero, octal, hex or sexagesimal); write a plain decimal integer",
            node.start_mark,
        )
    return int(str(text).replace("_", ""))


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str = "<params>") -> Any:
    """Parse YAML text strictly; any YAML problem becomes a one-line ParamsError."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = exc.problem or str(exc)
        raise ParamsError(f"{where}: {problem}".replace("\n", " ")) from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{source}: {exc}".replace("\n", " ")) from None

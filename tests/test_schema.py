"""One home for every fact: the vocabularies, the key events, the ledger's kinds and the blankable
columns are defined in helpers.schema, and nothing else in the code lists them again. The metric SQL
files (meant to be copied by Stage 3 users) keep their literal lists: they must match the schema."""

from __future__ import annotations

import ast
import re
from importlib import resources
from pathlib import Path

import pytest

from helpers import params as P
from helpers import schema
from helpers.quality import checks

SRC = Path(__file__).resolve().parents[1] / "src" / "helpers"
VOCABULARIES = {
    "PLAN_TIERS": schema.PLAN_TIERS,
    "ROLES": schema.ROLES,
    "PRIORITIES": schema.PRIORITIES,
    "STATUSES": schema.STATUSES,
    "COMPANY_SIZES": schema.COMPANY_SIZES,
    "KEY_EVENTS": schema.KEY_EVENTS,
    "EVENT_NAMES": schema.EVENT_NAMES,
    "LEDGER_KINDS": tuple(schema.LEDGER_KINDS),
    "SCENARIOS": schema.SCENARIOS,
    "ANSWER_KEYS": schema.ANSWER_KEYS,
}


def _string_collections(tree: ast.AST):
    """Every tuple, list or set literal made only of strings (at least two), with its line."""
    for node in ast.walk(tree):
        strings = isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2
        if strings and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            yield node.lineno, {e.value for e in node.elts}


def test_no_python_module_but_the_schema_lists_a_vocabulary():
    repeats = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "schema.py":
            continue
        for line, values in _string_collections(ast.parse(path.read_text())):
            for name, vocabulary in VOCABULARIES.items():
                if set(vocabulary) <= values:
                    repeats.append(f"{path.relative_to(SRC)}:{line} lists {name}")
    assert not repeats, repeats


def test_the_rule_and_activity_sql_read_vocabularies_as_variables():
    """A rule or activity metric that needs a vocabulary reads getvariable('...'), never a literal list
    (a rule about one value, e.g. 'done', may name it)."""
    repeats = []
    for folder in ("rules", "qa"):
        for f in (resources.files("helpers.quality") / "sql" / folder).iterdir():
            for listed in re.findall(r"\(([^()]*'[^()]*)\)", f.read_text()):
                quoted = set(re.findall(r"'([a-z_0-9+-]+)'", listed))
                repeats += [f"{folder}/{f.name} lists {n}" for n, v in VOCABULARIES.items() if set(v) <= quoted]
    assert not repeats, repeats


@pytest.mark.parametrize("folder", ["metrics", "metrics/naive"])
@pytest.mark.parametrize("name", schema.ANSWER_KEYS)
def test_the_metric_sql_files_list_exactly_the_key_events(name, folder):
    text = (resources.files("helpers.quality") / "sql" / folder / f"{name}.sql").read_text()
    lists = re.findall(r"event_name IN \(([^)]*)\)", text)
    assert lists, f"{name}.sql selects no key events"
    for listed in lists:
        assert tuple(re.findall(r"'([a-z_]+)'", listed)) == schema.KEY_EVENTS


def test_every_vocabulary_the_sql_reads_is_set_from_the_schema():
    used = set()
    for folder in ("rules", "qa"):
        for f in (resources.files("helpers.quality") / "sql" / folder).iterdir():
            used |= set(re.findall(r"getvariable\('([a-z_]+)'\)", f.read_text()))
    window = {"window_start", "window_end", "launch_at", "late_threshold_seconds", "as_of", "holidays"}
    window |= {"activity_applicable"}
    assert used - window <= set(schema.SQL_VOCABULARIES), used - window - set(schema.SQL_VOCABULARIES)


def test_rule_descriptions_name_the_vocabulary_values():
    rules = {q.name: q.description for q in checks.load_queries("rules")}
    assert rules["accounts_plan_tier"] == "plan_tier is one of free, team, business, enterprise"
    assert "{" not in "".join(rules.values())


def test_params_models_take_their_keys_from_the_schema():
    assert tuple(P.model.TierBandWeights.model_fields) == schema.PLAN_TIERS == tuple(P.model.TierRates.model_fields)
    assert tuple(P.model.TierMedians.model_fields) == schema.PLAN_TIERS
    assert tuple(P.model.UpgradeDays.model_fields) == schema.PLAN_TIERS[1:]  # the paid tiers, moved up to
    assert tuple(P.model.RoleWeights.model_fields) == schema.ROLES
    assert tuple(P.model.PriorityWeights.model_fields) == schema.PRIORITIES
    assert tuple(P.model.MissingShares.model_fields) == tuple(f"{t}_{c}" for t, c in schema.BLANKABLE_COLUMNS)
    assert tuple(P.model.Scenarios.model_fields) == schema.SCENARIOS


def test_the_ledger_kinds_and_tables_are_the_schemas():
    assert schema.LEDGER.column("kind").allowed == tuple(schema.LEDGER_KINDS)
    assert schema.LEDGER.column("table_name").allowed == schema.IMPERFECT_TABLES
    for table, column in schema.BLANKABLE_COLUMNS:
        assert schema.TABLES[table].column(column).nullable, (table, column)


def _imports(path: Path) -> set[str]:
    """The helpers sub-packages and modules a file imports (relative imports resolved by name)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.lstrip("."))
            names |= {f"{node.module.lstrip('.')}.{a.name}".lstrip(".") for a in node.names}
        elif isinstance(node, (ast.ImportFrom, ast.Import)):  # from .. import x, or import x
            names |= {a.name for a in node.names}
    return names


@pytest.mark.parametrize(
    "package,forbidden",
    [("quality", ("generate", "imperfections")), ("generate", ("quality", "imperfections", "publish"))],
)
def test_quality_and_generation_do_not_import_each_other(package, forbidden):
    """Quality code checks the data by SQL and never uses the generator's code (nor the other way round),
    so a check cannot agree with the generator by sharing its mistakes."""
    found = []
    for path in sorted((SRC / package).glob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith((f"{f}.", f"helpers.{f}")) for f in forbidden):
                found.append(f"{package}/{path.name} imports {name}")
    assert not found, found

"""Documentation written beside the data, derived from the one schema (helpers.schema), so it cannot
drift from the tables: schema.sql (CREATE TABLE DDL), data_dictionary.md, sources.yml (dbt sources)
and datapackage.json (a Frictionless Data Package descriptor listing every part file)."""

from __future__ import annotations

from pathlib import Path

import yaml

from . import io
from .schema import TABLES, Table, ddl

# Frictionless field types for the DuckDB types the schema uses
_FRICTIONLESS = {"BIGINT": "integer", "INTEGER": "integer", "VARCHAR": "string", "BOOLEAN": "boolean",
                 "TIMESTAMP": "datetime"}


def schema_sql() -> str:
    """The CREATE TABLE statements of the warehouse (schema raw), constraints as the warehouse declares them."""
    head = ("-- saas-synth: the raw tables, as loaded into warehouse.duckdb (DuckDB SQL).\n"
            "-- Timestamps are naive and hold UTC. Keys are declared on accounts, users and projects;\n"
            "-- tasks' and events' keys are checked by the QA SQL (helpers/sql/rules).\n\nCREATE SCHEMA raw;\n")
    return head + "\n" + "\n\n".join(ddl(t) for t in TABLES.values()) + "\n"


def data_dictionary() -> str:
    """Markdown: one section per table (grain, key, notes) with a row per column."""
    out = ["# Data dictionary", "",
           "Every table of `raw/` (Parquet parts `raw/<table>/part-NNNNN.parquet`). Timestamps are naive and hold UTC.",
           ""]
    for t in TABLES.values():
        out += [f"## {t.name}", "", t.description, "", f"- Grain: {t.grain}.", f"- Primary key: `{t.primary_key}`."]
        out += [f"- {note}" for note in t.notes]
        out += ["", "| column | type | null | references | allowed values | meaning |", "|---|---|---|---|---|---|"]
        for c in t.columns:
            allowed = ", ".join(f"`{v}`" for v in c.allowed) if c.allowed else ""
            ref = f"`{c.references}`" if c.references else ""
            out.append(f"| `{c.name}` | {c.sql_type} | {'yes' if c.nullable else 'no'} | {ref} | {allowed} | "
                       f"{c.description.replace('|', '/')} |")
        out.append("")
    return "\n".join(out)


def sources_yml(name: str) -> str:
    """A dbt sources file for the raw tables (point `meta.parquet` globs, or the warehouse, at them)."""
    tables = []
    for t in TABLES.values():
        columns = []
        for c in t.columns:
            tests = [] if c.nullable else ["not_null"]
            if c.name == t.primary_key and t.name != "events":
                tests.append("unique")
            if c.references:
                ref_table, ref_col = c.references.split(".")
                tests.append({"relationships": {"to": f"source('{name}', '{ref_table}')", "field": ref_col}})
            if c.allowed:
                tests.append({"accepted_values": {"values": list(c.allowed)}})
            columns.append({"name": c.name, "description": c.description, "data_type": c.sql_type.lower(),
                            **({"data_tests": tests} if tests else {})})
        tables.append({"name": t.name, "description": f"{t.description} Grain: {t.grain}.",
                       "meta": {"parquet": f"raw/{t.name}/part-*.parquet"}, "columns": columns})
    doc = {"version": 2, "sources": [{"name": name, "schema": "raw", "description":
                                      "saas-synth synthetic product data (timestamps: naive UTC)", "tables": tables}]}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)


def datapackage(data_dir: Path, name: str) -> dict:
    """A Frictionless Data Package descriptor: every table as a resource over its part files."""
    resources = []
    for t in TABLES.values():
        files = [str(p.relative_to(data_dir)) for p in io.parts(io.table_dir(data_dir, t.name))]
        resources.append({
            "name": t.name, "path": files, "format": "parquet", "description": t.description,
            "schema": _table_schema(t),
        })
    return {"name": name.lower().replace("_", "-"), "title": f"saas-synth dataset {name}",
            "profile": "data-package", "resources": resources}


def _table_schema(t: Table) -> dict:
    fields = []
    for c in t.columns:
        field = {"name": c.name, "type": _FRICTIONLESS[c.sql_type], "description": c.description}
        constraints = {}
        if not c.nullable:
            constraints["required"] = True
        if c.allowed:
            constraints["enum"] = list(c.allowed)
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    schema = {"fields": fields, "primaryKey": [t.primary_key]}
    fks = [{"fields": [c.name], "reference": {"resource": c.references.split(".")[0], "fields": [c.references.split(".")[1]]}}
           for c in t.columns if c.references]
    if fks:
        schema["foreignKeys"] = fks
    return schema


def write_package(data_dir: str | Path, name: str) -> list[Path]:
    """schema.sql, data_dictionary.md, sources.yml and datapackage.json in the dataset folder."""
    data_dir = Path(data_dir)
    files = {"schema.sql": schema_sql(), "data_dictionary.md": data_dictionary(), "sources.yml": sources_yml(name)}
    written = []
    for file, text in files.items():
        path = data_dir / file
        tmp = path.with_name(f".{file}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    io.write_json(datapackage(data_dir, name), data_dir / "datapackage.json")
    return written + [data_dir / "datapackage.json"]

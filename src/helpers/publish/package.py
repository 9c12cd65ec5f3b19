"""Documentation written beside the data, derived from the one schema (helpers.schema), so it cannot
drift from the tables: schema.sql (CREATE TABLE DDL), data_dictionary.md, sources.yml (dbt sources)
and datapackage.json (a Frictionless Data Package descriptor listing every part file).

On request (`write_package(..., csv=True)`) also CSV copies of the tables, `csv/<table>.csv`, with
their own descriptor `csv/datapackage.json`.

Why two descriptors: frictionless-py (5.21) reads only the first file of a multi-file Parquet
resource (its Parquet parser opens `resource.normpath`; the other paths are ignored), so
`frictionless validate datapackage.json` checks the types, constraints and keys of the first part of
each table only. The CSV copies are one file per table, so `frictionless validate csv/datapackage.json`
checks every row (types, required, allowed values, primary and foreign keys); the tests show the CSV
copies hold exactly the Parquet content (same content hash).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .. import duck, io
from ..params import Params
from ..quality.effects import Effect
from ..schema import ANSWER_KEYS, DEFINITIONS, LEDGER, TABLES, TRUTH_TABLES, Table, ddl
from .caveats import caveats

# Frictionless field types for the DuckDB types the schema uses
_FRICTIONLESS = {
    "BIGINT": "integer",
    "INTEGER": "integer",
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "datetime",
    "DATE": "date",
}
# How frictionless sees a Parquet NULL: it reads Parquet through pandas, where a null integer becomes
# the float NaN (cell text "nan") and a null timestamp NaT; null strings stay None. Declared per
# nullable field only, so an empty string is never taken for a NULL.
_PARQUET_NULLS = {"integer": ["nan"], "datetime": ["NaT"], "date": ["NaT"], "string": [], "boolean": []}

CSV_DIR = "csv"
# Timestamps in the CSV copies: naive, UTC, always six fractional digits, e.g. 2025-03-01 09:30:00.000000
CSV_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def schema_sql() -> str:
    """The CREATE TABLE statements of the warehouse (schema raw), constraints as the warehouse declares them."""
    head = (
        "-- saas-synth: the raw tables, as loaded into warehouse.duckdb (DuckDB SQL).\n"
        "-- Timestamps are naive and hold UTC. Keys are declared on accounts, account_plans, users and projects;\n"
        "-- tasks' and events' keys are checked by the QA SQL (helpers/quality/sql/rules).\n\nCREATE SCHEMA raw;\n"
    )
    return head + "\n" + "\n\n".join(ddl(t) for t in TABLES.values()) + "\n"


def data_dictionary(params: Params | None = None, effects: list[Effect] = ()) -> str:
    """Markdown: the metric definitions, what SQL over this dataset must handle (with its parameters
    and measured effects), then one section per table (grain, key, notes) with a row per column: the
    raw tables, then the answer keys in truth/."""
    out = [
        "# Data dictionary",
        "",
        "Every table of `raw/` (Parquet parts `raw/<table>/part-NNNNN.parquet`), then the answer keys of "
        "`truth/`. Timestamps are naive and hold UTC.",
        "",
        "## Definitions (locked for Stage 3)",
        "",
    ]
    out += [f"- {d}" for d in DEFINITIONS] + [""]
    out += [
        "## How the tables relate",
        "",
        "Every table with its primary key (PK) and foreign keys (FK); a line per foreign key, labelled with its "
        "column (`o|` where the key may be null). GitHub renders the diagram; elsewhere paste it into "
        "https://mermaid.live.",
        "",
        "```mermaid",
        er_diagram(),
        "```",
        "",
    ]
    out += [*READING_NULLABLE_IDS, ""]
    if params is not None:
        out += caveats(params, list(effects))
    out += _table_sections(TABLES.values(), "")
    out += [
        "# Answer keys (`truth/`)",
        "",
        "Computed from the simulation's own state (every task's timeline, users' activation, accounts' "
        "internal flags), never from the published events: an independent second path that SQL over "
        "`raw/` must reproduce (05_metrics_preview does). The imperfection ledger "
        "(`imperfections/ledger.parquet`) lists which rows are late, blanked, outliers, internal, "
        "unflagged test workspaces (kind test_workspace) or duplicated.",
        "",
    ]
    out += _table_sections(TRUTH_TABLES.values(), "truth/")
    out += ["# The imperfection ledger", "", *_table_sections([LEDGER], "imperfections/")]
    return "\n".join(out)


def er_diagram() -> str:
    """A Mermaid erDiagram of helpers.schema.TABLES: each table with its columns (type, PK, FK) and a
    relationship per foreign key (Column.references), one parent to many children, optional (`o|`) when
    the key may be null."""
    lines = ["erDiagram"]
    for t in TABLES.values():
        for c in t.foreign_keys:
            parent = c.references.split(".")[0]
            lines.append(f'    {parent} {"|o" if c.nullable else "||"}--o{{ {t.name} : "{c.name}"')
    for t in TABLES.values():
        lines.append(f"    {t.name} {{")
        for c in t.columns:
            keys = ",".join(k for k, on in (("PK", c.name == t.primary_key), ("FK", bool(c.references))) if on)
            lines.append(f"        {c.sql_type} {c.name}{' ' + keys if keys else ''}")
        lines.append("    }")
    return "\n".join(lines)


# Reading ids that may be null (assignee_user_id, project_id, task_id ...) in pandas: its default turns an
# integer column with nulls into float64 (42 becomes 42.0, and ids above 2**53 lose digits).
READING_NULLABLE_IDS = [
    "## Reading nullable ids in pandas",
    "",
    "Id columns that may be null (`tasks.assignee_user_id`, `events.project_id`, `events.task_id`) are BIGINT "
    "in the Parquet. pandas' default reader turns an integer "
    "column with nulls into float64 (an id 42 becomes 42.0; ids above 2^53 would lose digits). Keep them "
    "integers with Arrow-backed dtypes, or use the loader, which does the same for every table:",
    "",
    "```python",
    "import pandas as pd",
    "",
    'tasks = pd.read_parquet("raw/tasks", dtype_backend="pyarrow")  # assignee_user_id: int64[pyarrow], nulls <NA>',
    "",
    "# with saas-synth installed: every raw table, the same dtypes",
    "from helpers.load import tables",
    "",
    't = tables(".")  # {name: DataFrame}, run from the dataset folder',
    "```",
]


def _table_sections(tables, prefix: str) -> list[str]:
    out = []
    for t in tables:
        out += [
            f"## {prefix}{t.name}",
            "",
            t.description,
            "",
            f"- Grain: {t.grain}.",
            f"- Primary key: `{t.primary_key}`.",
        ]
        out += [f"- {note}" for note in t.notes]
        out += ["", "| column | type | null | references | allowed values | meaning |", "|---|---|---|---|---|---|"]
        for c in t.columns:
            allowed = ", ".join(f"`{v}`" for v in c.allowed) if c.allowed else ""
            ref = f"`{c.references}`" if c.references else ""
            out.append(
                f"| `{c.name}` | {c.sql_type} | {'yes' if c.nullable else 'no'} | {ref} | {allowed} | "
                f"{c.description.replace('|', '/')} |"
            )
        out.append("")
    return out


# dbt (dbt-duckdb): how the generated sources read the data. One sources file serves both ways, chosen by
# the dbt var READ_VAR: "warehouse" (default; warehouse.duckdb attached as database WAREHOUSE_DATABASE) or
# "parquet" (the Parquet parts and truth files, paths relative to DuckDB's file_search_path, i.e. the dataset
# folder). dbt-duckdb reads `external_location` whenever the key is present, so in warehouse mode it is the
# table itself, as a subquery (dbt-duckdb pastes a location holding "(" verbatim).
READ_VAR = "saas_synth_read"
WAREHOUSE_DATABASE = "warehouse"


def _external_location(parquet: str) -> str:
    """The Jinja dbt renders into `external_location`: read_parquet(parquet) when the var READ_VAR is
    "parquet", else the warehouse table ({database}, {schema}, {name}: dbt-duckdb fills them in)."""
    return (
        f"{{{{ \"read_parquet('{parquet}')\" if var('{READ_VAR}', 'warehouse') == 'parquet' "
        "else '(select * from {database}.{schema}.{name})' }}"
    )


def _column_tests(name: str, t: Table, c) -> list:
    """dbt data tests of one column, in dbt 1.10's syntax (a generic test's arguments under `arguments:`):
    not_null unless nullable, unique on a primary key (not events': re-sent deliveries repeat it),
    relationships on a reference, accepted_values on a closed set."""
    tests: list = [] if c.nullable else ["not_null"]
    if c.name == t.primary_key and t.name != "events":
        tests.append("unique")
    if c.references:
        ref_table, ref_col = c.references.split(".")
        tests.append({"relationships": {"arguments": {"to": f"source('{name}', '{ref_table}')", "field": ref_col}}})
    if c.allowed:
        tests.append({"accepted_values": {"arguments": {"values": list(c.allowed)}}})
    return tests


def _source_tables(name: str, tables, tests: bool) -> list[dict]:
    out = []
    for t in tables:
        columns = []
        for c in t.columns:
            column = {"name": c.name, "description": c.description, "data_type": c.sql_type.lower()}
            column_tests = _column_tests(name, t, c) if tests else []
            columns.append({**column, **({"data_tests": column_tests} if column_tests else {})})
        out.append({"name": t.name, "description": f"{t.description} Grain: {t.grain}.", "columns": columns})
    return out


def sources_yml(name: str) -> str:
    """A dbt sources file (dbt 1.10 syntax, no deprecation warnings): source `name`, the raw tables with
    not_null/unique/relationships/accepted_values tests, and source `name`_truth, the answer keys and
    not_yet_arrived. Read
    from warehouse.duckdb (schemas raw and truth of database WAREHOUSE_DATABASE) by default, or from the
    Parquet files with `--vars '{READ_VAR: parquet}'` (DuckDB's file_search_path set to the dataset
    folder): see _external_location."""
    sources = [
        (name, "raw", "raw/{name}/part-*.parquet", TABLES.values(), True, "saas-synth synthetic product data"),
        (
            f"{name}_truth",
            "truth",
            "truth/{name}.parquet",
            [TRUTH_TABLES[k] for k in (*ANSWER_KEYS, "not_yet_arrived")],
            False,
            "saas-synth answer keys (truth/): the locked metrics, computed from the simulation's state, and "
            "the deliveries an as_of extract left out (not_yet_arrived; as a Parquet file only when there are some)",
        ),
    ]
    doc = {
        "version": 2,
        "sources": [
            {
                "name": source,
                "description": f"{description} (timestamps: naive UTC). Read from warehouse.duckdb, or from the "
                f"Parquet files with --vars '{{{READ_VAR}: parquet}}'.",
                "database": WAREHOUSE_DATABASE,
                "schema": schema,
                "config": {"meta": {"external_location": _external_location(parquet)}},
                "tables": _source_tables(name, tables, tests),
            }
            for source, schema, parquet, tables, tests, description in sources
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)


def datapackage(data_dir: Path, name: str, keys_unique: dict[str, bool] | None = None) -> dict:
    """A Frictionless Data Package descriptor: every table as a resource over its Parquet part files
    (`path` lists them in part order), with field types, descriptions, primary and foreign keys; then
    the truth files and the ledger that exist. `keys_unique` (table -> bool, from primary_keys_unique)
    saves checking the data again."""
    data_dir = Path(data_dir)
    keys_unique = keys_unique or primary_keys_unique(data_dir)
    resources = []
    for t in TABLES.values():
        files = [p.relative_to(data_dir).as_posix() for p in io.parts(io.table_dir(data_dir, t.name))]
        resources.append(_parquet_resource(t.name, files, t, _table_schema(t, "parquet", keys_unique[t.name])))
    for t in TRUTH_TABLES.values():  # the answer keys: one file each, when present
        path = io.truth_path(data_dir, t.name)
        if path.exists():
            schema = _table_schema(t, "parquet", primary_key=False)
            schema["primaryKey"] = t.primary_key.split(", ")
            # the deliveries of not_yet_arrived reference users, projects and tasks of every part, and
            # frictionless reads only the first part of a multi-file resource: no foreign keys declared
            schema.pop("foreignKeys", None)
            resources.append(_parquet_resource(f"truth_{t.name}", path.relative_to(data_dir).as_posix(), t, schema))
    ledger = io.ledger_path(data_dir)
    if ledger.exists():
        schema = _table_schema(LEDGER, "parquet", primary_key=False)
        resources.append(
            _parquet_resource("imperfections_ledger", ledger.relative_to(data_dir).as_posix(), LEDGER, schema)
        )
    return {
        "name": _package_name(name),
        "title": f"saas-synth dataset {name}",
        "description": "Synthetic B2B SaaS product data (saas-synth). Timestamps are naive and hold UTC. "
        "Each table is one resource over its Parquet part files, read in part order; "
        "resources truth_* are the answer keys (truth/), imperfections_ledger the ledger.",
        "profile": "data-package",
        "resources": resources,
    }


def _parquet_resource(name: str, path, table: Table, schema: dict) -> dict:
    return {
        "name": name,
        "type": "table",
        "path": path,
        "format": "parquet",
        "mediatype": "application/vnd.apache.parquet",
        "description": f"{table.description} Grain: {table.grain}.",
        "schema": schema,
    }


def csv_datapackage(data_dir: Path, name: str, keys_unique: dict[str, bool] | None = None) -> dict:
    """The descriptor of the CSV copies (`csv/datapackage.json`; paths relative to csv/): one file per
    table, so frictionless validates every row, and the same schema as datapackage.json; then the
    answer keys (truth_*) and the ledger (imperfections_ledger) when they were copied."""
    data_dir = Path(data_dir)
    keys_unique = keys_unique or primary_keys_unique(data_dir)
    resources = []
    for resource, t, _ in csv_sources(data_dir):
        if resource in TABLES:
            schema = _table_schema(t, "csv", primary_key=keys_unique[t.name])
            origin = f"raw/{t.name}/"
        else:
            schema = _table_schema(t, "csv", primary_key=False)
            schema.pop("foreignKeys", None)  # as in datapackage.json
            if resource.startswith("truth_"):
                schema["primaryKey"] = t.primary_key.split(", ")
            origin = io.ledger_path(Path(".")).as_posix() if t is LEDGER else f"truth/{t.name}.parquet"
        resources.append(
            {
                "name": resource,
                "type": "table",
                "path": f"{resource}.csv",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "description": f"{t.description} Grain: {t.grain}. CSV copy of {origin}.",
                "dialect": {"delimiter": ",", "quoteChar": '"', "doubleQuote": True, "header": True},
                "schema": schema,
            }
        )
    return {
        "name": _package_name(name) + "-csv",
        "title": f"saas-synth dataset {name} (CSV copies)",
        "description": "CSV copies of the Parquet tables, rows in part order, then of the answer keys (truth_*) "
        "and the imperfection ledger. Timestamps are naive UTC, "
        f'written {CSV_TIMESTAMP_FORMAT}. An empty unquoted field is NULL and a quoted "" '
        "is the empty string (frictionless reads both as missing; read_csv_copy keeps them apart).",
        "profile": "data-package",
        "resources": resources,
    }


def _package_name(name: str) -> str:
    return name.lower().replace("_", "-")


def primary_keys_unique(data_dir: Path) -> dict[str, bool]:
    """Per table, whether its key is unique in the data, so that a descriptor declares a primaryKey only
    when it holds. Entity keys are unique by construction (and by the warehouse's PRIMARY KEYs); only
    events repeat theirs, on purpose, when duplicate deliveries are on, and the ledger lists every
    re-sent delivery (rule ledger_duplicates_are_resent): no count over the events is needed."""
    unique = dict.fromkeys(TABLES, True)
    ledger = io.ledger_path(data_dir)
    if ledger.exists():
        con = duck.connect()
        try:
            resent = con.execute(
                f"SELECT count(*) FROM {duck.parquet(con, [ledger])} WHERE kind = 'duplicate'"
            ).fetchall()[0][0]
        finally:
            con.close()
        unique["events"] = resent == 0
    return unique


def _table_schema(t: Table, fmt: str = "parquet", primary_key: bool = True) -> dict:
    fields = []
    for c in t.columns:
        kind = _FRICTIONLESS[c.sql_type]
        field = {"name": c.name, "type": kind, "description": c.description}
        if kind == "datetime" and fmt == "csv":
            field["format"] = CSV_TIMESTAMP_FORMAT
        if fmt == "parquet":  # no text form: only what pandas turns a NULL into is missing
            field["missingValues"] = _PARQUET_NULLS[kind] if c.nullable else []
        constraints = {}
        if not c.nullable:
            constraints["required"] = True
        if c.allowed:
            constraints["enum"] = list(c.allowed)
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    schema = {"fields": fields}
    if fmt == "csv":
        schema["missingValues"] = [""]  # an empty field; see csv_datapackage
    if primary_key:
        schema["primaryKey"] = [t.primary_key]
    fks = [
        {
            "fields": [c.name],
            "reference": {"resource": c.references.split(".")[0], "fields": [c.references.split(".")[1]]},
        }
        for c in t.columns
        if c.references
    ]
    if fks:
        schema["foreignKeys"] = fks
    return schema


# --------------------------------------------------------------------------- CSV copies
def csv_path(data_dir: str | Path, table: str) -> Path:
    return Path(data_dir) / CSV_DIR / f"{table}.csv"


def csv_sources(data_dir: str | Path) -> list[tuple[str, Table, list[Path]]]:
    """What gets a CSV copy, as (resource name = file stem, schema table, Parquet files): every table of
    helpers.schema.TABLES, then each answer key of truth/ that exists (truth_<name>) and the ledger
    (imperfections_ledger), named as in datapackage.json."""
    data_dir = Path(data_dir)
    out = [(t.name, t, io.parts(io.table_dir(data_dir, t.name))) for t in TABLES.values()]
    for t in TRUTH_TABLES.values():
        if io.truth_path(data_dir, t.name).exists():
            out.append((f"truth_{t.name}", t, [io.truth_path(data_dir, t.name)]))
    if io.ledger_path(data_dir).exists():
        out.append(("imperfections_ledger", LEDGER, [io.ledger_path(data_dir)]))
    return out


def write_csv_copies(data_dir: str | Path) -> list[Path]:
    """`csv/<table>.csv` for every table of helpers.schema.TABLES, one file per table, and
    `csv/truth_<name>.csv`, `csv/imperfections_ledger.csv` for the answer keys and the ledger
    (csv_sources), each written under a temporary name and renamed into place.

    Format: UTF-8, comma-separated, a header line with the schema's column names, `"` quotes (doubled
    inside). Rows in the order of the Parquet parts (part order, then row order within a part).
    Timestamps naive UTC as `YYYY-MM-DD HH:MM:SS.ffffff` (CSV_TIMESTAMP_FORMAT, always 6 digits);
    booleans `true`/`false`; ids plain integers. NULL is an empty unquoted field and the empty string
    is `""`, so the two stay distinct (read them back with read_csv_copy).
    """
    data_dir = Path(data_dir)
    (data_dir / CSV_DIR).mkdir(parents=True, exist_ok=True)
    fmt = CSV_TIMESTAMP_FORMAT.replace("'", "''")
    options = f"FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"', NULLSTR '', TIMESTAMPFORMAT '{fmt}'"
    written = []
    con = duck.connect()
    try:
        con.execute("SET preserve_insertion_order = true")  # rows leave in part order, then row order
        for resource, t, files in csv_sources(data_dir):
            source = duck.parts(con, io.table_dir(data_dir, t.name)) if resource in TABLES else duck.parquet(con, files)
            with io.replacing(csv_path(data_dir, resource)) as tmp:
                con.execute(f"COPY (SELECT {', '.join(t.column_names)} FROM {source}) TO ? ({options})", [str(tmp)])
            written.append(csv_path(data_dir, resource))
    finally:
        con.close()
    return written


def read_csv_copy(path: str | Path, table: str):
    """One CSV copy as an Arrow table with the schema's column types, in file order (DuckDB's CSV reader
    over the open file, explicit types; allow_quoted_nulls=false keeps `""` the empty string). For
    comparing with the Parquet (io.content_hash_arrow); tables that fit in memory. `table` is a resource
    name of csv_sources (a raw table, truth_<name> or imperfections_ledger)."""
    t = _csv_table(table)
    con = duck.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        with open(path, "rb") as f:
            relation = con.read_csv(
                f,
                header=True,
                sep=",",
                quotechar='"',
                escapechar='"',
                na_values=[""],
                allow_quoted_nulls=False,
                dtype={c.name: c.sql_type for c in t.columns},
                timestamp_format=CSV_TIMESTAMP_FORMAT,
            )
            return relation.to_arrow_table()
    finally:
        con.close()


def _csv_table(resource: str) -> Table:
    """The schema table of a CSV copy's resource name."""
    if resource == "imperfections_ledger":
        return LEDGER
    return TRUTH_TABLES[resource.removeprefix("truth_")] if resource.startswith("truth_") else TABLES[resource]


def write_package(
    data_dir: str | Path, name: str, csv: bool = False, params: Params | None = None, effects: list[Effect] = ()
) -> list[Path]:
    """schema.sql, data_dictionary.md (with what SQL must handle, given params and the measured effects),
    sources.yml and datapackage.json in the dataset folder; with csv=True also the CSV copies
    (write_csv_copies) and their descriptor csv/datapackage.json."""
    data_dir = Path(data_dir)
    files = {
        "schema.sql": schema_sql(),
        "data_dictionary.md": data_dictionary(params, effects),
        "sources.yml": sources_yml(name),
    }
    written = []
    for file, text in files.items():
        io.write_text(text, data_dir / file)
        written.append(data_dir / file)
    keys_unique = primary_keys_unique(data_dir)
    io.write_json(datapackage(data_dir, name, keys_unique), data_dir / "datapackage.json")
    written.append(data_dir / "datapackage.json")
    if csv:
        written += write_csv_copies(data_dir)
        io.write_json(csv_datapackage(data_dir, name, keys_unique), data_dir / CSV_DIR / "datapackage.json")
        written.append(data_dir / CSV_DIR / "datapackage.json")
    return written

"""The one schema definition: every published table, its columns, types, keys and meanings.

Arrow schemas (what the Parquet files hold), the DuckDB DDL and the documentation are all derived
from TABLES, so they cannot drift apart. Timestamps are naive timestamp[us] holding UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

TS = pa.timestamp("us")
ID = pa.int64()
STR = pa.string()
BOOL = pa.bool_()
DICT_STR = pa.dictionary(pa.int8(), pa.string())  # few distinct values: stored as a dictionary
DATE = pa.date32()
INT = pa.int32()

_DUCKDB_TYPES = {
    str(TS): "TIMESTAMP",
    str(ID): "BIGINT",
    str(STR): "VARCHAR",
    str(BOOL): "BOOLEAN",
    str(DICT_STR): "VARCHAR",
    str(INT): "INTEGER",
    str(DATE): "DATE",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    nullable: bool = False
    references: str | None = None  # "table.column"
    allowed: tuple[str, ...] | None = None  # closed set of values, for strings

    @property
    def sql_type(self) -> str:
        return _DUCKDB_TYPES[str(self.type)]


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    primary_key: str
    columns: tuple[Column, ...]
    description: str
    constraints_in_warehouse: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    @property
    def foreign_keys(self) -> list[Column]:
        return [c for c in self.columns if c.references]

    def empty(self) -> pa.Table:
        return self.arrow_schema.empty_table()


# --------------------------------------------------------------------------- vocabularies (the one home of each)
PLAN_TIERS = ("free", "team", "business", "enterprise")
ROLES = ("admin", "member", "guest")
PRIORITIES = ("low", "medium", "high", "urgent")
STATUSES = ("todo", "in_progress", "blocked", "done", "cancelled")
COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1001+")
CLIENTS = ("web", "desktop", "ios", "android")  # where a session happens
MOBILE_CLIENTS = ("ios", "android")  # offline syncs that arrive days late come from these
# Key events drive active users and retention (the locked definitions); the rest support them.
KEY_EVENTS = ("task_created", "task_completed", "handoff_completed", "blocker_resolved")
SESSION_EVENTS = ("login_succeeded", "dashboard_viewed")  # about the session: no project, no task
TASK_SUPPORTING_EVENTS = ("work_note_added", "task_assigned", "task_status_changed", "blocker_added")
SUPPORTING_EVENTS = SESSION_EVENTS + TASK_SUPPORTING_EVENTS + ("project_created",)
EVENT_NAMES = KEY_EVENTS + SUPPORTING_EVENTS
TASK_EVENTS = KEY_EVENTS + TASK_SUPPORTING_EVENTS  # about one task: they carry task_id and project_id
# Written synchronously by the auth server, so never delivered late (every other event can be).
SYNCHRONOUS_EVENTS = ("login_succeeded",)
# Events whose request uploads what the user wrote (a title, a note, attachments): the larger requests a
# flaky network times out, so the web client retries them (late arrivals by cause, imperfections.late_arrival).
CONTENT_EVENTS = ("task_created", "work_note_added", "blocker_added", "project_created")
# Fire-and-forget analytics beacons: sent once and dropped on failure, seldom retried.
BEACON_EVENTS = ("dashboard_viewed",)
# A client that sleeps with the laptop: it queues events while the lid is closed and sends them on waking.
SLEEPING_CLIENTS = ("desktop",)
SCENARIOS = ("feature_launch", "ingestion_incident", "holidays", "onboarding_revamp")
# Vocabularies the SQL reads as DuckDB variables (getvariable('key_events') ...): see helpers.duck.
SQL_VOCABULARIES = {
    "plan_tiers": PLAN_TIERS,
    "roles": ROLES,
    "priorities": PRIORITIES,
    "statuses": STATUSES,
    "key_events": KEY_EVENTS,
    "event_names": EVENT_NAMES,
    "task_events": TASK_EVENTS,
    "session_events": SESSION_EVENTS,
    "synchronous_events": SYNCHRONOUS_EVENTS,
    "clients": CLIENTS,
    "mobile_clients": MOBILE_CLIENTS,
}

ACCOUNTS = Table(
    "accounts",
    "one row per customer account (a workspace)",
    "account_id",
    (
        Column("account_id", ID, "Account identifier, 1..N in order of signup."),
        Column("account_name", STR, "Company name (Faker pool)."),
        Column("industry", STR, "Industry the company gave at signup.", nullable=True),
        Column("country_code", STR, "ISO 3166-1 alpha-2 country of the company.", nullable=True),
        Column(
            "plan_tier", STR, "Plan at the end of the window (= its last account_plans period).", allowed=PLAN_TIERS
        ),
        Column("company_size", STR, "Employee band the company gave at signup.", allowed=COMPANY_SIZES),
        Column(
            "created_at",
            TS,
            "Signup time (UTC): from the product's launch (history.launch) to the window's end; before the window "
            "for the installed base (its earlier events are not in the extract).",
        ),
        Column(
            "is_internal",
            BOOL,
            "True for the vendor's own internal/test workspaces (the flagged ones: someone's own sandbox may be left "
            "unflagged; the ledger lists those as kind test_workspace).",
        ),
    ),
    "Customer accounts: every account that is a customer at some time in the window (the installed base from "
    "before it, and the window's signups); accounts that left before the window are not in the extract.",
)

ACCOUNT_PLANS = Table(
    "account_plans",
    "one row per plan period of an account (from one plan change to the next)",
    "account_plan_id",
    (
        Column("account_plan_id", ID, "Plan period identifier: account_id * 100 + n, n = 1, 2, ... in time order."),
        Column("account_id", ID, "The account.", references="accounts.account_id"),
        Column("plan_tier", STR, "The plan during the period.", allowed=PLAN_TIERS),
        Column("is_trial", BOOL, "True for a free trial of the tier (the account does not pay yet)."),
        Column(
            "valid_from",
            TS,
            "Start of the period (UTC): the account's created_at for its first period, else the moment the plan "
            "changed; inside the account's life, before the window's end (before the window for an installed base).",
        ),
        Column(
            "valid_to",
            TS,
            "End of the period (UTC), exclusive: the next period's valid_from; null for the account's last period.",
            nullable=True,
        ),
    ),
    "Plan history: every account's periods are contiguous and non-overlapping from its created_at; the last "
    "period (valid_to null) has the account's plan_tier. Trials, upgrades and downgrades are plan changes.",
    notes=(
        "The plan at a moment t: the period with valid_from <= t < coalesce(valid_to, t + 1). An account that "
        "churned keeps its last period open (accounts has no churn date: churn shows as activity that stops).",
    ),
)

USERS = Table(
    "users",
    "one row per user (a person invited to one account)",
    "user_id",
    (
        Column("user_id", ID, "User identifier, dense 1..N grouped by account."),
        Column("account_id", ID, "The user's account.", references="accounts.account_id"),
        Column("full_name", STR, "Person name from a Faker pool of the account country's locale."),
        Column("email", STR, "Unique address on a reserved domain (example.com/.org/.net, .test)."),
        Column("role", STR, "Workspace role.", allowed=ROLES),
        Column("timezone", STR, "IANA time zone; activity follows its working hours.", nullable=True),
        Column("created_at", TS, "Invitation time (UTC); at or after the account's created_at."),
        Column(
            "activated_at", TS, "First sign-in (UTC); null if never activated. No activity before it.", nullable=True
        ),
        Column(
            "deactivated_at",
            TS,
            "Seat removed by an admin (UTC), weeks after the user left; null while the seat is held (most people "
            "who stop using the product keep their seat). No activity after it.",
            nullable=True,
        ),
        Column("is_internal", BOOL, "True when the user belongs to an internal/test account."),
    ),
    "Users. The account's first user signed the account up and is its admin.",
)

PROJECTS = Table(
    "projects",
    "one row per project",
    "project_id",
    (
        Column("project_id", ID, "Project identifier, dense 1..N grouped by account."),
        Column("account_id", ID, "The project's account.", references="accounts.account_id"),
        Column("owner_user_id", ID, "The activated user who created the project.", references="users.user_id"),
        Column("project_name", STR, "Project name."),
        Column("created_at", TS, "Creation time (UTC); after the owner's activated_at."),
        Column("archived_at", TS, "Archive time (UTC) once every task is closed; null if live.", nullable=True),
    ),
    "Projects group tasks inside one account.",
)

TASKS = Table(
    "tasks",
    "one row per task, its state at the end of the window",
    "task_id",
    (
        Column("task_id", ID, "Task identifier: account_id * 1e7 + n, n in order of creation within the account."),
        Column("account_id", ID, "The task's account (= its project's account).", references="accounts.account_id"),
        Column("project_id", ID, "The task's project.", references="projects.project_id"),
        Column(
            "created_by_user_id",
            ID,
            "Activated user of the same account who created the task.",
            references="users.user_id",
        ),
        Column(
            "assignee_user_id",
            ID,
            "Current assignee (after any hand-off); null if unassigned.",
            nullable=True,
            references="users.user_id",
        ),
        Column("title", STR, "Task title."),
        Column("priority", STR, "Priority.", allowed=PRIORITIES),
        Column("status", STR, "Status at the end of the window.", allowed=STATUSES),
        Column("created_at", TS, "Creation time (UTC); after the project's created_at."),
        Column("first_started_at", TS, "First move to in_progress (UTC); null if never started.", nullable=True),
        Column("completed_at", TS, "Completion time (UTC); set exactly when status = 'done'.", nullable=True),
        Column("due_at", TS, "Due date (UTC midnight); may lie beyond the window; null if none.", nullable=True),
    ),
    "Tasks move todo -> in_progress -> (blocked <-> in_progress) -> done or cancelled.",
    constraints_in_warehouse=False,
    notes=(
        "A fact table (10 million rows on params/large.yaml): keys are declared on accounts, account_plans, users and "
        "projects only; tasks' keys are checked by SQL (rules pk_tasks, fk_tasks_*).",
    ),
)

EVENTS = Table(
    "events",
    "one row per event delivery (one per event unless duplicates are on)",
    "event_id",
    (
        Column("event_id", ID, "Event identifier: account_id * 1e9 + the event's rank in its account."),
        Column("account_id", ID, "The acting user's account.", references="accounts.account_id"),
        Column("user_id", ID, "The acting user (activated before the event).", references="users.user_id"),
        Column(
            "session_id",
            ID,
            "The session of the acting user the event happened in: user_id * 1e5 + n, n in order of the user's "
            "sessions. A session is one sitting in the product on one client; login_succeeded, where present, "
            "is its first event (SSO sessions persist, so most sessions have none).",
        ),
        Column("client", DICT_STR, "Where the session happened.", allowed=CLIENTS),
        Column("event_name", DICT_STR, "One of the 11 names of the taxonomy.", allowed=EVENT_NAMES),
        Column("event_at_utc", TS, "When it happened (UTC); inside the window."),
        Column("ingested_at_utc", TS, "When the pipeline received it (UTC); >= event_at_utc."),
        Column(
            "project_id",
            ID,
            "Project, on task events and project_created.",
            nullable=True,
            references="projects.project_id",
        ),
        Column(
            "task_id",
            ID,
            "Task, on the four key events and task_assigned, task_status_changed, work_note_added, blocker_added.",
            nullable=True,
            references="tasks.task_id",
        ),
        Column(
            "properties",
            STR,
            "JSON text: {from_status,to_status} on task_status_changed, "
            "{from_user_id,to_user_id} on handoff_completed, {assignee_user_id} on task_assigned, "
            "{blocker_id} on blocker_added/blocker_resolved; null elsewhere.",
            nullable=True,
        ),
    ),
    "The product event stream. Each part file is sorted by event_at_utc.",
    constraints_in_warehouse=False,
    notes=(
        "Keys are declared on the small tables only (accounts, account_plans, users, projects); events' keys are "
        "checked by SQL (rules pk_events, fk_events_*).",
        "With imperfections.duplicates.share > 0, a re-sent event repeats its event_id (same row, later "
        "ingested_at_utc), as at-least-once pipelines deliver them: deduplicate by event_id (view qa.events).",
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (ACCOUNTS, ACCOUNT_PLANS, USERS, PROJECTS, TASKS, EVENTS)}
ENTITY_TABLES = ("accounts", "account_plans", "users", "projects", "tasks")


def ddl(table: Table, schema: str = "raw", constraints: bool | None = None) -> str:
    """CREATE TABLE statement for DuckDB, with PK/FK when the table declares them."""
    constraints = table.constraints_in_warehouse if constraints is None else constraints
    lines = []
    for c in table.columns:
        line = f"    {c.name} {c.sql_type}"
        if not c.nullable:
            line += " NOT NULL"
        if constraints and c.name == table.primary_key:
            line += " PRIMARY KEY"
        if constraints and c.references:
            ref_table, ref_col = c.references.split(".")
            line += f" REFERENCES {schema}.{ref_table}({ref_col})"
        lines.append(line)
    return f"CREATE TABLE {schema}.{table.name} (\n" + ",\n".join(lines) + "\n);"


# --------------------------------------------------------------------------- answer keys (truth/)
SCOPES = ("all", "external")
_SCOPE = Column(
    "scope",
    STR,
    "'all': every account; 'external': accounts with is_internal = false (and their users), as flagged: "
    "unflagged test workspaces (ledger kind test_workspace) count as external.",
    allowed=SCOPES,
)
_RETENTION_COLUMNS = (
    Column(
        "week_number",
        INT,
        "k = 0, 1, ...: the k-th ISO week after the cohort week (0: the cohort week itself); "
        "from the week holding the window's first day up to the one holding its last day (either may be partial).",
    ),
    Column("cohort_size", ID, "Members of the cohort (churned ones included: they stay in the denominator)."),
    Column("retained", ID, "Members with a key event in week k."),
    Column(
        "left_censored",
        BOOL,
        "True for a cohort with members who joined before the window (the installed base): its weeks before the "
        "window's first are not in the extract and not listed (week_number starts at the week holding the "
        "window's first day); Stage 3 may exclude these cohorts.",
    ),
    _SCOPE,
)
DEFINITIONS = (
    "Key event: `task_created`, `task_completed`, `handoff_completed` or `blocker_resolved`.",
    "Active on day d: at least one key event with `event_at_utc` in UTC days d-6 .. d.",
    "User retention (primary): cohort = the ISO week (Monday, UTC) of the user's `activated_at`; the user is "
    "retained in week k (k = 0, 1, 2, ...) with a key event in the k-th ISO week after the cohort week; churned "
    "users stay in the denominator.",
    "Account retention (secondary): cohort = the ISO week of the account's `created_at`; retained in week k if any "
    "of its users has a key event in that week.",
    "Scope `external`: rows whose account has `is_internal = false` (unflagged test workspaces, ledger kind "
    "`test_workspace`, included: the keys follow the flag); scope `all`: every row.",
    "Duplicate deliveries (same `event_id`) count once.",
    "An extract with a history (`history.launch` before the window) begins mid-story: only the window's events "
    "exist, so days d in the window's first week count only its key events, and a retention cohort with members "
    "who joined before the window is listed from the week holding the window's first day on, `left_censored`.",
)
TRUTH_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "active_users_7d",
            "one row per UTC day of the window and scope",
            "day, scope",
            (
                Column("day", DATE, "A UTC day of the window."),
                _SCOPE,
                Column("active_users", ID, "Users with at least one key event in UTC days day-6 .. day."),
            ),
            "Answer key: 7-day active users, computed from the simulation's state (not from the events).",
        ),
        Table(
            "user_retention",
            "one row per activation cohort week, week k and scope",
            "cohort_week, week_number, scope",
            (
                Column("cohort_week", DATE, "Monday (UTC) of the ISO week of the users' activated_at."),
                *_RETENTION_COLUMNS,
            ),
            "Answer key: weekly user retention by activation cohort, from the simulation's state.",
        ),
        Table(
            "account_retention",
            "one row per signup cohort week, week k and scope",
            "cohort_week, week_number, scope",
            (
                Column("cohort_week", DATE, "Monday (UTC) of the ISO week of the accounts' created_at."),
                *_RETENTION_COLUMNS,
            ),
            "Answer key: weekly account retention by signup cohort (any user's key event), from the "
            "simulation's state.",
        ),
        Table(
            "scenarios",
            "one row per scenario (per day for holidays)",
            "scenario, starts_at",
            (
                Column("scenario", STR, "Scenario name (params scenarios.*).", allowed=SCENARIOS),
                Column("enabled", BOOL, "Whether it was planted in this dataset."),
                Column("starts_at", TS, "When it starts (UTC)."),
                Column("ends_at", TS, "When it ends (UTC); null if it lasts to the end of the window.", nullable=True),
                Column("segment", STR, "Whom it affects."),
                Column("rule", STR, "What changes, with the parameters' values."),
                Column("where_to_look", STR, "The chart or metric that should reveal it."),
            ),
            "The effects planted on purpose that a dashboard should reveal.",
        ),
        Table(
            "not_yet_arrived",
            "one row per delivery left out of an as_of extract",
            "event_id, ingested_at_utc",
            EVENTS.columns,
            "Deliveries ingested after snapshot.as_of: not in raw/events, listed here (same columns). Only written "
            "when an as_of extract left something out.",
        ),
    )
}

# The answer keys among the truth tables: the three Stage 3 metrics.
ANSWER_KEYS = ("active_users_7d", "user_retention", "account_retention")

# --------------------------------------------------------------------------- the imperfection ledger
# What each kind of ledger row is, and which step makes it.
LEDGER_KINDS = {
    "missing": "blanked by 03_imperfections",
    "outlier": "planted by the simulation (01_entities)",
    "late_arrival": "delayed by 03_imperfections",
    "internal": "planted by the simulation (01_entities)",
    "duplicate": "re-sent by 03_imperfections",
    "test_workspace": "planted by the simulation (01_entities)",
}
# The tables an imperfection touches (03_imperfections rewrites them from their untouched copies).
IMPERFECT_TABLES = ("accounts", "users", "tasks", "events")
# Columns 03 may blank, in the order of params imperfections.missing (<table>_<column>): nullable by
# contract and needed by no rule.
BLANKABLE_COLUMNS = (
    ("tasks", "assignee_user_id"),
    ("tasks", "due_at"),
    ("users", "timezone"),
    ("accounts", "industry"),
    ("accounts", "country_code"),
)

LEDGER = Table(
    "ledger",
    "one row per row touched or planted (a re-sent event: one row per extra delivery)",
    "(none)",
    (
        Column("table_name", STR, "The table the row belongs to.", allowed=IMPERFECT_TABLES),
        Column("row_key", ID, "The row's primary key in that table (account_id, user_id, task_id or event_id)."),
        Column("kind", STR, "What was done to it.", allowed=tuple(LEDGER_KINDS)),
        Column("column_name", STR, "The column touched (event_id for a re-sent event).", nullable=True),
        Column(
            "original_value",
            STR,
            "The value before, as text (timestamps ISO 8601, UTC); for a re-sent event, "
            "the first delivery's ingested_at_utc; for a test workspace, 'true' (what it really is).",
            nullable=True,
        ),
        Column(
            "new_value",
            STR,
            "The value after (null when blanked); for a re-sent event, the re-sent delivery's ingested_at_utc; "
            "for a test workspace, 'false' (what its is_internal flag says).",
            nullable=True,
        ),
    ),
    "imperfections/ledger.parquet: every row an imperfection touched or the simulation planted. Join it to a "
    "raw table on row_key = its primary key where table_name names it.",
)

"""Answer keys (data/NAME/truth/): the metrics Stage 3 must reproduce, computed from the simulation's
own state, never from the published events, so they are an independent second path.

Definitions (fixed; also in the data dictionary and the assumptions log):
- key event: task_created, task_completed, handoff_completed or blocker_resolved. In the state, these
  are the timeline's moments: a task's creation (by its creator), completion (by its finisher), each
  hand-off (up to three, each by the user handing it off) and each blocker's resolution (by the user
  holding the task then).
- active on day d: at least one key event in UTC days d-6..d. active_users_7d has one row per day of
  the window and scope.
- user retention: cohort = ISO week (Monday, UTC) of activated_at; retained in week k (k = 0, 1, ...)
  with a key event in the k-th ISO week after the cohort week; churned users stay in the denominator.
  Weeks run up to the one holding the window's last day (it may be partial). A cohort with members who
  activated before the window (an installed base) is listed from the week holding the window's first day
  on, flagged left_censored.
- account retention: cohort = ISO week of the account's created_at; retained in week k if any of its
  users has a key event in that week (left_censored as for users, by created_at).
- the key events are the window's: a key action before the window's start is not in the extract, so the
  days at its start count only what happened inside it.
- scope "all", and "external": accounts with is_internal = false (and their users).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import duck, io
from ..params import Params
from ..schema import ANSWER_KEYS, TRUTH_TABLES

# who did each key action, and when, in state/timeline (times: int64 microseconds, -1 = never); the key events
# are the events of the window: a key action before its start is not one (the locked definitions read events)
KEY_MOMENTS_SQL = """
    SELECT * FROM (
    SELECT account_id, creator_id AS user_id, created_at AS t FROM timeline
    UNION ALL SELECT account_id, done_by_id, done_at FROM timeline WHERE done_at >= 0
    UNION ALL SELECT account_id, handoff_from_id, handoff_at FROM timeline WHERE handoff_at >= 0
    UNION ALL SELECT account_id, handoff2_from_id, handoff2_at FROM timeline WHERE handoff2_at >= 0
    UNION ALL SELECT account_id, handoff3_from_id, handoff3_at FROM timeline WHERE handoff3_at >= 0
    UNION ALL SELECT account_id, blocker1_by_id, blocker1_resolved_at FROM timeline WHERE blocker1_resolved_at >= 0
    UNION ALL SELECT account_id, blocker2_by_id, blocker2_resolved_at FROM timeline WHERE blocker2_resolved_at >= 0
    ) WHERE t >= epoch_us(getvariable('window_start'))
"""

SCOPES_SQL = "(SELECT 'all' AS scope UNION ALL SELECT 'external')"


def _in_scope(alias: str) -> str:
    return f"(s.scope = 'all' OR NOT {alias}.is_internal)"


# A key event on day x makes its user active on days x .. x+6. Per user, those coverings merge into
# intervals (a day's covering ends where the next key day's begins), so each (user, day) is counted
# by a running sum of +1 at an interval's start and -1 after its end: no expansion into 7 rows.
ACTIVE_USERS_7D_SQL = f"""
    WITH key_days AS (
        SELECT DISTINCT user_id, account_id, make_timestamp(t)::DATE AS day FROM key_moments
    ), coverage AS (
        SELECT account_id, day AS first_day,
               least(day + 6, coalesce(lead(day) OVER (PARTITION BY user_id ORDER BY day) - 1, day + 6)) AS last_day
        FROM key_days
    ), intervals AS (  -- the part of each interval inside the window
        SELECT account_id, greatest(first_day, getvariable('window_start')::DATE) AS first_day, last_day
        FROM coverage WHERE last_day >= getvariable('window_start')::DATE
    ), deltas AS (
        SELECT s.scope, d.day, sum(d.delta) AS delta
        FROM (SELECT account_id, first_day AS day, 1 AS delta FROM intervals
              UNION ALL SELECT account_id, last_day + 1, -1 FROM intervals) d
        JOIN accounts a USING (account_id), {SCOPES_SQL} s
        WHERE {_in_scope("a")}
        GROUP BY ALL
    ), days AS (
        SELECT d::DATE AS day FROM range(getvariable('window_start'), getvariable('window_end'), INTERVAL 1 DAY) r(d)
    )
    SELECT d.day, s.scope,
           (sum(coalesce(x.delta, 0)) OVER (PARTITION BY s.scope ORDER BY d.day ROWS UNBOUNDED PRECEDING))::BIGINT
               AS active_users
    FROM days d CROSS JOIN {SCOPES_SQL} s LEFT JOIN deltas x ON x.day = d.day AND x.scope = s.scope
    ORDER BY s.scope, d.day
"""

# the weeks k of a cohort inside the window: from the week holding the window's first day (k = 0 for a cohort
# of the window) up to the one holding its last day; a cohort is left-censored when a member joined before the
# window (its first weeks and events are not in the extract)
_WEEKS = """
    weeks AS (
        SELECT c.cohort_week, r.k::INTEGER AS week_number, (c.cohort_week + 7 * r.k::INTEGER)::DATE AS week,
               c.left_censored
        FROM (SELECT cohort_week, bool_or(joined_at < epoch_us(getvariable('window_start'))) AS left_censored
              FROM cohort GROUP BY cohort_week) c,
             range(greatest(0, date_diff('day', c.cohort_week,
                                         date_trunc('week', getvariable('window_start'))::DATE) // 7),
                   1 + date_diff('day', c.cohort_week, (getvariable('window_end') - INTERVAL 1 DAY)::DATE) // 7) r(k)
    )"""

USER_RETENTION_SQL = f"""
    WITH cohort AS (
        SELECT s.scope, u.user_id, date_trunc('week', make_timestamp(u.activated_at))::DATE AS cohort_week,
               u.activated_at AS joined_at
        FROM users u JOIN accounts a USING (account_id), {SCOPES_SQL} s
        WHERE u.activated_at >= 0 AND {_in_scope("a")}
    ), key_weeks AS (
        SELECT DISTINCT user_id, date_trunc('week', make_timestamp(t))::DATE AS week FROM key_moments
    ), {_WEEKS.strip()}
    SELECT w.cohort_week, w.week_number, count(*)::BIGINT AS cohort_size, count(k.user_id)::BIGINT AS retained,
           w.left_censored, c.scope
    FROM cohort c JOIN weeks w USING (cohort_week)
    LEFT JOIN key_weeks k ON k.user_id = c.user_id AND k.week = w.week
    GROUP BY ALL ORDER BY c.scope, w.cohort_week, w.week_number
"""

ACCOUNT_RETENTION_SQL = f"""
    WITH cohort AS (
        SELECT s.scope, a.account_id, date_trunc('week', make_timestamp(a.created_at))::DATE AS cohort_week,
               a.created_at AS joined_at
        FROM accounts a, {SCOPES_SQL} s WHERE {_in_scope("a")}
    ), key_weeks AS (
        SELECT DISTINCT account_id, date_trunc('week', make_timestamp(t))::DATE AS week FROM key_moments
    ), {_WEEKS.strip()}
    SELECT w.cohort_week, w.week_number, count(*)::BIGINT AS cohort_size, count(k.account_id)::BIGINT AS retained,
           w.left_censored, c.scope
    FROM cohort c JOIN weeks w USING (cohort_week)
    LEFT JOIN key_weeks k ON k.account_id = c.account_id AND k.week = w.week
    GROUP BY ALL ORDER BY c.scope, w.cohort_week, w.week_number
"""

SQL = {
    "active_users_7d": ACTIVE_USERS_7D_SQL,
    "user_retention": USER_RETENTION_SQL,
    "account_retention": ACCOUNT_RETENTION_SQL,
}


def connect_state(data_dir: str | Path, params: Params):
    """DuckDB over the simulation's state: key_moments (from state/timeline), users and accounts
    (user ids, accounts, activation, internal flags; as the simulation made them) and the window."""
    con = duck.connect(params=params)
    con.execute(f"CREATE VIEW timeline AS SELECT * FROM {duck.parts(con, io.state_dir(data_dir, 'timeline'))}")
    con.execute(f"CREATE TEMP TABLE key_moments AS {KEY_MOMENTS_SQL}")
    con.execute(f"""CREATE VIEW accounts AS SELECT account_id, epoch_us(created_at) AS created_at, is_internal
                    FROM {duck.parts(con, _entity_dir(data_dir, "accounts"))}""")
    con.execute(f"""CREATE VIEW users AS
                    SELECT user_id, account_id, coalesce(epoch_us(activated_at), -1) AS activated_at
                    FROM {duck.parts(con, _entity_dir(data_dir, "users"))}""")
    return con


def _entity_dir(data_dir: Path, name: str) -> Path:
    """The simulation's own copy of a table: state/clean/ once 03 has run (raw/ before)."""
    clean = io.clean_dir(data_dir, name)
    return clean if io.parts(clean) else io.table_dir(data_dir, name)


def answer_keys(data_dir: str | Path, params: Params) -> dict[str, pa.Table]:
    """The three answer keys as Arrow tables (see the module docstring for the definitions)."""
    con = connect_state(data_dir, params)
    try:
        return {name: con.sql(sql).to_arrow_table().cast(TRUTH_TABLES[name].arrow_schema) for name, sql in SQL.items()}
    finally:
        con.close()


def write_answer_keys(data_dir: str | Path, params: Params) -> dict[str, int]:
    """truth/<answer key>.parquet for the three metrics; rows per file."""
    io.truth_dir(data_dir).mkdir(parents=True, exist_ok=True)
    tables = answer_keys(data_dir, params)
    for name, table in tables.items():
        io.write_table(table, io.truth_path(data_dir, name))
    return {name: t.num_rows for name, t in tables.items()}


def forget_answer_keys(data_dir: Path) -> None:
    """No answer keys: the events they were computed for are being regenerated."""
    for name in ANSWER_KEYS:
        io.truth_path(data_dir, name).unlink(missing_ok=True)


def truth_files(data_dir: str | Path) -> dict[str, dict]:
    """Every truth/*.parquet: rows and a sha256 of its content (rows in file order, read in batches, so
    a large not_yet_arrived never sits in memory whole), for the manifest."""
    out = {}
    for path in sorted(io.truth_dir(data_dir).glob("*.parquet")):
        f = pq.ParquetFile(path)
        digest = hashlib.sha256(",".join(f.schema_arrow.names).encode())
        rows = 0
        for batch in f.iter_batches(batch_size=1_000_000):
            digest.update(pd.util.hash_pandas_object(batch.to_pandas(), index=False).to_numpy().tobytes())
            rows += batch.num_rows
        out[path.stem] = {"rows": rows, "sha256": digest.hexdigest()}
    return out

"""Scoring an exclusion heuristic for the test workspaces nobody flagged (ledger kind test_workspace).

Stage 3 must decide which accounts to leave out of customer metrics. The flagged internal ones are easy
(is_internal); someone's own sandbox left unflagged is not: its name, e-mail domain and bursts hint, and
a few real small customers share those hints. A heuristic is SQL returning account_ids (one column) over
the warehouse's schemas (raw.*, qa.*); `score` says, among the accounts is_internal leaves in, how many
true test workspaces it catches, how many it misses, and how many real customers it excludes with them.
Only the ledger knows which accounts are test workspaces: the score reads it, the heuristic must not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import pandas as pd

TEST_WORKSPACES = "SELECT row_key FROM imperfections.ledger WHERE kind = 'test_workspace' AND table_name = 'accounts'"

# Example heuristics, as an analyst would write them (their own guess at webmail providers, hotmail
# included; nothing here comes from the generator).
WEBMAIL = r"'^(gmail|googlemail|outlook|hotmail|live|yahoo|icloud|proton|protonmail|gmx|aol)\.'"
EXAMPLES = {
    "<= 2 users and a webmail address": f"""
        SELECT account_id FROM raw.users GROUP BY account_id
        HAVING count(*) <= 2 AND bool_or(regexp_matches(split_part(email, '@', 2), {WEBMAIL}))""",
    "a burst of >= 20 tasks created within 10 minutes": """
        SELECT DISTINCT account_id FROM (
            SELECT account_id, count(*) OVER (PARTITION BY account_id ORDER BY created_at
                RANGE BETWEEN INTERVAL 10 MINUTE PRECEDING AND CURRENT ROW) AS in_10_minutes
            FROM raw.tasks) WHERE in_10_minutes >= 20""",
    "a name like test, demo, sandbox or 'workspace'": """
        SELECT account_id FROM raw.accounts
        WHERE regexp_matches(lower(account_name), '(test|demo|sandbox|workspace|trial|asdf|playground|untitled)')""",
}
EXAMPLES["<= 2 users, and webmail or a burst"] = f"""
    SELECT account_id FROM raw.users GROUP BY account_id HAVING count(*) <= 2
    INTERSECT (SELECT account_id FROM raw.users GROUP BY account_id
               HAVING bool_or(regexp_matches(split_part(email, '@', 2), {WEBMAIL}))
               UNION {EXAMPLES["a burst of >= 20 tasks created within 10 minutes"]})"""


@dataclass(frozen=True)
class Score:
    """How one heuristic does on the accounts the flag leaves in (is_internal = false)."""

    heuristic: str
    excluded: int  # unflagged accounts it excludes
    found: int  # true test workspaces among them
    missed: int  # test workspaces it leaves in
    customers_excluded: int  # real customers it excludes
    test_workspaces: int  # how many there are
    customers: int  # real customers (unflagged accounts that are not test workspaces)

    @property
    def recall(self) -> float | None:
        return self.found / self.test_workspaces if self.test_workspaces else None

    @property
    def precision(self) -> float | None:
        return self.found / self.excluded if self.excluded else None


def score(con: duckdb.DuckDBPyConnection, sql: str, name: str = "") -> Score:
    """Score the heuristic `sql` (returns account_ids in its first column): found = the ledger's test
    workspaces it returns, missed = those it does not, customers_excluded = the other unflagged accounts it
    returns. Flagged internal accounts it returns are not counted either way (the flag excludes them)."""
    found, missed, wrong, total, customers = con.execute(f"""
        WITH guess AS (SELECT DISTINCT account_id FROM ({sql}) AS g(account_id)),
             test AS ({TEST_WORKSPACES})
        SELECT count(*) FILTER (WHERE g.account_id IS NOT NULL AND t.row_key IS NOT NULL),
               count(*) FILTER (WHERE g.account_id IS NULL AND t.row_key IS NOT NULL),
               count(*) FILTER (WHERE g.account_id IS NOT NULL AND t.row_key IS NULL),
               count(*) FILTER (WHERE t.row_key IS NOT NULL),
               count(*) FILTER (WHERE t.row_key IS NULL)
        FROM raw.accounts a LEFT JOIN guess g USING (account_id) LEFT JOIN test t ON t.row_key = a.account_id
        WHERE NOT a.is_internal""").fetchall()[0]
    return Score(name, found + wrong, found, missed, wrong, total, customers)


def score_table(con: duckdb.DuckDBPyConnection, heuristics: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per heuristic (EXAMPLES unless given): what it excludes, finds, misses, and the real customers
    it drops with them."""
    rows = []
    for name, sql in (heuristics or EXAMPLES).items():
        s = score(con, sql, name)
        rows.append(asdict(s) | {"recall": s.recall, "precision": s.precision})
    columns = ["heuristic", "excluded", "found", "missed", "customers_excluded", "recall", "precision"]
    return pd.DataFrame(rows, columns=[*columns, "test_workspaces", "customers"])

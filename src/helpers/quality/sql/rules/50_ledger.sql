-- The imperfection ledger agrees with the tables (imperfections.ledger: table_name, row_key, kind,
-- column_name, original_value, new_value; empty before 03_imperfections).

-- rule: ledger_late_events_are_late | every event the ledger lists as late arrived later than the threshold, at the recorded time
SELECT count(*) FROM imperfections.ledger l
LEFT JOIN qa.events e ON e.event_id = l.row_key
WHERE l.kind = 'late_arrival'
  AND (e.event_id IS NULL OR e.ingested_at_utc - e.event_at_utc <= to_seconds(getvariable('late_threshold_seconds'))
       OR e.ingested_at_utc IS DISTINCT FROM TRY_CAST(l.new_value AS TIMESTAMP));

-- rule: ledger_missing_values_are_null | every value the ledger lists as blanked is null in its table
SELECT count(*) FROM imperfections.ledger l
LEFT JOIN raw.tasks t ON l.table_name = 'tasks' AND t.task_id = l.row_key
LEFT JOIN raw.users u ON l.table_name = 'users' AND u.user_id = l.row_key
LEFT JOIN raw.accounts a ON l.table_name = 'accounts' AND a.account_id = l.row_key
WHERE l.kind = 'missing'
  AND CASE l.column_name
        WHEN 'assignee_user_id' THEN t.task_id IS NULL OR t.assignee_user_id IS NOT NULL
        WHEN 'due_at' THEN t.task_id IS NULL OR t.due_at IS NOT NULL
        WHEN 'timezone' THEN u.user_id IS NULL OR u.timezone IS NOT NULL
        WHEN 'industry' THEN a.account_id IS NULL OR a.industry IS NOT NULL
        WHEN 'country_code' THEN a.account_id IS NULL OR a.country_code IS NOT NULL
        ELSE true END;

-- rule: ledger_internal_matches_flags | the ledger lists exactly the accounts and users flagged is_internal, and every user shares its account's flag (one count per row in violation)
WITH flagged AS (
    SELECT 'accounts' AS table_name, account_id AS row_key FROM raw.accounts WHERE is_internal
    UNION ALL SELECT 'users', user_id FROM raw.users WHERE is_internal
), listed AS (
    SELECT table_name, row_key FROM imperfections.ledger WHERE kind = 'internal'
)
SELECT count(DISTINCT (table_name, row_key)) FROM (
    (SELECT * FROM flagged EXCEPT SELECT * FROM listed)      -- flagged but not listed
    UNION ALL (SELECT * FROM listed EXCEPT SELECT * FROM flagged)  -- listed but not flagged
    UNION ALL SELECT 'users', u.user_id FROM raw.users u JOIN raw.accounts a USING (account_id)
              WHERE u.is_internal <> a.is_internal           -- a user whose flag differs from its account's
);

-- rule: ledger_test_workspaces_unflagged | the ledger lists each test workspace whole (the account and exactly its users, no other user), every listed row exists with is_internal = false and is recorded as is_internal 'true' -> 'false' (one count per row in violation)
WITH listed AS (
    SELECT table_name, row_key, column_name, original_value, new_value
    FROM imperfections.ledger WHERE kind = 'test_workspace'
), members AS (
    SELECT 'accounts' AS table_name, account_id AS row_key, is_internal FROM raw.accounts
    WHERE account_id IN (SELECT row_key FROM listed WHERE table_name = 'accounts')
    UNION ALL SELECT 'users', user_id, is_internal FROM raw.users
    WHERE account_id IN (SELECT row_key FROM listed WHERE table_name = 'accounts')
)
SELECT count(DISTINCT (table_name, row_key)) FROM (
    (SELECT table_name, row_key FROM members EXCEPT SELECT table_name, row_key FROM listed)  -- a member not listed
    UNION ALL (SELECT table_name, row_key FROM listed EXCEPT SELECT table_name, row_key FROM members)  -- listed, no member
    UNION ALL SELECT l.table_name, l.row_key FROM listed l JOIN members m USING (table_name, row_key)
              WHERE m.is_internal OR l.column_name IS DISTINCT FROM 'is_internal'
                 OR l.original_value IS DISTINCT FROM 'true' OR l.new_value IS DISTINCT FROM 'false'
);

-- rule: ledger_outliers_hold | every outlier the ledger lists holds its recorded value in the tasks table
SELECT count(*) FROM imperfections.ledger l
LEFT JOIN raw.tasks t ON t.task_id = l.row_key
WHERE l.kind = 'outlier'
  AND (t.task_id IS NULL OR CASE l.column_name
        WHEN 'completed_at' THEN t.completed_at IS DISTINCT FROM TRY_CAST(l.new_value AS TIMESTAMP)
        WHEN 'due_at' THEN t.due_at IS DISTINCT FROM TRY_CAST(l.new_value AS TIMESTAMP)
        ELSE true END);

-- rule: ledger_duplicates_are_resent | every event_id delivered more than once has each extra delivery listed in the ledger, and nothing else is listed
SELECT count(*) FROM (
    SELECT event_id, deliveries - 1 AS extra FROM qa.redelivered
) d
FULL OUTER JOIN (
    SELECT row_key AS event_id, count(*) AS listed FROM imperfections.ledger WHERE kind = 'duplicate' GROUP BY 1
) l USING (event_id)
WHERE d.extra IS DISTINCT FROM l.listed;

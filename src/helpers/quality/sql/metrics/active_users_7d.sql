-- 7-day active users, per UTC day of the window, for all accounts and for external ones only.
-- Active on day d: at least one key event (task_created, task_completed, handoff_completed,
-- blocker_resolved) with event_at_utc in UTC days d-6 .. d. "external": accounts.is_internal = false.
-- Reads raw.events and raw.accounts; re-sent duplicates (same event_id) are counted once.
WITH key_events AS (
    SELECT DISTINCT event_id, user_id, account_id, event_at_utc
    FROM raw.events
    WHERE event_name IN ('task_created', 'task_completed', 'handoff_completed', 'blocker_resolved')
), scopes AS (
    SELECT 'all' AS scope UNION ALL SELECT 'external'
), key_days AS (
    SELECT DISTINCT e.user_id, e.event_at_utc::DATE AS day, a.is_internal
    FROM key_events e JOIN raw.accounts a USING (account_id)
), active AS (  -- a key event on day x makes its user active on days x .. x+6
    SELECT DISTINCT k.user_id, k.is_internal, (k.day + r.i::INTEGER)::DATE AS day
    FROM key_days k, range(7) r(i)
), days AS (
    SELECT d::DATE AS day
    FROM range(getvariable('window_start'), getvariable('window_end'), INTERVAL 1 DAY) r(d)
)
SELECT d.day, s.scope, count(a.user_id)::BIGINT AS active_users
FROM days d CROSS JOIN scopes s
LEFT JOIN active a ON a.day = d.day AND (s.scope = 'all' OR NOT a.is_internal)
GROUP BY ALL
ORDER BY s.scope, d.day

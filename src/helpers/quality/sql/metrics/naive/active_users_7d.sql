-- NAIVE 7-day active users: the query a new analyst writes first, kept to show what it gets wrong.
-- Every row of raw.events as delivered (re-sent duplicates included), internal workspaces included,
-- every day of the window counted as if the extract were complete. Compare it with the careful
-- ../active_users_7d.sql and with truth.active_users_7d (scope 'external').
WITH key_days AS (
    SELECT DISTINCT user_id, event_at_utc::DATE AS day
    FROM raw.events
    WHERE event_name IN ('task_created', 'task_completed', 'handoff_completed', 'blocker_resolved')
), active AS (  -- a key event on day x makes its user active on days x .. x+6
    SELECT DISTINCT k.user_id, (k.day + r.i::INTEGER)::DATE AS day
    FROM key_days k, range(7) r(i)
), days AS (
    SELECT d::DATE AS day
    FROM range(getvariable('window_start'), getvariable('window_end'), INTERVAL 1 DAY) r(d)
)
SELECT d.day, count(a.user_id)::BIGINT AS active_users
FROM days d
LEFT JOIN active a ON a.day = d.day
GROUP BY d.day
ORDER BY d.day

-- Weekly user retention by activation cohort, for all accounts and for external ones only.
-- Cohort: the ISO week (Monday, UTC) of users.activated_at. Retained in week k (k = 0, 1, ...): a key
-- event in the k-th ISO week after the cohort week. Churned users stay in the denominator. Weeks run
-- up to the one holding the window's last day (which may be partial). A cohort with members who joined before the window
-- (the installed base) is listed from the week holding the window's first day on, flagged left_censored.
-- Reads raw.events, raw.users and raw.accounts; re-sent duplicates (same event_id) are counted once.
WITH key_events AS (
    SELECT DISTINCT event_id, user_id, event_at_utc
    FROM raw.events
    WHERE event_name IN ('task_created', 'task_completed', 'handoff_completed', 'blocker_resolved')
), scopes AS (
    SELECT 'all' AS scope UNION ALL SELECT 'external'
), cohort AS (
    SELECT s.scope, u.user_id, date_trunc('week', u.activated_at)::DATE AS cohort_week, u.activated_at AS joined_at
    FROM raw.users u JOIN raw.accounts a USING (account_id), scopes s
    WHERE u.activated_at IS NOT NULL AND (s.scope = 'all' OR NOT a.is_internal)
), weeks AS (  -- from the week holding the window's first day (k = 0 for a cohort of the window) to its last
    SELECT c.cohort_week, r.k::INTEGER AS week_number, (c.cohort_week + 7 * r.k::INTEGER)::DATE AS week,
           c.left_censored
    FROM (SELECT cohort_week, bool_or(joined_at < getvariable('window_start')) AS left_censored
          FROM cohort GROUP BY cohort_week) c,
         range(greatest(0, date_diff('day', c.cohort_week, date_trunc('week', getvariable('window_start'))::DATE) // 7),
               1 + date_diff('day', c.cohort_week, (getvariable('window_end') - INTERVAL 1 DAY)::DATE) // 7) r(k)
), key_weeks AS (
    SELECT DISTINCT user_id, date_trunc('week', event_at_utc)::DATE AS week FROM key_events
)
SELECT w.cohort_week, w.week_number, count(*)::BIGINT AS cohort_size, count(k.user_id)::BIGINT AS retained, w.left_censored,
       c.scope
FROM cohort c JOIN weeks w USING (cohort_week)
LEFT JOIN key_weeks k ON k.user_id = c.user_id AND k.week = w.week
GROUP BY ALL
ORDER BY c.scope, w.cohort_week, w.week_number

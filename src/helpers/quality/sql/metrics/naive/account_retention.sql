-- NAIVE weekly account retention: every account (internal workspaces included), every row of
-- raw.events as delivered, the last (incomplete) week counted as if it were complete. Compare it with
-- the careful ../account_retention.sql and with truth.account_retention (scope 'external').
WITH cohort AS (
    SELECT account_id, date_trunc('week', created_at)::DATE AS cohort_week
    FROM raw.accounts
), weeks AS (
    SELECT c.cohort_week, r.k::INTEGER AS week_number, (c.cohort_week + 7 * r.k::INTEGER)::DATE AS week
    FROM (SELECT DISTINCT cohort_week FROM cohort) c,
         range(0, 1 + date_diff('day', c.cohort_week, (getvariable('window_end') - INTERVAL 1 DAY)::DATE) // 7) r(k)
), key_weeks AS (
    SELECT DISTINCT account_id, date_trunc('week', event_at_utc)::DATE AS week
    FROM raw.events
    WHERE event_name IN ('task_created', 'task_completed', 'handoff_completed', 'blocker_resolved')
)
SELECT w.cohort_week, w.week_number, count(*)::BIGINT AS cohort_size, count(k.account_id)::BIGINT AS retained
FROM cohort c JOIN weeks w USING (cohort_week)
LEFT JOIN key_weeks k ON k.account_id = c.account_id AND k.week = w.week
GROUP BY ALL
ORDER BY w.cohort_week, w.week_number

-- Does it behave like a product? Measures an analyst would take of a real B2B product, each one number,
-- customers only (accounts with is_internal = false). helpers.quality.realism holds the range each one
-- falls in for real products and why. They read raw.*, qa.events and truth.*, like the QA metrics, and
-- the shared views and macros of 00_customers.sql (customer_events, silent_users, ...).

-- metric: fade_before_silence | users who went silent (no event in the window's last 8 weeks, 8+ weeks of activity before): active days in their last 4 active weeks / in the 4 weeks before
SELECT count(*) FILTER (WHERE d > last_d - 28)
       / nullif(count(*) FILTER (WHERE d <= last_d - 28 AND d > last_d - 56), 0)::DOUBLE
FROM silent_users JOIN customer_user_days USING (user_id);

-- metric: key_actions_fade_before_silence | the same users: key events in their last 4 active weeks / in the 4 weeks before
SELECT count(*) FILTER (WHERE e.event_at_utc::DATE > last_d - 28)
       / nullif(count(*) FILTER (WHERE e.event_at_utc::DATE <= last_d - 28
                                  AND e.event_at_utc::DATE > last_d - 56), 0)::DOUBLE
FROM silent_users JOIN qa.events e USING (user_id)
WHERE list_contains(getvariable('key_events'), e.event_name);

-- metric: returned_after_gap_share | users active over 8+ weeks: share with a gap of 28+ days without any event that they came back from
WITH gaps AS (
    SELECT user_id, d - lag(d) OVER (PARTITION BY user_id ORDER BY d) AS gap FROM customer_user_days
), per_user AS (
    SELECT user_id, max(gap) AS longest FROM gaps GROUP BY user_id
), long_lived AS (
    SELECT user_id FROM customer_user_days GROUP BY user_id HAVING max(d) - min(d) >= 56
)
SELECT avg((longest >= 28)::INT) FROM per_user JOIN long_lived USING (user_id);

-- metric: seats_before_account_silence | accounts that went silent (8+ weeks before the end, 12+ weeks of activity): users active in their last 4 weeks / in the 4 weeks 5-8 weeks before the end
WITH days AS (
    SELECT e.account_id, e.user_id, e.event_at_utc::DATE AS d
    FROM qa.events e JOIN raw.accounts a USING (account_id) WHERE NOT a.is_internal GROUP BY ALL
), span AS (SELECT account_id, min(d) AS first_d, max(d) AS last_d FROM days GROUP BY account_id),
silent AS (
    SELECT * FROM span
    WHERE last_d < getvariable('window_end')::DATE - 56 AND last_d - first_d >= 84
)
SELECT count(DISTINCT (account_id, user_id)) FILTER (WHERE d > last_d - 28)
       / nullif(count(DISTINCT (account_id, user_id)) FILTER (WHERE d <= last_d - 28 AND d > last_d - 56), 0)::DOUBLE
FROM silent JOIN days USING (account_id);

-- metric: paid_account_share | share of the window's signups on a paid plan (team, business, enterprise) at its end (the installed base is mostly paid: free workspaces churn more)
SELECT avg((plan_tier <> 'free')::INT) FROM raw.accounts
WHERE NOT is_internal AND created_at >= getvariable('window_start');

-- metric: free_team_size_p90 | 90th percentile of users per free account
SELECT quantile_cont(n, 0.9) FROM (
    SELECT a.account_id, count(u.user_id) AS n
    FROM raw.accounts a JOIN raw.users u USING (account_id)
    WHERE NOT a.is_internal AND a.plan_tier = 'free' GROUP BY ALL
);

-- metric: paid_over_free_team_size | median users per paid account / per free account
WITH sizes AS (
    SELECT a.plan_tier <> 'free' AS paid, count(u.user_id) AS n
    FROM raw.accounts a JOIN raw.users u USING (account_id) WHERE NOT a.is_internal GROUP BY a.account_id, paid
)
SELECT median(n) FILTER (WHERE paid) / nullif(median(n) FILTER (WHERE NOT paid), 0)::DOUBLE FROM sizes;

-- metric: enterprise_share_of_1001_plus | share of companies of 1001+ employees on the enterprise plan
SELECT avg((plan_tier = 'enterprise')::INT) FROM raw.accounts WHERE NOT is_internal AND company_size = '1001+';

-- metric: free_share_of_1_to_10 | share of companies of 1-10 employees on the free plan
SELECT avg((plan_tier = 'free')::INT) FROM raw.accounts WHERE NOT is_internal AND company_size = '1-10';

-- metric: user_week12_retention_paid_over_free | week-12 user retention (key event in the 12th ISO week after activation) of paid accounts' users / of free accounts' users (cohorts whose week 12 lies inside the window: an older cohort's week 12 has no events in the extract)
WITH cohort AS (
    SELECT u.user_id, a.plan_tier <> 'free' AS paid, date_trunc('week', u.activated_at)::DATE AS cw
    FROM raw.users u JOIN raw.accounts a USING (account_id)
    WHERE NOT a.is_internal AND u.activated_at IS NOT NULL
      AND date_trunc('week', u.activated_at)::DATE + 13 * 7 - 1 <= getvariable('window_end')::DATE  -- week 12 ends inside
      AND date_trunc('week', u.activated_at)::DATE + 12 * 7 >= getvariable('window_start')::DATE  -- ...and starts inside
), kept AS (
    SELECT DISTINCT c.user_id
    FROM cohort c JOIN qa.events e USING (user_id)
    WHERE list_contains(getvariable('key_events'), e.event_name)
      AND date_trunc('week', e.event_at_utc)::DATE = c.cw + 12 * 7
)
SELECT avg((k.user_id IS NOT NULL)::INT) FILTER (WHERE paid)
       / nullif(avg((k.user_id IS NOT NULL)::INT) FILTER (WHERE NOT paid), 0)
FROM cohort c LEFT JOIN kept k USING (user_id);

-- metric: events_per_user_week_paid_over_free | events per active user-week, paid accounts' users / free accounts' users
WITH uw AS (
    SELECT a.plan_tier <> 'free' AS paid, e.user_id, date_trunc('week', e.event_at_utc) AS w, count(*) AS n
    FROM qa.events e JOIN raw.accounts a USING (account_id) WHERE NOT a.is_internal GROUP BY ALL
)
SELECT avg(n) FILTER (WHERE paid) / nullif(avg(n) FILTER (WHERE NOT paid), 0) FROM uw;

-- metric: guest_share_paid_over_free | share of guests among users, paid accounts / free accounts
SELECT avg((u.role = 'guest')::INT) FILTER (WHERE a.plan_tier <> 'free')
       / nullif(avg((u.role = 'guest')::INT) FILTER (WHERE a.plan_tier = 'free'), 0)
FROM raw.users u JOIN raw.accounts a USING (account_id) WHERE NOT a.is_internal;

-- metric: account_week0_over_week1 | accounts with a key event in their signup week / in the week after (answer key, customers)
SELECT sum(retained) FILTER (WHERE week_number = 0) / nullif(sum(retained) FILTER (WHERE week_number = 1), 0)::DOUBLE
FROM truth.account_retention
WHERE scope = 'external' AND cohort_week + 13 < getvariable('window_end')::DATE AND NOT left_censored;

-- metric: user_week0_over_week1 | users with a key event in their activation week / in the week after (answer key, customers)
SELECT sum(retained) FILTER (WHERE week_number = 0) / nullif(sum(retained) FILTER (WHERE week_number = 1), 0)::DOUBLE
FROM truth.user_retention
WHERE scope = 'external' AND cohort_week + 13 < getvariable('window_end')::DATE AND NOT left_censored;

-- metric: user_week1_retention | share of activated users with a key event in the week after their activation week (answer key, customers, complete cohorts)
SELECT user_retention_at(1);

-- metric: user_week4_retention | the same for week 4
SELECT user_retention_at(4);

-- metric: user_week8_retention | the same for week 8
SELECT user_retention_at(8);

-- metric: user_week12_retention | the same for week 12
SELECT user_retention_at(12);

-- metric: login_to_next_event_minutes | median minutes from a login to the same user's next event (the first one later than it)
-- (an ASOF join finds, for each login, the user's first event after it: no window over every event)
WITH logins AS (
    SELECT user_id, event_at_utc FROM customer_events WHERE event_name = 'login_succeeded'
), later AS (
    SELECT user_id, event_at_utc AS at FROM customer_events
)
SELECT median(date_diff('second', l.event_at_utc, n.at)) / 60.0
FROM logins l ASOF JOIN later n ON n.user_id = l.user_id AND n.at > l.event_at_utc;

-- metric: lone_event_half_hour_share | share of a user's active 30-minute windows holding a single event
SELECT avg((n = 1)::INT) FROM (
    SELECT user_id, time_bucket(INTERVAL 30 MINUTE, event_at_utc) AS b, count(*) AS n FROM customer_events GROUP BY ALL
);

-- metric: lunch_dip_ratio | events in local hour 12 / the mean of local hours 10, 11, 14 and 15 (users with a time zone)
SELECT sum(n) FILTER (WHERE local_hour = 12) / nullif(sum(n) FILTER (WHERE local_hour IN (10, 11, 14, 15)) / 4.0, 0)
FROM customer_local_hours;

-- metric: evening_share | share of events between 18:00 and 24:00 local time
SELECT sum(n) FILTER (WHERE local_hour >= 18) / nullif(sum(n), 0)::DOUBLE FROM customer_local_hours;

-- metric: us_july4_ratio | US users' events on 2025-07-04 (local day) / the mean of the same weekday one and two weeks either side
SELECT us_day_ratio(DATE '2025-07-04');

-- metric: us_easter_monday_ratio | US users' events on 2025-04-21 (Easter Monday: a working day in the US) / the mean of the same weekday one and two weeks either side
SELECT us_day_ratio(DATE '2025-04-21');

-- metric: year_end_lull_ratio | events per weekday 15-23 Dec and 29-30 Dec / per weekday 17 Nov - 12 Dec (customers)
WITH d AS (
    SELECT e.event_at_utc::DATE AS day, count(*) AS n
    FROM qa.events e JOIN raw.accounts a USING (account_id) WHERE NOT a.is_internal GROUP BY ALL
)
SELECT avg(n) FILTER (WHERE day BETWEEN DATE '2025-12-15' AND DATE '2025-12-23' OR day IN (DATE '2025-12-29', DATE '2025-12-30'))
       / nullif(avg(n) FILTER (WHERE day BETWEEN DATE '2025-11-17' AND DATE '2025-12-12'), 0)
FROM d WHERE isodow(day) <= 5;

-- metric: monday_completions_ratio | task completions per Monday / per Tuesday-Thursday (UTC days after the first 28, customers)
WITH d AS (
    SELECT e.event_at_utc::DATE AS day, count(*) AS n
    FROM qa.events e JOIN raw.accounts a USING (account_id)
    WHERE NOT a.is_internal AND e.event_name = 'task_completed'
      AND e.event_at_utc >= getvariable('window_start') + INTERVAL 28 DAY GROUP BY ALL
)
SELECT avg(n) FILTER (WHERE isodow(day) = 1) / nullif(avg(n) FILTER (WHERE isodow(day) BETWEEN 2 AND 4), 0) FROM d;

-- metric: friday_ratio | events per Friday / per Tuesday-Wednesday (local days, customers, after the first 28 days)
WITH d AS (SELECT local_day AS day, sum(n) AS n FROM customer_local_hours WHERE after_first_28_days GROUP BY ALL)
SELECT avg(n) FILTER (WHERE isodow(day) = 5) / nullif(avg(n) FILTER (WHERE isodow(day) IN (2, 3)), 0) FROM d;

-- metric: invites_in_working_hours | share of invitations (users other than an account's first) sent on a weekday between 08:00 and 19:00 of the invitee's local time
SELECT avg((isodow(t) <= 5 AND hour(t) BETWEEN 8 AND 18)::INT) FROM (
    SELECT timezone(u.timezone, timezone('UTC', u.created_at)) AS t
    FROM raw.users u JOIN raw.accounts a USING (account_id)
    WHERE NOT a.is_internal AND u.timezone IS NOT NULL AND u.created_at > a.created_at
);

-- metric: first_sign_ins_in_working_hours | share of first sign-ins on a weekday between 08:00 and 19:00 local time
SELECT avg((isodow(t) <= 5 AND hour(t) BETWEEN 8 AND 18)::INT) FROM (
    SELECT timezone(u.timezone, timezone('UTC', u.activated_at)) AS t
    FROM raw.users u WHERE NOT u.is_internal AND u.timezone IS NOT NULL AND u.activated_at IS NOT NULL
);

-- metric: signups_busiest_utc_hours_share | share of account signups in their three busiest UTC hours
SELECT sum(n) FILTER (WHERE r <= 3) / sum(n)::DOUBLE FROM (
    SELECT hour(created_at) AS h, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS r
    FROM raw.accounts WHERE NOT is_internal GROUP BY ALL
);

-- metric: top_decile_user_week_share | share of events held by the top 10% of active user-weeks
SELECT sum(n) FILTER (WHERE pct > 0.9) / sum(n)::DOUBLE FROM (
    SELECT n, percent_rank() OVER (ORDER BY n) AS pct FROM customer_user_weeks
);

-- metric: user_week_p99_over_median | events of the 99th-percentile active user-week / of the median one
SELECT quantile_cont(n, 0.99) / median(n) FROM customer_user_weeks;

-- metric: projects_tied_at_top | projects sharing the largest task count (1: no visible cap)
WITH sizes AS (SELECT project_id, count(*) AS n FROM raw.tasks GROUP BY project_id)
SELECT count(*) FROM sizes WHERE n = (SELECT max(n) FROM sizes);

-- metric: notes_pile_up | largest count(tasks with k notes) / count(tasks with k-1 notes) over k >= 2 (above 1: a pile-up at a cap)
WITH n AS (
    SELECT k, count(*) AS tasks FROM (
        SELECT task_id, count(*) AS k FROM qa.events WHERE event_name = 'work_note_added' GROUP BY task_id
    ) GROUP BY k
)
SELECT max(a.tasks / b.tasks::DOUBLE) FROM n a JOIN n b ON b.k = a.k - 1 WHERE a.k >= 2 AND b.tasks >= 20;

-- metric: tasks_handed_off_twice | tasks with two or more hand-offs
SELECT count(*) FROM (
    SELECT task_id FROM qa.events WHERE event_name = 'handoff_completed' GROUP BY task_id HAVING count(*) >= 2
);

-- metric: tasks_assigned_twice | tasks assigned two or more times (reassigned)
SELECT count(*) FROM (
    SELECT task_id FROM qa.events WHERE event_name = 'task_assigned' GROUP BY task_id HAVING count(*) >= 2
);

-- metric: assignment_after_an_hour_share | share of assigned tasks first assigned more than an hour after creation
WITH firsts AS (
    SELECT task_id, min(event_at_utc) FILTER (WHERE event_name = 'task_created') AS created,
           min(event_at_utc) FILTER (WHERE event_name = 'task_assigned') AS assigned
    FROM qa.events WHERE event_name IN ('task_created', 'task_assigned') GROUP BY task_id
)
SELECT avg((assigned > created + INTERVAL 1 HOUR)::INT) FROM firsts WHERE assigned IS NOT NULL;

-- metric: cycle_just_above_threshold_ratio | done tasks with a cycle (first start to completion) of 60-70 days / of 50-60 days
SELECT count(*) FILTER (WHERE c >= 60 AND c < 70) / nullif(count(*) FILTER (WHERE c >= 50 AND c < 60), 0)::DOUBLE
FROM (SELECT date_diff('second', first_started_at, completed_at) / 86400.0 AS c FROM raw.tasks WHERE status = 'done');

-- metric: cycle_whole_day_share | done tasks of 1-30 days' cycle within two hours of a whole number of days (uniform: 0.167)
SELECT avg((h % 24 < 2 OR h % 24 >= 22)::INT)
FROM (SELECT date_diff('second', first_started_at, completed_at) / 3600.0 AS h FROM raw.tasks WHERE status = 'done')
WHERE h >= 24 AND h < 720;

-- metric: launch_first_fortnight_lift_share | the launch segment's hand-off share of tasks created in the 2 weeks after the launch, as a share of its lift 8-12 weeks after (1: a step)
WITH launch AS (
    SELECT min(starts_at) AS at, any_value(segment) AS segment FROM truth.scenarios WHERE scenario = 'feature_launch'
), seg_tasks AS (
    SELECT t.task_id, date_diff('day', l.at, t.created_at) AS day
    FROM raw.tasks t JOIN raw.accounts a USING (account_id), launch l
    WHERE NOT a.is_internal AND a.plan_tier IN ('business', 'enterprise')
), handed AS (SELECT DISTINCT task_id FROM qa.events WHERE event_name = 'handoff_completed'),
rates AS (
    SELECT avg((h.task_id IS NOT NULL)::INT) FILTER (WHERE day BETWEEN -56 AND -1) AS before,
           avg((h.task_id IS NOT NULL)::INT) FILTER (WHERE day BETWEEN 0 AND 13) AS first_two,
           avg((h.task_id IS NOT NULL)::INT) FILTER (WHERE day BETWEEN 56 AND 83) AS later
    FROM seg_tasks s LEFT JOIN handed h USING (task_id)
)
SELECT (first_two - before) / nullif(later - before, 0) FROM rates;

-- metric: projects_users_correlation | correlation of projects and users per account
SELECT corr(p, u) FROM (
    SELECT a.account_id, (SELECT count(*) FROM raw.projects p WHERE p.account_id = a.account_id) AS p,
           (SELECT count(*) FROM raw.users u WHERE u.account_id = a.account_id) AS u
    FROM raw.accounts a WHERE NOT a.is_internal
);

-- metric: funnel_activated | invited users who ever signed in (customers)
SELECT avg((activated_at IS NOT NULL)::INT) FROM raw.users WHERE NOT is_internal;

-- metric: funnel_created_of_activated | users activated in the window who created a task in it (an older user's first tasks may predate the extract)
SELECT avg((user_id IN (SELECT user_id FROM qa.events WHERE event_name = 'task_created'))::INT)
FROM raw.users WHERE NOT is_internal AND activated_at >= getvariable('window_start');

-- metric: funnel_completed_of_created | users who created a task and completed one
SELECT avg((user_id IN (SELECT user_id FROM qa.events WHERE event_name = 'task_completed'))::INT)
FROM raw.users WHERE NOT is_internal AND user_id IN (SELECT user_id FROM qa.events WHERE event_name = 'task_created');

-- metric: funnel_handed_off_of_completed | users who created and completed a task and handed one off
SELECT avg((user_id IN (SELECT user_id FROM qa.events WHERE event_name = 'handoff_completed'))::INT)
FROM raw.users WHERE NOT is_internal
  AND user_id IN (SELECT user_id FROM qa.events WHERE event_name = 'task_created')
  AND user_id IN (SELECT user_id FROM qa.events WHERE event_name = 'task_completed');

-- metric: days_late_from_phones | share of deliveries a day or more late that came from a phone (offline syncs)
SELECT avg(list_contains(getvariable('mobile_clients'), client::VARCHAR)::INT)
FROM qa.events
WHERE ingested_at_utc >= event_at_utc + INTERVAL 1 DAY;

-- metric: session_minutes_median | median minutes from the first to the last event of a session with two or more events
SELECT median(date_diff('second', first_at, last_at)) / 60.0 FROM (
    SELECT session_id, min(event_at_utc) AS first_at, max(event_at_utc) AS last_at
    FROM customer_events GROUP BY session_id HAVING count(*) >= 2
);

-- metric: sessions_per_active_user_day | sessions per user and UTC day with any event
SELECT count(DISTINCT session_id) / count(DISTINCT (user_id, event_at_utc::DATE))::DOUBLE FROM customer_events;

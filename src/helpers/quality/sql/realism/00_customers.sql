-- What the measures share: customers' events and the shapes several measures read. helpers.quality.realism
-- runs this file first on the connection; each object is TEMP (it lives only in that connection, so a
-- read-only warehouse works too). A user's is_internal always equals its account's (rule
-- ledger_internal_matches_flags), so customers are the users with is_internal = false.

-- customer_events: every event of a customer user
CREATE OR REPLACE TEMP VIEW customer_events AS
SELECT e.* FROM qa.events e JOIN raw.users u USING (user_id) WHERE NOT u.is_internal;

-- customer_local_hours: customers' events counted per local day and local hour (users with a time zone),
-- split by whether the user is a US customer on an America/* clock and whether the event falls after the
-- window's first 28 days. A local time is a time-zone conversion, the costliest step of the measures: it
-- is done once per time zone and UTC quarter hour (every UTC offset is a whole number of quarter hours and
-- changes on a quarter hour, so all events of a quarter hour share their local day and hour), and every
-- measure of local time sums these counts.
CREATE OR REPLACE TEMP TABLE customer_local_hours AS
WITH quarters AS (
    SELECT u.timezone, coalesce(a.country_code = 'US' AND u.timezone LIKE 'America/%', false) AS us,
           time_bucket(INTERVAL 15 MINUTE, e.event_at_utc) AS q, count(*) AS n
    FROM qa.events e JOIN raw.users u USING (user_id) LEFT JOIN raw.accounts a ON a.account_id = e.account_id
    WHERE NOT u.is_internal AND u.timezone IS NOT NULL
    GROUP BY ALL
), local AS (
    SELECT timezone(timezone, timezone('UTC', q)) AS local_at, us, q, n FROM quarters
)
SELECT local_at::DATE AS local_day, hour(local_at) AS local_hour, us,
       q >= getvariable('window_start') + INTERVAL 28 DAY AS after_first_28_days, sum(n)::BIGINT AS n
FROM local
GROUP BY ALL;

-- customer_user_days: each customer user's UTC days with an event
CREATE OR REPLACE TEMP VIEW customer_user_days AS
SELECT user_id, event_at_utc::DATE AS d FROM customer_events GROUP BY ALL;

-- silent_users: users with no event in the window's last 8 weeks after 8+ weeks of activity
CREATE OR REPLACE TEMP VIEW silent_users AS
SELECT user_id, min(d) AS first_d, max(d) AS last_d FROM customer_user_days GROUP BY user_id
HAVING max(d) < getvariable('window_end')::DATE - 56 AND max(d) - min(d) >= 56;

-- customer_user_weeks: events per active user-week (ISO weeks)
CREATE OR REPLACE TEMP VIEW customer_user_weeks AS
SELECT user_id, date_trunc('week', event_at_utc) AS w, count(*) AS n FROM customer_events GROUP BY ALL;

-- user_retention_at(week): the answer key's user retention in that week after activation, customers,
-- over the cohorts whose week ends inside the window
CREATE OR REPLACE TEMP MACRO user_retention_at(week) AS (
    SELECT sum(retained) / nullif(sum(cohort_size), 0)::DOUBLE FROM truth.user_retention
    WHERE scope = 'external' AND week_number = week AND cohort_week + 7 * (week + 1) - 1 < getvariable('window_end')::DATE
      AND NOT left_censored  -- a cohort older than the window: its early weeks are not in the extract
);

-- us_day_ratio(day): US customers' events on that local day / the mean of the same weekday one and two
-- weeks either side
CREATE OR REPLACE TEMP MACRO us_day_ratio(day) AS (
    SELECT sum(n) FILTER (WHERE local_day = day)
           / nullif(sum(n) FILTER (WHERE local_day IN (day - 14, day - 7, day + 7, day + 14)) / 4.0, 0)
    FROM customer_local_hours WHERE us
);

-- Activity shape: numbers the realism thresholds are judged on. Each query returns a value and, where
-- the value is NULL ("not applicable": the data is too small to have that pattern), the reason. Every
-- value is NULL when variable activity_applicable is false: no tasks, fewer than 20 activated users, or
-- a window under 28 days.

-- metric: key_event_types_present | how many of the {n_key_events} key event types ({key_events}) occur
SELECT CASE WHEN NOT getvariable('activity_applicable') THEN NULL ELSE count(DISTINCT event_name) END
FROM qa.events
WHERE list_contains(getvariable('key_events'), event_name);

-- metric: key_event_share | share of all events that are key events ({key_events})
SELECT CASE WHEN NOT getvariable('activity_applicable') THEN NULL ELSE
       count(*) FILTER (WHERE list_contains(getvariable('key_events'), event_name)) / nullif(count(*), 0)::DOUBLE END
FROM qa.events;

-- metric: max_supporting_share | largest share of all events held by one supporting event type (not applicable without tasks)
SELECT CASE WHEN NOT getvariable('activity_applicable') THEN NULL
            ELSE max(n) / nullif((SELECT count(*) FROM qa.events), 0)::DOUBLE END
FROM (
    SELECT event_name, count(*) AS n FROM qa.events
    WHERE NOT list_contains(getvariable('key_events'), event_name)
    GROUP BY event_name
);

-- metric: weekday_weekend_ratio | customers' mean events per weekday (Mon-Fri) / per weekend day, UTC days after the first 28 (internal workspaces, which test on weekends too, left out; judged from 200 active user-days on)
WITH days AS (
    SELECT d::DATE AS day
    FROM range(getvariable('window_start') + INTERVAL 28 DAY, getvariable('window_end'), INTERVAL 1 DAY) r(d)
), customer_events AS (
    SELECT e.event_id, e.user_id, e.event_at_utc
    FROM qa.events e JOIN raw.users u USING (user_id)
    WHERE NOT u.is_internal
), daily AS (
    SELECT day, count(e.event_id) AS n, count(DISTINCT e.user_id) AS users
    FROM days LEFT JOIN customer_events e ON e.event_at_utc::DATE = days.day
    GROUP BY days.day
), activity AS (
    SELECT coalesce(sum(users), 0) AS user_days FROM daily
)
SELECT CASE
    WHEN NOT getvariable('activity_applicable')
         OR count(*) FILTER (WHERE isodow(day) <= 5) = 0 OR count(*) FILTER (WHERE isodow(day) >= 6) = 0
         OR any_value(user_days) < 200
        THEN NULL                                    -- not applicable: too few days or users to estimate
    WHEN avg(n) FILTER (WHERE isodow(day) >= 6) = 0 THEN 'inf'::DOUBLE   -- empty weekends: fails the ceiling
    ELSE avg(n) FILTER (WHERE isodow(day) <= 5) / avg(n) FILTER (WHERE isodow(day) >= 6)
END,
CASE WHEN count(*) FILTER (WHERE isodow(day) <= 5) = 0 OR count(*) FILTER (WHERE isodow(day) >= 6) = 0
         THEN 'no weekday or no weekend day after the first 28 days of the window'
     WHEN any_value(user_days) < 200
         THEN format('{} active user-days after the first 28 days of the window; the ratio is judged from 200',
                     any_value(user_days))
END
FROM daily, activity;

-- metric: local_hour_max_min_ratio | customers' events in the busiest hour of their local day / in the quietest (users with a time zone; internal workspaces left out)
WITH hourly AS (          -- events per time zone and UTC hour, then each hour read on that zone's clock
    SELECT u.timezone AS tz, date_trunc('hour', e.event_at_utc) AS utc_hour, count(*) AS n
    FROM qa.events e JOIN raw.users u USING (user_id)
    WHERE u.timezone IS NOT NULL AND NOT u.is_internal
    GROUP BY ALL
), hours AS (SELECT h FROM range(24) r(h)),
counts AS (
    SELECT hours.h, coalesce(sum(hourly.n), 0) AS n
    FROM hours LEFT JOIN hourly ON hour(timezone(hourly.tz, timezone('UTC', hourly.utc_hour))) = hours.h
    GROUP BY hours.h
)
SELECT CASE WHEN max(n) = 0 OR NOT getvariable('activity_applicable') THEN NULL
            WHEN min(n) = 0 THEN 'inf'::DOUBLE
            ELSE max(n) / min(n)::DOUBLE END,
       CASE WHEN max(n) = 0 THEN 'no event of a customer with a known time zone' END
FROM counts;

-- metric: busiest_hour_share | share of all events in the busiest UTC hour of the day (all activity in a few hours is not a working day spread over time zones)
SELECT CASE WHEN NOT getvariable('activity_applicable') OR count(*) = 0 THEN NULL
            ELSE max(n) / sum(n)::DOUBLE END
FROM (SELECT hour(event_at_utc) AS h, count(*) AS n FROM qa.events GROUP BY h);

-- metric: empty_weekdays_after_first_month | Mon-Fri UTC days after the first 28 days of the window with no event at all, although the other weekdays within a week either side averaged 10 or more active users (holidays of a quarter of customers or more excepted)
WITH days AS (
    SELECT d::DATE AS day
    FROM range(getvariable('window_start') + INTERVAL 28 DAY, getvariable('window_end'), INTERVAL 1 DAY) r(d)
    WHERE isodow(d) <= 5 AND NOT list_contains(getvariable('holidays'), d::DATE)
), active AS (
    SELECT event_at_utc::DATE AS day, count(DISTINCT user_id) AS users FROM qa.events GROUP BY ALL
), weekdays AS (
    SELECT days.day, coalesce(active.users, 0) AS users FROM days LEFT JOIN active USING (day)
), judged AS (             -- an empty day is implausible where its neighbours had many active users
    SELECT day, users,
           (sum(users) OVER near - users) / nullif(count(*) OVER near - 1, 0) AS neighbours
    FROM weekdays
    WINDOW near AS (ORDER BY day RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 7 DAY FOLLOWING)
)
SELECT CASE WHEN count(*) FILTER (WHERE neighbours >= 10) = 0 OR NOT getvariable('activity_applicable') THEN NULL
            ELSE count(*) FILTER (WHERE users = 0 AND neighbours >= 10) END,
       CASE WHEN count(*) = 0 THEN 'no weekday after the first 28 days of the window'
            WHEN count(*) FILTER (WHERE neighbours >= 10) = 0
                THEN format('weekdays average at most {:.1f} active users around any day; an empty weekday is '
                            'judged where its neighbours average 10 or more', max(neighbours))
       END
FROM judged;

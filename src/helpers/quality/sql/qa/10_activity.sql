-- Activity shape: numbers the realism thresholds are judged on (one value per query). Each is NULL
-- ("not applicable") when the data cannot have a pattern: variable activity_applicable is false
-- without tasks, with fewer than 20 activated users, or in a window under 28 days.

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

-- metric: weekday_weekend_ratio | mean events per weekday (Mon-Fri) / mean events per weekend day, UTC days after the first 28
WITH days AS (
    SELECT d::DATE AS day
    FROM range(getvariable('window_start') + INTERVAL 28 DAY, getvariable('window_end'), INTERVAL 1 DAY) r(d)
), daily AS (
    SELECT days.day, count(e.event_id) AS n
    FROM days LEFT JOIN qa.events e ON e.event_at_utc::DATE = days.day
    GROUP BY days.day
)
SELECT CASE
    WHEN NOT getvariable('activity_applicable')
         OR count(*) FILTER (WHERE isodow(day) <= 5) = 0 OR count(*) FILTER (WHERE isodow(day) >= 6) = 0
        THEN NULL                                    -- not applicable: no weekday or no weekend day to compare
    WHEN avg(n) FILTER (WHERE isodow(day) >= 6) = 0 THEN 'inf'::DOUBLE   -- empty weekends: fails the ceiling
    ELSE avg(n) FILTER (WHERE isodow(day) <= 5) / avg(n) FILTER (WHERE isodow(day) >= 6)
END
FROM daily;

-- metric: hour_max_min_ratio | events in the busiest UTC hour of the day / events in the quietest
WITH hours AS (SELECT h FROM range(24) r(h)),
counts AS (
    SELECT hours.h, count(e.event_id) AS n
    FROM hours LEFT JOIN qa.events e ON hour(e.event_at_utc) = hours.h GROUP BY hours.h
)
SELECT CASE WHEN max(n) = 0 OR NOT getvariable('activity_applicable') THEN NULL
            WHEN min(n) = 0 THEN 'inf'::DOUBLE
            ELSE max(n) / min(n)::DOUBLE END
FROM counts;

-- metric: busiest_hour_share | share of all events in the busiest UTC hour of the day (all activity in a few hours is not a working day spread over time zones)
SELECT CASE WHEN NOT getvariable('activity_applicable') OR count(*) = 0 THEN NULL
            ELSE max(n) / sum(n)::DOUBLE END
FROM (SELECT hour(event_at_utc) AS h, count(*) AS n FROM qa.events GROUP BY h);

-- metric: empty_weekdays_after_first_month | Mon-Fri UTC days after the first 28 days of the window with no event at all (listed holidays excepted)
WITH days AS (
    SELECT d::DATE AS day
    FROM range(getvariable('window_start') + INTERVAL 28 DAY, getvariable('window_end'), INTERVAL 1 DAY) r(d)
    WHERE isodow(d) <= 5 AND NOT list_contains(getvariable('holidays'), d::DATE)
), active AS (SELECT DISTINCT event_at_utc::DATE AS day FROM qa.events)
SELECT CASE WHEN count(*) = 0 OR NOT getvariable('activity_applicable') THEN NULL
            ELSE count(*) FILTER (WHERE active.day IS NULL) END
FROM days LEFT JOIN active USING (day);

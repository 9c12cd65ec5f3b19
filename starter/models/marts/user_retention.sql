-- Weekly user retention by activation cohort: cohort = ISO week (Monday, UTC) of activated_at; retained in
-- week k with a key event in the k-th ISO week after it. Churned users stay in the denominator; weeks run to
-- the one holding the window's last day (which may be partial).
with cohort as (
    select
        scopes.scope,
        users.user_id,
        cast(date_trunc('week', users.activated_at) as date) as cohort_week,
        users.activated_at as joined_at
    from {{ ref('stg_users') }} as users
    cross join {{ scopes() }} as scopes
    where users.activated_at is not null
        and {{ in_scope('scopes.scope', 'users.is_external') }}
),

-- from the week holding the window's first day (k = 0 for a cohort of the window); a cohort with members who
-- joined before the window (the installed base) is left-censored
weeks as (
    select
        c.cohort_week,
        cast(r.k as integer) as week_number,
        cast(c.cohort_week + 7 * cast(r.k as integer) as date) as week,
        c.left_censored
    from (
        select cohort_week, bool_or(joined_at < date '{{ var("window_start") }}') as left_censored
        from cohort group by cohort_week
    ) as c,
        range(
            greatest(0, date_diff('day', c.cohort_week, cast(date_trunc('week', date '{{ var("window_start") }}') as date)) // 7),
            1 + date_diff('day', c.cohort_week, date '{{ var("window_end") }}') // 7
        ) as r (k)
),

active_weeks as (
    select distinct user_id, event_week from {{ ref('int_key_events') }}
)

select
    weeks.cohort_week,
    weeks.week_number,
    count(*) as cohort_size,
    count(active_weeks.user_id) as retained,
    weeks.left_censored,
    cohort.scope
from cohort
join weeks using (cohort_week)
left join active_weeks
    on active_weeks.user_id = cohort.user_id and active_weeks.event_week = weeks.week
group by all

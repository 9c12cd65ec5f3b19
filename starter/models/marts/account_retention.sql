-- Weekly account retention by signup cohort: cohort = ISO week (Monday, UTC) of the account's created_at;
-- retained in week k if any of its users has a key event in the k-th ISO week after it.
with cohort as (
    select
        scopes.scope,
        accounts.account_id,
        cast(date_trunc('week', accounts.created_at) as date) as cohort_week,
        accounts.created_at as joined_at
    from {{ ref('stg_accounts') }} as accounts
    cross join {{ scopes() }} as scopes
    where {{ in_scope('scopes.scope', 'accounts.is_external') }}
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
    select distinct account_id, event_week from {{ ref('int_key_events') }}
)

select
    weeks.cohort_week,
    weeks.week_number,
    count(*) as cohort_size,
    count(active_weeks.account_id) as retained,
    weeks.left_censored,
    cohort.scope
from cohort
join weeks using (cohort_week)
left join active_weeks
    on active_weeks.account_id = cohort.account_id and active_weeks.event_week = weeks.week
group by all

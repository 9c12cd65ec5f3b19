-- Activation funnel by invitation cohort (ISO week of users.created_at) and scope: invited -> activated
-- (first sign-in) -> first key event -> first completed task, and the median hours from activation to the
-- first key event. No answer key: its tests check the funnel only narrows and counts every user once.
with firsts as (
    select
        user_id,
        min(event_at_utc) as first_key_event_at,
        min(case when event_name = 'task_completed' then event_at_utc end) as first_completed_at
    from {{ ref('int_key_events') }}
    group by user_id
)

select
    cast(date_trunc('week', users.created_at) as date) as cohort_week,
    scopes.scope,
    count(*) as invited,
    count(users.activated_at) as activated,
    count(firsts.first_key_event_at) as with_key_event,
    count(firsts.first_completed_at) as with_completed_task,
    median(date_diff('minute', users.activated_at, firsts.first_key_event_at) / 60.0) as median_hours_to_key_event
from {{ ref('stg_users') }} as users
cross join {{ scopes() }} as scopes
left join firsts using (user_id)
where {{ in_scope('scopes.scope', 'users.is_external') }}
group by all

-- 7-day active users per UTC day of the window and scope: users with a key event in days d-6 .. d.
with user_days as (
    select distinct user_id, event_day, is_external
    from {{ ref('int_key_events') }}
),

days as (
    select cast(d as date) as day
    from range(date '{{ var("window_start") }}', date '{{ var("window_end") }}' + interval 1 day, interval 1 day) as r (d)
)

select
    days.day,
    scopes.scope,
    count(distinct user_days.user_id) as active_users
from days
cross join {{ scopes() }} as scopes
left join user_days
    on user_days.event_day between days.day - 6 and days.day
    and {{ in_scope('scopes.scope', 'user_days.is_external') }}
group by all

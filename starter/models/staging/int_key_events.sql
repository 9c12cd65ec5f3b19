-- Key events (the locked definition: var key_events), deduplicated, with the UTC day and ISO week
-- (Monday) they happened in and the account's scope flag.
select
    e.event_id,
    e.user_id,
    e.account_id,
    e.event_name,
    e.event_at_utc,
    cast(e.event_at_utc as date) as event_day,
    cast(date_trunc('week', e.event_at_utc) as date) as event_week,
    a.is_external
from {{ ref('stg_events') }} as e
join {{ ref('stg_accounts') }} as a using (account_id)
where e.event_name in ('{{ var("key_events") | join("', '") }}')

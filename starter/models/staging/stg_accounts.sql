-- Accounts, with the scope flag the metrics filter on: is_external = not is_internal (the vendor's own
-- flagged internal/test workspaces are internal). Sandboxes nobody flagged stay external, as in the answer
-- keys; looks_like_sandbox marks the ones a simple heuristic would suspect (not flagged, one or two users),
-- for a sensitivity check, not for the locked metrics.
with user_counts as (
    select account_id, count(*) as users
    from {{ source('saas_synth', 'users') }}
    group by account_id
)

select
    a.account_id,
    a.account_name,
    a.plan_tier,
    a.created_at,
    a.is_internal,
    not a.is_internal as is_external,
    not a.is_internal and coalesce(u.users, 0) <= 2 as looks_like_sandbox
from {{ source('saas_synth', 'accounts') }} as a
left join user_counts as u using (account_id)

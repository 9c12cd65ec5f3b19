-- Users with their account's scope flag (external: the account is not internal).
select
    u.user_id,
    u.account_id,
    u.role,
    u.created_at,
    u.activated_at,
    a.is_external
from {{ source('saas_synth', 'users') }} as u
join {{ ref('stg_accounts') }} as a using (account_id)

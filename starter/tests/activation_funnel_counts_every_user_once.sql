-- Scope 'all' of the funnel invites every user exactly once.
select total_invited, users
from (
    select
        (select sum(invited) from {{ ref('activation_funnel') }} where scope = 'all') as total_invited,
        (select count(*) from {{ source('saas_synth', 'users') }}) as users
)
where total_invited is distinct from users

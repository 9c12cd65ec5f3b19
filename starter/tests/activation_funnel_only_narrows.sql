-- Each step of the funnel holds at most the users of the step before, in every cohort and scope.
select *
from {{ ref('activation_funnel') }}
where not (invited >= activated and activated >= with_key_event and with_key_event >= with_completed_task)

-- One row per event. The pipeline delivers at least once: a re-sent event repeats its event_id (same row,
-- a later ingested_at_utc), so keep each event's first delivery. With include_not_yet_arrived, the
-- deliveries an as_of extract left out (truth.not_yet_arrived) are added, as the answer keys count them.
with deliveries as (
    select * from {{ source('saas_synth', 'events') }}
    {% if var('include_not_yet_arrived') %}
    union all
    select * from {{ source('saas_synth_truth', 'not_yet_arrived') }}
    {% endif %}
)

select *
from deliveries
qualify row_number() over (partition by event_id order by ingested_at_utc) = 1

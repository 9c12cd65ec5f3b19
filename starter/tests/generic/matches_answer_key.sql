{#
    Zero rows when the model equals its answer key (truth.<answer_key>) row for row: every row of one
    missing from the other is returned, with the side it is on. The model's columns must be the key's, in
    the key's order (set operations in SQL match columns by position).
#}
{% test matches_answer_key(model, answer_key) %}
with answer_key as (
    select * from {{ source('saas_synth_truth', answer_key) }}
),

model_rows as (
    select * from {{ model }}
)

select 'only in the model' as side, * from (select * from model_rows except all select * from answer_key)
union all
select 'only in the answer key' as side, * from (select * from answer_key except all select * from model_rows)
{% endtest %}

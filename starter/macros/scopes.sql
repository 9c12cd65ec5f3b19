{# The answer keys' two scopes, as rows: 'all' (every account) and 'external' (is_internal = false). #}
{% macro scopes() %}
    (select * from (values ('all'), ('external')) as s (scope))
{% endmacro %}

{# Whether a row with this is_external flag counts in scope s. #}
{% macro in_scope(scope_column, is_external) %}
    ({{ scope_column }} = 'all' or {{ is_external }})
{% endmacro %}

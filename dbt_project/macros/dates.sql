{# Month helpers that give the same types on DuckDB and PostgreSQL. #}

{% macro month_of(expr) -%}
    cast(date_trunc('month', {{ expr }}) as date)
{%- endmacro %}

{% macro period_month(file_column) -%}
    {# raw rows carry their delivery path: <source>/<YYYY-MM or YYYY-MM-DD>/part-N.txt #}
    cast(substr(split_part({{ file_column }}, '/', 2), 1, 7) || '-01' as date)
{%- endmacro %}

{% macro add_months(expr, n) -%}
    cast({{ dbt.dateadd('month', n, expr) }} as date)
{%- endmacro %}

{% macro month_end(expr) -%}
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, expr)) }} as date)
{%- endmacro %}

{% macro ratio(numerator, denominator) -%}
    cast({{ numerator }} as double precision) / nullif(cast({{ denominator }} as double precision), 0)
{%- endmacro %}

{# Incremental models rebuild the last month they hold (its next-month facts may have changed) and newer ones. #}
{% macro incremental_months(month_column, source_month_expr=none) -%}
    {%- set src = source_month_expr or month_column -%}
    {%- if var('rebuild_from') -%}
        {{ src }} >= cast('{{ var("rebuild_from") }}' as date)
    {%- elif is_incremental() -%}
        {{ src }} >= (select coalesce(max({{ month_column }}), cast('1900-01-01' as date)) from {{ this }})
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{# A business parameter from a seed table, as a scalar subquery. #}
{% macro seed_param(seed, name) -%}
    (select cast(value as double precision) from {{ ref(seed) }} where parameter = '{{ name }}')
{%- endmacro %}

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

{#
  Incremental by delivery: an incremental model rebuilds the months whose source data was loaded since
  it was last built (loads with a higher load_id than the `_built_through_load_id` it stored), and, with
  previous_month_too, the month before each of them (whose "next month" facts just became known).
  A first build, `--full-refresh` or `--vars '{rebuild_from: YYYY-MM-01}'` rebuild everything / from a month.
#}
{% macro months_to_build(month_expr, previous_month_too=false) -%}
    {%- if var('rebuild_from') -%}
        {{ month_expr }} >= cast('{{ var("rebuild_from") }}' as date)
    {%- elif is_incremental() -%}
        {{ month_expr }} in (
            select {{ period_start('period') }} from {{ source('audit', 'load_manifest') }}
            where status = 'loaded' and load_id > (select coalesce(max(_built_through_load_id), 0) from {{ this }})
            {%- if previous_month_too %}
            union
            select {{ add_months(period_start('period'), -1) }} from {{ source('audit', 'load_manifest') }}
            where status = 'loaded' and load_id > (select coalesce(max(_built_through_load_id), 0) from {{ this }})
            {%- endif %}
        )
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{# The highest load the build saw: stored on every row of an incremental model. #}
{% macro built_through_load_id() -%}
    (select coalesce(max(load_id), 0) from {{ source('audit', 'load_manifest') }})
{%- endmacro %}

{% macro period_start(period_column) -%}
    cast(substr({{ period_column }}, 1, 7) || '-01' as date)
{%- endmacro %}

{# A business parameter from a seed table, as a scalar subquery. #}
{% macro seed_param(seed, name) -%}
    (select cast(value as double precision) from {{ ref(seed) }} where parameter = '{{ name }}')
{%- endmacro %}

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
  it was last built (loads with a higher load_id than the `_built_through_load_id` it stored), and the
  `following` months after each of them that depend on it (e.g. 3-month trends), and as many `preceding`
  months before them as a model reads for those months (the inputs of a trend). A first build and
  `--full-refresh` build everything; on an incremental build `--vars '{rebuild_from: YYYY-MM-01}'`
  rebuilds that month and every later one.
#}
{% macro months_to_build(month_expr, following=0, preceding=0) -%}
    {%- if not is_incremental() -%}
        1 = 1
    {%- elif var('rebuild_from') -%}
        {{ month_expr }} >= {{ add_months("cast('" ~ var("rebuild_from") ~ "' as date)", -preceding) }}
    {%- else -%}
        {{ month_expr }} in (
            {%- for k in range(-preceding, following + 1) %}
            select {{ add_months(period_start('period'), k) }} from {{ source('audit', 'load_manifest') }}
            where status = 'loaded' and load_id > (select coalesce(max(_built_through_load_id), 0) from {{ this }})
            {{ "union" if not loop.last }}
            {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}

{# The highest load the build saw: stored on every row of an incremental model. #}
{% macro built_through_load_id() -%}
    (select coalesce(max(load_id), 0) from {{ source('audit', 'load_manifest') }})
{%- endmacro %}

{% macro period_start(period_column) -%}
    cast(substr({{ period_column }}, 1, 7) || '-01' as date)
{%- endmacro %}

{# Parameters of a seed table (columns parameter, value) as one row with a column per parameter. #}
{% macro seed_parameters(seed, names) -%}
    select
        {% for name in names -%}
        max(case when parameter = '{{ name }}' then value end) as {{ name }}{{ "," if not loop.last }}
        {% endfor -%}
    from {{ ref(seed) }}
{%- endmacro %}

{#
  customer_360 builds only months with new loads; the month before each of them learns its
  churned_next_month only now, so this post-hook refreshes that one column there.
#}
{% macro refresh_churned_next_month() -%}
    {%- if is_incremental() -%}
    update {{ this }} set churned_next_month = exists (
        select 1 from {{ ref('int_subscribers__monthly') }} as n
        where n.month = {{ add_months(this ~ '.month', 1) }} and n.sub_id = {{ this }}.sub_id and n.churned_in_month
    )
    where month in (
        select {{ add_months('month', -1) }} from {{ this }}
        where _built_through_load_id = (select max(_built_through_load_id) from {{ this }})
    )
    -- only where the next month's CRM snapshot is there: otherwise "next month" stays unknown (null)
    and {{ add_months('month', 1) }} in (select distinct month from {{ ref('int_subscribers__monthly') }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

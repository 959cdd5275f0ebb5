{#
  SCD2 from monthly full snapshots: consecutive months with identical tracked attributes form one version.
  valid_from is the first snapshot month of a version, valid_to the first month of the next version
  (null while current), is_current marks the version in the latest snapshot that holds the key.
  Attributes are compared as text with '~' standing for null, so a change to or from null is a change.
#}
{% macro scd2_from_snapshots(relation, key, tracked) %}
with snapshots as (
    select snapshot_month, {{ key }}, {{ tracked | join(', ') }} from {{ relation }}
),

changes as (
    select
        *,
        case
            when lag(snapshot_month) over (partition by {{ key }} order by snapshot_month) is null then 1
            {% for col in tracked -%}
            when coalesce(cast(lag({{ col }}) over (partition by {{ key }} order by snapshot_month) as varchar), '~')
                <> coalesce(cast({{ col }} as varchar), '~') then 1
            {% endfor -%}
            else 0
        end as is_change
    from snapshots
),

versions as (
    select *, sum(is_change) over (partition by {{ key }} order by snapshot_month rows unbounded preceding) as version
    from changes
),

collapsed as (
    select
        {{ key }},
        version,
        min(snapshot_month) as valid_from,
        max(snapshot_month) as last_seen_month,
        {% for col in tracked -%}
        max({{ col }}) as {{ col }}{{ "," if not loop.last }}
        {% endfor %}
    from versions
    group by {{ key }}, version
)

select
    {{ key }},
    version,
    valid_from,
    lead(valid_from) over (partition by {{ key }} order by version) as valid_to,
    last_seen_month,
    lead(valid_from) over (partition by {{ key }} order by version) is null
        and last_seen_month = (select max(snapshot_month) from {{ relation }}) as is_current,
    {{ tracked | join(', ') }}
from collapsed
{% endmacro %}

{#
  SCD2 from monthly full snapshots: consecutive months with identical tracked attributes form one version.
  valid_from is the first snapshot month of a version, valid_to the first month of the next version
  (null while current), is_current marks the version in the latest snapshot that holds the key.
  Attributes are compared as text with '~' standing for null, so a change to or from null is a change.

  Incremental (materialized='incremental', incremental_strategy='scd2', unique_key=<key>): a build recomputes
  only from R, the first month of the snapshot source loaded since the history was last built (or
  `rebuild_from`), on from each key's version open at R; the versions that ended before R stay as they are. If a
  version straddles R (a month before the newest one was re-delivered), or the table lacks a column (built
  before a tracked attribute was added), everything is recomputed. A full refresh gives the same rows
  (tests/test_warehouse.py, tests/test_backfill.py). A change to how staging computes a tracked attribute (the
  PII salt, a mapping) needs `--full-refresh`, as the runbook says.
#}
{% macro scd2_from_snapshots(relation, key, tracked, source_name) %}
{%- set needed = [key, 'version', 'valid_from', 'valid_to', 'last_seen_month', '_built_through_load_id'] + tracked -%}
{%- set have = [] -%}
{%- if is_incremental() -%}
    {%- set have = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
{%- endif -%}
{%- set missing = needed | reject('in', have) | list -%}
{%- if is_incremental() and not missing %}
{{ _scd2_incremental(relation, key, tracked, source_name) }}
{%- else %}
{{ _scd2_full(relation, key, tracked) }}
{%- endif %}
{% endmacro %}


{% macro _scd2_full(relation, key, tracked) %}
with ordered as (
    select
        {{ key }}, snapshot_month, snapshot_month as last_seen_month, cast(null as integer) as carried_version,
        {{ tracked | join(', ') }}
    from {{ relation }}
),

{{ _scd2_versions(key, tracked, '(select max(snapshot_month) from ' ~ relation ~ ')') }}
{% endmacro %}


{#
  R, the month an incremental build recomputes the history from: the first period of `source_name` loaded
  since the history was last built (null: none), or the beginning if a version straddles it.
#}
{% macro scd2_rebuild_from(history, source_name) -%}
    (
        select
            case
                when exists (
                    select 1 from {{ history }} as h where h.valid_from < r.month and h.last_seen_month >= r.month
                ) then cast('0001-01-01' as date)
                else r.month
            end
        from (
            select
                {%- if var('rebuild_from') %}
                cast('{{ var("rebuild_from") }}' as date) as month
                {%- else %}
                min({{ period_start('period') }}) as month
            from {{ source('audit', 'load_manifest') }}
            where status = 'loaded' and source = '{{ source_name }}'
                and load_id > (select coalesce(max(_built_through_load_id), 0) from {{ history }})
                {%- endif %}
        ) as r
    )
{%- endmacro %}


{% macro _scd2_incremental(relation, key, tracked, source_name) %}
with rebuild as (
    select {{ scd2_rebuild_from(this, source_name) }} as month
),

-- each key's version open at R (it ended before R, or it is the last one): its start and its attributes
open_versions as (
    select h.{{ key }}, h.version, h.valid_from, h.last_seen_month, {% for col in tracked %}h.{{ col }}{{ ", " if not loop.last }}{% endfor %}
    from {{ this }} as h
    inner join rebuild on h.valid_from < rebuild.month and (h.valid_to is null or h.valid_to >= rebuild.month)
),

new_snapshots as (
    select s.snapshot_month, s.{{ key }}, {% for col in tracked %}s.{{ col }}{{ ", " if not loop.last }}{% endfor %}
    from {{ relation }} as s
    -- a filter, not a join: it reaches the snapshots' scan, before the staging view hashes anything
    where s.snapshot_month >= (select month from rebuild)
),

-- the open version stands for the snapshots before R: first in its key's sequence, carrying its version number
ordered as (
    select {{ key }}, valid_from as snapshot_month, last_seen_month, version as carried_version, {{ tracked | join(', ') }}
    from open_versions
    union all
    select {{ key }}, snapshot_month, snapshot_month, null, {{ tracked | join(', ') }}
    from new_snapshots
),

-- the newest snapshot month: in the new snapshots, or else the newest seen before R
latest as (
    select coalesce(
        (select max(snapshot_month) from new_snapshots),
        (select max(h.last_seen_month) from {{ this }} as h inner join rebuild on h.valid_from < rebuild.month)
    ) as month
),

{{ _scd2_versions(key, tracked, '(select month from latest)') }}
{% endmacro %}


{#
  The shared part of both builds: from `ordered` (key, snapshot_month, last_seen_month, carried_version and the
  tracked attributes; a carried row stands for an open version and keeps its number), the versions with their
  validity, and is_current against `latest_month`.
#}
{% macro _scd2_versions(key, tracked, latest_month) %}
changes as (
    select
        *,
        case
            when carried_version is not null then carried_version
            when lag(snapshot_month) over (partition by {{ key }} order by snapshot_month) is null then 1
            {% for col in tracked -%}
            when coalesce(cast(lag({{ col }}) over (partition by {{ key }} order by snapshot_month) as varchar), '~')
                <> coalesce(cast({{ col }} as varchar), '~') then 1
            {% endfor -%}
            else 0
        end as is_change
    from ordered
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
        max(last_seen_month) as last_seen_month,
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
        and last_seen_month = {{ latest_month }} as is_current,
    {{ tracked | join(', ') }},
    {{ built_through_load_id() }} as _built_through_load_id
from collapsed
{% endmacro %}


{#
  The 'scd2' incremental strategy: the new rows hold, for each key they touch, its version open at R and every
  later one, so a kept row of that key from that version on is replaced; the versions before stay. Every key
  has a version open at R, so a key missing from the new rows is in no snapshot any more: its rows go. Nothing
  new: no row, nothing deleted.
#}
{% macro get_incremental_scd2_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} as kept
    where exists (
        select 1 from {{ temp }} as recomputed
        where recomputed.{{ key }} = kept.{{ key }} and recomputed.version <= kept.version
    )
    -- recomputed whole, a key in no snapshot any more (a re-sent month without it) goes, as in a full refresh
    or (
        exists (select 1 from {{ temp }})
        and not exists (select 1 from {{ temp }} as recomputed where recomputed.{{ key }} = kept.{{ key }})
    );

    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }} from {{ temp }}
{% endmacro %}

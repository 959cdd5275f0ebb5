-- delete+insert on month: each rebuilt month is replaced whole (a key gone from a re-delivery goes too)
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month') }}

with usage as (
    select * from {{ ref('stg_usage__daily') }}
    where {{ months_to_build('usage_month') }}
),

monthly as (
    select
        usage_month as month,
        sub_id,
        count(*) as days_reported,
        sum(case when voice_min_out + sms_out > 0 or data_mb > 0 then 1 else 0 end) as active_days,
        sum(voice_min_out) as voice_min_out,
        sum(voice_min_in) as voice_min_in,
        sum(voice_min_out + voice_min_in) as mou,
        sum(calls_out) as calls_out,
        sum(calls_out * offnet_call_share) as offnet_calls,
        sum(roam_min) as roam_min,
        sum(sms_out) as sms_out,
        sum(mms_out) as mms_out,
        sum(data_mb) as data_mb,
        avg(cast(distinct_contacts as double precision)) as avg_daily_contacts
    from usage
    group by usage_month, sub_id
)

select
    *,
    {{ ratio('offnet_calls', 'calls_out') }} as offnet_call_share,
    {{ built_through_load_id() }} as _built_through_load_id
from monthly

with source as (
    select * from {{ source('raw', 'usage_daily') }}
)

select
    day as usage_date,
    {{ month_of('day') }} as usage_month,
    sub_id,
    voice_min_out,
    voice_min_in,
    calls_out,
    offnet_call_share,
    roam_min,
    sms_out,
    mms_out,
    data_mb,
    distinct_contacts,
    cell_home
from source

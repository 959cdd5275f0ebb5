with source as (
    select * from {{ source('raw', 'vas_subscription') }}
)

select
    event_id,
    sub_id,
    service_code,
    sp_code,
    event,
    ts as event_at,
    {{ month_of('ts') }} as event_month,
    channel_id,
    is_trial = 1 as is_trial
from source

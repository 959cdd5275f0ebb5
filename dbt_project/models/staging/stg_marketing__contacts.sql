with source as (
    select * from {{ source('raw', 'campaign_contact') }}
)

select
    contact_id,
    campaign_id,
    sub_id,
    channel,
    ts as contacted_at,
    {{ month_of('ts') }} as contact_month,
    is_control = 1 as is_control
from source

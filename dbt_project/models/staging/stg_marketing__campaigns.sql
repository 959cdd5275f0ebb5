with source as (
    select * from {{ source('raw', 'campaign') }}
)

select
    campaign_id,
    campaign_name,
    campaign_type,
    offer_product_id,
    brand,
    channel,
    start_date,
    end_date,
    {{ month_of('start_date') }} as campaign_month,
    cost,
    target_rule
from source

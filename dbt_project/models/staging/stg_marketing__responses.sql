with source as (
    select * from {{ source('raw', 'campaign_response') }}
)

select
    response_id,
    campaign_id,
    sub_id,
    ts as responded_at,
    {{ month_of('ts') }} as response_month,
    ordered_product_id
from source

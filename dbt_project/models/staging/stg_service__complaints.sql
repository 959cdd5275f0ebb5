with source as (
    select * from {{ source('raw', 'complaint') }}
)

select
    ticket_id,
    sub_id,
    ts as opened_at,
    {{ month_of('ts') }} as complaint_month,
    category,
    product_id,
    channel,
    resolved_at
from source

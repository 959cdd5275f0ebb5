with source as (
    select * from {{ source('raw', 'billing_items') }}
)

select
    cast(bill_month || '-01' as date) as bill_month,
    sub_id,
    account_id,
    item_code,
    product_id,
    revenue_category,
    amount,
    discount,
    campaign_id,
    _load_id as load_id
from source

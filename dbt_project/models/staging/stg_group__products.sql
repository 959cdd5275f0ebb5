with source as (
    select * from {{ source('raw', 'group_product') }}
)

select
    {{ period_month('_file') }} as snapshot_month,
    group_product_id,
    group_id,
    product_id,
    vnet_id,
    monthly_fee,
    licensed_users,
    start_date,
    end_date
from source

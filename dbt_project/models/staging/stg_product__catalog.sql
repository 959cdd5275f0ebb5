with source as (
    select * from {{ source('raw', 'product_catalog') }}
)

select
    {{ period_month('_file') }} as snapshot_month,
    product_id,
    product_name,
    product_type,
    brand,
    monthly_fee,
    revenue_category,
    is_new_business = 1 as is_new_business,
    is_data_vas = 1 as is_data_vas,
    lifecycle_stage,
    launched_at
from source

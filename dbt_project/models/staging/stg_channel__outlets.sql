with source as (
    select * from {{ source('raw', 'channel') }}
)

select
    {{ period_month('_file') }} as snapshot_month,
    channel_id,
    channel_name,
    channel_type,
    city_code,
    area_type,
    opened_at
from source

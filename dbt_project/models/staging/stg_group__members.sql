with source as (
    select * from {{ source('raw', 'group_member') }}
)

select
    {{ period_month('_file') }} as snapshot_month,
    group_id,
    sub_id,
    vnet_id,
    member_role,
    joined_at,
    left_at,
    left_at is null as is_current
from source

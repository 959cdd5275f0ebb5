-- One row per month and subscriber who is a current member of at least one group.
with members as (
    select * from {{ ref('stg_group__members') }}
    where is_current
)

select
    snapshot_month as month,
    sub_id,
    min(group_id) as group_id,
    min(vnet_id) as vnet_id,
    count(*) as groups_joined
from members
group by snapshot_month, sub_id

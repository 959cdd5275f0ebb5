-- One row per subscriber per CRM month: the latest campaign contact up to the month's end. Control-group
-- assignments are not contacts (nobody reached the subscriber), so they do not count.
with spine as (
    select month, sub_id from {{ ref('int_subscribers__monthly') }}
),

contacts as (
    select sub_id, contact_month, contacted_at from {{ ref('stg_marketing__contacts') }}
    where not is_control
)

select
    spine.month,
    spine.sub_id,
    max(c.contacted_at) as last_contacted_at
from spine
left join contacts as c on c.sub_id = spine.sub_id and c.contact_month <= spine.month
group by spine.month, spine.sub_id

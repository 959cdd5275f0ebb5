-- One row per subscriber per CRM month: complaints in the last three months (this one included) and the
-- latest complaint ever opened up to the month's end, for the features' recency.
with spine as (
    select month, sub_id from {{ ref('int_subscribers__monthly') }}
),

complaints as (
    select sub_id, complaint_month, opened_at from {{ ref('stg_service__complaints') }}
)

select
    spine.month,
    spine.sub_id,
    sum(case when c.complaint_month >= {{ add_months('spine.month', -2) }} then 1 else 0 end) as complaints_3m,
    max(c.opened_at) as last_complaint_at
from spine
left join complaints as c on c.sub_id = spine.sub_id and c.complaint_month <= spine.month
group by spine.month, spine.sub_id

with complaints as (
    select * from {{ ref('stg_service__complaints') }}
)

select
    complaint_month as month,
    sub_id,
    count(*) as complaints,
    sum(case when resolved_at is null then 1 else 0 end) as complaints_unresolved,
    sum(case when category = 'billing_dispute' then 1 else 0 end) as complaints_billing,
    sum(case when category = 'network_quality' then 1 else 0 end) as complaints_network
from complaints
group by complaint_month, sub_id

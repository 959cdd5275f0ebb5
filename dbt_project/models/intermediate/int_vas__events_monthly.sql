with events as (
    select * from {{ ref('stg_vas__events') }}
)

select
    event_month as month,
    sub_id,
    sum(case when event = 'order' then 1 else 0 end) as vas_orders,
    sum(case when event = 'cancel' then 1 else 0 end) as vas_cancels,
    sum(case when event = 'order' and is_trial then 1 else 0 end) as trial_orders
from events
group by event_month, sub_id

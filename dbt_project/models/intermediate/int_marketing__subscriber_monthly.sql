with contacts as (
    select * from {{ ref('stg_marketing__contacts') }}
),

responses as (
    select * from {{ ref('stg_marketing__responses') }}
),

contacted as (
    select
        contact_month as month,
        sub_id,
        sum(case when is_control then 0 else 1 end) as campaign_contacts,
        sum(case when is_control then 1 else 0 end) as campaign_control_assignments
    from contacts
    group by contact_month, sub_id
),

responded as (
    select response_month as month, sub_id, count(*) as campaign_responses
    from responses
    group by response_month, sub_id
)

select
    coalesce(c.month, r.month) as month,
    coalesce(c.sub_id, r.sub_id) as sub_id,
    coalesce(c.campaign_contacts, 0) as campaign_contacts,
    coalesce(c.campaign_control_assignments, 0) as campaign_control_assignments,
    coalesce(r.campaign_responses, 0) as campaign_responses
from contacted as c
full outer join responded as r on r.month = c.month and r.sub_id = c.sub_id

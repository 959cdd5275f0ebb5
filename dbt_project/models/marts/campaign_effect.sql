-- One row per campaign wave (campaigns are monthly waves): response against the random control group (docs/kpis.md).
with campaigns as (
    select * from {{ ref('stg_marketing__campaigns') }}
),

contacts as (
    select * from {{ ref('stg_marketing__contacts') }}
),

responses as (
    select distinct campaign_id, sub_id from {{ ref('stg_marketing__responses') }}
),

-- the catalogue is a full snapshot every month: a wave is priced at its own month's fee, not the latest one
offers as (
    select snapshot_month, product_id, monthly_fee
    from {{ ref('stg_product__catalog') }}
),

outcomes as (
    select
        k.campaign_id,
        sum(case when k.is_control then 0 else 1 end) as contacted,
        sum(case when k.is_control then 1 else 0 end) as control_group,
        sum(case when not k.is_control and r.sub_id is not null then 1 else 0 end) as responders,
        sum(case when k.is_control and r.sub_id is not null then 1 else 0 end) as control_responders
    from contacts as k
    left join responses as r on r.campaign_id = k.campaign_id and r.sub_id = k.sub_id
    group by k.campaign_id
),

rates as (
    select
        c.campaign_id,
        c.campaign_month as month,
        c.campaign_name,
        c.campaign_type,
        c.offer_product_id,
        c.channel,
        c.start_date,
        c.end_date,
        coalesce(o.contacted, 0) as contacted,
        coalesce(o.control_group, 0) as control_group,
        coalesce(o.responders, 0) as responders,
        coalesce(o.control_responders, 0) as control_responders,
        {{ ratio('o.responders', 'o.contacted') }} as success_rate,
        {{ ratio('o.control_responders', 'o.control_group') }} as control_success_rate,
        coalesce(f.monthly_fee, 0) as offer_monthly_fee,
        c.cost
    from campaigns as c
    left join outcomes as o on o.campaign_id = c.campaign_id
    left join offers as f on f.snapshot_month = c.campaign_month and f.product_id = c.offer_product_id
)

select
    *,
    round(cast(100 * success_rate as decimal(18, 6)), 1) as success_rate_pct,
    round(cast(100 * control_success_rate as decimal(18, 6)), 1) as control_success_rate_pct,
    round(cast({{ ratio('success_rate', 'control_success_rate') }} as decimal(18, 6)), 4) as lift,
    contacted * (success_rate - control_success_rate) as incremental_responders,
    contacted * (success_rate - control_success_rate) * offer_monthly_fee as incremental_revenue,
    {{ ratio('contacted * (success_rate - control_success_rate) * offer_monthly_fee - cost', 'cost') }} as roi
from rates

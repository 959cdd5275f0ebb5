-- One row per month x city x brand, with 'ALL' rows for city totals, brand totals and the province.
-- KPI definitions (口径) of docs/kpis.md, each from its parts.
with components as (
    select * from {{ ref('int_kpi__components') }}
),

parameters as (
    {{ seed_parameters('kpi_parameters', ['ringback_keep_rate']) }}
),

derived as (
    select
        c.*,
        (c.subscribers_at_start + c.subscribers_at_end) / 2.0 as average_subscribers,
        c.subscribers_at_end - c.subscribers_at_start as net_adds,
        c.new_business_revenue - c.voice_vas_revenue as data_vas_revenue,
        c.ringback_trial_revenue * p.ringback_keep_rate + c.gprs_trial_repriced_revenue as campaign_effective_revenue
    from components as c
    cross join parameters as p
),

kpis as (
    select
        *,
        {{ ratio('churned', 'subscribers_at_start') }} as churn_rate,
        {{ ratio('operating_revenue', 'average_subscribers') }} as arpu,
        {{ ratio('minutes', 'average_subscribers') }} as mou,
        {{ ratio('data_mb', 'average_subscribers') }} as dou,
        {{ ratio('new_business_revenue', 'operating_revenue') }} as new_business_share,
        new_business_revenue - campaign_revenue + campaign_effective_revenue as effective_new_business_revenue,
        -- effective data-VAS revenue = data VAS x (1 - data-VAS discount rate), the discount rate being
        -- campaign / data VAS: written as the difference so it is exact in decimals and 0 (not null) without
        -- data VAS. Not the add-back formula of effective new business (nothing of the campaign is kept here).
        data_vas_revenue - campaign_revenue as effective_data_vas_revenue,
        {{ ratio('new_business_revenue - campaign_revenue + campaign_effective_revenue', 'operating_revenue') }}
            as effective_new_business_share,
        {{ ratio('campaign_revenue', 'data_vas_revenue') }} as data_vas_discount_rate,
        {{ ratio('campaign_revenue', 'new_business_revenue') }} as new_business_discount_rate,
        {{ ratio('ringback_users', 'active_subscribers') }} as ringback_penetration,
        {{ ratio('sms_users', 'active_subscribers') }} as sms_penetration,
        {{ ratio('gprs_users', 'active_subscribers') }} as gprs_penetration
    from derived
)

select
    *,
    round(cast(100 * new_business_share as decimal(18, 6)), 1) as new_business_share_pct,
    round(cast(100 * effective_new_business_share as decimal(18, 6)), 1) as effective_new_business_share_pct,
    round(cast(100 * data_vas_discount_rate as decimal(18, 6)), 1) as data_vas_discount_pct,
    round(cast(100 * new_business_discount_rate as decimal(18, 6)), 1) as new_business_discount_pct
from kpis

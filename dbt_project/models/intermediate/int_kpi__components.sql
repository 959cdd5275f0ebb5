-- One row per month x city x brand, plus city totals, brand totals and province totals ('ALL'):
-- the additive parts every KPI of docs/kpis.md is computed from.
with c360 as (
    select * from {{ ref('customer_360') }}
),

parameters as (
    {{ seed_parameters('kpi_parameters', ['gprs_trial_tariff_per_mb']) }}
)

select
    month,
    case when grouping(city_code) = 1 then 'ALL' else city_code end as city_code,
    case when grouping(brand) = 1 then 'ALL' else brand end as brand,
    count(*) as active_subscribers,
    sum(case when active_at_month_start then 1 else 0 end) as subscribers_at_start,
    sum(case when churned_in_month then 0 else 1 end) as subscribers_at_end,
    sum(case when activated_in_month then 1 else 0 end) as gross_adds,
    sum(case when churned_in_month then 1 else 0 end) as churned,
    sum(revenue) as operating_revenue,
    sum(revenue_monthly_fee) as revenue_monthly_fee,
    sum(revenue_voice) as revenue_voice,
    sum(revenue_sms) as revenue_sms,
    sum(revenue_mms) as revenue_mms,
    sum(revenue_gprs) as revenue_gprs,
    sum(revenue_crbt) as revenue_crbt,
    sum(revenue_vas_other) as revenue_vas_other,
    sum(revenue_vas_voice) as revenue_vas_voice,
    sum(revenue_group) as revenue_group,
    sum(new_business_revenue) as new_business_revenue,
    sum(voice_vas_revenue) as voice_vas_revenue,
    sum(campaign_revenue) as campaign_revenue,
    sum(ringback_trial_revenue) as ringback_trial_revenue,
    sum(gprs_trial_revenue) as gprs_trial_revenue,
    sum(case when on_gprs_trial then least(gprs_trial_revenue, data_mb * p.gprs_trial_tariff_per_mb) else 0 end)
        as gprs_trial_repriced_revenue,
    sum(mou) as minutes,
    sum(data_mb) as data_mb,
    sum(sms_out) as sms,
    sum(case when has_ringback then 1 else 0 end) as ringback_users,
    sum(case when sms_out > 0 then 1 else 0 end) as sms_users,
    sum(case when data_mb > 0 then 1 else 0 end) as gprs_users
from c360
cross join parameters as p
group by grouping sets ((month, city_code, brand), (month, city_code), (month, brand), (month))

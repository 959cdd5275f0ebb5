-- delete+insert on month: each rebuilt month is replaced whole (a key gone from a re-delivery goes too)
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='month',
    post_hook="{{ refresh_churned_next_month() }}"
) }}

-- One row per subscriber per month: the unified customer view (统一客户视图; docs/marts.md).
-- The spine is the CRM month-end snapshot plus any subscriber billed that month but missing from it
-- (in_crm_snapshot = false, attributes UNKNOWN), so that mart revenue always equals billed revenue.
with crm_months as (
    select month, sub_id from {{ ref('int_subscribers__monthly') }}
    where {{ months_to_build('month', following=3) }}
),

billed_months as (
    select month, sub_id from {{ ref('int_billing__monthly') }}
    where {{ months_to_build('month', following=3) }}
),

spine as (
    select
        coalesce(s.month, b.month) as month,
        coalesce(s.sub_id, b.sub_id) as sub_id,
        s.sub_id is not null as in_crm
    from crm_months as s
    full outer join billed_months as b on b.month = s.month and b.sub_id = s.sub_id
),

subscribers as (
    select
        spine.month,
        spine.sub_id,
        spine.in_crm as in_crm_snapshot,
        crm.cust_id,
        crm.msisdn_hash,
        crm.msisdn_masked,
        coalesce(crm.brand, 'UNKNOWN') as brand,
        crm.payment_type,
        crm.plan_id,
        coalesce(crm.city_code, 'UNKNOWN') as city_code,
        crm.channel_id,
        crm.imei_tac,
        crm.gender,
        crm.age_years,
        crm.star_level,
        crm.tenure_months,
        crm.status,
        crm.activation_type,
        coalesce(crm.active_at_month_start, false) as active_at_month_start,
        coalesce(crm.activated_in_month, false) as activated_in_month,
        crm.contract_end,
        coalesce(crm.contract_ends_in_month, false) as contract_ends_in_month,
        coalesce(crm.churned_in_month, false) as churned_in_month
    from spine
    left join {{ ref('int_subscribers__monthly') }} as crm on crm.month = spine.month and crm.sub_id = spine.sub_id
),

-- On an incremental build every input is read only for the months it is joined on: the months built (above),
-- the three before each of them (the trends) and the one after (churned_next_month). A full build reads each
-- input whole, once: split in the same way there, at 1M subscribers x 4 months the query outgrew DuckDB's
-- 3 GB memory limit.
{%- set inc = is_incremental() %}
all_subscriber_months as (
    select month, sub_id, churned_in_month from {{ ref('int_subscribers__monthly') }}
),

next_months as (
    select month, sub_id, churned_in_month from {{ ref('int_subscribers__monthly') }}
    where {{ months_to_build('month', following=4) }}
),

loaded_months as (
    select distinct month from {{ 'next_months' if inc else 'all_subscriber_months' }}
),

billing as (
    select * from {{ ref('int_billing__monthly') }}
    where {{ months_to_build('month', following=3) }}
),

usage as (
    select * from {{ ref('int_usage__monthly') }}
    where {{ months_to_build('month', following=3) }}
),

payments as (
    select * from {{ ref('int_payments__monthly') }}
    where {{ months_to_build('month', following=3) }}
),

vas_events as (
    select * from {{ ref('int_vas__events_monthly') }}
    where {{ months_to_build('month', following=3) }}
),

marketing as (
    select * from {{ ref('int_marketing__subscriber_monthly') }}
    where {{ months_to_build('month', following=3) }}
),

complaints as (
    select * from {{ ref('int_service__complaints_monthly') }}
    where {{ months_to_build('month', following=3) }}
),

memberships as (
    select * from {{ ref('int_groups__memberships_monthly') }}
    where {{ months_to_build('month', following=3) }}
),

earlier_months as (
    select month, sub_id from {{ ref('int_subscribers__monthly') }}
    where {{ months_to_build('month', following=2, preceding=3) }}
),

earlier_billing as (
    select month, sub_id, revenue from {{ ref('int_billing__monthly') }}
    where {{ months_to_build('month', following=2, preceding=3) }}
),

earlier_usage as (
    select month, sub_id, mou, data_mb from {{ ref('int_usage__monthly') }}
    where {{ months_to_build('month', following=2, preceding=3) }}
),

previous_months as (
    -- averages over the (up to) three previous months, for the 3-month trends
    select
        s.month,
        s.sub_id,
        avg(b.revenue) as arpu_prev_3m,
        avg(u.mou) as mou_prev_3m,
        avg(u.data_mb) as dou_prev_3m
    from subscribers as s
    inner join {{ 'earlier_months' if inc else 'all_subscriber_months' }} as p
        on p.sub_id = s.sub_id
        and p.month >= {{ add_months('s.month', -3) }}
        and p.month < s.month
    left join {{ 'earlier_billing' if inc else 'billing' }} as b on b.month = p.month and b.sub_id = p.sub_id
    left join {{ 'earlier_usage' if inc else 'usage' }} as u on u.month = p.month and u.sub_id = p.sub_id
    group by s.month, s.sub_id
),

thresholds as (
    {{ seed_parameters('segment_thresholds', [
        'mou_low_max', 'mou_high_min', 'data_score_low_max', 'data_score_high_min', 'unstable_arpu_drop',
        'new_tenure_months'
    ]) }}
),

joined as (
    select
        s.month,
        s.sub_id,
        s.in_crm_snapshot,
        s.cust_id,
        s.msisdn_hash,
        s.msisdn_masked,
        s.brand,
        s.payment_type,
        s.plan_id,
        s.city_code,
        s.channel_id,
        s.imei_tac,
        s.gender,
        s.age_years,
        s.star_level,
        s.tenure_months,
        s.status,
        s.activation_type,
        s.active_at_month_start,
        s.activated_in_month,
        s.contract_end,
        s.contract_ends_in_month,
        coalesce(b.revenue, 0) as revenue,
        coalesce(b.discount, 0) as discount,
        coalesce(b.revenue_monthly_fee, 0) as revenue_monthly_fee,
        coalesce(b.revenue_voice, 0) as revenue_voice,
        coalesce(b.revenue_sms, 0) as revenue_sms,
        coalesce(b.revenue_mms, 0) as revenue_mms,
        coalesce(b.revenue_gprs, 0) as revenue_gprs,
        coalesce(b.revenue_crbt, 0) as revenue_crbt,
        coalesce(b.revenue_vas_info_music, 0) as revenue_vas_other,
        coalesce(b.revenue_vas_voice, 0) as revenue_vas_voice,
        coalesce(b.revenue_group, 0) as revenue_group,
        coalesce(b.new_business_revenue, 0) as new_business_revenue,
        coalesce(b.voice_vas_revenue, 0) as voice_vas_revenue,
        coalesce(b.new_business_revenue, 0) - coalesce(b.voice_vas_revenue, 0) as data_vas_revenue,
        coalesce(b.campaign_revenue, 0) as campaign_revenue,
        coalesce(b.ringback_trial_revenue, 0) as ringback_trial_revenue,
        coalesce(b.gprs_trial_revenue, 0) as gprs_trial_revenue,
        coalesce(b.vas_services_billed, 0) as vas_services_billed,
        coalesce(b.has_ringback, false) as has_ringback,
        coalesce(b.on_ringback_trial, false) as on_ringback_trial,
        coalesce(b.on_gprs_trial, false) as on_gprs_trial,
        coalesce(u.mou, 0) as mou,
        coalesce(u.voice_min_out, 0) as voice_min_out,
        coalesce(u.voice_min_in, 0) as voice_min_in,
        coalesce(u.calls_out, 0) as calls_out,
        u.offnet_call_share,
        coalesce(u.roam_min, 0) as roam_min,
        coalesce(u.sms_out, 0) as sms_out,
        coalesce(u.mms_out, 0) as mms_out,
        coalesce(u.data_mb, 0) as data_mb,
        coalesce(u.active_days, 0) as active_days,
        coalesce(p.topup_amount, 0) as topup_amount,
        coalesce(p.payment_amount, 0) as payment_amount,
        coalesce(p.arrears_at_last_payment, 0) as arrears,
        coalesce(v.vas_orders, 0) as vas_orders,
        coalesce(v.vas_cancels, 0) as vas_cancels,
        coalesce(m.campaign_contacts, 0) as campaign_contacts,
        coalesce(m.campaign_control_assignments, 0) as campaign_control_assignments,
        coalesce(m.campaign_responses, 0) as campaign_responses,
        coalesce(c.complaints, 0) as complaints,
        coalesce(c.complaints_unresolved, 0) as complaints_unresolved,
        g.sub_id is not null as is_group_member,
        g.group_id,
        g.vnet_id,
        {{ ratio('coalesce(b.revenue, 0) - h.arpu_prev_3m', 'h.arpu_prev_3m') }} as arpu_change_3m,
        {{ ratio('coalesce(u.mou, 0) - h.mou_prev_3m', 'h.mou_prev_3m') }} as mou_change_3m,
        {{ ratio('coalesce(u.data_mb, 0) - h.dou_prev_3m', 'h.dou_prev_3m') }} as dou_change_3m,
        s.churned_in_month,
        case
            when nm.month is null then null
            else coalesce(nx.churned_in_month, false)
        end as churned_next_month
    from subscribers as s
    left join billing as b on b.month = s.month and b.sub_id = s.sub_id
    left join usage as u on u.month = s.month and u.sub_id = s.sub_id
    left join payments as p on p.month = s.month and p.sub_id = s.sub_id
    left join vas_events as v on v.month = s.month and v.sub_id = s.sub_id
    left join marketing as m on m.month = s.month and m.sub_id = s.sub_id
    left join complaints as c on c.month = s.month and c.sub_id = s.sub_id
    left join memberships as g on g.month = s.month and g.sub_id = s.sub_id
    left join previous_months as h on h.month = s.month and h.sub_id = s.sub_id
    left join loaded_months as nm on nm.month = {{ add_months('s.month', 1) }}
    left join {{ 'next_months' if inc else 'all_subscriber_months' }} as nx
        on nx.month = nm.month and nx.sub_id = s.sub_id
),

segmented as (
    select
        j.*,
        case
            when j.churned_in_month then 'churned'
            when j.tenure_months < t.new_tenure_months then 'new'
            when j.mou = 0 and j.sms_out = 0 and j.data_mb = 0 then 'silent'
            when j.arpu_change_3m <= t.unstable_arpu_drop then 'unstable'
            else 'active'
        end as lifecycle_stage,
        case
            when j.mou >= t.mou_high_min then 'high'
            when j.mou <= t.mou_low_max then 'low'
            else 'mid'
        end as voice_level,
        case
            when j.sms_out + j.data_mb >= t.data_score_high_min then 'high'
            when j.sms_out + j.data_mb <= t.data_score_low_max then 'low'
            else 'mid'
        end as data_level
    from joined as j
    cross join thresholds as t
)

select
    s.*,
    vb.value_band,
    bb.behaviour_band,
    {{ built_through_load_id() }} as _built_through_load_id
from segmented as s
left join {{ ref('value_bands') }} as vb on s.revenue >= vb.min_arpu and s.revenue < vb.max_arpu
left join {{ ref('behaviour_bands') }} as bb on bb.voice_level = s.voice_level and bb.data_level = s.data_level

{{ config(materialized='table') }}

-- One row per subscriber per month: the features that churn and propensity training and scoring both read,
-- each computed from data up to that month, and the labels (what happened in the months after).
-- A table, rebuilt whole on every build: the labels of earlier months change when a new month is loaded,
-- and day counts (days since the last complaint or contact) reach back over all history.
{%- set held_services = ['CRBT', 'GPRS5', 'GPRS20', 'FETION', 'MUSIC', 'NEWS', 'MAIL139', 'D12580', 'MONTERNET',
                         'CALLERID', 'FORWARD', 'VMAIL'] %}
{%- set propensity_products = ['CRBT', 'GPRS5', 'FETION', 'MUSIC', 'NEWS'] %}
{%- set horizon = var('churn_horizon_months') | int %}
{%- set trial_of = {'CRBT': 'on_ringback_trial', 'GPRS5': 'on_gprs_trial'} %}
with c360 as (
    select * from {{ ref('customer_360') }}
),

usage as (
    select month, sub_id, avg_daily_contacts from {{ ref('int_usage__monthly') }}
),

handsets as (
    select * from {{ ref('handset_capabilities') }}
),

held as (
    select
        month,
        sub_id,
        {% for p in held_services -%}
        max(case when product_id = '{{ p }}' then 1 else 0 end) = 1 as holds_{{ p | lower }}{{ "," if not loop.last }}
        {% endfor -%}
    from {{ ref('int_vas__holdings_monthly') }}
    group by month, sub_id
),

-- taking up a product in a month: a non-trial order event, or being billed for it (an order that the
-- event feed missed still shows on the bill)
taken_up as (
    select event_month as month, sub_id, service_code as product_id from {{ ref('stg_vas__events') }}
    where event = 'order' and not is_trial
    union
    select month, sub_id, product_id from {{ ref('int_vas__holdings_monthly') }}
),

taken_up_monthly as (
    select
        month,
        sub_id,
        {% for p in propensity_products -%}
        max(case when product_id = '{{ p }}' then 1 else 0 end) = 1 as takes_{{ p | lower }}{{ "," if not loop.last }}
        {% endfor -%}
    from taken_up
    group by month, sub_id
),

crm_months as (
    select distinct month from {{ ref('int_subscribers__monthly') }}
),

-- "next month is known" for orders needs both its CRM snapshot and its bills
order_label_months as (
    select month from crm_months
    where month in (select distinct month from {{ ref('int_billing__monthly') }})
),

churn_events as (
    select month, sub_id from {{ ref('int_subscribers__monthly') }} where churned_in_month
),

churn_horizon as (
    -- the horizon is known only when all of its months are loaded
    select
        c.month,
        c.sub_id,
        count(distinct h.month) as horizon_months_loaded,
        max(case when ev.sub_id is null then 0 else 1 end) as churns_within_horizon
    from c360 as c
    left join crm_months as h on h.month > c.month and h.month <= {{ add_months('c.month', horizon) }}
    left join churn_events as ev on ev.month = h.month and ev.sub_id = c.sub_id
    group by c.month, c.sub_id
)

select
    c.month,
    c.sub_id,
    c.in_crm_snapshot and c.status in ('active', 'suspended') and not c.churned_in_month as is_active,
    c.brand,
    c.payment_type,
    c.plan_id,
    c.city_code,
    c.tenure_months,
    c.age_years,
    c.gender,
    c.star_level,
    c.imei_tac,
    case
        when hs.supports_java and hs.supports_music then 'smart'
        when hs.supports_gprs then 'feature'
        else 'basic'
    end as terminal_class,
    {% for capability in ['gprs', 'mms', 'java', 'music', 'wap'] -%}
    coalesce(hs.supports_{{ capability }}, false) as supports_{{ capability }},
    {% endfor -%}
    c.revenue,
    c.revenue_voice,
    c.revenue_sms,
    c.revenue_gprs,
    c.revenue_crbt + c.revenue_vas_other as revenue_vas,
    c.mou,
    c.sms_out,
    c.mms_out,
    c.data_mb,
    c.calls_out,
    c.active_days,
    c.offnet_call_share,
    c.roam_min,
    u.avg_daily_contacts as distinct_contacts_avg,
    c.arpu_change_3m,
    c.mou_change_3m,
    c.dou_change_3m,
    {{ ratio('c.revenue - prev.revenue', 'prev.revenue') }} as revenue_change_1m,
    {{ ratio('c.mou - prev.mou', 'prev.mou') }} as mou_change_1m,
    c.complaints,
    coalesce(ch.complaints_3m, 0) as complaints_3m,
    {{ month_end('c.month') }} - cast(ch.last_complaint_at as date) as days_since_complaint,
    c.arrears,
    -- a postpaid subscriber billed last month who paid nothing this month owes money, though no payment
    -- row carries the balance (arrears is the balance after the month's last payment)
    c.arrears > 0
    or (c.payment_type = 'postpaid' and c.payment_amount = 0 and coalesce(prev.revenue, 0) > 0) as has_arrears,
    c.topup_amount,
    c.payment_amount,
    coalesce(
        c.contract_end between {{ add_months('c.month', 1) }} and {{ month_end(add_months('c.month', 1)) }}, false
    ) as contract_ends_next_month,
    c.contract_end - {{ month_end('c.month') }} as days_to_contract_end,
    c.is_group_member,
    c.campaign_contacts,
    c.campaign_responses,
    {{ month_end('c.month') }} - cast(mh.last_contacted_at as date) as days_since_contact,
    coalesce(crm.opted_out, false) as opted_out,
    {% for p in held_services -%}
    coalesce(hd.holds_{{ p | lower }}, false) as holds_{{ p | lower }},
    {% endfor -%}
    {% for p in held_services -%}
    case when hd.holds_{{ p | lower }} then 1 else 0 end{{ " +" if not loop.last else " as vas_held," }}
    {% endfor -%}
    case
        when hz.horizon_months_loaded < {{ horizon }} then null
        else hz.churns_within_horizon = 1
    end as churn_next,
    {% for p in propensity_products -%}
    case
        when nl.month is null or coalesce(hd.holds_{{ p | lower }}, false) then null
        {%- if p in trial_of %}
        -- on the trial package: the trial decides (its keep rate), not the subscriber's propensity
        when c.{{ trial_of[p] }} then null
        {%- endif %}
        else coalesce(nx.takes_{{ p | lower }}, false)
    end as orders_{{ p | lower }}_next{{ "," if not loop.last }}
    {% endfor %}
from c360 as c
left join c360 as prev on prev.month = {{ add_months('c.month', -1) }} and prev.sub_id = c.sub_id
left join usage as u on u.month = c.month and u.sub_id = c.sub_id
left join handsets as hs on hs.tac = c.imei_tac
left join {{ ref('stg_crm__subscribers') }} as crm on crm.snapshot_month = c.month and crm.sub_id = c.sub_id
left join held as hd on hd.month = c.month and hd.sub_id = c.sub_id
left join {{ ref('int_service__complaint_history') }} as ch on ch.month = c.month and ch.sub_id = c.sub_id
left join {{ ref('int_marketing__contact_history') }} as mh on mh.month = c.month and mh.sub_id = c.sub_id
left join churn_horizon as hz on hz.month = c.month and hz.sub_id = c.sub_id
left join order_label_months as nl on nl.month = {{ add_months('c.month', 1) }}
left join taken_up_monthly as nx on nx.month = nl.month and nx.sub_id = c.sub_id

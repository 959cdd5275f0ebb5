-- delete+insert on month: each rebuilt month is replaced whole (a key gone from a re-delivery goes too)
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month') }}

with items as (
    select * from {{ ref('stg_billing__items') }}
    where {{ months_to_build('bill_month') }}
),

classes as (
    select * from {{ ref('billing_item_classes') }}
),

classified as (
    select
        items.*,
        classes.item_code is not null as is_classified,
        coalesce(classes.is_new_business, false) as is_new_business,
        coalesce(classes.is_voice_vas, false) as is_voice_vas,
        coalesce(classes.is_trial_package, false) as is_trial_package,
        classes.trial_kind
    from items
    left join classes on classes.item_code = items.item_code
),

monthly as (
    select
        bill_month as month,
        sub_id,
        sum(amount) as revenue,
        sum(discount) as discount,
        {% for category in ['monthly_fee', 'voice', 'sms', 'mms', 'gprs', 'crbt'] -%}
        coalesce(sum(case when revenue_category = '{{ category }}' then amount end), 0) as revenue_{{ category }},
        {% endfor -%}
        coalesce(sum(case when substr(revenue_category, 1, 4) = 'vas_' and revenue_category <> 'vas_voice'
                          then amount end), 0) as revenue_vas_info_music,
        coalesce(sum(case when revenue_category = 'vas_voice' then amount end), 0) as revenue_vas_voice,
        coalesce(sum(case when substr(revenue_category, 1, 6) = 'group_' then amount end), 0) as revenue_group,
        coalesce(sum(case when is_new_business then amount end), 0) as new_business_revenue,
        coalesce(sum(case when is_voice_vas then amount end), 0) as voice_vas_revenue,
        coalesce(sum(case when is_trial_package then amount end), 0) as campaign_revenue,
        coalesce(sum(case when trial_kind = 'ringback' then amount end), 0) as ringback_trial_revenue,
        coalesce(sum(case when trial_kind = 'gprs' then amount end), 0) as gprs_trial_revenue,
        coalesce(sum(case when not is_classified then amount end), 0) as unclassified_revenue,
        count(distinct case when substr(revenue_category, 1, 4) = 'vas_' or revenue_category = 'crbt'
                            then item_code end) as vas_services_billed,
        max(case when item_code in ('CRBT', 'CRBT_TRIAL') then 1 else 0 end) = 1 as has_ringback,
        max(case when item_code = 'CRBT_TRIAL' then 1 else 0 end) = 1 as on_ringback_trial,
        max(case when item_code = 'GPRS_TRIAL' then 1 else 0 end) = 1 as on_gprs_trial,
        max(case when revenue_category = 'gprs' then 1 else 0 end) = 1 as uses_gprs_billed
    from classified
    group by bill_month, sub_id
)

select
    *,
    {{ built_through_load_id() }} as _built_through_load_id
from monthly

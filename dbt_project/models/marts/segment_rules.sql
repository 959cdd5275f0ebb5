-- One row per active subscriber per month (ml_features.is_active): the rule segments (docs/segments.md).
-- Thresholds come from the segment_thresholds seed, brand ideals from brand_ideal_segments.
with features as (
    select * from {{ ref('ml_features') }}
    where is_active
),

c360 as (
    select month, sub_id, lifecycle_stage, value_band, behaviour_band from {{ ref('customer_360') }}
),

holdings as (
    select * from {{ ref('int_vas__holdings_monthly') }}
),

thresholds as (
    {{ seed_parameters('segment_thresholds', [
        'leaking_value_band_max', 'leaking_offnet_share_min', 'high_risk_value_band_max', 'high_risk_arpu_drop',
        'loyal_min_months'
    ]) }}
),

service_holdings as (
    -- per service: the longest current holding of its full products, and whether its trial is held
    select
        month,
        sub_id,
        max(case when product_id = 'CRBT' then months_held end) as ringback_months_held,
        max(case when product_id = 'CRBT_TRIAL' then 1 else 0 end) = 1 as on_ringback_trial,
        max(case when product_id in ('GPRS5', 'GPRS20') then months_held end) as gprs_months_held,
        max(case when product_id = 'GPRS_TRIAL' then 1 else 0 end) = 1 as on_gprs_trial
    from holdings
    where product_id in ('CRBT', 'CRBT_TRIAL', 'GPRS5', 'GPRS20', 'GPRS_TRIAL')
    group by month, sub_id
),

joined as (
    select
        f.month,
        f.sub_id,
        f.brand,
        f.revenue,
        f.offnet_call_share,
        f.arpu_change_3m,
        f.supports_gprs,
        c.lifecycle_stage as activity_class,
        c.value_band,
        c.behaviour_band,
        cast(substr(c.value_band, 2) as integer) as value_band_number,
        sh.ringback_months_held,
        coalesce(sh.on_ringback_trial, false) as on_ringback_trial,
        sh.gprs_months_held,
        coalesce(sh.on_gprs_trial, false) as on_gprs_trial
    from features as f
    inner join c360 as c on c.month = f.month and c.sub_id = f.sub_id
    left join service_holdings as sh on sh.month = f.month and sh.sub_id = f.sub_id
)

select
    j.month,
    j.sub_id,
    j.brand,
    j.revenue,
    j.activity_class,
    -- the ladder: holders by how long they have held it; ringback works on every handset, so every
    -- non-holder is a potential taker; GPRS only on a GPRS handset (otherwise null: not addressable)
    case
        when j.ringback_months_held >= t.loyal_min_months then 'loyal'
        when j.ringback_months_held is not null then 'active'
        when j.on_ringback_trial then 'trial'
        else 'potential'
    end as ringback_ladder,
    case
        when j.gprs_months_held >= t.loyal_min_months then 'loyal'
        when j.gprs_months_held is not null then 'active'
        when j.on_gprs_trial then 'trial'
        when j.supports_gprs then 'potential'
    end as gprs_ladder,
    j.value_band,
    j.behaviour_band,
    j.value_band || '×' || j.behaviour_band as value_behaviour,
    case
        when j.value_band_number <= t.high_risk_value_band_max and j.arpu_change_3m <= t.high_risk_arpu_drop
            then 'high_value_high_risk'
        when j.value_band_number <= t.leaking_value_band_max and j.offnet_call_share >= t.leaking_offnet_share_min
            then 'high_value_leaking'
        else 'none'
    end as value_risk,
    b.brand is not null as brand_fit
from joined as j
cross join thresholds as t
left join {{ ref('brand_ideal_segments') }} as b
    on b.brand = j.brand and b.value_band = j.value_band and b.behaviour_band = j.behaviour_band

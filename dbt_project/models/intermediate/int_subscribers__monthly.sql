-- delete+insert on month: each rebuilt month is replaced whole (a key gone from a re-delivery goes too)
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month') }}

with subscribers as (
    select * from {{ ref('stg_crm__subscribers') }}
    where {{ months_to_build('snapshot_month') }}
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

final as (
    select
        s.snapshot_month as month,
        s.sub_id,
        s.cust_id,
        s.account_id,
        s.msisdn_hash,
        s.msisdn_masked,
        s.brand,
        s.payment_type,
        s.plan_id,
        s.city_code,
        s.activated_at,
        s.activation_type,
        s.status,
        s.status_at,
        s.deactivation_reason,
        s.channel_id,
        s.imei_tac,
        s.contract_end,
        s.activated_at < s.snapshot_month as active_at_month_start,
        s.activated_at >= s.snapshot_month as activated_in_month,
        s.status = 'deactivated' and s.status_at >= s.snapshot_month as churned_in_month,
        s.status = 'deactivated' and s.deactivation_reason = 'port_out' and s.status_at >= s.snapshot_month
            as ported_out_in_month,
        s.contract_end is not null
            and s.contract_end between s.snapshot_month and {{ month_end('s.snapshot_month') }}
            as contract_ends_in_month,
        cast(
            (extract(year from s.snapshot_month) * 12 + extract(month from s.snapshot_month))
            - (extract(year from s.activated_at) * 12 + extract(month from s.activated_at))
            as integer
        ) as tenure_months,
        c.gender,
        cast(extract(year from s.snapshot_month) - extract(year from c.birth_date) as integer) as age_years,
        c.star_level,
        c.cust_type
    from subscribers as s
    left join customers as c
        on c.snapshot_month = s.snapshot_month and c.cust_id = s.cust_id
)

select
    *,
    {{ built_through_load_id() }} as _built_through_load_id
from final

with source as (
    select * from {{ source('raw', 'crm_subscriber') }}
)

select
    {{ period_month('_file') }} as snapshot_month,
    sub_id,
    {{ hash_pii('msisdn') }} as msisdn_hash,
    {{ mask_msisdn('msisdn') }} as msisdn_masked,
    cust_id,
    account_id,
    brand,
    payment_type,
    plan_id,
    city_code,
    activated_at,
    activation_type,
    status,
    status_at,
    deactivation_reason,
    channel_id,
    imei_tac,
    contract_end,
    marketing_opt_out = 1 as opted_out,
    _load_id as load_id
from source

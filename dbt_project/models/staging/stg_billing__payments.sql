with source as (
    select * from {{ source('raw', 'recharge_payment') }}
)

select
    txn_id,
    sub_id,
    ts as txn_at,
    {{ month_of('ts') }} as txn_month,
    amount,
    channel,
    txn_type,
    arrears_after
from source

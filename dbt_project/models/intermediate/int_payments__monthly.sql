with payments as (
    select * from {{ ref('stg_billing__payments') }}
),

ordered as (
    select
        *,
        row_number() over (partition by txn_month, sub_id order by txn_at desc, txn_id desc) as recency
    from payments
)

select
    txn_month as month,
    sub_id,
    count(*) as transactions,
    coalesce(sum(case when txn_type = 'topup' then amount end), 0) as topup_amount,
    coalesce(sum(case when txn_type = 'payment' then amount end), 0) as payment_amount,
    max(case when recency = 1 then arrears_after end) as arrears_at_last_payment
from ordered
group by txn_month, sub_id

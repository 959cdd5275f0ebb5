{{ config(materialized='table') }}

-- One row per subscriber, month and service held at month end. A service is billed for every month it is
-- held at month end (the monthly fee of a VAS, package or trial), so the month's bill items per product_id
-- are the month-end holdings. months_held counts the consecutive loaded months held up to this one (the
-- first loaded month counts 1: what was held before the warehouse starts is unknown).
with services as (
    select distinct product_id from {{ ref('stg_product__catalog') }}
    where product_type in ('vas', 'voice_vas', 'trial')
),

billed as (
    select distinct
        items.bill_month as month,
        items.sub_id,
        items.product_id
    from {{ ref('stg_billing__items') }} as items
    inner join services on services.product_id = items.product_id
),

numbered as (
    select
        *,
        cast(extract(year from month) * 12 + extract(month from month) as integer)
        - cast(row_number() over (partition by sub_id, product_id order by month) as integer) as holding_spell
    from billed
)

select
    month,
    sub_id,
    product_id,
    cast(row_number() over (partition by sub_id, product_id, holding_spell order by month) as integer)
        as months_held
from numbered

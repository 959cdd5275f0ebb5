-- One row per month and ordered pair of services A -> B (antecedent, consequent): association rules over
-- the month-end holdings of the month's active subscribers. Every pair of services held by
-- anyone that month appears, with holders = 0 when nobody holds both. Over N active subscribers:
-- support = holders(A and B) / N, confidence = holders(A and B) / holders(A), lift = confidence / support(B).
-- Trials are not services of their own here (CRBT_TRIAL, GPRS_TRIAL are left out).
with active as (
    select month, sub_id from {{ ref('ml_features') }}
    where is_active
),

population as (
    select month, count(*) as subscribers from active group by month
),

held as (
    select h.month, h.sub_id, h.product_id
    from {{ ref('int_vas__holdings_monthly') }} as h
    inner join active as a on a.month = h.month and a.sub_id = h.sub_id
    where h.product_id not in ('CRBT_TRIAL', 'GPRS_TRIAL')
),

service_holders as (
    select month, product_id, count(*) as holders from held group by month, product_id
),

pair_holders as (
    select
        a.month,
        a.product_id as antecedent,
        b.product_id as consequent,
        count(*) as holders
    from held as a
    inner join held as b on b.month = a.month and b.sub_id = a.sub_id and b.product_id <> a.product_id
    group by a.month, a.product_id, b.product_id
),

pairs as (
    select
        a.month,
        a.product_id as antecedent,
        b.product_id as consequent,
        a.holders as antecedent_holders,
        b.holders as consequent_holders,
        coalesce(ph.holders, 0) as holders
    from service_holders as a
    inner join service_holders as b on b.month = a.month and b.product_id <> a.product_id
    left join pair_holders as ph
        on ph.month = a.month and ph.antecedent = a.product_id and ph.consequent = b.product_id
)

select
    p.month,
    p.antecedent,
    p.consequent,
    {{ ratio('p.holders', 'n.subscribers') }} as support,
    {{ ratio('p.holders', 'p.antecedent_holders') }} as confidence,
    ({{ ratio('p.holders', 'p.antecedent_holders') }})
    / ({{ ratio('p.consequent_holders', 'n.subscribers') }}) as lift,
    {{ ratio('p.antecedent_holders', 'n.subscribers') }} as antecedent_support,
    {{ ratio('p.consequent_holders', 'n.subscribers') }} as consequent_support,
    p.holders
from pairs as p
inner join population as n on n.month = p.month

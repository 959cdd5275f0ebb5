-- One row per month, segment type and segment: customers and revenue of each rule segment (segment_rules)
-- and their shares of the month's active subscribers and of their revenue. Within a type and month the
-- segments partition the subscribers, so each share sums to 1. Brand fit is counted per brand
-- ('GOTONE fit' / 'GOTONE misfit'): the share of a brand's subscribers in its ideal cells is fit / (fit + misfit).
with rules as (
    select * from {{ ref('segment_rules') }}
),

labelled as (
    {%- set types = {
        'activity_class': 'activity_class',
        'ringback_ladder': 'ringback_ladder',
        'gprs_ladder': "coalesce(gprs_ladder, 'not_capable')",
        'value_band': 'value_band',
        'behaviour_band': 'behaviour_band',
        'value_behaviour': 'value_behaviour',
        'value_risk': 'value_risk',
        'brand_fit': "brand || case when brand_fit then ' fit' else ' misfit' end",
    } %}
    {% for segment_type, expr in types.items() -%}
    select month, '{{ segment_type }}' as segment_type, {{ expr }} as segment, revenue from rules
    {{ "union all" if not loop.last }}
    {% endfor %}
),

counted as (
    select
        month,
        segment_type,
        segment,
        count(*) as customers,
        sum(revenue) as revenue
    from labelled
    group by month, segment_type, segment
)

select
    month,
    segment_type,
    segment,
    customers,
    {{ ratio('customers', 'sum(customers) over (partition by month, segment_type)') }} as customer_share,
    revenue,
    {{ ratio('revenue', 'sum(revenue) over (partition by month, segment_type)') }} as revenue_share
from counted

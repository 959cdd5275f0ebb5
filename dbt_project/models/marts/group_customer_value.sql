-- One row per group customer per month: value, grade A-D and the cleanup findings (docs/marts.md).
with findings as (
    select * from {{ ref('int_groups__findings') }}
),

members as (
    select * from {{ ref('stg_group__members') }} where is_current
),

c360 as (
    select month, sub_id, revenue, active_days from {{ ref('customer_360') }}
),

weights as (
    select
        max(case when measure = 'revenue' then weight end) as w_revenue,
        max(case when measure = 'members' then weight end) as w_members,
        max(case when measure = 'product_penetration' then weight end) as w_products,
        max(case when measure = 'active_share' then weight end) as w_active,
        max(case when measure = 'growth' then weight end) as w_growth
    from {{ ref('group_grade_weights') }}
),

product_lines as (
    select count(distinct product_id) as lines
    from {{ ref('stg_product__catalog') }}
    where product_type = 'group'
),

member_value as (
    select
        m.snapshot_month as month,
        m.group_id,
        coalesce(sum(c.revenue), 0) as members_revenue,
        sum(case when c.active_days > 0 then 1 else 0 end) as active_members
    from members as m
    left join c360 as c on c.month = m.snapshot_month and c.sub_id = m.sub_id
    group by m.snapshot_month, m.group_id
),

valued as (
    select
        f.*,
        coalesce(v.members_revenue, 0) as members_revenue,
        coalesce(v.active_members, 0) as active_members,
        f.group_product_revenue + coalesce(v.members_revenue, 0) as total_revenue
    from findings as f
    left join member_value as v on v.month = f.month and v.group_id = f.group_id
),

with_growth as (
    select
        cur.*,
        {{ ratio('cur.total_revenue', 'cur.members_current') }} as revenue_per_member,
        {{ ratio('cur.active_members', 'cur.members_current') }} as active_member_share,
        {{ ratio('cur.group_product_lines', '(select lines from product_lines)') }} as product_penetration,
        {{ ratio('cur.members_left_in_month', 'cur.members_at_month_start') }} as member_churn_rate,
        {{ ratio('cur.total_revenue - prev.total_revenue', 'prev.total_revenue') }} as revenue_growth,
        max(cur.total_revenue) over (partition by cur.month) as best_total_revenue,
        max(cur.members_current) over (partition by cur.month) as most_members
    from valued as cur
    left join valued as prev on prev.group_id = cur.group_id and prev.month = {{ add_months('cur.month', -1) }}
),

scored as (
    select
        g.*,
        w.w_revenue * coalesce({{ ratio('g.total_revenue', 'g.best_total_revenue') }}, 0)
        + w.w_members * coalesce({{ ratio('g.members_current', 'g.most_members') }}, 0)
        + w.w_products * coalesce(g.product_penetration, 0)
        + w.w_active * coalesce(g.active_member_share, 0)
        + w.w_growth * (least(greatest(coalesce(g.revenue_growth, 0), -1), 1) + 1) / 2 as value_score
    from with_growth as g
    cross join weights as w
),

grades as (
    select grade, min_score, lead(min_score) over (order by min_score) as next_min_score
    from {{ ref('group_grade_cutoffs') }}
)

select
    s.*,
    g.grade as value_grade
from scored as s
left join grades as g
    on s.value_score >= g.min_score and (g.next_min_score is null or s.value_score < g.next_min_score)

-- One row per group customer per month: the data-cleanup findings (docs/marts.md).
-- Thresholds come from the group_cleanup_rules seed.
with groups as (
    select * from {{ ref('stg_group__customers') }}
),

members as (
    select * from {{ ref('stg_group__members') }}
),

products as (
    select * from {{ ref('stg_group__products') }}
),

subscribers as (
    select snapshot_month, sub_id, city_code from {{ ref('stg_crm__subscribers') }}
),

usage as (
    select month, sub_id, voice_min_out + sms_out + data_mb as outgoing_use from {{ ref('int_usage__monthly') }}
),

rules as (
    {{ seed_parameters('group_cleanup_rules', ['few_members_max', 'high_churn_share', 'high_churn_min_members']) }}
),

current_members as (
    select * from members where is_current
),

member_counts as (
    select
        g.snapshot_month,
        g.group_id,
        count(m.sub_id) as members_current
    from groups as g
    left join current_members as m on m.snapshot_month = g.snapshot_month and m.group_id = g.group_id
    group by g.snapshot_month, g.group_id
),

churn as (
    select
        snapshot_month,
        group_id,
        sum(case when joined_at < snapshot_month and (left_at is null or left_at >= snapshot_month) then 1 else 0 end)
            as members_at_month_start,
        sum(case when left_at >= snapshot_month then 1 else 0 end) as members_left_in_month
    from members
    group by snapshot_month, group_id
),

vnets as (
    select distinct snapshot_month, group_id, vnet_id from products where vnet_id is not null
),

vnet_sizes as (
    select
        v.snapshot_month,
        v.group_id,
        v.vnet_id,
        count(m.sub_id) as vnet_members,
        count(distinct s.city_code) as vnet_cities
    from vnets as v
    left join current_members as m on m.snapshot_month = v.snapshot_month and m.vnet_id = v.vnet_id
    left join subscribers as s on s.snapshot_month = m.snapshot_month and s.sub_id = m.sub_id
    group by v.snapshot_month, v.group_id, v.vnet_id
),

vnet_findings as (
    select
        snapshot_month,
        group_id,
        sum(case when vnet_members = 0 then 1 else 0 end) as vnets_no_members,
        sum(case when vnet_members between 1 and (select few_members_max from rules) then 1 else 0 end)
            as vnets_few_members,
        sum(case when vnet_cities > 1 then 1 else 0 end) as vnets_cross_region
    from vnet_sizes
    group by snapshot_month, group_id
),

legal_persons as (
    select snapshot_month, legal_person_hash, count(*) as groups_of_legal_person
    from groups
    group by snapshot_month, legal_person_hash
),

member_lists as (
    select
        snapshot_month,
        group_id,
        string_agg(cast(sub_id as varchar), ',' order by sub_id) as member_list
    from current_members
    group by snapshot_month, group_id
),

identical_lists as (
    select snapshot_month, member_list, count(*) as groups_with_list
    from member_lists
    group by snapshot_month, member_list
),

member_cities as (
    select m.snapshot_month, m.group_id, s.city_code, count(*) as members_in_city
    from current_members as m
    inner join subscribers as s on s.snapshot_month = m.snapshot_month and s.sub_id = m.sub_id
    group by m.snapshot_month, m.group_id, s.city_code
),

main_member_city as (
    select snapshot_month, group_id, city_code as members_main_city
    from (
        select
            *,
            row_number() over (
                partition by snapshot_month, group_id order by members_in_city desc, city_code
            ) as city_rank
        from member_cities
    ) as ranked
    where city_rank = 1
),

product_findings as (
    select
        snapshot_month,
        group_id,
        count(*) as group_products,
        count(distinct product_id) as group_product_lines,
        sum(case when licensed_users = 0 then 1 else 0 end) as products_no_users,
        sum(case when monthly_fee = 0 then 1 else 0 end) as products_no_fees,
        sum(monthly_fee) as group_product_revenue
    from products
    group by snapshot_month, group_id
),

fake_members as (
    select m.snapshot_month, m.group_id, count(*) as suspected_fake_members
    from current_members as m
    left join usage as u on u.month = m.snapshot_month and u.sub_id = m.sub_id
    where coalesce(u.outgoing_use, 0) = 0
    group by m.snapshot_month, m.group_id
),

final as (
    select
        g.snapshot_month as month,
        g.group_id,
        g.legal_person_hash,
        g.city_code,
        g.industry,
        g.account_manager is not null as has_account_manager,
        mc.members_current,
        coalesce(ch.members_at_month_start, 0) as members_at_month_start,
        coalesce(ch.members_left_in_month, 0) as members_left_in_month,
        coalesce(pf.group_products, 0) as group_products,
        coalesce(pf.group_product_lines, 0) as group_product_lines,
        coalesce(pf.group_product_revenue, 0) as group_product_revenue,
        mc.members_current = 0 as finding_no_members,
        mc.members_current between 1 and (select few_members_max from rules) as finding_few_members,
        coalesce(vf.vnets_no_members, 0) as vnets_no_members,
        coalesce(vf.vnets_few_members, 0) as vnets_few_members,
        coalesce(vf.vnets_cross_region, 0) as vnets_cross_region,
        lp.groups_of_legal_person > 1 as finding_shared_legal_person,
        coalesce(il.groups_with_list, 1) - 1 as identical_member_list_twins,
        g.industry is null as finding_missing_industry,
        g.account_manager is null as finding_no_account_manager,
        coalesce(pf.products_no_users, 0) as products_no_users,
        coalesce(pf.products_no_fees, 0) as products_no_fees,
        mm.members_main_city is not null and mm.members_main_city <> g.city_code as finding_region_mismatch,
        coalesce(fm.suspected_fake_members, 0) as suspected_fake_members,
        coalesce(ch.members_at_month_start, 0) >= (select high_churn_min_members from rules)
            and coalesce(ch.members_left_in_month, 0)
            >= (select high_churn_share from rules) * coalesce(ch.members_at_month_start, 0) as finding_high_churn
    from groups as g
    inner join member_counts as mc on mc.snapshot_month = g.snapshot_month and mc.group_id = g.group_id
    inner join legal_persons as lp
        on lp.snapshot_month = g.snapshot_month and lp.legal_person_hash = g.legal_person_hash
    left join churn as ch on ch.snapshot_month = g.snapshot_month and ch.group_id = g.group_id
    left join vnet_findings as vf on vf.snapshot_month = g.snapshot_month and vf.group_id = g.group_id
    left join member_lists as ml on ml.snapshot_month = g.snapshot_month and ml.group_id = g.group_id
    left join identical_lists as il on il.snapshot_month = ml.snapshot_month and il.member_list = ml.member_list
    left join main_member_city as mm on mm.snapshot_month = g.snapshot_month and mm.group_id = g.group_id
    left join product_findings as pf on pf.snapshot_month = g.snapshot_month and pf.group_id = g.group_id
    left join fake_members as fm on fm.snapshot_month = g.snapshot_month and fm.group_id = g.group_id
)

select * from final

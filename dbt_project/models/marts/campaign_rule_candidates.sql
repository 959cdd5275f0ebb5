-- One row per month, rule and subscriber: the candidates of the rule library's experience and CRM-group rules
-- (docs/models.md), before suppression, contact policy and caps (telco360/ml/targeting.py applies and counts them).
-- Each rule is one CTE: its condition over the month's active subscribers, and rule_score, the order in which
-- the monthly cap takes them (higher first). Only rules present in the campaign_rules seed are kept, so a rule
-- is switched off by removing its row there.
with features as (
    select * from {{ ref('ml_features') }}
    where is_active
),

rules as (
    select rule_id from {{ ref('campaign_rules') }}
    where extraction in ('experience', 'crm_group')
),

-- campus cell broadcast: young M-Zone subscribers (the campus age), the most SMS-active first
fetion_campus as (
    select
        month,
        sub_id,
        'FETION_CAMPUS' as rule_id,
        cast(sms_out as double precision) as rule_score
    from features
    where brand = 'MZONE' and age_years between 18 and 24
),

-- M-Zone then GoTone subscribers with an SMS history: every M-Zone candidate ranks above every GoTone one
fetion_sms_history as (
    select
        month,
        sub_id,
        'FETION_SMS_HISTORY' as rule_id,
        cast(sms_out as double precision) + case when brand = 'MZONE' then 1000000 else 0 end as rule_score
    from features
    where brand in ('MZONE', 'GOTONE') and sms_out >= 100
),

-- the handset runs the Fetion client and the subscriber already uses GPRS heavily
fetion_handset_gprs as (
    select
        month,
        sub_id,
        'FETION_HANDSET_GPRS' as rule_id,
        cast(data_mb as double precision) as rule_score
    from features
    where supports_java and data_mb >= 50
),

-- ringback trial for heavy voice users (their callers hear it most)
crbt_trial_voice as (
    select
        month,
        sub_id,
        'CRBT_TRIAL_VOICE' as rule_id,
        cast(mou as double precision) as rule_score
    from features
    where mou >= 300
),

-- GoTone GPRS trial: a GPRS handset, data used pay-per-use
gprs_trial_gotone as (
    select
        month,
        sub_id,
        'GPRS_TRIAL_GOTONE' as rule_id,
        cast(data_mb as double precision) as rule_score
    from features
    where brand = 'GOTONE' and supports_gprs and data_mb > 0
),

-- CRM group: members of group customers, the best connected first
grp_fetion as (
    select
        month,
        sub_id,
        'GRP_FETION' as rule_id,
        cast(distinct_contacts_avg as double precision) as rule_score
    from features
    where is_group_member
),

-- CRM group: voicemail for group members, offered by account managers to the highest spenders first
grp_vmail as (
    select
        month,
        sub_id,
        'GRP_VMAIL' as rule_id,
        cast(revenue as double precision) as rule_score
    from features
    where is_group_member
),

all_candidates as (
    select * from fetion_campus
    union all
    select * from fetion_sms_history
    union all
    select * from fetion_handset_gprs
    union all
    select * from crbt_trial_voice
    union all
    select * from gprs_trial_gotone
    union all
    select * from grp_fetion
    union all
    select * from grp_vmail
)

select
    c.month,
    c.rule_id,
    c.sub_id,
    coalesce(c.rule_score, 0) as rule_score
from all_candidates as c
inner join rules as r on r.rule_id = c.rule_id

-- One row per month: ringback trials that ended in the month and how many kept ringback (ordered CRBT
-- when the trial was cancelled). Measures the keep rate the KPI parameter assumes (70%, seed kpi_parameters).
with events as (
    select * from {{ ref('stg_vas__events') }}
),

trial_ends as (
    select event_month, sub_id, min(event_at) as ended_at
    from events
    where service_code = 'CRBT_TRIAL' and event = 'cancel'
    group by event_month, sub_id
),

kept as (
    select distinct t.event_month, t.sub_id
    from trial_ends as t
    inner join events as e
        on e.sub_id = t.sub_id
        and e.service_code = 'CRBT'
        and e.event = 'order'
        and e.event_at >= t.ended_at
        and e.event_at < t.ended_at + interval '1 day'
)

select
    t.event_month as month,
    count(*) as ringback_trials_ended,
    count(k.sub_id) as ringback_trials_kept,
    {{ ratio('count(k.sub_id)', 'count(*)') }} as ringback_keep_rate_measured
from trial_ends as t
left join kept as k on k.event_month = t.event_month and k.sub_id = t.sub_id
group by t.event_month

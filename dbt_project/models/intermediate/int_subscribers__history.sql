{{ config(
    materialized='incremental', incremental_strategy='scd2', unique_key='sub_id', on_schema_change='append_new_columns'
) }}

-- SCD2 history of subscriber attributes: one row per subscriber per period of unchanged attributes,
-- built from the monthly CRM snapshots (deterministic, and correct under backfills and reloads).
{{ scd2_from_snapshots(
    ref('stg_crm__subscribers'), 'sub_id',
    ['brand', 'payment_type', 'plan_id', 'city_code', 'status', 'channel_id', 'contract_end'],
    'crm_subscriber'
) }}

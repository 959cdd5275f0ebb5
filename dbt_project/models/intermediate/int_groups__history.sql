{{ config(
    materialized='incremental', incremental_strategy='scd2', unique_key='group_id', on_schema_change='append_new_columns'
) }}

-- SCD2 history of group-customer attributes: one row per group per period of unchanged attributes.
{{ scd2_from_snapshots(
    ref('stg_group__customers'), 'group_id',
    ['group_name', 'legal_person_hash', 'industry', 'city_code', 'account_manager', 'employees'],
    'group_customer'
) }}

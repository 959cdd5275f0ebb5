{{ config(
    materialized='incremental', incremental_strategy='scd2', unique_key='cust_id', on_schema_change='append_new_columns'
) }}

-- SCD2 history of customer attributes: one row per customer per period of unchanged attributes.
{{ scd2_from_snapshots(
    ref('stg_crm__customers'), 'cust_id',
    ['cust_name_hash', 'id_number_hash', 'gender', 'city_code', 'county_code', 'cust_type', 'star_level'],
    'crm_customer'
) }}

with source as (
    select * from {{ source('raw', 'crm_customer') }}
)

select
    {{ period_month('_file') }} as snapshot_month,
    cust_id,
    {{ hash_pii('cust_name') }} as cust_name_hash,
    {{ hash_pii('id_number') }} as id_number_hash,
    gender,
    birth_date,
    city_code,
    county_code,
    cust_type,
    star_level,
    created_at,
    _load_id as load_id
from source

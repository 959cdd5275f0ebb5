with source as (
    select * from {{ source('raw', 'group_customer') }}
)

select
    {{ period_month('_file') }} as snapshot_month,
    group_id,
    group_name,
    {{ hash_pii('legal_person_id') }} as legal_person_hash,
    industry,
    city_code,
    account_manager,
    employees,
    created_at
from source

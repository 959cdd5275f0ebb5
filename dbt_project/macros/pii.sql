{# Personal data never reaches staging in clear: hashed with a secret salt (joinable) or masked.
   The salt comes only from TELCO360_PII_SALT: no default, since a known salt over the 11-digit MSISDN space
   is brute-forced in minutes. `telco360 build` sets it for the embedded demo (a random salt generated once
   under TELCO360_HOME/secrets); every other warehouse must be given one. Checked only when SQL runs, so
   `dbt parse` (the Airflow manifest) needs no secret. #}

{% macro pii_salt() -%}
    {%- set salt = env_var("TELCO360_PII_SALT", "") -%}
    {%- if execute and salt | length < 16 -%}
        {{ exceptions.raise_compiler_error(
            "TELCO360_PII_SALT is not set (or shorter than 16 characters): the " ~ target.name
            ~ " warehouse refuses to hash personal data without a secret salt") }}
    {%- endif -%}
    '{{ salt | replace("'", "''") }}'
{%- endmacro %}

{% macro hash_pii(column) -%}
    {{ return(adapter.dispatch('hash_pii')(column)) }}
{%- endmacro %}

{% macro default__hash_pii(column) -%}
    case when {{ column }} is null then null else sha256({{ pii_salt() }} || {{ column }}) end
{%- endmacro %}

{% macro postgres__hash_pii(column) -%}
    case when {{ column }} is null then null
         else encode(sha256(convert_to({{ pii_salt() }} || {{ column }}, 'UTF8')), 'hex') end
{%- endmacro %}

{% macro mask_msisdn(column) -%}
    substr({{ column }}, 1, 3) || '****' || substr({{ column }}, 8, 4)
{%- endmacro %}

{# Personal data (SPEC §8) never reaches staging in clear: hashed with a secret salt (joinable) or masked. #}

{% macro pii_salt() -%}
    '{{ env_var("TELCO360_PII_SALT", "telco360-dev-salt") | replace("'", "''") }}'
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

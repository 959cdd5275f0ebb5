"""Stand-in for dbt's cross-database macros when sqlfluff templates the models (lint only)."""


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"({from_date_or_timestamp} + interval '{interval} {datepart}')"

"""The Airflow assets the DAGs exchange, named once (light: no Airflow import until called)."""

from __future__ import annotations

MARTS = [
    "customer_360",
    "group_customer_value",
    "kpi_monthly",
    "campaign_effect",
    "ml_features",
    "segment_rules",
    "segment_summary",
    "product_associations",
    "campaign_rule_candidates",
]


def raw_asset(source: str):
    from airflow.sdk import Asset

    return Asset(name=f"raw.{source}", uri=f"telco360://warehouse/raw/{source}", group="raw")


def mart_asset(name: str):
    from airflow.sdk import Asset

    return Asset(name=f"marts.{name}", uri=f"telco360://warehouse/marts/{name}", group="marts")


def models_asset():
    """Emitted when training has run on newly published months (whatever the registry then decided)."""
    from airflow.sdk import Asset

    return Asset(name="models.trained", uri="telco360://mlflow/models", group="models")

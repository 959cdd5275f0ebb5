"""
### train_models — churn early warning and propensity models, tracked in MLflow

Runs when the quality gate publishes the marts (asset `marts.ml_features`). It reads only the published
months, each of which passed the gate, trains a logistic baseline and a gradient-boosted model per target
(churn, and each main data service's propensity), logs params, metrics, plots, the data version and the
models to MLflow (under `TELCO360_HOME/mlflow`), and registers the better one. The registry's promotion rule
decides whether it becomes `champion` or stays `challenger`. Emits `models.trained`, which starts
`score_customers`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from telco360.assets import mart_asset, models_asset


@dag(
    dag_id="train_models",
    schedule=[mart_asset("ml_features")],
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2), "owner": "ml-engineering"},
    tags=["telco360", "ml", "mlflow"],
    doc_md=__doc__,
)
def train_models():
    @task(pool="warehouse_writer", outlets=[models_asset()])
    def train() -> str:
        """Train, evaluate against the oracle when the simulator's truth is present, register, decide."""
        from telco360.airflow_tasks import train_models as job

        return job()

    train()


train_models()

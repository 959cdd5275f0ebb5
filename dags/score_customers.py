"""
### score_customers — the champions score every active subscriber of the latest published month

Runs after `train_models` (asset `models.trained`). Churn scores (with risk bands) and propensity scores are
written to schema `scores_candidate`, checked by Great Expectations (`expectations/scores.yml`: every active
subscriber scored exactly once, probabilities in [0, 1], every row traceable to a registered version and run)
and only then published into `marts`, where every scored month's history is kept. A failed check fails the
task and leaves the published scores as they were.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from telco360.assets import mart_asset, models_asset


@dag(
    dag_id="score_customers",
    schedule=[models_asset()],
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2), "owner": "ml-engineering"},
    tags=["telco360", "ml", "scores"],
    doc_md=__doc__,
)
def score_customers():
    @task(
        pool="warehouse_writer",
        retries=0,
        outlets=[mart_asset(t) for t in ("churn_scores", "propensity_scores")],
    )
    def score() -> str:
        from telco360.airflow_tasks import score_customers as job

        return job()

    score()


score_customers()

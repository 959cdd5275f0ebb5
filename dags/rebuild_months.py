"""
### rebuild_months — backfill: reload and rebuild months `start`..`end`, then the gate

Asset-scheduled DAGs cannot be backfilled by Airflow's backfill, so a data engineer rebuilds months here:
trigger it from the UI ("Trigger DAG w/ config") or
`airflow dags trigger rebuild_months --conf '{"start": "2026-01", "end": "2026-03"}'`.

1. `months` checks the two months (exactly `YYYY-MM`, start ≤ end).
2. `load` loads every source's deliveries of those months that are not loaded yet or changed since their
   load (a late or corrected delivery); identical ones are skipped, as in `ingest_extracts`. `report` fails
   the run, naming them, if any delivery was rejected; the rebuild of what did load goes on, and the gate
   decides publication (a month missing a delivery fails its completeness check).
3. `build` runs one `dbt build` that rebuilds the incremental models from `start` through the latest month
   (later months read the rebuilt ones: 3-month trends, next-month churn) into `marts_candidate`.
4. `audit_and_publish` is the same gate as `build_warehouse`: Great Expectations on every layer for the months
   that changed; the marts are published only if no critical check failed, and their assets then start
   `train_models` and `score_customers`.

Rebuilding months one at a time through `ingest_extracts` → `build_warehouse` and rebuilding them here at once
give the same marts (tests/test_backfill.py). Logic: `telco360.airflow_tasks`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from telco360.assets import MARTS, mart_asset
from telco360.contracts import load_contracts

SOURCES = list(load_contracts())
WRITER_POOL = "warehouse_writer"
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


@dag(
    dag_id="rebuild_months",
    schedule=None,  # by hand (UI or CLI), with the months as its config
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=1,
    params={
        "start": Param("2026-01", type="string", pattern=MONTH, description="first month to rebuild (YYYY-MM)"),
        "end": Param("2026-01", type="string", pattern=MONTH, description="last month to reload (YYYY-MM)"),
    },
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2), "owner": "data-engineering"},
    tags=["telco360", "backfill", "warehouse"],
    doc_md=__doc__,
)
def rebuild_months():
    @task(retries=0)
    def months() -> dict[str, str]:
        from airflow.exceptions import AirflowFailException

        from telco360.airflow_tasks import months_range

        params = get_current_context()["params"]
        try:
            start, end = months_range(params["start"], params["end"])
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        return {"start": start, "end": end}

    @task(pool=WRITER_POOL)
    def load(m: dict[str, str]) -> list[dict]:
        from telco360.airflow_tasks import load_months

        return load_months(SOURCES, m["start"], m["end"])

    @task(retries=0)
    def report(summaries: list[dict]) -> str:
        from airflow.exceptions import AirflowFailException

        from telco360.airflow_tasks import DeliveriesRejected, report_loads

        try:
            return report_loads(summaries)
        except DeliveriesRejected as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(pool=WRITER_POOL)
    def build(m: dict[str, str], summaries: list[dict]) -> str:
        from telco360.airflow_tasks import rebuild_from

        return rebuild_from(m["start"])

    @task(pool=WRITER_POOL, retries=0, outlets=[mart_asset(name) for name in MARTS])
    def audit_and_publish() -> str:
        from airflow.exceptions import AirflowFailException, AirflowSkipException

        from telco360.airflow_tasks import audit_and_publish as gate
        from telco360.quality.publish import PublicationBlocked

        try:
            text, published = gate(trigger="rebuild_months")
        except PublicationBlocked as exc:
            raise AirflowFailException(f"marts not published: {exc}") from exc
        if not published:
            raise AirflowSkipException(text)
        return text

    m = months()
    loaded = load(m)
    report(loaded)
    build(m, loaded) >> audit_and_publish()


rebuild_months()

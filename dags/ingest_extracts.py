"""
### ingest_extracts — landing → raw, with nothing lost

Picks up every delivery under `$TELCO360_HOME/landing/<source>/<period>/`, checks its manifest and
its source contract, loads valid rows into `raw.<source>` and writes rejected rows verbatim to
`audit.quarantine` with the rule they broke. Every delivery is recorded in `audit.load_manifest`
(loaded, skipped as already loaded, or rejected whole with the reason).

One task group per source: `find` lists deliveries not yet loaded (manifest changed or new),
`load` loads them in period order and emits the `raw.<source>` asset the warehouse build listens to.
Reruns are safe: a delivery already loaded is skipped; a corrected re-delivery replaces its period
atomically. A rejected delivery does not stop the others: every source loads what it can, `audit_raw`
runs, and `report` fails naming each rejected delivery and its rule, so the run shows as failed.
Contracts: `telco360 contracts`. Logic: `telco360.ingest` (this file only orchestrates).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import TaskGroup, dag, task

from telco360.assets import raw_asset
from telco360.contracts import load_contracts  # a YAML file in the package: no I/O beyond that

SOURCES = list(load_contracts())
WRITER_POOL = "warehouse_writer"  # one writer at a time on the embedded DuckDB file


@dag(
    dag_id="ingest_extracts",
    schedule="0 6 * * *",  # operators deliver overnight; also triggered by hand for backfills
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "owner": "data-engineering"},
    tags=["telco360", "ingest", "raw"],
    doc_md=__doc__,
)
def ingest_extracts():
    @task
    def find(source: str) -> list[str]:
        from telco360.airflow_tasks import pending_periods

        return pending_periods(source)

    @task(pool=WRITER_POOL)
    def load(source: str, periods: list[str]) -> dict:
        from telco360.airflow_tasks import load_periods

        return load_periods(source, periods)

    @task(retries=0)
    def report(summaries: list[dict]) -> str:
        """Fails, listing them, if any delivery was rejected: the loads themselves go on and succeed."""
        from airflow.exceptions import AirflowFailException

        from telco360.airflow_tasks import DeliveriesRejected, report_loads

        try:
            return report_loads(summaries)
        except DeliveriesRejected as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(pool=WRITER_POOL)
    def audit_raw(summaries: list[dict]) -> str:
        """Great Expectations on the raw layer (volumes, completeness, distributions) for the loaded months."""
        from telco360.airflow_tasks import audit_raw

        return audit_raw(summaries)

    loads = []
    for source in SOURCES:
        with TaskGroup(group_id=source, tooltip=load_contracts()[source].description):
            loads.append(load.override(outlets=[raw_asset(source)])(source, find(source)))
    report(loads)
    audit_raw(loads)


ingest_extracts()

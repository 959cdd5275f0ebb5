"""
### ingest_extracts — landing → raw, with nothing lost

Picks up every delivery under `$TELCO360_HOME/landing/<source>/<period>/`, checks its manifest and
its source contract, loads valid rows into `raw.<source>` and writes rejected rows verbatim to
`audit.quarantine` with the rule they broke. Every delivery is recorded in `audit.load_manifest`
(loaded, skipped as already loaded, or rejected whole with the reason).

It polls the landing folder (`TELCO360_INGEST_SCHEDULE`: a cron expression, hourly by default, or an interval
such as `30s` or `5m`): `pending` lists the deliveries not yet loaded (new, or changed since their load) and,
when there are none, skips the rest of the run. One task group per source: `load` loads its deliveries in
period order, and `announce` emits the `raw.<source>` asset the warehouse build listens to, only when
something was loaded (else it is skipped, so a poll that finds nothing new starts no build). Reruns are safe:
a delivery already loaded is skipped; a corrected re-delivery replaces its period atomically. A rejected
delivery does not stop the others: every source loads what it can, `audit_raw` runs, and `report` fails
naming each rejected delivery and its rule, so the run shows as failed.
Contracts: `telco360 contracts`. Logic: `telco360.ingest` (this file only orchestrates).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import TaskGroup, dag, task

from telco360.assets import raw_asset
from telco360.config import ingest_schedule
from telco360.contracts import load_contracts  # a YAML file in the package: no I/O beyond that

SOURCES = list(load_contracts())
WRITER_POOL = "warehouse_writer"  # one writer at a time on the embedded DuckDB file
# how often the landing folder is polled (a cron expression, or an interval such as 30s); a poll with nothing
# new ends after one task
SCHEDULE = ingest_schedule()


@dag(
    dag_id="ingest_extracts",
    schedule=SCHEDULE,
    is_paused_upon_creation=False,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "owner": "data-engineering"},
    tags=["telco360", "ingest", "raw"],
    doc_md=__doc__,
)
def ingest_extracts():
    @task.short_circuit(pool=WRITER_POOL)
    def pending() -> dict[str, list[str]]:
        """The deliveries of every source not loaded yet; none: the rest of the run is skipped."""
        from telco360.airflow_tasks import pending_deliveries

        return pending_deliveries(SOURCES)

    @task(pool=WRITER_POOL)
    def load(source: str, todo: dict[str, list[str]]) -> dict:
        from telco360.airflow_tasks import load_periods

        return load_periods(source, todo.get(source, []))

    @task
    def announce(summary: dict) -> str:
        """Emits `raw.<source>` when this run loaded something for it; skipped otherwise (no asset event)."""
        from airflow.exceptions import AirflowSkipException

        if not summary["periods_loaded"]:
            raise AirflowSkipException(f"{summary['source']}: nothing new loaded")
        return f"{summary['source']}: loaded {', '.join(summary['periods_loaded'])}"

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

    todo = pending()
    loads = []
    for source in SOURCES:
        with TaskGroup(group_id=source, tooltip=load_contracts()[source].description):
            loaded = load(source, todo)
            announce.override(outlets=[raw_asset(source)])(loaded)
            loads.append(loaded)
    report(loads)
    audit_raw(loads)


ingest_extracts()

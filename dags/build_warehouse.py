"""
### build_warehouse — dbt: staging → intermediate → marts

Runs when every `raw.<source>` asset has been updated by `ingest_extracts`. The dbt project
(`dbt_project/`) is rendered by Astronomer Cosmos from dbt's manifest (no dbt call at parse time) in its
WATCHER mode: one task, `dbt.dbt_producer_watcher`, runs a single `dbt build` of every seed and model — at
dbt's own speed — in the `warehouse_writer` pool (the embedded warehouse takes one writer at a time). Every
seed and model keeps its own task (`dbt.<model>_run`, `dbt.<seed>_seed`), a sensor that reads the node's
result from the build's events once it has finished: green, red or skipped as dbt left it, with dbt's log
line. Then `dbt.telco360_test` runs every dbt test of the project in one `dbt test` (a failed test fails the
task and nothing is published; its log names the test). Tests run after all models rather than after each:
half the tasks (one Airflow task costs a process start and a parse of this file), so the DAG stays close to
the bare build's time (`make bench-dag`). A retried or cleared model task runs `dbt run --select <model>`
itself; dbt is always started through `telco360-dbt`, so such runs wait for each other.

dbt writes the marts to schema `marts_candidate`; `audit_and_publish` runs the Great Expectations suites
(`expectations/`) and, only if no critical check failed, copies the marts into `marts` (what BI users read)
and emits one asset per mart. A critical failure fails the task and leaves `marts` at the last build that
passed.

Warehouse: `TELCO360_WAREHOUSE` = `duckdb` (the embedded file, default) or `postgres` (credentials and
`TELCO360_PII_SALT` from the environment). The manifest is written by `telco360 build --parse-only`
(`make airflow-init`).
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import TriggerRule, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import PRODUCER_WATCHER_TASK_ID, ExecutionMode, InvocationMode, LoadMode, TestBehavior

from telco360.assets import MARTS, mart_asset, raw_asset
from telco360.config import PROJECT_ROOT, paths
from telco360.contracts import load_contracts
from telco360.db import warehouse_kind
from telco360.warehouse import pii_salt_env

TARGET = warehouse_kind()  # the dbt target of the same name; an old TELCO360_TARGET alone is an import error
# dbt's tasks inherit this process's environment (Cosmos append_env): the embedded demo's salt goes there,
# not into operator arguments that Airflow would render in its UI. Elsewhere dbt refuses to run without one.
if TARGET == "duckdb" and "TELCO360_PII_SALT" not in os.environ:
    os.environ.update(pii_salt_env(TARGET, create=False))  # created by `make airflow-init`: parsing only reads
DBT_PROJECT = PROJECT_ROOT / "dbt_project"
MANIFEST = paths().home / "dbt" / f"target-{TARGET}" / "manifest.json"
RAW_ASSETS = [raw_asset(s) for s in load_contracts()]
# Measured (make bench-dag): started after the build, no sensor defers and none pokes twice, so the mode costs
# nothing; deferrable, because Cosmos' trigger ends the wait for a node the build never reported, where a poking
# sensor would hold its worker slot until its timeout.
SENSORS_DEFER = True

if not MANIFEST.exists():
    raise FileNotFoundError(
        f"dbt manifest not found at {MANIFEST}: run `telco360 build --parse-only` (make airflow-init)"
    )


@dag(
    dag_id="build_warehouse",
    schedule=RAW_ASSETS,  # all raw assets updated since the last build
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2), "owner": "data-engineering"},
    tags=["telco360", "dbt", "warehouse"],
    doc_md=__doc__,
)
def build_warehouse():
    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(manifest_path=MANIFEST, project_name="telco360", install_dbt_deps=False),
        profile_config=ProfileConfig(
            profile_name="telco360", target_name=TARGET, profiles_yml_filepath=DBT_PROJECT / "profiles.yml"
        ),
        # WATCHER: one producer task runs one `dbt build` of the seeds and models (in dbt's own order and
        # threads); each seed and model is a sensor task reading its status from the producer's events, and
        # AFTER_ALL adds one task running every dbt test after them. dbt runs in a child process (dbt-duckdb
        # holds the warehouse file open for the life of its process), through `telco360-dbt`, which lets one
        # dbt process at a time write (telco360/dbt_writer_lock.py).
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            dbt_project_path=DBT_PROJECT,
            dbt_executable_path=str(Path(sys.executable).with_name("telco360-dbt")),
            invocation_mode=InvocationMode.SUBPROCESS,
            # the producer is the writer: it holds the pool's one slot for the whole build
            setup_operator_args={"pool": "warehouse_writer"},
        ),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_ALL),
        # The sensors stay out of `warehouse_writer`: they wait on the producer, which holds its one slot. A
        # retried or cleared sensor runs `dbt run --select <model>` itself; telco360-dbt serialises those.
        operator_args={"deferrable": SENSORS_DEFER},
    )
    # The sensors start once the producer has finished (whatever its state): they find their status at the
    # first look, never wait, and take no CPU from dbt on the way. (Started alongside it, as Cosmos does, a
    # sensor run before the producer by `airflow dags test`, which runs one task at a time, waits forever.)
    producer = dbt.get_child_by_label(PRODUCER_WATCHER_TASK_ID)
    tests = dbt.get_child_by_label("telco360_test")
    tests.pool = "warehouse_writer"  # `dbt test` opens the warehouse too
    tests.retries = 0  # a failed data test fails again: say so now (the gate, downstream, does not run)
    first = [t for t in dbt.get_roots() if t is not producer]
    producer >> first  # in one call: Airflow hashes the DAG, 15 schedule assets included, for both ends of each
    for sensor in first:
        sensor.trigger_rule = TriggerRule.ALL_DONE

    @task(pool="warehouse_writer", retries=0, outlets=[mart_asset(m) for m in MARTS])
    def audit_and_publish() -> str:
        """The gate: GX validates raw, staging and the candidate marts for the months this build changed;
        only if no critical check failed are the marts copied to `marts` (and their assets emitted)."""
        from airflow.exceptions import AirflowFailException, AirflowSkipException

        from telco360.airflow_tasks import audit_and_publish
        from telco360.quality.publish import PublicationBlocked

        try:
            text, published = audit_and_publish()
        except PublicationBlocked as exc:
            raise AirflowFailException(f"marts not published: {exc}") from exc
        if not published:  # nothing changed since the last publication: no asset events
            raise AirflowSkipException(text)
        return text

    dbt >> audit_and_publish()


build_warehouse()

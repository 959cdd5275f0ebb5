"""
### build_warehouse — dbt: staging → intermediate → marts

Runs when every `raw.<source>` asset has been updated by `ingest_extracts`. The dbt project
(`dbt_project/`) is rendered by Astronomer Cosmos from dbt's manifest (no dbt call at parse time):
one task per seed and model (`dbt build` on it: the model, then its tests). The embedded warehouse takes one
writer at a time (pool `warehouse_writer`). dbt writes the marts to schema `marts_candidate`;
`audit_and_publish` runs the Great Expectations suites (`expectations/`) and, only if no critical check
failed, copies the marts into `marts` (what BI users read) and emits one asset per mart. A critical
failure fails the task and leaves `marts` at the last build that passed.

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
from airflow.sdk import dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

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
        # dbt in a child process per task: dbt-duckdb holds the warehouse file open for the life of its
        # process, so in-process runs (e.g. `airflow dags test`) would lock it for everything after
        execution_config=ExecutionConfig(
            dbt_project_path=DBT_PROJECT,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
            invocation_mode=InvocationMode.SUBPROCESS,
        ),
        # BUILD: one task per model runs `dbt build` on it, so its tests run right after it
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD),
        operator_args={"pool": "warehouse_writer", "install_deps": False},
    )

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

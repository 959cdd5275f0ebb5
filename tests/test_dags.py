"""DAG integrity: every DAG imports cleanly, fast, with no connections and no heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parent.parent / "dags"
HEAVY = ["duckdb", "great_expectations", "mlflow", "sklearn", "dbt", "pandas", "psycopg"]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "ingest_extracts" in dagbag.dag_ids


def test_dag_files_parse_fast(dagbag):
    stats = dagbag.dagbag_stats
    assert stats, "no DAG files were parsed"
    for s in stats:
        assert s.duration.total_seconds() < 1.0, s.file


def test_dag_files_import_nothing_heavy_and_touch_no_connection():
    """Parse in a fresh interpreter with no connections configured and an unreachable database."""
    code = (
        "import json, sys, runpy\n"
        "import airflow.sdk, airflow.sdk.definitions.asset, airflow.sdk.definitions.taskgroup\n"
        f"before = {{m for m in {HEAVY!r} if m in sys.modules}}\n"
        f"for f in {sorted(str(p) for p in DAGS.glob('*.py'))!r}:\n"
        "    runpy.run_path(f)\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules and m not in before]))\n"
    )
    env = {
        **os.environ,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://nobody@127.0.0.1:1/none",
        "TELCO360_PG_DSN": "postgresql://nobody@127.0.0.1:1/none",
    }
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_ingest_dag_shape(dagbag):
    from telco360.contracts import load_contracts

    dag = dagbag.dags["ingest_extracts"]  # get_dag() would read the metadata DB
    sources = list(load_contracts())
    assert set(dag.task_group.children) == set(sources) | {"report"}
    for source in sources:
        find, load = dag.get_task(f"{source}.find"), dag.get_task(f"{source}.load")
        assert find.downstream_task_ids == {load.task_id}
        assert [o.name for o in load.outlets] == [f"raw.{source}"]
        assert load.pool == "warehouse_writer"
        assert load.retries >= 1 and find.retries >= 1
    assert dag.catchup is False
    assert dag.start_date.tzinfo is not None
    assert dag.doc_md and "quarantine" in dag.doc_md

"""DAG integrity: every DAG imports cleanly, fast, with no connections and no heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from telco360 import airflow_stack as af

DAGS = Path(__file__).resolve().parent.parent / "dags"
HEAVY = ["duckdb", "great_expectations", "mlflow", "sklearn", "dbt", "pandas", "psycopg"]


@pytest.fixture(scope="module")
def manifest():
    """The build DAG renders from dbt's manifest, written as `make airflow-init` does."""
    from telco360.warehouse import parse

    return parse("duckdb")


@pytest.fixture(scope="module")
def dagbag(manifest):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"ingest_extracts", "build_warehouse", "train_models", "score_customers"} <= set(dagbag.dag_ids)
    assert set(dagbag.dag_ids) == set(af.DAGS)  # what `telco360 airflow up` waits for Airflow to list


def test_dag_files_parse_fast(dagbag):
    """Each file parses in under a second of CPU once its imports are loaded (the dag-processor imports a DAG
    file's modules once, before it forks the parses: `parsing_pre_import_modules`). CPU time, not wall time:
    a loaded machine stretches wall time, and this would test the machine, not the DAG files."""
    assert dagbag.dagbag_stats, "no DAG files were parsed"
    code = (
        "import json, runpy, time\n"
        "import airflow.sdk, cosmos, telco360.assets, telco360.contracts, telco360.db\n"
        "out = {}\n"
        f"for f in {sorted(str(p) for p in DAGS.glob('*.py'))!r}:\n"
        "    runpy.run_path(f)  # its imports\n"
        "    t0 = time.process_time()\n"
        "    runpy.run_path(f)\n"
        "    out[f.rsplit('/', 1)[1]] = time.process_time() - t0\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cpu = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(cpu) == {p.name for p in DAGS.glob("*.py")}
    slow = {f: round(s, 2) for f, s in cpu.items() if s >= 1.0}
    assert slow == {}, cpu


def test_dag_files_import_nothing_heavy_and_touch_no_connection(manifest):
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
    assert set(dag.task_group.children) == set(sources) | {"pending", "report", "audit_raw"}
    assert dag.get_task("audit_raw").upstream_task_ids == {f"{s}.load" for s in sources}
    pending = dag.get_task("pending")
    # a poll that finds nothing new skips everything after it (whatever their trigger rules)
    assert type(pending).__name__ == "_ShortCircuitDecoratedOperator" and pending.ignore_downstream_trigger_rules
    assert pending.downstream_task_ids == {f"{s}.load" for s in sources}
    for source in sources:
        load, announce = dag.get_task(f"{source}.load"), dag.get_task(f"{source}.announce")
        assert load.downstream_task_ids == {announce.task_id, "report", "audit_raw"}
        # only `announce` emits the raw asset, and it is skipped when nothing was loaded
        assert load.outlets == [] and [o.name for o in announce.outlets] == [f"raw.{source}"]
        assert load.pool == "warehouse_writer"
        assert load.retries >= 1
    assert dag.is_paused_upon_creation is False
    assert dag.catchup is False
    assert dag.start_date.tzinfo is not None
    assert dag.doc_md and "quarantine" in dag.doc_md


def test_build_dag_renders_every_model_and_runs_on_the_raw_assets(dagbag, manifest):
    """Cosmos WATCHER: one producer task runs `dbt build` of the seeds and models; every seed and model is a
    sensor task wired in dbt's own dependency order (read here from the manifest, not from Cosmos); one task
    then runs every dbt test."""
    from telco360.contracts import load_contracts

    dag = dagbag.dags["build_warehouse"]
    nodes = list(json.loads(manifest.read_text())["nodes"].values())
    models = {n["name"] for n in nodes if n["resource_type"] == "model"}
    seeds = {n["name"] for n in nodes if n["resource_type"] == "seed"}
    # the manifest holds exactly the project's files: one model per .sql file, one seed per .csv file
    project = DAGS.parent / "dbt_project"
    assert models == {p.stem for p in (project / "models").rglob("*.sql")}
    assert seeds == {p.stem for p in (project / "seeds").glob("*.csv")}
    assert len(models) > 30 and len(seeds) > 5
    assert sum(n["resource_type"] == "test" for n in nodes) > 50
    # scheduled when every raw asset the ingest DAG emits has been updated
    assert {a.uri for a in dag.timetable.asset_condition.objects} == {
        f"telco360://warehouse/raw/{s}" for s in load_contracts()
    }

    built = {n["unique_id"]: n for n in nodes if n["resource_type"] in ("model", "seed")}
    verb = {"model": "run", "seed": "seed"}

    def own_task(uid: str) -> str:
        return f"dbt.{built[uid]['name']}_{verb[built[uid]['resource_type']]}"

    producer = dag.get_task("dbt.dbt_producer_watcher")
    tests = dag.get_task("dbt.telco360_test")
    expected = {own_task(u) for u in built}
    expected |= {producer.task_id, "dbt.dbt_producer_watcher_done", tests.task_id}
    assert {t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")} == expected
    # each node waits for exactly the models and seeds it selects from, as dbt's manifest records them; a
    # node that selects from none (a seed, a staging model) waits for the producer
    for uid, node in built.items():
        deps = {own_task(d) for d in node["depends_on"].get("nodes", []) if d in built}
        task = dag.get_task(own_task(uid))
        assert task.upstream_task_ids == (deps or {producer.task_id}), node["name"]
        assert task.model_unique_id == uid  # the sensor reads this node's status from the producer
    assert dag.get_task("dbt.customer_360_run").upstream_task_ids >= {"dbt.int_billing__monthly_run"}

    # one `dbt build` of the seeds and models (tests left to the test task), through the wrapper that lets
    # one dbt process write at a time; the producer holds the warehouse's writer slot, and every sensor starts
    # after it has finished
    assert producer.base_cmd == ["build"] and not producer.select and not producer.exclude
    flags = producer.dbt_cmd_flags
    kinds = {flags[i + 1] for i, f in enumerate(flags) if f == "--resource-type"}
    assert "model" in kinds and "seed" in kinds and "test" not in kinds, flags
    assert Path(producer.dbt_executable_path).name == "telco360-dbt"
    assert producer.pool == "warehouse_writer"
    sensors = {own_task(u) for u in built}
    assert producer.get_flat_relative_ids(upstream=False) >= sensors | {tests.task_id}
    for task in (dag.get_task(t) for t in sensors):
        assert task.pool != "warehouse_writer", task.task_id  # they wait on the producer, which holds its slot
        assert Path(task.dbt_executable_path).name == "telco360-dbt"  # a retried sensor runs dbt itself
        if producer.task_id in task.upstream_task_ids:  # producer failed or skipped (retry): read what it left
            assert task.trigger_rule == "all_done", task.task_id
    # every test, once every model is built: `dbt test` of the whole project, writer slot held
    assert tests.base_cmd == ["test"] and not tests.select and tests.pool == "warehouse_writer"
    assert Path(tests.dbt_executable_path).name == "telco360-dbt"
    assert tests.get_flat_relative_ids(upstream=True) >= sensors
    assert tests.trigger_rule == "all_success" and tests.retries == 0
    # a failed dbt test keeps the gate from running, so nothing is published
    publish = dag.get_task("audit_and_publish")
    assert tests.task_id in publish.upstream_task_ids and publish.trigger_rule == "all_success"

    publish = dag.get_task("audit_and_publish")
    dbt_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")}
    assert publish.get_flat_relative_ids(upstream=True) >= dbt_tasks and publish.retries == 0
    from telco360.assets import MARTS

    assert {o.name for o in publish.outlets} == {f"marts.{m}" for m in MARTS}
    assert publish.pool == "warehouse_writer"


def test_a_rejected_delivery_fails_the_ingest_report_not_the_loads(dagbag):
    """Every source loads what it can (its `load` task succeeds and emits its raw asset); `report`, downstream of
    every load, fails without retries and names each rejection; `audit_raw` still runs after the loads."""
    from telco360.airflow_tasks import DeliveriesRejected, report_loads

    def summary(source, rejections):
        return {
            "source": source,
            "loaded": 2 - len(rejections),
            "skipped": 0,
            "rejected": len(rejections),
            "rows_loaded": 10,
            "rows_quarantined": 0,
            "rejections": rejections,
            "periods_loaded": [],
        }

    clean = [summary("complaint", []), summary("crm_subscriber", [])]
    assert "REJECTED" not in report_loads(clean)
    bad = [summary("complaint", []), summary("billing_items", ["2026-02 [manifest_checksum] part-00000.txt: sha256"])]
    with pytest.raises(DeliveriesRejected) as exc:
        report_loads(bad)
    assert str(exc.value).startswith("1 deliveries rejected (audit.load_manifest):")
    assert "REJECTED billing_items/2026-02 [manifest_checksum] part-00000.txt: sha256" in str(exc.value)
    dag = dagbag.dags["ingest_extracts"]
    report = dag.get_task("report")
    assert report.retries == 0 and report.trigger_rule == "all_success"
    assert dag.get_task("audit_raw").upstream_task_ids.isdisjoint({"report"})


def test_model_dags_chain_through_assets(dagbag):
    """Publication -> train_models -> score_customers, through assets, with no manual step."""
    build, train, score = (dagbag.dags[d] for d in ("build_warehouse", "train_models", "score_customers"))
    published = {o.name for t in build.tasks for o in t.outlets}
    assert "marts.ml_features" in published
    train_on = (
        {a.name for a in train.timetable.asset_condition.iter_assets().values()}
        if hasattr(train.timetable.asset_condition, "iter_assets")
        else {str(train.timetable.asset_condition)}
    )
    assert any("marts.ml_features" in name for name in train_on)
    trained = {o.name for t in train.tasks for o in t.outlets}
    assert trained == {"models.trained"}
    score_on = str(score.timetable.asset_condition)
    assert "models.trained" in score_on
    assert {o.name for t in score.tasks for o in t.outlets} >= {"marts.churn_scores"}
    for dag in (train, score):
        assert dag.catchup is False and dag.start_date.tzinfo is not None and dag.doc_md
        assert all(t.pool == "warehouse_writer" for t in dag.tasks)

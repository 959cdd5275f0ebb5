"""Benchmark: the build_warehouse DAG through Airflow against the bare `telco360 build`, on the same data.

    python bench/bench_dag.py                          (make bench-dag: 20,000 subscribers x 3 months)
    python bench/bench_dag.py --subscribers 1000000    (make bench-dag BENCH_SUBSCRIBERS=1000000)

One run, one state folder (var/bench-dag): generate, load with `telco360 ingest`, keep a
copy of the loaded warehouse; then time `telco360 build` and `telco360 audit --publish` (what the DAG's gate
does) outside Airflow; put the copy back; start Airflow as `make airflow` does (scheduler, 4 task slots), trigger
`build_warehouse` and time its run as the scheduler records it, as `make run` runs it. Prints the DAG's wall
time over the bare build's (goal <= 1.5), and where the DAG's time went (from Airflow's REST API).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_ingest import prepare_landing  # noqa: E402

BIN = Path(sys.executable).parent


def run(args: list[str], env: dict, log: Path) -> float:
    """Run a command to completion, its output in `log`; return its wall time. Stops the benchmark if it fails."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): see {log}")
    return seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scheduled_build(work: Path) -> dict[str, float]:
    """Start Airflow on `work` (as `make airflow`), trigger build_warehouse, wait for it, stop Airflow. Returns
    where the run's time went, in seconds, as the scheduler recorded it."""
    from telco360 import airflow_stack as af

    st = af.stack(work, free_port())
    try:
        af.up(st)
        api = af.Api(st)
        deadline = time.monotonic() + 300
        while {d["dag_id"] for d in api.get("/api/v2/dags")["dags"]} < set(af.PIPELINE):  # parsed yet?
            if time.monotonic() > deadline:
                raise SystemExit(f"the DAGs were not parsed within 300 s: see {st.log_dir}")
            time.sleep(2)
        for dag_id in ("ingest_extracts", "train_models", "score_customers"):  # the build's run alone
            api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": True})
        since = datetime.now(UTC)
        run_id = api.trigger("build_warehouse")["dag_run_id"]
        result = af.follow(api, since, last="build_warehouse", timeout=7200)
        if not result.ok:
            raise SystemExit("the build_warehouse run did not succeed:\n" + "\n".join(result.lines()))
        run = next(r for r in api.runs("build_warehouse") if r["dag_run_id"] == run_id)
        tis = api.task_instances("build_warehouse", run_id)
    finally:
        af.down(st)

    def ts(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    def took(task_id: str) -> tuple[datetime, datetime]:
        (t,) = [t for t in tis if t["task_id"] == task_id]
        return ts(t["start_date"]), ts(t["end_date"])

    start, end = ts(run["start_date"]), ts(run["end_date"])
    producer = took("dbt.dbt_producer_watcher")
    sensors = [t for t in tis if t["task_id"].startswith("dbt.") and t["task_id"].endswith(("_run", "_seed", ".run"))]
    sensors_end = max(ts(t["end_date"]) for t in sensors)
    dbt_end = max(ts(t["end_date"]) for t in tis if t["task_id"].startswith("dbt.") and t["end_date"])
    gate = took("audit_and_publish")
    return {
        "run": (end - start).total_seconds(),
        "tasks": len(tis),
        "sensors": len(sensors),
        "before_producer": (producer[0] - start).total_seconds(),
        "producer": (producer[1] - producer[0]).total_seconds(),
        "sensor_phase": (sensors_end - producer[1]).total_seconds(),
        "after_sensors": (dbt_end - sensors_end).total_seconds(),
        "dbt_part": (dbt_end - start).total_seconds(),
        "gate": (gate[1] - gate[0]).total_seconds(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--work", default=str(ROOT / "var" / "bench-dag"))
    ap.add_argument("--keep", action="store_true", help="reuse the generated landing folder")
    args = ap.parse_args()
    work = Path(args.work).resolve()
    prepare_landing(work, args.subscribers, args.months, args.keep)  # work/landing: TELCO360_HOME is work
    for state in ("airflow", "cosmos", "dbt", "logs", "tmp", "secrets", "warehouse.duckdb", "warehouse.duckdb.wal"):
        path = work / state
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    (work / "logs").mkdir()
    env = {
        **os.environ,
        "TELCO360_HOME": str(work),
        "TELCO360_WAREHOUSE": "duckdb",
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(work / "cosmos"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DBT_PROFILES_DIR": str(ROOT / "dbt_project"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("TELCO360_PII_SALT", None)  # the demo warehouse's own salt, as `make run`
    env["TELCO360_INGEST_SCHEDULE"] = "0 0 1 1 *"  # yearly: no poll but (perhaps) the one at start
    logs = work / "logs"
    telco360 = str(BIN / "telco360")
    run([telco360, "build", "--parse-only"], env, logs / "parse.log")
    # loaded outside Airflow: an ingest DAG run would leave raw asset events that trigger a build of its own
    secs = run([telco360, "ingest", "-q"], env, logs / "ingest.log")
    print(f"telco360 ingest: {secs:.0f}s (not compared)")
    loaded = work / "warehouse.loaded.duckdb"
    shutil.copyfile(work / "warehouse.duckdb", loaded)

    bare_build = run([telco360, "build"], env, logs / "bare_build.log")
    bare_audit = run([telco360, "audit", "--publish"], env, logs / "bare_audit.log")
    print(f"bare `telco360 build`: {bare_build:.1f}s; `telco360 audit --publish` (the gate's work): {bare_audit:.1f}s")

    (work / "warehouse.duckdb.wal").unlink(missing_ok=True)
    shutil.copyfile(loaded, work / "warehouse.duckdb")  # the same loaded, unbuilt warehouse again
    keys = ("TELCO360_HOME", "TELCO360_WAREHOUSE", "AIRFLOW__COSMOS__CACHE_DIR", "TELCO360_INGEST_SCHEDULE")
    os.environ.update({k: env[k] for k in keys})
    os.environ.pop("TELCO360_PII_SALT", None)
    t = scheduled_build(work)
    print(
        f"build_warehouse DAG (real scheduler, 4 slots, {t['tasks']:.0f} tasks): {t['run']:.1f}s = "
        f"{t['before_producer']:.1f}s to the producer's start + producer (`dbt build`) {t['producer']:.1f}s + "
        f"{t['sensors']:.0f} model sensors {t['sensor_phase']:.1f}s + the test task {t['after_sensors']:.1f}s + "
        f"gate and hand-offs {t['run'] - t['dbt_part']:.1f}s (the gate task itself {t['gate']:.1f}s)"
    )
    print(f"DAG / bare build = {t['run'] / bare_build:.2f} (goal <= 1.5)")
    print(f"DAG / (bare build + bare audit) = {t['run'] / (bare_build + bare_audit):.2f}")
    print(f"DAG's dbt tasks / bare build = {t['dbt_part'] / bare_build:.2f}")


if __name__ == "__main__":
    main()

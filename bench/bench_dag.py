"""Benchmark: the build_warehouse DAG through Airflow against the bare `telco360 build`, on the same data.

    python bench/bench_dag.py                          (make bench-dag: 20,000 subscribers x 3 months)
    python bench/bench_dag.py --subscribers 1000000    (make bench-dag BENCH_SUBSCRIBERS=1000000)

One run, one state folder (var/bench-dag): generate, load through the ingest DAG (`airflow dags test`), keep
a copy of the loaded warehouse; then time `telco360 build` and `telco360 audit --publish` (what the DAG's gate
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


def dag_succeeded(log: Path) -> None:
    text = log.read_text()
    if "DagRun Finished" not in text or "state=success" not in text:
        raise SystemExit(f"the DAG run did not succeed: see {log}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scheduled_build(work: Path) -> tuple[float, float, float, int]:
    """Start Airflow on `work`, trigger build_warehouse, wait for it. Returns the run's seconds (start to end, as
    the scheduler records them), the seconds from its start to the end of its last dbt task, the gate's seconds,
    and how many tasks ran."""
    from telco360 import airflow_stack as af

    st = af.stack(work, free_port())
    af.up(st)
    try:
        api = af.Api(st)
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

    start = ts(run["start_date"])
    dbt_end = max(ts(t["end_date"]) for t in tis if t["task_id"].startswith("dbt.") and t["end_date"])
    gate = [
        (ts(t["end_date"]) - ts(t["start_date"])).total_seconds() for t in tis if t["task_id"] == "audit_and_publish"
    ]
    wall = (ts(run["end_date"]) - start).total_seconds()
    return wall, (dbt_end - start).total_seconds(), gate[0] if gate else float("nan"), len(tis)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--work", default=str(ROOT / "var" / "bench-dag"))
    ap.add_argument("--keep", action="store_true", help="reuse the generated landing folder")
    args = ap.parse_args()
    work = Path(args.work).resolve()
    prepare_landing(work, args.subscribers, args.months, args.keep)  # work/landing: TELCO360_HOME is work
    for state in ("airflow", "dbt", "logs", "tmp", "secrets", "warehouse.duckdb", "warehouse.duckdb.wal"):
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
    logs = work / "logs"
    airflow, telco360 = str(BIN / "airflow"), str(BIN / "telco360")
    run([airflow, "db", "migrate"], env, logs / "migrate.log")
    run([airflow, "pools", "set", "warehouse_writer", "1", "one writer"], env, logs / "pool.log")
    run([telco360, "build", "--parse-only"], env, logs / "parse.log")
    secs = run([airflow, "dags", "test", "ingest_extracts"], env, logs / "ingest_extracts.log")
    dag_succeeded(logs / "ingest_extracts.log")
    print(f"ingest_extracts DAG: {secs:.0f}s (not compared)")
    loaded = work / "warehouse.loaded.duckdb"
    shutil.copyfile(work / "warehouse.duckdb", loaded)

    bare_build = run([telco360, "build"], env, logs / "bare_build.log")
    bare_audit = run([telco360, "audit", "--publish"], env, logs / "bare_audit.log")
    print(f"bare `telco360 build`: {bare_build:.1f}s; `telco360 audit --publish` (the gate's work): {bare_audit:.1f}s")

    (work / "warehouse.duckdb.wal").unlink(missing_ok=True)
    shutil.copyfile(loaded, work / "warehouse.duckdb")  # the same loaded, unbuilt warehouse again
    os.environ.update({k: env[k] for k in ("TELCO360_HOME", "TELCO360_WAREHOUSE", "AIRFLOW__COSMOS__CACHE_DIR")})
    os.environ.pop("TELCO360_PII_SALT", None)
    dag, dbt_part, gate, tasks = scheduled_build(work)
    print(
        f"build_warehouse DAG (real scheduler, 4 slots, {tasks} tasks): {dag:.1f}s; its dbt tasks done after "
        f"{dbt_part:.1f}s of the run, the gate took {gate:.1f}s"
    )
    print(f"DAG / bare build = {dag / bare_build:.2f} (goal <= 1.5)")
    print(f"DAG / (bare build + bare audit) = {dag / (bare_build + bare_audit):.2f}")
    print(f"DAG's dbt tasks / bare build = {dbt_part / bare_build:.2f}")


if __name__ == "__main__":
    main()

"""Build the dbt warehouse (staging -> intermediate -> marts) on DuckDB (`dev`) or PostgreSQL (`pg`).

dbt runs in-process (dbtRunner). Credentials reach dbt's committed profiles.yml only through
environment variables, derived here from TELCO360_PG_DSN.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from telco360.assets import MARTS  # noqa: F401 (re-exported: the marts dbt builds)
from telco360.config import PROJECT_ROOT, paths, postgres_dsn

DBT_PROJECT = PROJECT_ROOT / "dbt_project"


class BuildFailed(RuntimeError):
    pass


@dataclass
class BuildResult:
    target: str
    passed: int
    failed: int
    warned: int
    skipped: int
    seconds: float
    failures: list[str]


def dbt_env(target: str = "dev") -> dict[str, str]:
    """Environment for dbt: profile location, state folder, and PostgreSQL credentials by reference."""
    p = paths()
    env = {
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "TELCO360_HOME": str(p.home),
        "TELCO360_DBT_TARGET": target,
        "DBT_LOG_PATH": str(p.home / "dbt" / "logs"),
        "DBT_TARGET_PATH": str(p.home / "dbt" / f"target-{target}"),
    }
    if target == "pg":
        dsn = postgres_dsn()
        if not dsn:
            raise BuildFailed("target pg needs TELCO360_PG_DSN (run `make pg-up` and `source var/pg/env`)")
        u = urlparse(dsn)
        env.update(
            TELCO360_PG_HOST=u.hostname or "127.0.0.1",
            TELCO360_PG_PORT=str(u.port or 5432),
            TELCO360_PG_USER=unquote(u.username or ""),
            TELCO360_PG_PASSWORD=unquote(u.password or ""),
            TELCO360_PG_DB=u.path.lstrip("/") or "postgres",
        )
    (p.home / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def run_dbt(args: list[str], target: str = "dev") -> tuple[bool, list[dict], str]:
    """Run a dbt command against a target in a child process (dbt-duckdb keeps its database open for the
    life of the process, which would lock the embedded warehouse). Returns (success, results, output)."""
    import json
    import subprocess
    import sys

    env = {**os.environ, **dbt_env(target)}
    exe = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(exe), *args, "--project-dir", str(DBT_PROJECT), "--target", target],
        cwd=DBT_PROJECT,
        env=env,
        capture_output=True,
        text=True,
    )
    results = []
    run_results = Path(env["DBT_TARGET_PATH"]) / "run_results.json"
    if args[0] in ("build", "run", "test", "seed") and run_results.exists():
        results = json.loads(run_results.read_text()).get("results", [])
    return proc.returncode == 0, results, proc.stdout + proc.stderr


def build(
    target: str = "dev",
    full_refresh: bool = False,
    select: list[str] | None = None,
    rebuild_from: str | None = None,
    raise_on_failure: bool = True,
) -> BuildResult:
    """`dbt build` (seeds, models, unit and data tests, in dependency order)."""
    import time

    args = ["build", "--quiet"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    if rebuild_from:
        args += ["--vars", f"{{rebuild_from: '{rebuild_from}'}}"]
    t0 = time.perf_counter()
    ok, results, output = run_dbt(args, target)
    seconds = time.perf_counter() - t0
    counts: dict[str, int] = {}
    failures = []
    for r in results:
        status = str(r.get("status", "")).lower()
        counts[status] = counts.get(status, 0) + 1
        if status in ("fail", "error"):
            failures.append(f"{r.get('unique_id')}: {r.get('message')}")
    result = BuildResult(
        target=target,
        passed=counts.get("pass", 0) + counts.get("success", 0),
        failed=counts.get("fail", 0) + counts.get("error", 0),
        warned=counts.get("warn", 0),
        skipped=counts.get("skipped", 0),
        seconds=seconds,
        failures=failures,
    )
    if raise_on_failure and (not ok or result.failed):
        detail = "\n".join(failures) or output[-3000:]
        raise BuildFailed(f"dbt build on {target} failed:\n{detail}")
    return result


def parse(target: str = "dev") -> Path:
    """Write dbt's manifest (Airflow renders the build DAG from it, without running dbt at parse time)."""
    ok, _, output = run_dbt(["parse", "--quiet"], target)
    if not ok:
        raise BuildFailed(f"dbt parse failed:\n{output[-3000:]}")
    manifest = Path(dbt_env(target)["DBT_TARGET_PATH"]) / "manifest.json"
    return manifest

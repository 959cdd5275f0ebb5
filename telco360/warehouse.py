"""Build the dbt warehouse (staging -> intermediate -> marts) on DuckDB (`duckdb`) or PostgreSQL (`postgres`).

dbt runs in a child process. Credentials reach dbt's committed profiles.yml only through environment
variables, derived here from TELCO360_PG_DSN; so does the PII salt (TELCO360_PII_SALT; the embedded demo
warehouse alone may use a random one kept under TELCO360_HOME/secrets).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from telco360.assets import MARTS  # noqa: F401 (re-exported: the marts dbt builds)
from telco360.config import PROJECT_ROOT, paths, postgres_dsn
from telco360.db import WAREHOUSES

DBT_PROJECT = PROJECT_ROOT / "dbt_project"


PII_SALT = "TELCO360_PII_SALT"
MIN_SALT_LENGTH = 16  # the macro refuses shorter ones too (dbt_project/macros/pii.sql)


class BuildFailed(RuntimeError):
    pass


def demo_pii_salt(create: bool = True) -> str:
    """The embedded demo warehouse's salt: random, generated once, kept in $TELCO360_HOME/secrets/pii_salt
    (mode 600) so every build hashes the same way. Never used for the postgres warehouse. Created whole or not
    at all (written aside, then linked into place), so concurrent first builds agree on one salt."""
    path = paths().home / "secrets" / "pii_salt"
    if not path.exists():
        if not create:
            raise BuildFailed(f"no demo PII salt at {path}: `make airflow-init` (or any `telco360 build`) creates it")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        aside = path.with_name(f".pii_salt.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even briefly
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            os.link(aside, path)  # atomic; fails if another process got there first, whose salt then stands
        except FileExistsError:
            pass
        finally:
            aside.unlink(missing_ok=True)
    salt = path.read_text().strip()
    if not salt:
        raise BuildFailed(f"the demo PII salt {path} is empty: remove it (a new one means a full rebuild)")
    return salt


def pii_salt_env(target: str, create: bool = True) -> dict[str, str]:
    """TELCO360_PII_SALT for dbt: the environment's, or for the duckdb demo alone the generated one."""
    salt = os.environ.get(PII_SALT)
    if salt is None and target == "duckdb":
        salt = demo_pii_salt(create)
    if not salt:
        raise BuildFailed(
            f"the {target} warehouse needs {PII_SALT} (a secret of at least {MIN_SALT_LENGTH} characters; "
            "only the embedded demo generates its own)"
        )
    if len(salt) < MIN_SALT_LENGTH:
        raise BuildFailed(f"{PII_SALT} is shorter than {MIN_SALT_LENGTH} characters")
    return {PII_SALT: salt}


@dataclass
class BuildResult:
    target: str
    passed: int
    failed: int
    warned: int
    skipped: int
    seconds: float
    failures: list[str]


def dbt_env(target: str = "duckdb", salt: bool = True) -> dict[str, str]:
    """Environment for dbt: profile location, state folder, the PII salt, and PostgreSQL credentials by
    reference. The profile's output names are the warehouse names (duckdb, postgres)."""
    p = paths()
    env = {
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "TELCO360_HOME": str(p.home),
        "TELCO360_WAREHOUSE": target,
        "DBT_LOG_PATH": str(p.home / "dbt" / "logs"),
        "DBT_TARGET_PATH": str(p.home / "dbt" / f"target-{target}"),
    }
    if target not in WAREHOUSES:
        raise BuildFailed(f"unknown warehouse {target!r}: duckdb or postgres")
    if target == "postgres":
        dsn = postgres_dsn()
        if not dsn:
            raise BuildFailed("the postgres warehouse needs TELCO360_PG_DSN (`source var/pg/env`)")
        u = urlparse(dsn)
        env.update(
            TELCO360_PG_HOST=u.hostname or "127.0.0.1",
            TELCO360_PG_PORT=str(u.port or 5432),
            TELCO360_PG_USER=unquote(u.username or ""),
            TELCO360_PG_PASSWORD=unquote(u.password or ""),
            TELCO360_PG_DB=u.path.lstrip("/") or "postgres",
        )
    if salt:  # `dbt parse` runs no SQL and needs none
        env.update(pii_salt_env(target))
    (p.home / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def run_dbt(args: list[str], target: str = "duckdb") -> tuple[bool, list[dict], str]:
    """Run a dbt command against a target in a child process (dbt-duckdb keeps its database open for the
    life of the process, which would lock the embedded warehouse). Returns (success, results, output)."""
    import json
    import subprocess
    import sys

    env = {**os.environ, **dbt_env(target, salt=args[0] != "parse")}
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
    target: str = "duckdb",
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


def parse(target: str = "duckdb") -> Path:
    """Write dbt's manifest (Airflow renders the build DAG from it, without running dbt at parse time)."""
    if target == "duckdb" and PII_SALT not in os.environ:
        demo_pii_salt()  # created here (make airflow-init), so that parsing the build DAG only reads it
    ok, _, output = run_dbt(["parse", "--quiet"], target)
    if not ok:
        raise BuildFailed(f"dbt parse failed:\n{output[-3000:]}")
    manifest = Path(dbt_env(target, salt=False)["DBT_TARGET_PATH"]) / "manifest.json"
    return manifest

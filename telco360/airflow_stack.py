"""Airflow as the data engineers run it: api-server, scheduler, dag-processor and triggerer on the project's
state folder, bound to 127.0.0.1, behind a login (`make airflow`, `make airflow-down`, `telco360 airflow`).

Not `airflow standalone`: it starts its parts as whatever `airflow` is on PATH (not this environment's), prints
the password among hundreds of log lines and sizes nothing. Here every component is this environment's
`airflow`, in its own process group with its own log under `$TELCO360_HOME/logs/airflow/`, its pid under
`$AIRFLOW_HOME/run/`; the settings that make it fit a 2-core machine are in `airflow_env`.

The login: Airflow's simple auth manager, one user `admin`. Its password is generated once, kept in
`$AIRFLOW_HOME/passwords.json` (mode 600) and printed when it is created; later starts say where it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from telco360.config import PROJECT_ROOT, paths

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
USER = "admin"
DEFAULT_PORT = 8080
SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class AirflowStackError(RuntimeError):
    """Airflow did not come up (or down): the message says which component and where its log is."""


@dataclass(frozen=True)
class Stack:
    home: Path  # TELCO360_HOME
    port: int

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def run_dir(self) -> Path:
        return self.airflow_home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs" / "airflow"

    @property
    def password_file(self) -> Path:
        return self.airflow_home / "passwords.json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid_file(self, component: str) -> Path:
        return self.run_dir / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"


def stack(home: Path | None = None, port: int | None = None) -> Stack:
    port = port if port is not None else int(os.environ.get("AIRFLOW__API__PORT", DEFAULT_PORT))
    return Stack(home=Path(home) if home is not None else paths().home, port=port)


def airflow_env(st: Stack, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every component (and every task it runs) gets. Sized for 2 cores: four task slots,
    one API worker, one DAG-parsing process."""
    env = dict(os.environ if base is None else base)
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        {
            "TELCO360_HOME": str(st.home),
            "AIRFLOW_HOME": str(st.airflow_home),
            # the tasks' own `airflow`, `dbt` and `telco360` are this environment's, whatever the shell's PATH
            "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": env.get("AIRFLOW__CORE__PARALLELISM", "4"),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": env.get("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", "4"),
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(st.password_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{st.url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(st.port),
            "AIRFLOW__API__BASE_URL": st.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__COSMOS__CACHE_DIR": env.get("AIRFLOW__COSMOS__CACHE_DIR", str(st.home / "cache" / "cosmos")),
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "dbt_project"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    return env


def _airflow(st: Stack, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run([exe, *args], env=env or airflow_env(st), capture_output=True, text=True, timeout=600)


def _pid(st: Stack, component: str) -> int | None:
    """The component's pid if it is running (a stale pid file is removed)."""
    f = st.pid_file(component)
    try:
        pid = int(f.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        f.unlink(missing_ok=True)
        return None
    return pid


def running(st: Stack) -> dict[str, int | None]:
    return {c: _pid(st, c) for c in COMPONENTS}


def ensure_password(st: Stack) -> str | None:
    """Generate the admin password once (mode 600). Returns it when it was just created, else None."""
    st.airflow_home.mkdir(parents=True, exist_ok=True)
    if st.password_file.exists():
        return None
    password = secrets.token_urlsafe(15)
    fd = os.open(st.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({USER: password}, f)
    return password


def password(st: Stack) -> str:
    return json.loads(st.password_file.read_text())[USER]


def prepare(st: Stack) -> None:
    """Migrate the metadata DB, create the writer pool and dbt's manifest (what the DAGs parse)."""
    env = airflow_env(st)
    for args in (("db", "migrate"), ("pools", "set", "warehouse_writer", "1", "one writer at a time")):
        done = _airflow(st, *args, env=env)
        if done.returncode != 0:
            raise AirflowStackError(f"airflow {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    cli = str(Path(sys.executable).with_name("telco360"))
    done = subprocess.run([cli, "build", "--parse-only"], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise AirflowStackError(f"telco360 build --parse-only failed: {done.stderr.strip()[-2000:]}")


def health(st: Stack) -> dict | None:
    """GET /api/v2/monitor/health (no login needed), or None while the API server is not answering."""
    try:
        with urllib.request.urlopen(f"{st.url}/api/v2/monitor/health", timeout=5) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def healthy(report: dict | None) -> bool:
    if not report:
        return False
    parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
    return all((report.get(p) or {}).get("status") == "healthy" for p in parts)


def up(st: Stack, timeout: float = 240) -> str | None:
    """Start whatever is not running and wait until every component is healthy. Returns the password if it
    was generated by this call (to be printed once), else None."""
    created = ensure_password(st)
    for d in (st.run_dir, st.log_dir):
        d.mkdir(parents=True, exist_ok=True)
    if not any(running(st).values()):
        prepare(st)
    env = airflow_env(st)
    exe = str(Path(sys.executable).with_name("airflow"))
    for component, pid in running(st).items():
        if pid:
            continue
        with open(st.log_file(component), "ab") as log:
            proc = subprocess.Popen(
                [exe, component],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: `down` stops it and every child it started
                cwd=st.home,
            )
        st.pid_file(component).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [c for c, pid in running(st).items() if pid is None]
        if dead:
            raise AirflowStackError(
                f"airflow {dead[0]} stopped while starting: see {st.log_file(dead[0])}"
                + "".join(f"\n  {line}" for line in _tail(st.log_file(dead[0])))
            )
        if healthy(health(st)):
            return created
        time.sleep(2)
    raise AirflowStackError(f"Airflow was not healthy after {timeout:.0f} s: {health(st)} (logs: {st.log_dir})")


def _tail(path: Path, n: int = 8) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


def down(st: Stack, timeout: float = 30) -> list[str]:
    """Stop every component (its whole process group: the task processes it started too)."""
    stopped = []
    for component, pid in running(st).items():
        if pid is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        stopped.append(component)
    deadline = time.monotonic() + timeout
    for component in stopped:
        pid = int(st.pid_file(component).read_text())
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.3)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        st.pid_file(component).unlink(missing_ok=True)
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of ours counts as stopped
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def banner(st: Stack, created: str | None) -> str:
    lines = [f"Airflow is up: {st.url}  (api-server, scheduler, dag-processor, triggerer; logs: {st.log_dir})"]
    if created:
        lines.append(f"log in as {USER} with password {created}   (printed once; kept in {st.password_file})")
    else:
        lines.append(f"log in as {USER}; the password is in {st.password_file}")
    lines.append("stop it with: make airflow-down")
    return "\n".join(lines)

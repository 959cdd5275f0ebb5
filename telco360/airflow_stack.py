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
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
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


# what a task process would otherwise import while it parses its DAG file. build_warehouse.py parsed in a bare
# Python: 1.0 s cold, 0.1 s with these loaded; in a real task (its `dag_file_parse_ms`), ~260 ms -> ~150 ms.
# Loaded once per scheduler start: after editing these modules, restart Airflow (make airflow-down airflow).
TASK_PRELOAD = (
    "airflow.sdk",
    "airflow.sdk.execution_time.task_runner",
    "airflow.providers.standard.operators.python",
    "airflow.timetables.trigger",
    "pendulum",
    "cosmos",
    "cosmos.converter",
    "cosmos.operators.watcher",
    "cosmos.plugin.airflow3",
    "telco360.assets",
    "telco360.config",
    "telco360.contracts",
    "telco360.db",
    "telco360.warehouse",
)


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
            # a scheduler that died (killed, OOM) is taken over quickly: its queued tasks are reset within 30 s
            # and the tasks it ran that stopped heartbeating are failed (and retried) within 90 s
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
            # a task's supervisor (which holds an executor slot) waits for its task process in a select() that
            # times out after this many seconds, and in about 4 tasks of 10 it noticed the process had ended
            # only then: 5 s (the default) of an idle slot after a 0.4 s sensor task; also the heartbeat period
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "90",
            # every task is a process forked from one of the executor's workers, and parses its DAG file: the
            # workers come from a forkserver that has imported what the DAG files import (Cosmos, the project),
            # so a task inherits those modules instead of importing them again (bench/bench_dag.py)
            "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
            "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": ",".join(TASK_PRELOAD),
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
    except (OSError, ValueError):
        f.unlink(missing_ok=True)
        return None
    if not _alive(pid) or not _is_component(pid, component):
        f.unlink(missing_ok=True)
        return None
    return pid


def _is_component(pid: int, component: str) -> bool:
    """The process is `airflow <component>` (a pid file outliving its process may name someone else's)."""
    for _ in range(20):  # empty while the kernel is still setting up an exec: look again shortly
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        if raw:
            break
        time.sleep(0.05)
    args = raw.split(b"\0")
    return (any(a.endswith(b"airflow") for a in args) and component.encode() in args) or (
        args and args[0].startswith(b"airflow ") and component.replace("-", "_").encode() in args[0]
    )


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


def healthy(report: dict | None, since: datetime | None = None) -> bool:
    """Every component healthy, and (with `since`) heartbeating since then: the metadata DB remembers the
    heartbeats of components stopped a moment ago, which must not pass for the ones just started."""
    if not report or (report.get("metadatabase") or {}).get("status") != "healthy":
        return False
    for part in ("scheduler", "dag_processor", "triggerer"):
        info = report.get(part) or {}
        if info.get("status") != "healthy":
            return False
        if since is not None:
            beat = info.get(f"latest_{part}_heartbeat")
            if not beat or datetime.fromisoformat(beat.replace("Z", "+00:00")) < since:
                return False
    return True


def up(st: Stack, timeout: float = 240) -> str | None:
    """Start whatever is not running and wait until every component is healthy and Airflow lists every DAG.
    Returns the password if it was generated by this call (to be printed once), else None."""
    created = ensure_password(st)
    for d in (st.run_dir, st.log_dir):
        d.mkdir(parents=True, exist_ok=True)
    if not any(running(st).values()):
        prepare(st)
    env = airflow_env(st)
    exe = str(Path(sys.executable).with_name("airflow"))
    started = datetime.now(UTC)
    procs: dict[str, subprocess.Popen] = {}
    for component, pid in running(st).items():
        if pid:
            continue
        with open(st.log_file(component), "ab") as log:
            procs[component] = subprocess.Popen(
                [exe, component],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: `down` stops it and every child it started
                cwd=st.home,
            )
        st.pid_file(component).write_text(str(procs[component].pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # what this call started is watched through its own handle: right after exec the kernel may not have
        # set a process's command line yet, and an empty one is not taken for a stopped component
        dead = [c for c in COMPONENTS if c not in procs and _pid(st, c) is None]
        dead += [c for c, proc in procs.items() if proc.poll() is not None]
        if dead:
            _stop_started(st, procs)
            raise AirflowStackError(
                f"airflow {dead[0]} stopped while starting: see {st.log_file(dead[0])}"
                + "".join(f"\n  {line}" for line in _tail(st.log_file(dead[0])))
            )
        if healthy(health(st), since=started):
            break
        time.sleep(2)
    else:
        _stop_started(st, procs)
        raise AirflowStackError(f"Airflow was not healthy after {timeout:.0f} s: {health(st)} (logs: {st.log_dir})")
    # healthy is not ready: the dag-processor parses the DAG files one by one after it starts, and a DAG not yet
    # parsed is a 404 to whoever asks for it right away (`make run`'s next command)
    api, missing = Api(st), set(DAGS)
    try:
        while time.monotonic() < deadline:
            try:
                missing = dags_missing(api, since=started)
            except urllib.error.HTTPError as exc:
                if exc.code < 500:  # refused (a password changed under a running api-server, say): an answer
                    refused = f"Airflow's API refused the DAG list: HTTP {exc.code} {exc.reason}"
                    raise AirflowStackError(refused) from exc
            except (urllib.error.URLError, OSError):  # the API server still settling: ask again
                pass
            if not missing:
                return created
            time.sleep(1)
    except BaseException:  # an error, or Ctrl-C: what this call started does not outlive it
        _stop_started(st, procs)
        raise
    _stop_started(st, procs)
    raise AirflowStackError(
        f"Airflow is up but has not loaded {', '.join(sorted(missing))} after {timeout:.0f} s: "
        f"see {st.log_file('dag-processor')}"
    )


def dags_missing(api: Api, since: datetime | None = None) -> set[str]:
    """The project's DAGs Airflow does not list yet. A DAG file that failed to import (since `since`) is an
    error naming the file and the exception's last line, not a wait."""
    listed = {d["dag_id"] for d in api.get("/api/v2/dags?limit=100")["dags"]}
    missing = set(DAGS) - listed
    if missing:
        for err in api.get("/api/v2/importErrors?limit=100")["import_errors"]:
            when = _when(err.get("timestamp"))
            if since is None or (when is not None and when >= since):
                last = (err.get("stack_trace") or "").strip().splitlines()[-1:] or ["(no trace)"]
                raise AirflowStackError(f"DAG file {err.get('filename')} does not import: {last[0]}")
    return missing


def _stop_started(st: Stack, procs: dict[str, subprocess.Popen]) -> None:
    """A start that failed leaves nothing of its own running: the process groups it started are stopped."""
    for proc in procs.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for component, proc in procs.items():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        st.pid_file(component).unlink(missing_ok=True)


def _tail(path: Path, n: int = 8) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


def down(st: Stack, timeout: float = 30) -> list[str]:
    """Stop every component and every process it started: its process group, and the task processes Airflow's
    supervisor moves into groups of their own (found as descendants before the first signal)."""
    import psutil

    stopped, family = [], []
    for component, pid in running(st).items():
        if pid is None:
            continue
        with contextlib.suppress(psutil.Error):
            family += psutil.Process(pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        stopped.append((component, pid))
    for proc in family:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    deadline = time.monotonic() + timeout
    for component, pid in stopped:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.3)
        with contextlib.suppress(ProcessLookupError):  # whatever of its group is left
            os.killpg(pid, signal.SIGKILL)
        st.pid_file(component).unlink(missing_ok=True)
    _, left = psutil.wait_procs(family, timeout=max(0.0, deadline - time.monotonic()))
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return [component for component, _ in stopped]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process took the number: ours is gone
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


class Api:
    """Airflow's REST API as the admin user (what `make run` and the tests use to follow the runs)."""

    def __init__(self, st: Stack):
        self.st = st
        self._token: str | None = None

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.st.url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token()}")
        for attempt in range(8):  # a busy SQLite metadata DB answers 500 now and then: try again
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    return json.loads(resp.read() or b"{}")
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == 7 or method == "POST":  # a POST may have been done: never twice
                    raise
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                if attempt == 7 or method == "POST":
                    raise
            time.sleep(2 + 2 * attempt)
        raise AssertionError("unreachable")

    def token(self) -> str:
        if self._token is None:
            answer = self._request("POST", "/auth/token", {"username": USER, "password": password(self.st)}, auth=False)
            self._token = answer["access_token"]
        return self._token

    def get(self, path: str) -> dict:
        return self._request("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._request("POST", path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._request("PATCH", path, body)

    def runs(self, dag_id: str) -> list[dict]:
        """The DAG's latest runs, oldest first."""
        newest = self.get(f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after&limit=100")["dag_runs"]
        return newest[::-1]  # the latest 100: an hourly poll makes more than that in a week

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        quoted = urllib.parse.quote(run_id, safe="")
        out: list[dict] = []
        while True:  # the API answers at most 100 a page
            page = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=100&offset={len(out)}")
            out += page["task_instances"]
            if not page["task_instances"] or len(out) >= page["total_entries"]:
                return out

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})


PIPELINE = ("ingest_extracts", "build_warehouse", "train_models", "score_customers")
DAGS = (*PIPELINE, "rebuild_months")  # every DAG in dags/: `up` waits until Airflow lists them all
TERMINAL = {"success", "failed"}


@dataclass
class PipelineResult:
    """Every run of the pipeline's DAGs since a moment, as the scheduler left them."""

    runs: dict[str, list[dict]]
    failed_tasks: dict[str, list[str]]
    last: str = PIPELINE[-1]
    nothing_new: bool = False  # the polls found no delivery to load: nothing downstream had anything to do

    @property
    def ok(self) -> bool:
        if self.nothing_new:
            return not self.failed_tasks
        return not self.failed_tasks and any(r["state"] == "success" for r in self.runs.get(self.last, []))

    def lines(self) -> list[str]:
        out = []
        for dag_id in PIPELINE:
            for r in self.runs.get(dag_id, []):
                took = _seconds(r.get("start_date"), r.get("end_date"))
                out.append(
                    f"  {dag_id:16} {r['run_type']:16} {r['state']:8} {took:6.0f} s"
                    + (
                        f"   failed: {', '.join(self.failed_tasks[r['dag_run_id']])}"
                        if r["dag_run_id"] in self.failed_tasks
                        else ""
                    )
                )
        if self.nothing_new:
            out.append("  nothing new landed: every delivery in the landing folder is loaded already, so no build ran")
        return out


def scheduler_will_ingest(dag: dict, runs: list[dict], now: datetime, landed_at: datetime | None = None) -> str | None:
    """Why the scheduler is about to poll the landing folder by itself, or None: then the pipeline triggers the
    poll. A queued run has not looked at the landing folder yet; an unpaused DAG whose next run is due (the
    first start: the latest interval of its schedule, catchup off) gets its run on the scheduler's next loop; a
    running run that started after the deliveries last changed (`landed_at`) sees them all. Triggering on top of
    any of these adds a second poll that finds nothing (16-19 s of `make run`). A run that started before the
    deliveries landed, or when it is not known when they did, is not counted on."""
    if any(r["state"] == "queued" for r in runs):
        return "a queued run"
    if landed_at is not None and any(r["state"] == "running" and _started_after(r, landed_at) for r in runs):
        return "a running run that started after the deliveries landed"
    due = _when(dag.get("next_dagrun_run_after"))
    if not dag.get("is_paused") and due is not None and due <= now:
        return f"its scheduled run, due {due:%Y-%m-%d %H:%M} UTC"
    return None


def last_landed(landing: Path) -> datetime | None:
    """When something last arrived in the landing folder (UTC), or None when it holds no file: the latest change
    time (ctime) or modification time of its files and folders, never later than now. A transfer that keeps the
    sender's modification times (`cp -p`, `rsync -t`, a copy renamed into place) still sets the change time of
    what it wrote or renamed, and a clock ahead of ours does not put the landing in the future. A file removed
    while the folder is read (a transfer renaming its temporary file) is passed over, and so is a link: what it
    points at, maybe outside the landing folder, is never looked at (the loader does not take links either)."""
    times, files = [], 0
    for p in landing.rglob("*") if landing.is_dir() else []:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            times.append(max(st.st_mtime, st.st_ctime))
            files += stat.S_ISREG(st.st_mode)
    if not files:
        return None
    return min(datetime.fromtimestamp(max(times), UTC), datetime.now(UTC))


def task_log(st: Stack, dag_id: str, run_id: str, task_id: str) -> Path | None:
    """The log file of a task's latest attempt (Airflow's own layout under $AIRFLOW_HOME/logs)."""
    folder = st.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    attempts = sorted(folder.glob("attempt=*.log"), key=lambda p: int(p.stem.split("=")[1]))
    return attempts[-1] if attempts else None


def _since(run: dict, since: datetime) -> bool:
    """A run that belongs to what happened since `since`: queued or started after it, still active, or ended
    after it (a scheduled run dated before it may be the one doing the work)."""
    if run["state"] not in TERMINAL:
        return True
    return any((_when(run.get(k)) or datetime.min.replace(tzinfo=UTC)) >= since for k in ("run_after", "end_date"))


def _next_cycle(poll: dict, finals: list[dict], until_scores: int, entered: datetime) -> bool:
    """A poll due after the chain's last run has succeeded (the `until_scores`-th success of `last`) and after
    the caller began following (a score of an earlier cycle that ends meanwhile must not hide its own poll)."""
    ends = sorted(e for r in finals if r["state"] == "success" and (e := _when(r.get("end_date"))) is not None)
    if len(ends) < until_scores:
        return False
    due = _when(poll.get("run_after")) or _when(poll.get("start_date"))
    return due is not None and due > max(ends[until_scores - 1], entered)


def _started_after(run: dict, moment: datetime) -> bool:
    """The run started after `moment` (a run not started yet has not)."""
    began = _when(run.get("start_date"))
    return began is not None and began > moment


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _seconds(start: str | None, end: str | None) -> float:
    a, b = _when(start), _when(end)
    return (b - a).total_seconds() if a and b else float("nan")


def follow(
    api: Api,
    since: datetime,
    until_scores: int = 1,
    timeout: float = 1800,
    quiet: float = 5,
    last: str = PIPELINE[-1],
    landed_at: datetime | None = None,
) -> PipelineResult:
    """Wait until `until_scores` runs of `last` (score_customers) started after `since` have succeeded, or any
    run of the pipeline has failed, and nothing more has been queued for `quiet` seconds. Polls of the landing
    folder due after the chain's last success, and after this call began (the caller's own poll is always
    kept), belong to the next cycle: not waited for (a frequent poll, every 20 s say, would otherwise never
    leave `quiet` seconds free). A build that such a poll starts within the quiet seconds is still waited for.

    Waiting for one chain (`until_scores` 1), it also ends when every poll since `since` has loaded nothing and
    nothing downstream has started (`nothing_new`: the deliveries were loaded before, as on a second `make run`);
    with `landed_at` (when the landing folder last changed), only once a poll that started after that moment
    has found nothing (a poll that listed the folder before the files arrived proves nothing)."""
    deadline = time.monotonic() + timeout
    entered = datetime.now(UTC)
    settled_at, quietly = None, False
    while True:
        runs = {d: [r for r in api.runs(d) if _since(r, since)] for d in PIPELINE}
        runs[PIPELINE[0]] = [r for r in runs[PIPELINE[0]] if not _next_cycle(r, runs[last], until_scores, entered)]
        states = [r["state"] for rs in runs.values() for r in rs]
        failed = [r for rs in runs.values() for r in rs if r["state"] == "failed"]
        done = sum(r["state"] == "success" for r in runs[last]) >= until_scores
        # every poll since `since` ended finding nothing to load, and nothing downstream started: no chain comes
        polls = runs[PIPELINE[0]]
        idle = (
            until_scores == 1
            and not failed
            and (landed_at is None or any(_started_after(r, landed_at) for r in polls))
            and not any(runs[d] for d in PIPELINE[1:])
            and bool(polls)
            and all(r["state"] == "success" for r in polls)
            and all(_found_nothing(api, r) for r in polls)
        )
        if (done or failed or idle) and all(s in TERMINAL for s in states):
            settled_at = settled_at or time.monotonic()
            if time.monotonic() - settled_at >= quiet:
                quietly = True
                break
        else:
            settled_at = None
        if time.monotonic() > deadline:
            break
        time.sleep(3)
    failed_tasks = {
        r["dag_run_id"]: [
            t["task_id"]
            for t in api.task_instances(dag_id, r["dag_run_id"])
            if t["state"] in ("failed", "upstream_failed")
        ]
        for dag_id, rs in runs.items()
        for r in rs
        if r["state"] != "success"
    }
    nothing_new = idle and quietly
    return PipelineResult(runs, {k: v or ["(not finished)"] for k, v in failed_tasks.items()}, last, nothing_new)


def _found_nothing(api: Api, poll: dict) -> bool:
    """A poll of the landing folder that loaded nothing: `pending` found no delivery to load and skipped every
    other task (a poll that loaded some sources but not all starts no build either, and is not this)."""
    tasks = api.task_instances(PIPELINE[0], poll["dag_run_id"])
    return any(t["task_id"] == "pending" for t in tasks) and all(
        t["state"] == "skipped" for t in tasks if t["task_id"] != "pending"
    )

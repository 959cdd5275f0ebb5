"""`telco360 airflow status|down` find the components through their pid files, and a pid file is only believed
when the process it names is that Airflow component: one outliving its process (a reboot, a kill -9) may
name someone else's process by now, and `down` must never signal it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from telco360 import airflow_stack as af

pytestmark = pytest.mark.unit


def _start(args: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(args, start_new_session=True)
    for _ in range(100):  # until the exec has set its command line
        if Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            break
        time.sleep(0.02)
    return proc


def test_a_component_just_started_is_recognised_before_its_command_line_is_set(tmp_path):
    """Right after Popen returns, the kernel often still shows an empty command line (CI once took a starting
    triggerer for stopped, dropped its pid file and left it running): it is read again, not judged empty."""
    st = af.stack(tmp_path, 1)
    st.run_dir.mkdir(parents=True)
    fake = tmp_path / "bin" / "airflow"
    fake.parent.mkdir()
    fake.write_text("import time\ntime.sleep(60)\n")
    procs = []
    try:
        for _ in range(20):  # at least one of twenty starts is looked at before its exec is complete
            proc = subprocess.Popen([sys.executable, str(fake), "triggerer"], start_new_session=True)
            procs.append(proc)
            st.pid_file("triggerer").write_text(str(proc.pid))
            assert af.running(st)["triggerer"] == proc.pid
    finally:
        for p in procs:
            os.killpg(p.pid, 9)
            p.wait()


def test_a_pid_file_naming_another_process_is_dropped_and_that_process_left_alone(tmp_path):
    st = af.stack(tmp_path, 1)
    st.run_dir.mkdir(parents=True)
    stranger = _start(["sleep", "60"])
    try:
        st.pid_file("scheduler").write_text(str(stranger.pid))
        assert af.running(st)["scheduler"] is None
        assert not st.pid_file("scheduler").exists()
        st.pid_file("scheduler").write_text(str(stranger.pid))
        assert af.down(st) == []
        assert stranger.poll() is None, "down() signalled a process that is not an Airflow component"
    finally:
        stranger.kill()
        stranger.wait()


def test_a_pid_file_naming_the_component_is_believed(tmp_path):
    st = af.stack(tmp_path, 1)
    st.run_dir.mkdir(parents=True)
    fake = tmp_path / "bin" / "airflow"  # the command line of `<venv>/bin/airflow scheduler`, as Popen starts it
    fake.parent.mkdir()
    fake.write_text("import time\ntime.sleep(60)\n")
    proc = _start([sys.executable, str(fake), "scheduler"])
    other = _start([sys.executable, str(fake), "triggerer"])
    try:
        st.pid_file("scheduler").write_text(str(proc.pid))
        st.pid_file("dag-processor").write_text(str(other.pid))  # alive, an airflow, but not this component
        found = af.running(st)
        assert found["scheduler"] == proc.pid
        assert found["dag-processor"] is None
        assert af.down(st) == ["scheduler"]
        proc.wait(timeout=30)
        assert other.poll() is None
    finally:
        for p in (proc, other):
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()


def test_the_pipeline_follows_the_schedulers_own_poll_instead_of_adding_an_empty_one():
    """`make run` starts Airflow and then drives the chain: on a first start the scheduler runs the hourly poll
    by itself, and a trigger on top of it used to add a second poll that found nothing. It triggers only when
    the scheduler would not run the poll now."""
    now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    due = {"is_paused": False, "next_dagrun_run_after": "2026-12-07T10:00:00Z"}
    later = {"is_paused": False, "next_dagrun_run_after": "2026-12-07T11:00:00Z"}
    assert af.scheduler_will_ingest(due, [], now) == "its scheduled run, due 2026-12-07 10:00 UTC"
    assert af.scheduler_will_ingest(later, [{"state": "queued"}], now) == "a queued run"
    # the next poll is an hour away, or the DAG is paused, or no run is planned: trigger
    assert af.scheduler_will_ingest(later, [{"state": "success"}], now) is None
    assert af.scheduler_will_ingest({**due, "is_paused": True}, [], now) is None
    assert af.scheduler_will_ingest({"is_paused": False, "next_dagrun_run_after": None}, [], now) is None
    # a run already running may have polled before the deliveries landed: not counted on
    assert af.scheduler_will_ingest(later, [{"state": "running"}], now) is None
    # ... but one that started after the deliveries last changed sees them all (make run: generated, then Airflow)
    landed = datetime(2026, 12, 7, 10, 20, tzinfo=UTC)
    after, before = {"state": "running", "start_date": "2026-12-07T10:21:00Z"}, {"state": "running"}
    assert af.scheduler_will_ingest(later, [after], now, landed) == (
        "a running run that started after the deliveries landed"
    )
    assert af.scheduler_will_ingest(later, [{**after, "start_date": "2026-12-07T10:19:00Z"}], now, landed) is None
    assert af.scheduler_will_ingest(later, [before], now, landed) is None  # not started yet: no start date
    assert af.scheduler_will_ingest(later, [after], now, None) is None


def test_last_landed_is_when_the_newest_delivery_arrived_not_its_senders_clock(tmp_path):
    assert af.last_landed(tmp_path / "missing") is None
    assert af.last_landed(tmp_path) is None
    (tmp_path / "crm" / "2026-01").mkdir(parents=True)
    assert af.last_landed(tmp_path) is None  # folders alone: nothing landed
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    # a transfer that keeps the sender's modification times (cp -p, rsync -t): a year old, or a day ahead
    for name, when in (("crm/2026-01/part-00000.txt", time.time() - 365 * 86400), ("crm/2026-01/m.json", None)):
        (tmp_path / name).write_text("x")
        if when:
            os.utime(tmp_path / name, (when, when))
    ahead = time.time() + 86400
    os.utime(tmp_path / "crm/2026-01/m.json", (ahead, ahead))
    landed = af.last_landed(tmp_path)
    assert before <= landed <= datetime.now(UTC)  # when it arrived (change time), never in the future
    # a link is passed over, and what it points at is never looked at: a file outside the landing folder
    # changed after the link was made does not move the landing time
    os.utime(tmp_path / "crm/2026-01/m.json", (time.time() - 60, time.time() - 60))  # no longer capped at now
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("not a delivery")
    (tmp_path / "crm" / "2026-01" / "link").symlink_to(outside)
    (tmp_path / "crm" / "2026-01" / "dangling").symlink_to(tmp_path / "nowhere")
    linked = af.last_landed(tmp_path)
    time.sleep(0.05)
    outside.write_text("changed later")
    assert af.last_landed(tmp_path) == linked < datetime.fromtimestamp(outside.stat().st_ctime, UTC)
    # a file removed while the folder is read is passed over (no traceback)
    gone = tmp_path / "crm" / "2026-01" / "part-00000.txt"
    real_lstat, looks, vanishes_after = os.lstat, [], [1]

    def vanishing_lstat(path, *args, **kwargs):  # the file is there at the first look, gone at any later one
        if Path(path) == gone:
            looks.append(path)
            if len(looks) > vanishes_after[0]:
                raise FileNotFoundError(path)
        return real_lstat(path, *args, **kwargs)

    from unittest import mock

    with mock.patch("os.lstat", vanishing_lstat):
        for after in (1, 0):  # removed right after it was listed and looked at once; before any look
            vanishes_after[0] = after
            looks.clear()
            assert before <= af.last_landed(tmp_path) <= datetime.now(UTC)
            assert looks  # the vanishing file was looked at


class _Runs:
    """The scheduler's runs as its REST API lists them (dag_id -> runs); no task failed. `tasks`: a run's task
    instances by run id (else one running `pending`)."""

    def __init__(self, runs: dict[str, list[dict]], tasks: dict[str, list[dict]] | None = None):
        self._runs, self._tasks = runs, tasks or {}

    def runs(self, dag_id: str) -> list[dict]:
        return self._runs.get(dag_id, [])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self._tasks.get(run_id, [{"task_id": "pending", "state": "running"}])


def test_following_the_chain_does_not_wait_for_the_polls_of_the_next_cycle():
    """With a poll every 20 s, a poll is almost always running: `follow` waits for the ones due before the chain's
    last success (they may start another build) or before it was called (the caller's own), not for those due
    after both, which belong to the next cycle."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)

    def at(minutes: float) -> str:
        return (now + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    def run(dag_id, n, state, due, end=None):
        return {
            "dag_run_id": f"{dag_id}-{n}",
            "run_type": "scheduled" if dag_id == "ingest_extracts" else "asset_triggered",
            "state": state,
            "run_after": at(due),
            "start_date": at(due),
            "end_date": None if end is None else at(end),
        }

    chain = {
        "ingest_extracts": [run("ingest_extracts", 1, "success", -10, -9)],
        "build_warehouse": [run("build_warehouse", 1, "success", -9, -8)],
        "train_models": [run("train_models", 1, "success", -8, -7)],
        "score_customers": [run("score_customers", 1, "success", -7, -6)],
    }
    since = now - timedelta(minutes=11)
    first = chain["ingest_extracts"]
    later = run("ingest_extracts", 2, "running", 0.5)  # due after the scores and after follow was called
    result = af.follow(_Runs({**chain, "ingest_extracts": [*first, later]}), since, timeout=5, quiet=0)
    assert result.ok and [r["dag_run_id"] for r in result.runs["ingest_extracts"]] == ["ingest_extracts-1"]
    # a poll due before the scores were published is still running: it is waited for (here until the timeout)
    during = run("ingest_extracts", 2, "running", -6.5)
    result = af.follow(_Runs({**chain, "ingest_extracts": [*first, during]}), since, 1, 1, 0)
    assert not result.ok and result.failed_tasks == {"ingest_extracts-2": ["(not finished)"]}
    # the caller's own poll, due after an earlier cycle's scores but before follow was called: waited for too
    own = run("ingest_extracts", 2, "running", -0.1)
    result = af.follow(_Runs({**chain, "ingest_extracts": [*first, own]}), since, 1, 1, 0)
    assert not result.ok and result.failed_tasks == {"ingest_extracts-2": ["(not finished)"]}


def test_following_ends_when_the_poll_found_nothing_new_instead_of_waiting_for_a_build():
    """`make run` a second time on the same home lands the same deliveries again: the poll loads nothing, no
    build starts, and following the chain used to wait for one until its timeout (30 min)."""
    now = datetime.now(UTC)
    stamp = now.isoformat().replace("+00:00", "Z")
    poll = {"dag_run_id": "p1", "run_type": "manual", "state": "success", "run_after": stamp, "end_date": stamp}
    skipped = (
        [{"task_id": "pending", "state": "success"}]
        + [
            {"task_id": f"{s}.{t}", "state": "skipped"}
            for s in ("crm_customer", "usage_daily")
            for t in ("load", "announce")
        ]
        + [{"task_id": "report", "state": "skipped"}, {"task_id": "audit_raw", "state": "skipped"}]
    )
    t0 = time.monotonic()
    result = af.follow(_Runs({"ingest_extracts": [poll]}, {"p1": skipped}), now, timeout=60, quiet=0)
    assert time.monotonic() - t0 < 10  # not the timeout
    assert result.ok and result.nothing_new
    assert result.lines()[-1].strip().startswith("nothing new landed")
    # a poll that listed the landing folder before the files arrived proves nothing: with when the folder last
    # changed, only a poll started after it ends the wait
    started = {**poll, "start_date": stamp}
    later = (now + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    result = af.follow(_Runs({"ingest_extracts": [started]}, {"p1": skipped}), now, timeout=4, quiet=0, landed_at=now)
    assert not result.nothing_new and not result.ok
    fresh = {**poll, "start_date": later}
    result = af.follow(_Runs({"ingest_extracts": [fresh]}, {"p1": skipped}), now, timeout=60, quiet=0, landed_at=now)
    assert result.ok and result.nothing_new
    # waiting for two chains, one empty poll does not end the wait
    result = af.follow(_Runs({"ingest_extracts": [poll]}, {"p1": skipped}), now, 2, timeout=4, quiet=0)
    assert not result.nothing_new and not result.ok
    # a poll that loaded some sources (its build waits for the rest) is not "nothing new": it is waited for
    loaded = [dict(t, state="success") if t["task_id"].startswith("crm_customer") else t for t in skipped]
    result = af.follow(_Runs({"ingest_extracts": [poll]}, {"p1": loaded}), now, timeout=4, quiet=0)
    assert not result.nothing_new and not result.ok


class _Dags:
    """Airflow's REST API as `up` reads it while the dag-processor works: the DAGs listed, the import errors."""

    def __init__(self, listed, errors=()):
        self.listed, self.errors = listed, list(errors)

    def get(self, path: str) -> dict:
        if path.startswith("/api/v2/dags?"):
            return {"dags": [{"dag_id": d} for d in self.listed]}
        assert path.startswith("/api/v2/importErrors?"), path
        return {"import_errors": self.errors}


def test_up_waits_for_every_dag_and_names_a_dag_file_that_does_not_import():
    since = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    assert af.dags_missing(_Dags(af.DAGS)) == set()
    assert af.dags_missing(_Dags(af.PIPELINE[:2])) == set(af.DAGS) - set(af.PIPELINE[:2])
    broken = {
        "filename": "/x/dags/train_models.py",
        "timestamp": "2026-12-08T01:00:05Z",
        "stack_trace": "Traceback (most recent call last):\n  File \"x\"\nModuleNotFoundError: No module named 'y'\n",
    }
    with pytest.raises(af.AirflowStackError, match=r"train_models.py does not import: ModuleNotFoundError: No mod"):
        af.dags_missing(_Dags(af.PIPELINE[:2], [broken]), since=since)
    # an error recorded before this start (the file may be mended since) is not taken for the answer
    old = {**broken, "timestamp": "2026-12-08T00:59:00Z"}
    assert af.dags_missing(_Dags(af.PIPELINE[:2], [old]), since=since) == set(af.DAGS) - set(af.PIPELINE[:2])
    # every DAG listed: import errors (another file's, say) are not this wait's business
    assert af.dags_missing(_Dags(af.DAGS, [broken]), since=since) == set()


def test_every_module_the_task_workers_preload_imports():
    """The forkserver imports these before it forks the executor's workers; one that fails to import would only
    be skipped there (multiprocessing swallows ImportError), so a renamed module must fail here."""
    import importlib

    for name in af.TASK_PRELOAD:
        importlib.import_module(name)
    env = af.airflow_env(af.stack(Path("/nonexistent"), 1), base={})
    assert env["AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD"].split(",") == list(af.TASK_PRELOAD)
    assert env["AIRFLOW__SCHEDULER__MP_START_METHOD"] == "forkserver"

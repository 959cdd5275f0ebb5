"""`telco360-dbt` (the build DAG's dbt executable) lets one dbt process at a time run per TELCO360_HOME: a second
one waits for the first, and the lock lives as long as dbt itself, not just the wrapper."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

WRAPPER = str(Path(sys.executable).with_name("telco360-dbt"))


def start(home: Path) -> subprocess.Popen:
    env = {**os.environ, "TELCO360_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.Popen([WRAPPER, "--version"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_dbt_waits_for_the_lock_holder(tmp_path, monkeypatch):
    from telco360.dbt_writer_lock import acquire, lock_path

    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    held = acquire(lock_path())  # as a running dbt build would hold it
    proc = start(tmp_path)
    time.sleep(3)  # `dbt --version` alone takes about 2 s: still running means it waits
    assert proc.poll() is None, proc.communicate()
    os.close(held)  # the holder ends
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "waiting for" in err and "got the lock after" in err
    assert "Core:" in out  # dbt itself ran, after the wait


def test_dbt_holds_the_lock_until_it_exits(tmp_path, monkeypatch):
    """The wrapper becomes dbt (exec): the lock must pass to dbt, not be dropped when the wrapper's code ends."""
    from telco360.dbt_writer_lock import lock_path

    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    path = lock_path()
    proc = start(tmp_path)
    seen_locked, probes = False, 0
    while proc.poll() is None:
        if path.exists():
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                seen_locked = True
            finally:
                os.close(fd)
            probes += 1
        time.sleep(0.05)
    assert proc.returncode == 0, proc.communicate()
    assert probes > 5 and seen_locked  # held through dbt's run (a second or more), not only the wrapper's instant
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # and released when dbt exited
    os.close(fd)

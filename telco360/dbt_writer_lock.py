"""`telco360-dbt`: dbt, one process at a time per TELCO360_HOME — the executable the build DAG gives Cosmos.

The build DAG's one `dbt build` (Cosmos' watcher producer) holds the `warehouse_writer` pool. Its per-model
sensor tasks cannot: they wait on that very producer, so in the 1-slot pool they would wait for a slot it never
frees. But a retried or cleared model task runs `dbt run --select <model>` itself, outside the pool, and several
can come due at once (a failed producer hands every pending model to its sensor). The embedded DuckDB file
takes one writer and dbt does not wait for its lock, so each of those would fail on the others. This wrapper
takes an exclusive lock (`flock`, released by the kernel when dbt exits, even if it is killed), then becomes
dbt (`exec`, same process: Cosmos reads dbt's output and signals it as before). Whoever comes second waits.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from telco360.config import paths


def lock_path() -> Path:
    return paths().home / "dbt" / "writer.lock"


def acquire(path: Path) -> int:
    """An open descriptor holding the exclusive lock on `path` (waits for it), inheritable across exec."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"telco360-dbt: waiting for {path} (another dbt process writes this warehouse)", file=sys.stderr)
        t0 = time.monotonic()
        fcntl.flock(fd, fcntl.LOCK_EX)
        print(f"telco360-dbt: got the lock after {time.monotonic() - t0:.1f}s", file=sys.stderr)
    os.set_inheritable(fd, True)
    return fd


def main() -> None:
    dbt = Path(sys.executable).with_name("dbt")
    acquire(lock_path())  # held by the descriptor, which dbt inherits: released when dbt exits
    os.execv(dbt, [str(dbt), *sys.argv[1:]])


if __name__ == "__main__":
    main()

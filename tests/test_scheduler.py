"""The pipeline under the real Airflow scheduler (api-server, scheduler, dag-processor and triggerer, as `make
airflow` starts them; not `airflow dags test`): deliveries land and, with no manual step, the ingest poll loads
them, the warehouse builds, the gate publishes, the models train and the scores are published. Then a new
month lands and the chain runs again by itself."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from telco360 import airflow_stack as af

from .conftest import land, make_landing

pytestmark = pytest.mark.airflow
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(name).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1]) if len(addr) == 8 else addr)
    return found


def settle_ingest(api: af.Api, paused: bool) -> None:
    """Pause (or resume) the landing poll; when pausing, wait for its running poll to end, so that the test can
    open the warehouse file (the embedded DuckDB takes one process at a time)."""
    api.patch("/api/v2/dags/ingest_extracts", {"is_paused": paused})
    deadline = time.monotonic() + 300
    while paused and any(r["state"] == "running" for r in api.runs("ingest_extracts")):  # a queued one waits
        assert time.monotonic() < deadline, "the running poll did not end"
        time.sleep(2)


def published(home: Path):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        months = [
            m.strftime("%Y-%m")
            for (m,) in con.execute("SELECT DISTINCT month FROM marts.customer_360 ORDER BY 1").fetchall()
        ]
        revenue = dict(
            con.execute("SELECT strftime(month, '%Y-%m'), sum(revenue) FROM marts.customer_360 GROUP BY 1").fetchall()
        )
        billed = dict(con.execute("SELECT bill_month, sum(amount) FROM raw.billing_items GROUP BY 1").fetchall())
        active = dict(
            con.execute(
                "SELECT strftime(month, '%Y-%m'), count(*) FROM marts.ml_features WHERE is_active GROUP BY 1"
            ).fetchall()
        )
        scored = {
            m: (n, distinct)
            for m, n, distinct in con.execute(
                "SELECT strftime(month, '%Y-%m'), count(*), count(DISTINCT sub_id) FROM marts.churn_scores GROUP BY 1"
            ).fetchall()
        }
        loads = con.execute(
            "SELECT source, period, count(*) FROM audit.load_manifest WHERE status = 'loaded' GROUP BY 1, 2"
        ).fetchall()
        publications = con.execute("SELECT count(*) FROM audit.publications").fetchone()[0]
    finally:
        con.close()
    return months, revenue, billed, active, scored, loads, publications


def test_new_months_flow_through_the_real_scheduler_with_no_manual_step(tmp_path, monkeypatch):
    delivered = make_landing(tmp_path, "delivered", subscribers=5000, months=4, seed=5)
    home = tmp_path / "home"
    landed_first = land(delivered, home / "landing", MONTHS[:3])
    assert landed_first > 3 * 15
    # poll the landing every 20 s (on the minute, a month that landed just after a poll waited up to 60 s)
    monkeypatch.setenv("TELCO360_INGEST_SCHEDULE", "20s")
    monkeypatch.setenv("TELCO360_WAREHOUSE", "duckdb")
    st = af.stack(home, free_port())
    start = datetime.now(UTC)
    scheduler = None
    try:
        created = af.up(st)
        assert created and created == af.password(st)  # generated once, kept under TELCO360_HOME (mode 600)
        assert (st.password_file.stat().st_mode & 0o777) == 0o600
        assert listening_addresses(st.port) == {"127.0.0.1"}
        api = af.Api(st)
        # the UI and its API want a login
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{st.url}/api/v2/dags", timeout=10)
        assert refused.value.code == 401
        assert {d["dag_id"] for d in api.get("/api/v2/dags")["dags"]} >= set(af.PIPELINE) | {"rebuild_months"}

        first = af.follow(api, start, timeout=1500)
        assert first.ok, "\n".join(first.lines())
        # nothing was triggered by hand: the poll ran on its schedule, the rest on assets
        assert {r["run_type"] for r in first.runs["ingest_extracts"]} == {"scheduled"}
        for dag_id in af.PIPELINE[1:]:
            assert [r["run_type"] for r in first.runs[dag_id]] == ["asset_triggered"], dag_id

        settle_ingest(api, paused=True)
        months, revenue, billed, active, scored, loads, publications = published(home)
        assert months == MONTHS[:3]
        assert all(revenue[m] == billed[m] and billed[m] > Decimal(0) for m in months)
        assert scored == {"2026-03": (active["2026-03"], active["2026-03"])}  # each active subscriber once
        assert publications == 1
        assert len(loads) == landed_first and all(n == 1 for *_, n in loads)

        # a new month lands (while the poll is paused for the checks above: landed during a poll, a month's
        # deliveries were split over two polls, 30 s more), then the poll resumes: nobody triggers anything
        second_start = datetime.now(UTC)
        landed_second = land(delivered, home / "landing", MONTHS[3:])
        settle_ingest(api, paused=False)
        # drill: the scheduler is killed while the warehouse builds, then restarted
        deadline = time.monotonic() + 900
        while not any(
            r["state"] == "running" and af._when(r["run_after"]) >= second_start for r in api.runs("build_warehouse")
        ):
            assert time.monotonic() < deadline, "the build did not start"
            time.sleep(2)
        time.sleep(5)
        scheduler = af.running(st)["scheduler"]
        os.kill(scheduler, signal.SIGKILL)
        while af.running(st)["scheduler"] is not None:
            time.sleep(0.5)
        af.up(st)
        assert af.running(st)["scheduler"] not in (None, scheduler)
        second = af.follow(api, second_start, timeout=1500)
        assert second.ok, "\n".join(second.lines())
        # again nothing by hand, and the killed scheduler's successor carried on the same runs (one of each)
        assert {r["run_type"] for r in second.runs["ingest_extracts"]} == {"scheduled"}
        for dag_id in af.PIPELINE[1:]:
            assert [r["run_type"] for r in second.runs[dag_id]] == ["asset_triggered"], dag_id

        settle_ingest(api, paused=True)
        months, revenue, billed, active, scored, loads, publications = published(home)
        assert months == MONTHS
        assert revenue["2026-04"] == billed["2026-04"] > Decimal(0)
        assert scored["2026-04"] == (active["2026-04"], active["2026-04"])
        assert scored["2026-03"] == (active["2026-03"], active["2026-03"])  # history kept
        assert publications == 2  # no half-published month: one publication per month that landed
        # every delivery loaded exactly once, whatever number of polls ran (and the scheduler's death)
        assert len(loads) == landed_first + landed_second and all(n == 1 for *_, n in loads)
    finally:
        stopped = af.down(st)
        if scheduler:  # the killed scheduler's executor workers outlive it in its process group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(scheduler, signal.SIGKILL)
    assert set(stopped) == set(af.COMPONENTS)
    assert af.running(st) == dict.fromkeys(af.COMPONENTS)

"""The DAGs really run in Airflow (metadata DB migrated, `airflow dags test`), end to end, and the quality
gate fails its task in Airflow when a critical check fails."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from telco360.assets import MARTS
from telco360.contracts import load_contracts

from .conftest import land, make_landing

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parent.parent


def airflow(args: list[str], env: dict) -> subprocess.CompletedProcess:
    exe = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=900)


def test_ingest_then_build_dags_run_end_to_end(tmp_path):
    home = tmp_path / "home"
    # clean data: the gate passes and the run publishes (the gate's failures: tests/test_quality.py); the
    # second month lands at the end, with a corrupt delivery among its good ones
    delivered = make_landing(tmp_path, "delivered", subscribers=1500, months=2)
    landing = home / "landing"
    land(delivered, landing, ["2026-01"])
    env = {
        **os.environ,
        "TELCO360_HOME": str(home),
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "TELCO360_WAREHOUSE": "duckdb",
    }
    parse = subprocess.run(
        [str(Path(sys.executable).with_name("telco360")), "build", "--parse-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert parse.returncode == 0, parse.stderr
    for step in (["db", "migrate"], ["pools", "set", "warehouse_writer", "1", "writer"]):
        proc = airflow(step, env)
        assert proc.returncode == 0, proc.stderr[-3000:]
    proc = airflow(["dags", "test", "ingest_extracts"], env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "DagRun Finished" in out and "state=success" in out, out[-3000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    for source in load_contracts():
        declared = sum(json.loads((f / "manifest.json").read_text())["row_count"] for f in (landing / source).iterdir())
        loaded, quarantined = con.execute(
            "SELECT coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) FROM audit.load_manifest "
            "WHERE source = ? AND status = 'loaded'",
            [source],
        ).fetchone()
        rejected = con.execute(
            "SELECT coalesce(sum(rows_declared), 0) FROM audit.load_manifest WHERE source = ? AND status = 'rejected'",
            [source],
        ).fetchone()[0]
        assert con.execute(f"SELECT count(*) FROM raw.{source}").fetchone()[0] == loaded
        # every declared row is loaded, quarantined, or in a delivery rejected whole
        assert loaded + quarantined + rejected == declared, source
    con.close()
    # then the warehouse build, rendered by Cosmos from dbt's manifest
    proc = airflow(["dags", "test", "build_warehouse"], env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "DagRun Finished" in out and "state=success" in out, out[-3000:]
    # one dbt process built every seed and model (the watcher's producer, through telco360-dbt), every seed
    # and model task then found its node's result at its first look and succeeded; one more ran the tests
    assert out.count("Running command: [") == 2, out[-3000:]
    assert "telco360-dbt', 'build'" in out and "telco360-dbt', 'test'" in out, out[-3000:]
    meta = sqlite3.connect(home / "airflow" / "airflow.db")
    states = dict(meta.execute("SELECT task_id, state FROM task_instance WHERE dag_id = 'build_warehouse'"))
    meta.close()
    nodes = {k for k in states if k.startswith("dbt.") and k != "dbt.dbt_producer_watcher_done"}
    assert len(nodes) > 40 and "dbt.telco360_test" in nodes and {states[k] for k in nodes} == {"success"}, states
    assert "Deferring" not in out  # sensors started after the build: nothing left to wait for
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    billed = con.execute("SELECT sum(amount) FROM raw.billing_items").fetchone()[0]
    assert con.execute("SELECT sum(revenue) FROM marts.customer_360").fetchone()[0] == billed
    for mart in MARTS:
        assert con.execute(f"SELECT count(*) FROM marts.{mart}").fetchone()[0] > 0, mart
    # the ingest DAG audited the raw layer; the build DAG audited every layer, then published
    runs = dict(con.execute("SELECT trigger, passed FROM audit.dq_runs").fetchall())
    assert runs == {"ingest_extracts": True, "build_warehouse": True}
    assert con.execute("SELECT count(*) FROM audit.publications").fetchone()[0] == 1
    con.close()
    # the run left its state in TELCO360_HOME, not in the home directory
    assert (home / "airflow" / "airflow.db").exists()

    # billing re-sends the month with three subscribers under an id no CRM has: loaded and built outside
    # Airflow, then the gate task in Airflow fails and the published marts stay as they were
    from telco360.simulator.faults import _refresh_manifest

    (period,) = [p for p in (landing / "billing_items").iterdir()]
    part = period / "part-00000.txt"
    lines = part.read_text().splitlines(keepends=True)
    subs = sorted({ln.split("|")[1] for ln in lines[1:]})[:3]
    part.write_text(
        "".join(
            ln.replace(f"|{ln.split('|')[1]}|", "|990000001|", 1) if ln.split("|")[1] in subs else ln for ln in lines
        )
    )
    _refresh_manifest(period)
    cli = str(Path(sys.executable).with_name("telco360"))
    for step in (["ingest", "-q"], ["build"]):
        done = subprocess.run([cli, *step], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    proc = airflow(["tasks", "test", "build_warehouse", "audit_and_publish"], env)
    out = proc.stdout + proc.stderr
    # (`airflow tasks test` exits 0 whatever the task does: its log says how it ended)
    assert "AirflowFailException: marts not published" in out, out[-3000:]
    assert "billed_subscriber_in_crm" in out, out[-3000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT sum(revenue) FROM marts.customer_360").fetchone()[0] == billed  # as published
    assert con.execute("SELECT count(*) FROM audit.publications").fetchone()[0] == 1
    assert con.execute("SELECT passed FROM audit.dq_runs ORDER BY started_at DESC LIMIT 1").fetchone() == (False,)
    con.close()

    # drill: the next month lands with one corrupt delivery among the good ones (a digit of billing's file
    # changed after its manifest was written). The ingest run loads every other delivery, and its `report` task
    # fails naming the delivery, its file and the rule; nothing of the corrupt file reaches raw.
    landed = land(delivered, landing, ["2026-02"])
    bad = landing / "billing_items" / "2026-02" / "part-00000.txt"
    data = bad.read_bytes()
    last_line = data.rindex(b"\n", 0, len(data) - 1) + 1  # change the last line's first digit, keep the length
    at = next(i for i in range(last_line, len(data)) if data[i : i + 1].isdigit())
    digit = data[at : at + 1]
    bad.write_bytes(data[:at] + (b"1" if digit != b"1" else b"2") + data[at + 1 :])
    proc = airflow(["dags", "test", "ingest_extracts"], env)
    out = proc.stdout + proc.stderr
    assert "DagRun Finished" in out and "state=failed" in out, out[-3000:]
    said = [line for line in out.splitlines() if "REJECTED billing_items/2026-02 [manifest_checksum]" in line]
    assert said and all("billing_items/2026-02/part-00000.txt: sha256 expected" in line for line in said), [
        line for line in out.splitlines() if "ejected" in line
    ]
    meta = sqlite3.connect(home / "airflow" / "airflow.db")
    (run_id,) = meta.execute(
        "SELECT run_id FROM dag_run WHERE dag_id = 'ingest_extracts' ORDER BY start_date DESC LIMIT 1"
    ).fetchone()
    states = dict(
        meta.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = 'ingest_extracts' AND run_id = ?", [run_id]
        )
    )
    meta.close()
    assert states["report"] == "failed" and states["audit_raw"] == "success", states
    assert all(states[f"{s}.load"] == "success" for s in load_contracts()), states
    assert states["billing_items.announce"] == "skipped"  # no raw.billing_items event for a month not loaded
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    month = con.execute(
        "SELECT source, status, rule FROM audit.load_manifest WHERE period LIKE '2026-02%' ORDER BY source, period"
    ).fetchall()
    assert con.execute("SELECT count(*) FROM raw.billing_items WHERE bill_month = '2026-02'").fetchone()[0] == 0
    con.close()
    assert ("billing_items", "rejected", "manifest_checksum") in month
    assert len(month) == landed and sum(status == "loaded" for _, status, _ in month) == landed - 1, month

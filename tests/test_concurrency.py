"""Two loaders started together on PostgreSQL give exactly the result of one: real processes, real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import psycopg
import pytest

from telco360.contracts import load_contracts

from .conftest import fresh_pg_ingest_schemas

pytestmark = pytest.mark.postgres

# How the command line names the PostgreSQL warehouse; the only place to change if the option is renamed.
POSTGRES_WAREHOUSE_ARGS = ["--warehouse", "postgres"]
TELCO360 = str(Path(sys.executable).with_name("telco360"))


@pytest.fixture(scope="module")
def pg_dsn():
    return fresh_pg_ingest_schemas()


@pytest.fixture(scope="module")
def two_runs(pg_dsn, landing):
    """`telco360 ingest` on PostgreSQL twice at the same time, over the same landing folder."""
    command = [TELCO360, "ingest", *POSTGRES_WAREHOUSE_ARGS, "--landing", str(landing), "--quiet"]
    env = {**os.environ, "TELCO360_PG_DSN": pg_dsn}
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    runs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, f"{out}\n{err}"
    return [out for out, _ in outputs]


def landing_deliveries(landing: Path) -> dict[tuple[str, str], int]:
    """(source, period) -> rows the source declared in its manifest."""
    return {
        (m.parent.parent.name, m.parent.name): json.loads(m.read_text())["row_count"]
        for m in landing.glob("*/*/manifest.json")
    }


def test_every_period_has_exactly_one_current_load(two_runs, pg_dsn, landing):
    with psycopg.connect(pg_dsn) as pg:
        current = Counter(pg.execute("SELECT source, period FROM audit.load_manifest WHERE is_current").fetchall())
    assert set(current) == set(landing_deliveries(landing))
    assert {key: n for key, n in current.items() if n != 1} == {}


def test_raw_holds_the_rows_of_one_run(two_runs, pg_dsn, landing, warehouse):
    """Raw equals a single sequential run (the DuckDB session warehouse) and the declared rows minus quarantine."""
    declared = landing_deliveries(landing)
    single = duckdb.connect(str(warehouse), read_only=True)
    with psycopg.connect(pg_dsn) as pg:
        quarantined = dict(
            pg.execute(
                "SELECT m.source || '/' || m.period, count(q.load_id) FROM audit.load_manifest m "
                "LEFT JOIN audit.quarantine q USING (load_id) WHERE m.is_current GROUP BY 1"
            ).fetchall()
        )
        for source in load_contracts():
            sql = f"SELECT m.period, count(*) FROM raw.{source} r JOIN audit.load_manifest m ON m.load_id = r._load_id "
            sql += "GROUP BY m.period ORDER BY m.period"
            pg_rows = dict(pg.execute(sql).fetchall())
            assert pg_rows == dict(single.execute(sql).fetchall()), source
            kept = {p: n - quarantined[f"{s}/{p}"] for (s, p), n in declared.items() if s == source}
            assert pg_rows == {p: n for p, n in kept.items() if n}, source
        # no run left rows behind: every raw and quarantine row belongs to a current load
        for table in [*(f"raw.{s}" for s in load_contracts()), "audit.quarantine"]:
            key = "load_id" if table == "audit.quarantine" else "_load_id"
            stray = pg.execute(
                f"SELECT count(*) FROM {table} WHERE {key} NOT IN "
                "(SELECT load_id FROM audit.load_manifest WHERE is_current)"
            ).fetchone()[0]
            assert stray == 0, table


def test_each_delivery_is_loaded_once_and_skipped_once(two_runs, pg_dsn, landing):
    with psycopg.connect(pg_dsn) as pg:
        attempts = pg.execute(
            "SELECT source, period, status, rule, is_current FROM audit.load_manifest ORDER BY source, period, status"
        ).fetchall()
    by_delivery: dict[tuple[str, str], list] = {}
    for source, period, status, rule, is_current in attempts:
        by_delivery.setdefault((source, period), []).append((status, rule, is_current))
    expected = [("loaded", None, True), ("skipped", "already_loaded", False)]
    assert by_delivery == {key: expected for key in landing_deliveries(landing)}
    # and the two runs' summaries say so: between them, every delivery loaded once and skipped once
    statuses = Counter()
    for out in two_runs:
        summary = out.strip().splitlines()[-1].removeprefix("deliveries: ")
        statuses.update({part.split()[0]: int(part.split()[1]) for part in summary.split(", ")})
    n = len(landing_deliveries(landing))
    assert statuses == {"loaded": n, "skipped": n}, two_runs


def test_a_warehouse_left_with_two_current_loads_is_repaired_and_then_guarded(two_runs, pg_dsn, tmp_path, caplog):
    """What concurrent runs of the old loader left behind: prepare keeps the last load and removes the other's rows."""
    from telco360.ingest.targets import PostgresTarget

    source, period = "complaint", "2026-01"
    columns = ", ".join(f'"{c}"' for c in load_contracts()[source].column_names)
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        kept, before = pg.execute(
            f"SELECT m.load_id, count(*) FROM raw.{source} r JOIN audit.load_manifest m ON m.load_id = r._load_id "
            "WHERE m.source = %s AND m.period = %s AND m.is_current GROUP BY m.load_id",
            (source, period),
        ).fetchone()
        # an earlier load (id 0: the sequence starts at 1) still current, its rows in raw beside the last one's
        pg.execute("DROP INDEX IF EXISTS audit.load_manifest_one_current")
        pg.execute(
            "INSERT INTO audit.load_manifest SELECT 0, source, period, delivery_path, delivery_sha256, schema_version, "
            "encoding, files, rows_declared, rows_read, rows_loaded, rows_quarantined, status, rule, reason, "
            "is_current, started_at, finished_at, duration_s FROM audit.load_manifest WHERE load_id = %s",
            (kept,),
        )
        pg.execute(
            f"INSERT INTO raw.{source} ({columns}, _load_id, _file, _row_number, _loaded_at) "
            f"SELECT {columns}, 0, _file, _row_number, _loaded_at FROM raw.{source} WHERE _load_id = %s",
            (kept,),
        )
    try:
        target = PostgresTarget(pg_dsn, tmp_path)
        try:
            with caplog.at_level("WARNING", logger="telco360.ingest"):
                target.prepare(list(load_contracts().values()))
        finally:
            target.close()
        assert f"{source}/{period} had 2 current loads" in caplog.text
        with psycopg.connect(pg_dsn, autocommit=True) as pg:
            current = pg.execute(
                "SELECT load_id FROM audit.load_manifest WHERE source = %s AND period = %s AND is_current",
                (source, period),
            ).fetchall()
            assert current == [(kept,)]
            rows = pg.execute(
                f"SELECT _load_id, count(*) FROM raw.{source} WHERE _load_id IN (0, %s) GROUP BY 1", (kept,)
            )
            assert rows.fetchall() == [(kept, before)]
            reason = pg.execute("SELECT reason FROM audit.load_manifest WHERE load_id = 0").fetchone()[0]
            assert reason == f"not current: a concurrent run also loaded {source}/{period}; load {kept} kept"
            # from now on the index refuses a second current load outright
            with pytest.raises(psycopg.errors.UniqueViolation):
                pg.execute("UPDATE audit.load_manifest SET is_current = true WHERE load_id = 0")
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as pg:  # leave the module's warehouse as the two runs left it
            pg.execute("DELETE FROM audit.load_manifest WHERE load_id = 0")
            pg.execute(f"DELETE FROM raw.{source} WHERE _load_id = 0")

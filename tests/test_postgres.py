"""The same contracts load PostgreSQL: a real server (started by `make test` / .ci/run), no mocks."""

from __future__ import annotations

import os
import shutil

import duckdb
import psycopg
import pytest

from telco360.contracts import load_contracts
from telco360.ingest.loader import Loader
from telco360.ingest.targets import PostgresTarget

from .conftest import fresh_pg_ingest_schemas

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_dsn():
    return fresh_pg_ingest_schemas()


@pytest.fixture(scope="module")
def pg_loaded(pg_dsn, landing_faults, tmp_path_factory):
    target = PostgresTarget(pg_dsn, tmp_path_factory.mktemp("pgtmp"))
    try:
        results = Loader(target, tmp_path_factory.mktemp("pgwork")).load_all(landing_faults)
    finally:
        target.close()
    return results


def test_postgres_raw_tables_equal_duckdb_raw_tables(pg_dsn, pg_loaded, warehouse_faults):
    duck = duckdb.connect(str(warehouse_faults), read_only=True)
    with psycopg.connect(pg_dsn) as pg:
        for source, contract in load_contracts().items():
            cols = ", ".join(f'"{c}"' for c in [*contract.column_names, "_file", "_row_number"])
            d = duck.execute(f"SELECT {cols} FROM raw.{source} ORDER BY _file, _row_number").fetchall()
            p = pg.execute(f"SELECT {cols} FROM raw.{source} ORDER BY _file, _row_number").fetchall()
            assert len(p) == len(d) > 0, source
            assert p == d, source


def test_postgres_audit_trail_equals_duckdb(pg_dsn, pg_loaded, warehouse_faults):
    duck = duckdb.connect(str(warehouse_faults), read_only=True)
    q_sql = (
        "SELECT source, period, file, row_number, rule, column_name, detail, raw_line FROM audit.quarantine "
        "ORDER BY file, row_number"
    )
    m_sql = (
        "SELECT source, period, status, rule, rows_read, rows_loaded, rows_quarantined, delivery_sha256 "
        "FROM audit.load_manifest ORDER BY source, period, status"
    )
    with psycopg.connect(pg_dsn) as pg:
        assert pg.execute(q_sql).fetchall() == duck.execute(q_sql).fetchall()
        assert pg.execute(m_sql).fetchall() == duck.execute(m_sql).fetchall()


def test_postgres_reload_is_skipped_and_a_crash_rolls_back(pg_dsn, pg_loaded, landing, tmp_path):
    import subprocess
    import sys

    land = tmp_path / "landing"
    shutil.copytree(landing / "complaint", land / "complaint")  # the clean twin differs from the faulted one
    with psycopg.connect(pg_dsn) as pg:
        before = pg.execute("SELECT count(*), sum(ticket_id) FROM raw.complaint").fetchone()
    script = (
        "from pathlib import Path\n"
        "from telco360.ingest.loader import Loader\n"
        "from telco360.ingest.targets import PostgresTarget\n"
        f"t = PostgresTarget({pg_dsn!r}, Path({str(tmp_path / 'tmp')!r}))\n"
        f"Loader(t, Path({str(tmp_path / 'w')!r})).load_all(Path({str(land)!r}), sources=['complaint'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TELCO360_FAILPOINT": "ingest.before_commit"},
    )
    assert proc.returncode == 86, proc.stderr
    with psycopg.connect(pg_dsn) as pg:
        assert pg.execute("SELECT count(*), sum(ticket_id) FROM raw.complaint").fetchone() == before
    target = PostgresTarget(pg_dsn, tmp_path / "tmp")
    try:
        results = Loader(target, tmp_path / "w").load_all(land, sources=["complaint"])
        assert [r.status for r in results] == ["loaded", "skipped"]  # Jan differs (faults), Feb identical
    finally:
        target.close()

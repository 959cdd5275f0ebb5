"""Same dbt project, same extracts: PostgreSQL marts equal DuckDB marts; roles keep BI users out of raw and PII."""

from __future__ import annotations

import decimal
import os
import re

import duckdb
import psycopg
import pytest

from telco360.grants import apply_grants
from telco360.ingest.loader import Loader
from telco360.ingest.targets import PostgresTarget
from telco360.warehouse import MARTS, build

pytestmark = pytest.mark.postgres
SCHEMAS = ["raw", "audit", "staging", "intermediate", "reference", "marts_candidate", "marts", "ml"]


@pytest.fixture(scope="module")
def pg_built(built_home, landing, tmp_path_factory):
    dsn = os.environ.get("TELCO360_PG_DSN")
    assert dsn, "TELCO360_PG_DSN is not set: run the suite with `make test` (it starts PostgreSQL)"
    with psycopg.connect(dsn, autocommit=True) as con:
        for schema in SCHEMAS:
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    apply_grants(dsn)  # before the build: default privileges cover what dbt creates
    target = PostgresTarget(dsn, tmp_path_factory.mktemp("pgtmp"))
    try:
        Loader(target, tmp_path_factory.mktemp("pgwork")).load_all(landing)
    finally:
        target.close()
    build("postgres")
    from telco360.db import open_warehouse
    from telco360.quality.gate import audit_and_publish

    with open_warehouse("postgres") as db:
        result = audit_and_publish(db, trigger="test")  # GX on PostgreSQL, then the copy into marts
    assert result.published, result.text()
    return dsn


def numeric_columns(duck, mart):
    return [
        (name, typ)
        for name, typ in duck.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'marts' "
            "AND table_name = ? ORDER BY ordinal_position",
            [mart],
        ).fetchall()
    ]


def test_every_mart_is_the_same_on_duckdb_and_postgresql(pg_built, built_home):
    duck = duckdb.connect(str(built_home / "warehouse.duckdb"), read_only=True)
    with psycopg.connect(pg_built) as pg:
        for mart in MARTS:
            cols = numeric_columns(duck, mart)
            assert cols, mart
            aggs = []
            for name, typ in cols:
                if typ.startswith(("DECIMAL", "BIGINT", "INTEGER", "HUGEINT", "DOUBLE")):
                    aggs.append(f"sum({name})")
                elif typ == "BOOLEAN":
                    aggs.append(f"sum(case when {name} then 1 else 0 end)")
                else:
                    aggs.append(f"count(distinct {name})")
            sql = f"SELECT count(*), {', '.join(aggs)} FROM marts.{mart}"
            d = duck.execute(sql).fetchone()
            p = pg.execute(sql).fetchone()
            assert d[0] == p[0] > 0, mart
            for (name, typ), dv, pv in zip(cols, d[1:], p[1:], strict=True):
                if typ.startswith("DOUBLE"):
                    assert float(pv or 0) == pytest.approx(float(dv or 0), rel=1e-9, abs=1e-9), (mart, name)
                else:
                    assert decimal.Decimal(str(pv or 0)) == decimal.Decimal(str(dv or 0)), (mart, name)


def test_revenue_per_month_is_equal_to_the_cent(pg_built, built_home):
    sql = "SELECT month, sum(revenue) FROM marts.customer_360 GROUP BY month ORDER BY month"
    duck = duckdb.connect(str(built_home / "warehouse.duckdb"), read_only=True).execute(sql).fetchall()
    with psycopg.connect(pg_built) as pg:
        assert pg.execute(sql).fetchall() == duck


def test_bi_reader_reads_marts_only_and_never_sees_clear_personal_data(pg_built):
    with psycopg.connect(pg_built, autocommit=True) as con:
        msisdns = {r[0] for r in con.execute("SELECT msisdn FROM raw.crm_subscriber LIMIT 200").fetchall()}
        con.execute("SET ROLE bi_reader")
        for table in (
            "raw.crm_subscriber",
            "raw.crm_customer",
            "audit.quarantine",
            "staging.stg_crm__subscribers",
            "intermediate.int_subscribers__monthly",
            "marts_candidate.customer_360",
            "audit.dq_results",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(f"SELECT 1 FROM {table} LIMIT 1")
        text_cols = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'marts' AND data_type IN ('text', 'character varying')"
        ).fetchall()
        assert len(text_cols) > 10
        clear = re.compile(r"^1[3-9]\d{9}$|^\d{17}[\dX]$")
        for table, column in text_cols:
            values = [r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM marts.{table} LIMIT 5000").fetchall()]
            assert not [v for v in values if v and (clear.match(v) or v in msisdns)], (table, column)
        assert con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM marts.dq_scorecard").fetchone()[0] > 0
        con.execute("RESET ROLE")
        con.execute("SET ROLE auditor")
        assert con.execute("SELECT count(*) FROM audit.load_manifest").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM audit.dq_results").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("SELECT 1 FROM raw.crm_subscriber LIMIT 1")


def test_great_expectations_gives_the_same_results_on_postgresql_as_on_duckdb(pg_built, built_home):
    sql = (
        "SELECT expectation, CAST(data_month AS varchar), success, coalesce(unexpected_count, -1) "
        "FROM audit.dq_results WHERE run_id = (SELECT run_id FROM audit.dq_runs WHERE trigger = 'test' "
        "ORDER BY started_at DESC LIMIT 1) ORDER BY 1, 2"
    )
    duck = duckdb.connect(str(built_home / "warehouse.duckdb"), read_only=True).execute(sql).fetchall()
    with psycopg.connect(pg_built) as pg:
        rows = pg.execute(sql).fetchall()
    from telco360.quality.suites import load_suites

    assert len(duck) == 2 * len(load_suites().checks())  # every check, both months
    assert rows == duck


def test_no_column_after_raw_holds_clear_personal_data_on_postgresql(pg_built):
    """Every column of every relation in staging, intermediate, the candidate and the published marts, scanned
    on the server for the clear values raw holds and for anything shaped like an MSISDN, an ID number or a
    person's name (the same scan as the DuckDB test in test_warehouse.py)."""
    from .test_warehouse import CLEAR_ID_NUMBER, CLEAR_MSISDN, PERSON_NAME, STAFF_NAME_COLUMNS

    with psycopg.connect(pg_built, autocommit=True) as con:
        con.execute("""
            CREATE TEMP TABLE clear_values AS
            SELECT 'name' AS kind, cust_name AS v FROM raw.crm_customer WHERE cust_type = 'individual'
            UNION SELECT 'id', id_number FROM raw.crm_customer
            UNION SELECT 'msisdn', msisdn FROM raw.crm_subscriber
            UNION SELECT 'id', legal_person_id FROM raw.group_customer""")
        con.execute("CREATE INDEX ON clear_values (v)")
        counts = dict(con.execute("SELECT kind, count(*) FROM clear_values GROUP BY 1").fetchall())
        assert counts.keys() == {"name", "id", "msisdn"} and min(counts.values()) > 1000
        columns = con.execute("""
            SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema IN ('staging', 'intermediate', 'marts_candidate', 'marts')
            ORDER BY 1, 2, 3""").fetchall()
        relations = sorted({(s, t) for s, t, _, _ in columns})
        assert {s for s, _ in relations} == {"staging", "intermediate", "marts_candidate", "marts"}
        assert len(relations) > 40
        leaks = []
        for schema, table in relations:
            mine = [(c, typ) for s, t, c, typ in columns if (s, t) == (schema, table)]
            checks = []
            for column, typ in mine:  # every column, as text: an MSISDN may hide in a number
                v = f'CAST("{column}" AS text)'
                shaped = [CLEAR_MSISDN, CLEAR_ID_NUMBER]
                kinds = "'id', 'msisdn'"
                if column not in STAFF_NAME_COLUMNS:
                    kinds += ", 'name'"
                    if typ in ("text", "character varying"):
                        shaped.append(PERSON_NAME)
                tests = " OR ".join(f"{v} ~ '^(?:{pattern})$'" for pattern in shaped)
                checks.append(
                    f"count(*) FILTER (WHERE {tests} OR {v} IN (SELECT v FROM clear_values WHERE kind IN ({kinds})))"
                )
            found = con.execute(f'SELECT {", ".join(checks)} FROM "{schema}"."{table}"').fetchone()
            leaks += [(schema, table, column, n) for (column, _), n in zip(mine, found, strict=True) if n]
        assert leaks == []
        h, masked = con.execute(
            "SELECT msisdn_hash, msisdn_masked FROM staging.stg_crm__subscribers LIMIT 1"
        ).fetchone()
        assert len(h) == 64 and re.fullmatch(r"1\d{2}\*{4}\d{4}", masked)


def test_raw_is_readable_only_by_loader_and_transformer(pg_built):
    """Of every role on the server but superusers and the warehouse owner (who runs the gate), exactly `loader`
    and `transformer` may read raw — every raw table — and nobody else may read any of them."""
    with psycopg.connect(pg_built, autocommit=True) as con:
        tables = [t for (t,) in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'raw' ORDER BY 1")]
        assert len(tables) == 15
        roles = [
            r
            for (r,) in con.execute(
                "SELECT rolname FROM pg_roles WHERE NOT rolsuper AND rolname !~ '^pg_' AND rolname <> current_user"
            )
        ]
        assert {"loader", "transformer", "bi_reader", "auditor", "ml"} <= set(roles)
        readers = {
            role
            for role in roles
            for table in tables
            if con.execute(
                "SELECT has_schema_privilege(%s, 'raw', 'USAGE') AND has_table_privilege(%s, %s, 'SELECT')",
                (role, role, f"raw.{table}"),
            ).fetchone()[0]
        }
        assert readers == {"loader", "transformer"}
        for role in ("loader", "transformer"):
            assert all(
                con.execute("SELECT has_table_privilege(%s, %s, 'SELECT')", (role, f"raw.{t}")).fetchone()[0]
                for t in tables
            )


def test_a_postgresql_restart_during_a_build_fails_that_try_and_the_retry_completes(pg_built):
    """Drill: the server restarts while dbt is building (every connection cut). That try fails with dbt's
    message; the retry (Airflow retries the dbt task: retries >= 1 in build_warehouse) rebuilds everything and
    the candidate marts are whole again, revenue equal to the billed revenue to the cent."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from .conftest import OUTER_HOME

    def candidate_facts():
        with psycopg.connect(pg_built) as con:
            return con.execute("""
                SELECT (SELECT count(*) FROM marts_candidate.customer_360),
                       (SELECT sum(revenue) FROM marts_candidate.customer_360),
                       (SELECT sum(amount) FROM raw.billing_items)""").fetchone()

    before = candidate_facts()
    assert before[0] > 0 and before[1] == before[2]
    env = {**os.environ, "TELCO360_WAREHOUSE": "postgres"}
    cli = str(Path(sys.executable).with_name("telco360"))
    first = subprocess.Popen(
        [cli, "build", "--full-refresh"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # wait until dbt is at work on the server (its sessions call themselves "dbt")
    deadline = time.monotonic() + 300
    with psycopg.connect(pg_built, autocommit=True) as con:
        while time.monotonic() < deadline and first.poll() is None:
            busy = con.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'dbt%%' AND state = 'active'"
            ).fetchone()[0]
            if busy:
                break
            time.sleep(0.2)
    assert first.poll() is None, "the build ended before the server could be restarted"
    time.sleep(2)  # well inside the build (a full refresh takes tens of seconds)
    restart = subprocess.run(
        ["bash", str(Path(__file__).resolve().parent.parent / "infra" / "pg.sh"), "restart"],
        env={**os.environ, "TELCO360_HOME": str(OUTER_HOME)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restart.returncode == 0, restart.stderr
    out, err = first.communicate(timeout=600)
    assert first.returncode == 1, out + err
    assert err.startswith("error: dbt build on postgres failed") and "Traceback" not in err, err
    retry = subprocess.run([cli, "build", "--full-refresh"], env=env, capture_output=True, text=True, timeout=900)
    assert retry.returncode == 0, retry.stderr[-3000:]
    assert candidate_facts() == before

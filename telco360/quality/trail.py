"""The audit trail: every result of every run in `audit.dq_results`, one row per run in `audit.dq_runs`,
publications in `audit.publications`, and `marts.dq_scorecard` (table x quality dimension x month, from
each month's latest run) for BI users. Plain tables and a view: readable with SQL, no Python needed."""

from __future__ import annotations

from telco360.db import Warehouse

DDL = [
    "CREATE SCHEMA IF NOT EXISTS audit",
    "CREATE SCHEMA IF NOT EXISTS marts",
    """CREATE TABLE IF NOT EXISTS audit.dq_runs (
        run_id varchar PRIMARY KEY,
        target varchar NOT NULL,
        trigger varchar NOT NULL,
        layers varchar NOT NULL,
        months varchar NOT NULL,
        through_load_id bigint,
        project_hash varchar,
        started_at timestamp NOT NULL,
        finished_at timestamp NOT NULL,
        seconds double precision,
        expectations integer NOT NULL,
        failed_critical integer NOT NULL,
        failed_warning integer NOT NULL,
        errors integer NOT NULL,
        passed boolean NOT NULL,
        error varchar,
        data_docs varchar)""",
    """CREATE TABLE IF NOT EXISTS audit.dq_results (
        run_id varchar NOT NULL,
        run_started_at timestamp NOT NULL,
        checkpoint varchar NOT NULL,
        suite varchar NOT NULL,
        expectation varchar NOT NULL,
        expectation_type varchar NOT NULL,
        layer varchar NOT NULL,
        table_name varchar NOT NULL,
        column_name varchar,
        dimension varchar NOT NULL,
        severity varchar NOT NULL,
        data_month date NOT NULL,
        success boolean NOT NULL,
        observed_value varchar,
        unexpected_count bigint,
        element_count bigint,
        unexpected_percent double precision,
        offending_sample varchar,
        description varchar,
        error varchar,
        evaluated_at timestamp NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit.publications (
        run_id varchar PRIMARY KEY,
        target varchar NOT NULL,
        published_at timestamp NOT NULL,
        through_month date,
        months integer NOT NULL,
        through_load_id bigint,
        project_hash varchar,
        tables varchar NOT NULL,
        seconds double precision)""",
]

SCORECARD = """
CREATE OR REPLACE VIEW marts.dq_scorecard AS
WITH latest AS (
    SELECT r.*, dense_rank() OVER (PARTITION BY r.suite, r.data_month ORDER BY r.run_started_at DESC) AS recency
    FROM audit.dq_results AS r
)
SELECT
    data_month AS month,
    layer,
    table_name,
    dimension,
    count(*) AS checks,
    sum(CASE WHEN success THEN 1 ELSE 0 END) AS passed,
    sum(CASE WHEN NOT success AND severity = 'critical' THEN 1 ELSE 0 END) AS failed_critical,
    sum(CASE WHEN NOT success AND severity = 'warning' THEN 1 ELSE 0 END) AS failed_warning,
    sum(CASE WHEN NOT success THEN coalesce(unexpected_count, 0) ELSE 0 END) AS offending_rows,
    round(1.0 * sum(CASE WHEN success THEN 1 ELSE 0 END) / count(*), 4) AS pass_rate,
    max(run_id) AS run_id,
    max(evaluated_at) AS evaluated_at
FROM latest
WHERE recency = 1
GROUP BY data_month, layer, table_name, dimension
"""

RESULT_COLUMNS = [
    "run_id",
    "run_started_at",
    "checkpoint",
    "suite",
    "expectation",
    "expectation_type",
    "layer",
    "table_name",
    "column_name",
    "dimension",
    "severity",
    "data_month",
    "success",
    "observed_value",
    "unexpected_count",
    "element_count",
    "unexpected_percent",
    "offending_sample",
    "description",
    "error",
    "evaluated_at",
]


TRAIL_TABLES = "audit.dq_runs, audit.dq_results, audit.publications"


# columns added after the trail tables were first created (a trail is kept, never recreated)
MIGRATIONS = [
    "ALTER TABLE audit.dq_runs ADD COLUMN IF NOT EXISTS project_hash varchar",
    "ALTER TABLE audit.dq_runs ADD COLUMN IF NOT EXISTS error varchar",
    "ALTER TABLE audit.publications ADD COLUMN IF NOT EXISTS project_hash varchar",
    # the gate's verdict as it judged it (passed | critical_failures | incomplete | error | nothing_to_audit)
    # and the number of results a complete run has, so reports read the verdict back instead of re-judging
    "ALTER TABLE audit.dq_runs ADD COLUMN IF NOT EXISTS expected integer",
    "ALTER TABLE audit.dq_runs ADD COLUMN IF NOT EXISTS verdict varchar",
]


def ensure_trail(db: Warehouse) -> None:
    for sql in DDL + MIGRATIONS:
        db.execute(sql)
    if db.dialect == "postgresql":
        # the gate trusts audit.dq_runs: the loader role (which may write the rest of audit) may not
        db.execute(
            "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'loader') THEN "
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {TRAIL_TABLES} FROM loader; END IF; END $$"
        )
    try:
        db.execute(SCORECARD)
    except Exception:  # PostgreSQL: the view's columns changed; replace it atomically
        db.rollback()
        db.begin()
        try:
            db.execute("DROP VIEW IF EXISTS marts.dq_scorecard")
            db.execute(SCORECARD)
            db.commit()
        except Exception:
            db.rollback()
            raise


def record_run(db: Warehouse, run: dict, results: list[dict]) -> None:
    ensure_trail(db)
    db.begin()
    try:
        cols = list(run)
        db.execute(
            f"INSERT INTO audit.dq_runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [run[c] for c in cols],
        )
        db.executemany(
            f"INSERT INTO audit.dq_results ({', '.join(RESULT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
            [tuple(r[c] for c in RESULT_COLUMNS) for r in results],
        )
        db.commit()
    except Exception:
        db.rollback()
        raise

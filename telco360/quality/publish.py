"""Publication: dbt builds the marts into schema `marts_candidate`; only an audit run whose critical
checks all passed copies them into `marts`, the schema BI users, the auditors and the models read.

The copy is one transaction, so `marts` always holds one whole audited build: after a critical failure
in month M it still shows the build that passed (through month M-1) until a rerun passes.
"""

from __future__ import annotations

import time
from datetime import datetime

from telco360.assets import MARTS
from telco360.quality.db import Warehouse
from telco360.quality.suites import CANDIDATE_SCHEMA
from telco360.quality.trail import ensure_trail


class PublicationBlocked(RuntimeError):
    pass


def _comments(db: Warehouse, table: str) -> list[str]:
    """COMMENT statements carrying the candidate's table and column descriptions (dbt persist_docs)."""
    if db.dialect == "duckdb":
        table_comment = db.one(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", (CANDIDATE_SCHEMA, table)
        )
        cols = db.all(
            "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
            "AND comment IS NOT NULL",
            (CANDIDATE_SCHEMA, table),
        )
    else:
        table_comment = db.one("SELECT obj_description(to_regclass(?), 'pg_class')", (f"{CANDIDATE_SCHEMA}.{table}",))
        cols = db.all(
            "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped "
            "AND col_description(a.attrelid, a.attnum) IS NOT NULL",
            (f"{CANDIDATE_SCHEMA}.{table}",),
        )

    def q(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    out = [f"COMMENT ON TABLE marts.{table} IS {q(table_comment)}"] if table_comment else []
    out += [f'COMMENT ON COLUMN marts.{table}."{c}" IS {q(text)}' for c, text in cols]
    return out


def published_through(target: str = "dev") -> str | None:
    with Warehouse(target, read_only=target == "dev") as db:
        if not db.relation_exists("audit", "publications"):
            return None
        month = db.one("SELECT max(through_month) FROM audit.publications WHERE target = ?", (target,))
    return month.strftime("%Y-%m") if month else None


def publish(target: str, run_id: str) -> dict:
    """Copy the candidate marts into `marts` if audit run `run_id` passed; raise PublicationBlocked if not."""
    t0 = time.perf_counter()
    with Warehouse(target) as db:
        ensure_trail(db)
        run = db.all(
            "SELECT passed, failed_critical, layers, through_load_id FROM audit.dq_runs WHERE run_id = ?", (run_id,)
        )
        if not run:
            raise PublicationBlocked(f"no audit run {run_id}: run `telco360 audit` first")
        passed, failed_critical, layers, through_load_id = run[0]
        if "marts" not in layers.split(","):
            raise PublicationBlocked(f"audit run {run_id} did not check the marts (layers {layers})")
        if not passed:
            failures = db.all(
                "SELECT expectation, table_name, strftime_month, unexpected_count FROM ("
                "SELECT expectation, table_name, CAST(data_month AS varchar) AS strftime_month, unexpected_count "
                "FROM audit.dq_results WHERE run_id = ? AND severity = 'critical' AND NOT success) f "
                "ORDER BY 1, 3 LIMIT 10",
                (run_id,),
            )
            detail = "; ".join(f"{e} on {t} {m}: {n if n is not None else 'error'}" for e, t, m, n in failures)
            raise PublicationBlocked(
                f"audit run {run_id}: {failed_critical} critical checks failed, marts not published ({detail})"
            )
        missing = [m for m in MARTS if not db.relation_exists(CANDIDATE_SCHEMA, m)]
        if missing:
            raise PublicationBlocked(f"candidate marts missing: {', '.join(missing)} (run the dbt build)")
        statements = []
        for mart in MARTS:
            statements += [
                f"DROP TABLE IF EXISTS marts.{mart}",
                f"CREATE TABLE marts.{mart} AS SELECT * FROM {CANDIDATE_SCHEMA}.{mart}",
                *_comments(db, mart),
            ]
        through_month = db.one(f"SELECT max(month) FROM {CANDIDATE_SCHEMA}.kpi_monthly")
        months = db.one(f"SELECT count(DISTINCT month) FROM {CANDIDATE_SCHEMA}.kpi_monthly")
        db.begin()
        try:
            for sql in statements:
                db.execute(sql)
            db.execute(
                "INSERT INTO audit.publications (run_id, target, published_at, through_month, months, "
                "through_load_id, tables, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    target,
                    datetime.now(),
                    through_month,
                    months,
                    through_load_id,
                    ",".join(MARTS),
                    time.perf_counter() - t0,
                ),
            )
            db.commit()
        except Exception:
            db.rollback()
            raise
    return {
        "run_id": run_id,
        "through_month": through_month.strftime("%Y-%m") if through_month else None,
        "months": months,
        "tables": list(MARTS),
        "seconds": round(time.perf_counter() - t0, 2),
    }

"""Publication: dbt builds the marts into schema `marts_candidate`; only an audit run whose critical
checks all passed copies them into `marts`, the schema BI users, the auditors and the models read.

The copy is one transaction, so `marts` always holds one whole audited build: after a critical failure
in month M it still shows the build that passed (through month M-1) until a rerun passes.
"""

from __future__ import annotations

import time
from datetime import datetime

from telco360.assets import MARTS
from telco360.db import Warehouse
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


def published_through(db: Warehouse) -> str | None:
    """The last month of the latest publication (what BI users see)."""
    from telco360.quality.audit import last_publication

    last = last_publication(db)
    return last[3].strftime("%Y-%m") if last and last[3] else None


def publish(db: Warehouse, run_id: str) -> dict:
    """Copy the candidate marts into `marts` if audit run `run_id` passed; raise PublicationBlocked if not.
    `db` is the job's writable handle."""
    from datetime import date

    from telco360.quality.audit import candidate_through_load_id, months_to_audit, project_hash
    from telco360.quality.suites import LAYERS

    t0 = time.perf_counter()
    required = months_to_audit(db)  # what must have been audited for this candidate
    ensure_trail(db)
    run = db.all(
        "SELECT verdict, passed, failed_critical, layers, months, through_load_id, project_hash "
        "FROM audit.dq_runs WHERE run_id = ?",
        (run_id,),
    )
    if not run:
        raise PublicationBlocked(f"no audit run {run_id}: run `telco360 audit` first")
    verdict, passed, failed_critical, layers, months_text, through_load_id, run_hash = run[0]
    if verdict not in (None, "passed") or not passed:  # None: a run recorded before verdicts
        failures = db.all(
            "SELECT expectation, table_name, data_month, unexpected_count FROM audit.dq_results "
            "WHERE run_id = ? AND severity = 'critical' AND NOT success ORDER BY 1, 3 LIMIT 10",
            (run_id,),
        )
        detail = "; ".join(f"{e} on {t} {m:%Y-%m}: {n if n is not None else 'error'}" for e, t, m, n in failures)
        why = f"{failed_critical} critical checks failed" if failed_critical else (verdict or "not passed")
        raise PublicationBlocked(
            f"audit run {run_id} did not pass ({why.replace('_', ' ')}): marts not published"
            + (f" ({detail})" if detail else "")
        )
    missing_layers = [layer for layer in LAYERS if layer not in layers.split(",")]
    if missing_layers:
        raise PublicationBlocked(f"audit run {run_id} did not check {', '.join(missing_layers)}")
    audited = {date.fromisoformat(m + "-01") for m in months_text.split(",") if m}
    unaudited = sorted(set(required) - audited)
    if unaudited:
        raise PublicationBlocked(
            f"audit run {run_id} did not check {', '.join(f'{m:%Y-%m}' for m in unaudited)}, "
            "which changed since the last publication"
        )
    if run_hash != project_hash():
        raise PublicationBlocked(f"the dbt project changed since audit run {run_id}: audit again")
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
    db.begin()
    try:
        if db.dialect == "postgresql":  # no rebuild of the candidate until the copy is done
            db.execute(f"LOCK TABLE {', '.join(f'{CANDIDATE_SCHEMA}.{m}' for m in MARTS)} IN SHARE MODE")
        if candidate_through_load_id(db) != through_load_id:
            raise PublicationBlocked(
                f"the candidate marts were rebuilt since audit run {run_id} (built through load "
                f"{candidate_through_load_id(db)}, audited {through_load_id}): audit again"
            )
        through_month = db.one(f"SELECT max(month) FROM {CANDIDATE_SCHEMA}.kpi_monthly")
        months = db.one(f"SELECT count(DISTINCT month) FROM {CANDIDATE_SCHEMA}.kpi_monthly")
        for sql in statements:
            db.execute(sql)
        db.execute(
            "INSERT INTO audit.publications (run_id, target, published_at, through_month, months, "
            "through_load_id, project_hash, tables, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                db.kind,
                datetime.now(),
                through_month,
                months,
                through_load_id,
                run_hash,
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

"""The latest data-quality run on one screen, read back from the audit trail (no GX needed)."""

from __future__ import annotations

from telco360.db import Warehouse, trail_kind
from telco360.quality.audit import AuditRun, summary
from telco360.quality.trail import RESULT_COLUMNS


def _recorded_verdict(passed, failed_critical, error, months, n_results, expected) -> str:
    """The verdict of a run recorded before audit.dq_runs had one, from what it did record."""
    if passed:
        return "passed"
    if not months:
        return "nothing_to_audit"
    if error:
        return "error"
    if failed_critical:
        return "critical_failures"
    return "incomplete" if expected is None or n_results != expected else "critical_failures"


def load_run(db: Warehouse, run_id: str | None = None) -> AuditRun | None:
    """A run as the trail recorded it, its verdict included (the latest run by default)."""
    from datetime import date

    if not db.relation_exists("audit", "dq_runs"):
        return None
    if run_id is None:
        run_id = db.one("SELECT run_id FROM audit.dq_runs ORDER BY started_at DESC LIMIT 1")
    if run_id is None:
        return None
    has_verdict = db.column_exists("audit", "dq_runs", "verdict")  # a trail not yet migrated
    cols = "target, layers, months, started_at, seconds, data_docs, passed, failed_critical, error"
    cols += ", expected, verdict" if has_verdict else ", NULL, NULL"
    target, layers, months, started, seconds, docs, passed, failed_critical, error, expected, verdict = db.all(
        f"SELECT {cols} FROM audit.dq_runs WHERE run_id = ?", (run_id,)
    )[0]
    cur = db.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM audit.dq_results WHERE run_id = ?", (run_id,))
    results = [dict(zip(RESULT_COLUMNS, row, strict=True)) for row in cur.fetchall()]
    month_list = [date.fromisoformat(m + "-01") for m in months.split(",") if m]
    return AuditRun(
        run_id=run_id,
        target=trail_kind(target),
        layers=layers.split(","),
        months=month_list,
        started_at=started,
        seconds=seconds or 0.0,
        results=results,
        data_docs=docs or "",
        expected=expected if expected is not None else len(results),
        error=error,
        recorded_verdict=verdict
        or _recorded_verdict(passed, failed_critical, error, month_list, len(results), expected),
    )


def last_run_report(db: Warehouse) -> str:
    from telco360.quality.publish import published_through

    run = load_run(db)
    if run is None:
        return "no data-quality run yet: `telco360 audit` (or the build_warehouse DAG) runs one"
    through = published_through(db)
    text = summary(run, published=f"marts published through {through}" if through else None)
    if not run.passed:
        text += f"\npublished marts: {'through ' + through if through else 'none yet'}"
    return text

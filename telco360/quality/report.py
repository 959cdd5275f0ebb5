"""The latest data-quality run on one screen, read back from the audit trail (no GX needed)."""

from __future__ import annotations

from telco360.quality.audit import AuditRun, summary
from telco360.quality.db import Warehouse
from telco360.quality.trail import RESULT_COLUMNS


def load_run(target: str = "dev", run_id: str | None = None) -> AuditRun | None:
    from datetime import date

    with Warehouse(target, read_only=target == "dev") as db:
        if not db.relation_exists("audit", "dq_runs"):
            return None
        if run_id is None:
            run_id = db.one("SELECT run_id FROM audit.dq_runs ORDER BY started_at DESC LIMIT 1")
        if run_id is None:
            return None
        layers, months, started, seconds, docs = db.all(
            "SELECT layers, months, started_at, seconds, data_docs FROM audit.dq_runs WHERE run_id = ?", (run_id,)
        )[0]
        cur = db.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM audit.dq_results WHERE run_id = ?", (run_id,))
        results = [dict(zip(RESULT_COLUMNS, row, strict=True)) for row in cur.fetchall()]
    return AuditRun(
        run_id=run_id,
        target=target,
        layers=layers.split(","),
        months=[date.fromisoformat(m + "-01") for m in months.split(",") if m],
        started_at=started,
        seconds=seconds or 0.0,
        results=results,
        data_docs=docs or "",
    )


def last_run_report(target: str = "dev") -> str:
    from telco360.quality.publish import published_through

    run = load_run(target)
    if run is None:
        return "no data-quality run yet: `telco360 audit` (or the build_warehouse DAG) runs one"
    through = published_through(target)
    text = summary(run, published=f"marts published through {through}" if through else None)
    if not run.passed:
        text += f"\npublished marts: {'through ' + through if through else 'none yet'}"
    return text

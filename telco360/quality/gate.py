"""Audit, then publish only if no critical check failed: the one entry point the CLI, the Airflow DAG
and the tests share."""

from __future__ import annotations

from dataclasses import dataclass

from telco360.quality.audit import AuditRun, run_audit, summary
from telco360.quality.publish import PublicationBlocked, publish, published_through


@dataclass
class GateResult:
    run: AuditRun | None
    published: dict | None
    blocked: str | None
    note: str | None = None

    def text(self) -> str:
        if self.run is None:
            return self.note or self.blocked or ""
        if self.published:
            note = f"marts published through {self.published['through_month']} ({self.published['seconds']}s)"
        else:
            through = published_through(self.run.target)
            note = f"marts still at {through or 'nothing published yet'}"
        return summary(self.run, published=note) + ("" if self.published else f"\n{note}")


def audit_and_publish(target: str = "dev", trigger: str = "manual", months=None) -> GateResult:
    """Audit what changed, then publish. Nothing changed since the last publication: nothing to do."""
    from telco360.quality.audit import months_to_audit
    from telco360.quality.db import Warehouse
    from telco360.quality.suites import CANDIDATE_SCHEMA

    with Warehouse(target, read_only=target == "dev") as db:
        if not db.relation_exists(CANDIDATE_SCHEMA, "kpi_monthly"):
            return GateResult(None, None, "no candidate marts: run the dbt build first")
    if months is None:
        months = months_to_audit(target)
        if not months:
            through = published_through(target)
            return GateResult(
                None, None, None, f"nothing changed since the last publication: marts stay through {through}"
            )
    run = run_audit(target, months=months, trigger=trigger)
    try:
        return GateResult(run, publish(target, run.run_id), None)
    except PublicationBlocked as exc:
        return GateResult(run, None, str(exc))

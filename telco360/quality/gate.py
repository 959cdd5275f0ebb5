"""Audit, then publish only if no critical check failed: the one entry point the CLI, the Airflow DAG
and the tests share. The job opens the warehouse once (writable) and passes the handle down."""

from __future__ import annotations

from dataclasses import dataclass

from telco360.db import Warehouse
from telco360.quality.audit import AuditRun, run_audit, summary
from telco360.quality.publish import PublicationBlocked, publish, published_through


@dataclass
class GateResult:
    run: AuditRun | None
    published: dict | None
    blocked: str | None
    note: str | None = None
    through: str | None = None  # what `marts` holds after the gate (latest publication's last month)

    def text(self) -> str:
        if self.run is None:
            return self.note or self.blocked or ""
        if self.published:
            note = f"marts published through {self.published['through_month']} ({self.published['seconds']}s)"
            return summary(self.run, published=note)
        note = f"published marts: {'through ' + self.through if self.through else 'none yet'}"
        return summary(self.run) + f"\n{note}"


def audit_and_publish(db: Warehouse, trigger: str = "manual", months=None) -> GateResult:
    """Audit what changed, then publish. Nothing changed since the last publication: nothing to do."""
    from telco360.quality.audit import months_to_audit, unbuilt_loads
    from telco360.quality.suites import CANDIDATE_SCHEMA

    if not db.relation_exists(CANDIDATE_SCHEMA, "kpi_monthly"):
        return GateResult(None, None, "no candidate marts: run the dbt build first")
    if months is None:
        months = months_to_audit(db)
        if not months:
            through = published_through(db)
            waiting = unbuilt_loads(db)
            if waiting:  # say so: loads wait for a dbt build that has not succeeded
                shown = ", ".join(f"{source} {period}" for source, period in waiting[:10])
                more = f" and {len(waiting) - 10} more" if len(waiting) > 10 else ""
                note = (
                    f"the candidate marts were not rebuilt since the last publication: {len(waiting)} deliveries "
                    f"loaded since ({shown}{more}) wait for a successful dbt build; marts stay through {through}"
                )
                return GateResult(None, None, None, note, through)
            return GateResult(
                None, None, None, f"nothing changed since the last publication: marts stay through {through}", through
            )
    run = run_audit(db, months=months, trigger=trigger)
    try:
        return GateResult(run, publish(db, run.run_id), None)
    except PublicationBlocked as exc:
        return GateResult(run, None, str(exc), through=published_through(db))

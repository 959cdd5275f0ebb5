"""Audit, then publish only if no critical check failed: the one entry point the CLI, the Airflow DAG
and the tests share."""

from __future__ import annotations

from dataclasses import dataclass

from telco360.quality.audit import AuditRun, run_audit, summary
from telco360.quality.publish import PublicationBlocked, publish, published_through


@dataclass
class GateResult:
    run: AuditRun
    published: dict | None
    blocked: str | None

    def text(self) -> str:
        if self.published:
            note = f"marts published through {self.published['through_month']} ({self.published['seconds']}s)"
        else:
            through = published_through(self.run.target)
            note = f"marts still at {through or 'nothing published yet'}"
        return summary(self.run, published=note) + ("" if self.published else f"\n{note}")


def audit_and_publish(target: str = "dev", trigger: str = "manual", months=None) -> GateResult:
    run = run_audit(target, months=months, trigger=trigger)
    if not run.months:
        return GateResult(run, None, "nothing to audit: no candidate marts (run the dbt build)")
    try:
        return GateResult(run, publish(target, run.run_id), None)
    except PublicationBlocked as exc:
        return GateResult(run, None, str(exc))

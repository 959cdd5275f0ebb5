"""The jobs Airflow tasks call. Plain functions, testable without Airflow (STYLE rule 1)."""

from __future__ import annotations

import logging

from telco360.config import paths

log = logging.getLogger("telco360.airflow")


class DeliveriesRejected(RuntimeError):
    """Some deliveries were rejected (everything else was loaded): the ingest run must show as failed."""


def _target():
    """The warehouse this deployment loads: TELCO360_WAREHOUSE=duckdb (default) or postgres."""
    from telco360.ingest.targets import open_target

    return open_target()


def pending_deliveries(sources: list[str]) -> dict[str, list[str]]:
    """{source: periods not loaded yet} for the sources with something to load (empty: nothing new landed)."""
    from telco360.ingest.files import storable
    from telco360.ingest.loader import Loader
    from telco360.ingest.loader import pending_deliveries as pending

    todo: dict[str, list[str]] = {}
    target = _target()
    try:
        Loader(target, paths().tmp)  # creates the audit and raw tables on first use
        for source in sources:
            periods = [storable(f.name) for f in pending(paths().landing, target, source)]
            if periods:
                todo[source] = periods
    finally:
        target.close()
    log.info("deliveries to load: %s", {s: len(p) for s, p in todo.items()} or "none")
    return todo


def load_periods(source: str, periods: list[str]) -> dict:
    from telco360.ingest.delivery import shown
    from telco360.ingest.loader import Loader

    summary = {
        "source": source,
        "loaded": 0,
        "skipped": 0,
        "rejected": 0,
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "rejections": [],
        "periods_loaded": [],
    }
    if not periods:
        return summary
    target = _target()
    try:
        loader = Loader(target, paths().tmp)
        results = loader.load_source(paths().landing, source, periods=periods)
    finally:
        target.close()
    for r in results:
        log.log(logging.WARNING if r.status == "rejected" else logging.INFO, r.line())
        summary[r.status] += 1
        summary["rows_loaded"] += r.rows_loaded
        summary["rows_quarantined"] += r.rows_quarantined
        if r.status == "loaded":
            summary["periods_loaded"].append(r.period)
        if r.status == "rejected":
            summary["rejections"].append(f"{shown(r.period)} [{r.rule}] {r.reason}")
    return summary


def report_loads(summaries: list[dict]) -> str:
    """The ingest run's summary; raises DeliveriesRejected, naming every rejection, if there was any. The
    per-source `load` tasks succeed when they loaded what they could (so their raw assets are emitted and a
    rejected delivery is not retried); this task, downstream of all of them, is the one that fails."""
    lines = [
        f"{s['source']}: loaded {s['loaded']}, skipped {s['skipped']}, rejected {s['rejected']}; "
        f"rows {s['rows_loaded']:,} loaded, {s['rows_quarantined']:,} quarantined"
        for s in summaries
    ]
    for s in summaries:
        lines += [f"  REJECTED {s['source']}/{r}" for r in s["rejections"]]
    text = "\n".join(lines)
    rejected = sum(len(s["rejections"]) for s in summaries)
    if rejected:
        log.error("ingest summary\n%s", text)
        raise DeliveriesRejected(f"{rejected} deliveries rejected (audit.load_manifest):\n{text}")
    log.info("ingest summary\n%s", text)
    return text


def audit_raw(summaries: list[dict]) -> str:
    """Validate the raw layer for the months this ingest loaded (reported; the gate is after the build)."""
    from datetime import date

    from telco360.db import open_warehouse
    from telco360.quality.audit import run_audit, summary

    months = sorted({date.fromisoformat(p[:7] + "-01") for s in summaries for p in s.get("periods_loaded", [])})
    if not months:
        return "nothing loaded: no raw audit"
    with open_warehouse() as db:
        run = run_audit(db, layers=("raw",), months=months, trigger="ingest_extracts")
    text = summary(run)
    log.log(logging.INFO if run.passed else logging.WARNING, "raw data quality\n%s", text)
    return text


def months_range(start: str, end: str) -> tuple[str, str]:
    """The backfill's months, judged like delivery folders (exactly ASCII YYYY-MM, a real month), in order."""
    from telco360.ingest.delivery import parse_period

    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or parse_period(value, "monthly") is None:
            raise ValueError(f"{name} {value!r} is not a month YYYY-MM")
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    return start, end


def load_months(sources: list[str], start: str, end: str) -> list[dict]:
    """Load whatever is pending (new, or changed since its load) among the deliveries of months start..end,
    every source; one summary per source, as the ingest DAG's `load` tasks return them."""
    from telco360.ingest.delivery import parse_period

    def in_range(period: str) -> bool:
        real = parse_period(period, "monthly") or parse_period(period, "daily")
        return real is not None and start <= period[:7] <= end

    todo = pending_deliveries(sources)
    return [load_periods(s, [p for p in todo.get(s, []) if in_range(p)]) for s in sources]


def rebuild_from(start: str) -> str:
    """dbt build that rebuilds the incremental models from `start` through the latest month (the months after
    it read it: 3-month trends, next-month churn), into the candidate schema."""
    from telco360.db import warehouse_kind
    from telco360.warehouse import build

    r = build(warehouse_kind(), rebuild_from=f"{start}-01")
    text = f"dbt build on {r.target} from {start}: {r.passed} passed, {r.warned} warnings, {r.failed} failed"
    log.info(text)
    return text


def audit_and_publish(trigger: str = "build_warehouse") -> tuple[str, bool]:
    """The gate: validate every layer for the months the build changed, publish the marts only if no
    critical check failed. Returns (summary, published); raises PublicationBlocked when blocked (the
    task fails, the marts stay as they were). Nothing changed since the last publication: (note, False)."""
    from telco360.db import open_warehouse
    from telco360.quality.gate import audit_and_publish as gate
    from telco360.quality.publish import PublicationBlocked
    from telco360.reporting import marts_report

    with open_warehouse() as db:  # the deployment's warehouse (TELCO360_WAREHOUSE), once for the whole gate
        result = gate(db, trigger=trigger)
        text = result.text()
        if result.published:
            text += "\n" + marts_report(db)
    if result.blocked:
        log.error("data quality\n%s", text)
        raise PublicationBlocked(result.blocked)
    log.info("data quality\n%s", text)
    return text, result.published is not None


def train_models() -> str:
    """Train churn and propensity models on the published months that passed the gate; register them and let
    the promotion rule decide the champions. Returns the summary the task log shows."""
    from telco360.config import paths
    from telco360.db import open_warehouse
    from telco360.ml.jobs import train_all

    truth = paths().landing / "_truth"
    lines: list[str] = []
    with open_warehouse(read_only=True) as db:
        train_all(db, "all", truth if truth.is_dir() else None, progress=lines.append)
    text = "\n".join(lines)
    log.info("models\n%s", text)
    return text


def score_customers() -> str:
    """Score the latest published month with the champions; check and publish the outputs."""
    from telco360.db import open_warehouse
    from telco360.ml.scoring import ScoringError, score_month

    with open_warehouse() as db:
        result = score_month(db)
    text = "\n".join(result.lines())
    if not result.published:
        log.error("scores\n%s", text)
        raise ScoringError(text)
    log.info("scores\n%s", text)
    return text

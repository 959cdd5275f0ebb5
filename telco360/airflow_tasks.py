"""The jobs Airflow tasks call. Plain functions, testable without Airflow (STYLE rule 1)."""

from __future__ import annotations

import logging
import os

from telco360.config import paths

log = logging.getLogger("telco360.airflow")


def _target():
    """The warehouse this deployment loads: TELCO360_TARGET=duckdb (default) or postgres."""
    from telco360.ingest.targets import open_target

    return open_target(os.environ.get("TELCO360_TARGET", "duckdb"))


def pending_periods(source: str) -> list[str]:
    from telco360.ingest.loader import Loader, pending_deliveries

    target = _target()
    try:
        Loader(target, paths().tmp)  # creates the audit and raw tables on first use
        periods = [f.name for f in pending_deliveries(paths().landing, target, source)]
    finally:
        target.close()
    log.info("%s: %d deliveries to load", source, len(periods))
    return periods


def load_periods(source: str, periods: list[str]) -> dict:
    from telco360.ingest.loader import Loader

    summary = {
        "source": source,
        "loaded": 0,
        "skipped": 0,
        "rejected": 0,
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "rejections": [],
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
        if r.status == "rejected":
            summary["rejections"].append(f"{r.period} [{r.rule}] {r.reason}")
    return summary


def report_loads(summaries: list[dict]) -> str:
    lines = [
        f"{s['source']}: loaded {s['loaded']}, skipped {s['skipped']}, rejected {s['rejected']}; "
        f"rows {s['rows_loaded']:,} loaded, {s['rows_quarantined']:,} quarantined"
        for s in summaries
    ]
    for s in summaries:
        lines += [f"  REJECTED {s['source']}/{r}" for r in s["rejections"]]
    text = "\n".join(lines)
    log.info("ingest summary\n%s", text)
    return text

"""Plain-text summaries of what the warehouse holds (printed by `make run` and `telco360 status`). Each takes
the job's open warehouse handle."""

from __future__ import annotations

from telco360.contracts import load_contracts
from telco360.db import Warehouse
from telco360.ingest.files import storable


def status_report(db: Warehouse) -> str:
    from telco360.config import paths

    where = paths().warehouse if db.kind == "duckdb" else "postgres (TELCO360_PG_DSN)"  # the DSN has a password
    if not db.relation_exists("audit", "load_manifest"):
        return f"warehouse: {where}\nnothing loaded yet: `telco360 ingest` (or make run)"
    lines = [
        f"warehouse: {where}",
        "",
        f"{'raw table':<26}{'rows':>14}{'periods':>9}{'quarantined':>13}{'rejected':>10}",
    ]
    stats = {
        r[0]: r[1:]
        for r in db.all("""
        SELECT source,
               count(DISTINCT period) FILTER (WHERE is_current),
               sum(rows_quarantined) FILTER (WHERE is_current),
               count(*) FILTER (WHERE status = 'rejected')
        FROM audit.load_manifest GROUP BY source""")
    }
    total = 0
    for source in load_contracts():
        n = db.one(f"SELECT count(*) FROM raw.{source}") if db.relation_exists("raw", source) else 0
        total += n
        periods, quarantined, rejected = stats.get(source, (0, 0, 0))
        lines.append(f"raw.{source:<22}{n:>14,}{periods or 0:>9}{quarantined or 0:>13,}{rejected or 0:>10}")
    lines.append(f"{'total':<26}{total:>14,}")
    rejected = db.all("""SELECT source || '/' || period, rule, reason FROM audit.load_manifest
                         WHERE status = 'rejected' ORDER BY load_id""")
    if rejected:
        lines += ["", "rejected deliveries (left in landing, see audit.load_manifest):"]
        # (recorded escaped since issue 8; an older trail may hold raw names: never print a terminal escape)
        lines += [f"  {storable(d)} [{rule}] {storable(reason or '')}" for d, rule, reason in rejected]
    rules = db.all("""SELECT q.rule, count(*) FROM audit.quarantine q
                      JOIN audit.load_manifest m USING (load_id) WHERE m.is_current
                      GROUP BY q.rule ORDER BY 2 DESC""")
    if rules:
        lines += ["", "quarantined rows by rule (audit.quarantine): " + ", ".join(f"{r} {n:,}" for r, n in rules)]
    return "\n".join(lines)


def marts_report(db: Warehouse, schema: str = "marts") -> str:
    """Row counts of the published marts (or of the unaudited candidates: schema `marts_candidate`)."""
    from telco360.warehouse import MARTS

    if not db.relation_exists(schema, MARTS[0]):
        return f"{schema}: nothing there yet" + (
            " (no build has passed the data-quality gate)" if schema == "marts" else ""
        )
    counts = [db.all(f"SELECT count(*), count(DISTINCT month) FROM {schema}.{m}")[0] for m in MARTS]
    lines = [f"{'mart':<32}{'rows':>12}{'months':>8}"]
    for mart, (rows, months) in zip(MARTS, counts, strict=True):
        lines.append(f"{schema + '.' + mart:<32}{rows:>12,}{months:>8}")
    return "\n".join(lines)

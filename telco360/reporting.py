"""Plain-text summaries of what the warehouse holds (printed by `make run` and `telco360 status`)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from telco360.contracts import load_contracts


def status_report(warehouse: Path) -> str:
    if not Path(warehouse).exists():
        return f"no warehouse at {warehouse} yet: run `make run`"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        lines = [
            f"warehouse: {warehouse}",
            "",
            f"{'raw table':<26}{'rows':>14}{'periods':>9}{'quarantined':>13}{'rejected':>10}",
        ]
        stats = {
            r[0]: r[1:]
            for r in con.execute("""
            SELECT source,
                   count(DISTINCT period) FILTER (is_current),
                   sum(rows_quarantined) FILTER (is_current),
                   count(*) FILTER (status = 'rejected')
            FROM audit.load_manifest GROUP BY source""").fetchall()
        }
        total = 0
        for source in load_contracts():
            n = con.execute(f"SELECT count(*) FROM raw.{source}").fetchone()[0]
            total += n
            periods, quarantined, rejected = stats.get(source, (0, 0, 0))
            lines.append(f"raw.{source:<22}{n:>14,}{periods or 0:>9}{quarantined or 0:>13,}{rejected or 0:>10}")
        lines.append(f"{'total':<26}{total:>14,}")
        rejected = con.execute("""SELECT source || '/' || period, rule, reason FROM audit.load_manifest
                                  WHERE status = 'rejected' ORDER BY load_id""").fetchall()
        if rejected:
            lines += ["", "rejected deliveries (left in landing, see audit.load_manifest):"]
            lines += [f"  {d} [{rule}] {reason}" for d, rule, reason in rejected]
        rules = con.execute("""SELECT q.rule, count(*) FROM audit.quarantine q
                               JOIN audit.load_manifest m USING (load_id) WHERE m.is_current
                               GROUP BY q.rule ORDER BY 2 DESC""").fetchall()
        if rules:
            lines += ["", "quarantined rows by rule (audit.quarantine): " + ", ".join(f"{r} {n:,}" for r, n in rules)]
        return "\n".join(lines)
    finally:
        con.close()


def marts_report(target: str = "dev", schema: str = "marts") -> str:
    """Row counts of the published marts (or of the unaudited candidates: schema `marts_candidate`)."""
    from telco360.quality.db import Warehouse
    from telco360.warehouse import MARTS

    with Warehouse(target, read_only=target == "dev") as db:
        if not db.relation_exists(schema, MARTS[0]):
            return f"{schema}: nothing there yet" + (
                " (no build has passed the data-quality gate)" if schema == "marts" else ""
            )
        counts = [db.all(f"SELECT count(*), count(DISTINCT month) FROM {schema}.{m}")[0] for m in MARTS]
    lines = [f"{'mart':<32}{'rows':>12}{'months':>8}"]
    for mart, (rows, months) in zip(MARTS, counts, strict=True):
        lines.append(f"{schema + '.' + mart:<32}{rows:>12,}{months:>8}")
    return "\n".join(lines)

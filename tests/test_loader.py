"""Landing -> raw on DuckDB: every row accounted for, reruns idempotent, crashes harmless."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from telco360.contracts import load_contracts
from telco360.ingest.loader import Loader, pending_deliveries
from telco360.ingest.targets import DuckDBTarget
from telco360.simulator.faults import _refresh_manifest

from .conftest import load_duckdb

LOAD_META = ("_load_id", "_loaded_at")


def ro(db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def raw_snapshot(con, source: str) -> list[tuple]:
    return con.execute(f"SELECT * EXCLUDE ({', '.join(LOAD_META)}) FROM raw.{source} ORDER BY ALL").fetchall()


def test_every_clean_delivery_loads_whole(landing, warehouse):
    con = ro(warehouse)
    statuses = con.execute("SELECT status, count(*) FROM audit.load_manifest GROUP BY 1").fetchall()
    assert statuses == [("loaded", 14 * 2 + 59)]  # 14 monthly sources x 2 months + 59 usage days
    for source in load_contracts():
        declared = sum(json.loads((f / "manifest.json").read_text())["row_count"] for f in (landing / source).iterdir())
        n = con.execute(f"SELECT count(*) FROM raw.{source}").fetchone()[0]
        assert n == declared > 0, source
    assert con.execute("SELECT count(*) FROM audit.quarantine").fetchone()[0] == 0


def test_rows_read_equal_rows_loaded_plus_quarantined_for_every_delivery(landing_faults, warehouse_faults):
    con = ro(warehouse_faults)
    rows = con.execute("""
        SELECT m.source, m.period, m.rows_read, m.rows_loaded, m.rows_quarantined,
               (SELECT count(*) FROM audit.quarantine q WHERE q.load_id = m.load_id) AS q_rows
        FROM audit.load_manifest m WHERE m.status = 'loaded'""").fetchall()
    truth = json.loads((landing_faults / "_truth" / "faults.json").read_text())["faults"]
    delivered = sum(1 for s in load_contracts() for _ in (landing_faults / s).iterdir())
    assert len(rows) == delivered - sum(1 for f in truth if f["level"] == "delivery") > 0  # all but the rejected
    for source, period, read, loaded, quarantined, q_rows in rows:
        raw_rows = con.execute(
            f"SELECT count(*) FROM raw.{source} r JOIN audit.load_manifest m "
            "ON m.load_id = r._load_id WHERE m.source = ? AND m.period = ?",
            [source, period],
        ).fetchone()[0]
        assert read == loaded + quarantined, (source, period)
        assert raw_rows == loaded and q_rows == quarantined, (source, period)


def test_row_numbers_point_at_the_delivered_line(landing_faults, warehouse_faults):
    """Including rows after lines the CSV reader rejected (garbage lines shift the numbering)."""
    con = ro(warehouse_faults)
    for source in ("complaint", "vas_subscription", "billing_items", "usage_daily"):
        contract = load_contracts()[source]
        cols = ", ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), '')" for c in contract.column_names)
        sample = con.execute(
            f"SELECT _file, _row_number, {cols} FROM raw.{source} USING SAMPLE 200 ROWS (reservoir, 1)"
        ).fetchall()
        assert len(sample) == min(200, con.execute(f"SELECT count(*) FROM raw.{source}").fetchone()[0]) > 0, source
        cache: dict[str, list[str]] = {}
        for file, line, *values in sample:
            lines = cache.setdefault(file, (landing_faults / file).read_text().split("\n"))
            delivered = lines[line - 1].split("|")
            for got, want, col in zip(values, delivered, contract.columns, strict=True):
                if col.type in ("double", "money"):
                    assert float(got or 0) == pytest.approx(float(want or 0)), (file, line, col.name)
                elif col.type == "timestamp":
                    assert got.replace("T", " ")[:19] == want
                else:
                    assert got == want, (file, line, col.name)


def test_reload_is_skipped_and_forced_reload_gives_the_same_raw_tables(landing, warehouse, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(warehouse, db)
    with ro(db) as con:
        before = {s: raw_snapshot(con, s) for s in ("billing_items", "crm_subscriber", "group_member")}
    assert all(before.values())
    target = DuckDBTarget(db, tmp_path / "tmp")
    loader = Loader(target, tmp_path / "tmp")
    assert not pending_deliveries(landing, target, "billing_items")
    again = loader.load_all(landing, sources=["billing_items"])
    assert {r.status for r in again} == {"skipped"}
    forced = loader.load_all(landing, sources=list(before), force=True)
    assert {r.status for r in forced} == {"loaded"}
    target.close()
    with ro(db) as con:
        for source, rows in before.items():
            assert raw_snapshot(con, source) == rows, source
        # one current load per period; the replaced loads stay in the manifest as history
        assert (
            con.execute(
                "SELECT count(*) FROM audit.load_manifest WHERE source = 'billing_items' AND status = 'loaded'"
            ).fetchone()[0]
            == 4
        )
        assert (
            con.execute(
                "SELECT count(*) FROM audit.load_manifest WHERE source = 'billing_items' AND is_current"
            ).fetchone()[0]
            == 2
        )


def test_a_corrected_redelivery_replaces_only_its_period(landing, warehouse, tmp_path):
    db = tmp_path / "w.duckdb"
    shutil.copy(warehouse, db)
    land = tmp_path / "landing"
    shutil.copytree(landing / "complaint", land / "complaint")
    part = land / "complaint" / "2026-01" / "part-00000.txt"
    lines = part.read_text().splitlines(keepends=True)
    part.write_text("".join(lines[:-10]))  # the source system re-sends January without 10 tickets
    _refresh_manifest(part.parent)
    with ro(db) as con:
        feb = con.execute("SELECT count(*) FROM raw.complaint WHERE _file LIKE 'complaint/2026-02/%'").fetchone()[0]
    target = DuckDBTarget(db, tmp_path / "tmp")
    results = Loader(target, tmp_path / "tmp").load_all(land, sources=["complaint"])
    target.close()
    assert [r.status for r in results] == ["loaded", "skipped"]
    with ro(db) as con:
        jan = con.execute("SELECT count(*) FROM raw.complaint WHERE _file LIKE 'complaint/2026-01/%'").fetchone()[0]
        assert jan == len(lines) - 1 - 10
        assert (
            con.execute("SELECT count(*) FROM raw.complaint WHERE _file LIKE 'complaint/2026-02/%'").fetchone()[0]
            == feb
        )


@pytest.mark.parametrize("failpoint", ["ingest.after_delete", "ingest.before_commit"])
def test_a_crash_mid_load_leaves_the_previous_state(landing, warehouse, tmp_path, failpoint):
    db = tmp_path / "w.duckdb"
    shutil.copy(warehouse, db)
    with ro(db) as con:
        before = raw_snapshot(con, "billing_items")
        manifest_before = con.execute("SELECT * FROM audit.load_manifest ORDER BY load_id").fetchall()
    script = (
        "import sys; from pathlib import Path\n"
        "from telco360.ingest.loader import Loader\n"
        "from telco360.ingest.targets import DuckDBTarget\n"
        f"t = DuckDBTarget(Path({str(db)!r}), Path({str(tmp_path / 'tmp')!r}))\n"
        f"Loader(t, Path({str(tmp_path / 'tmp')!r})).load_all(Path({str(landing)!r}), "
        "sources=['billing_items'], force=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TELCO360_FAILPOINT": failpoint},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 86, proc.stderr  # the process really died inside the load
    with ro(db) as con:
        assert raw_snapshot(con, "billing_items") == before
        assert con.execute("SELECT * FROM audit.load_manifest ORDER BY load_id").fetchall() == manifest_before


def test_a_gbk_delivery_loads_the_same_as_its_utf8_twin(warehouse, landing_gbk, tmp_path):
    gbk_db = load_duckdb(landing_gbk, tmp_path / "gbk.duckdb")
    con = duckdb.connect()
    con.execute(f"ATTACH '{warehouse}' AS u (READ_ONLY)")
    con.execute(f"ATTACH '{gbk_db}' AS g (READ_ONLY)")
    for source in load_contracts():
        u = con.execute(f"SELECT * EXCLUDE ({', '.join(LOAD_META)}) FROM u.raw.{source} ORDER BY ALL").fetchall()
        g = con.execute(f"SELECT * EXCLUDE ({', '.join(LOAD_META)}) FROM g.raw.{source} ORDER BY ALL").fetchall()
        assert len(u) > 0 and u == g, source
    names = con.execute("SELECT cust_name FROM g.raw.crm_customer LIMIT 5").fetchall()
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in n[0]) for n in names)  # Chinese survived GBK
    encodings = con.execute("SELECT DISTINCT encoding FROM g.audit.load_manifest").fetchall()
    assert encodings == [("gbk",)]


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("amount", "12.3O", "type"),  # letter O: not a number
        ("amount", "12.345", "type"),  # sub-cent amounts are not money
        ("amount", "1e3", "type"),  # exponent notation is not money
        ("amount", "1.0000001", "type"),  # would round to 1.00
        ("amount", "99999999.00", "range"),
        ("sub_id", "1.5", "type"),  # would round to 2
        ("sub_id", "0x10", "type"),
        ("ts", "2026-01-32 10:00:00", "type"),
        ("ts", "2026-01-05T10:00:00", "type"),
        ("arrears_after", "-1.00", "range"),
        ("channel", "pigeon", "enum"),
        ("txn_id", "", "required"),
    ],
)
def test_each_value_rule_catches_its_value(tmp_path, column, value, rule):
    """One bad field in an otherwise valid row is quarantined with the rule, and never loaded."""
    from telco360.contracts import load_contracts
    from telco360.simulator.writer import write_manifest

    contract = load_contracts()["recharge_payment"]
    good = {
        "txn_id": "1",
        "sub_id": "10000001",
        "ts": "2026-01-05 10:00:00",
        "amount": "50.00",
        "channel": "card",
        "txn_type": "topup",
        "arrears_after": "0.00",
    }
    bad = {**good, "txn_id": "2", column: value}
    folder = tmp_path / "landing" / "recharge_payment" / "2026-01"
    folder.mkdir(parents=True)
    lines = ["|".join(contract.column_names)] + ["|".join(r[c] for c in contract.column_names) for r in (good, bad)]
    (folder / "part-00000.txt").write_text("\n".join(lines) + "\n")
    from telco360.simulator.writer import file_facts

    sha, rows, size = file_facts(folder / "part-00000.txt")
    write_manifest(
        folder,
        contract,
        "2026-01",
        [{"name": "part-00000.txt", "rows": rows, "bytes": size, "sha256": sha}],
        "utf-8",
        "2026-02-01T00:00:00",
    )
    target = DuckDBTarget(tmp_path / "w.duckdb", tmp_path / "tmp")
    (result,) = Loader(target, tmp_path / "tmp").load_source(tmp_path / "landing", "recharge_payment")
    quarantined = target.con.execute("SELECT rule, row_number, raw_line FROM audit.quarantine").fetchall()
    loaded = target.con.execute("SELECT txn_id FROM raw.recharge_payment").fetchall()
    target.close()
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert quarantined == [(rule, 3, lines[2])]
    assert loaded == [(1,)]


def write_recharge_delivery(landing: Path, period: str, rows: list[str], newline: str = "\n") -> Path:
    """A recharge_payment delivery with the given data lines (manifest computed from the file)."""
    from telco360.contracts import load_contracts
    from telco360.simulator.writer import file_facts, write_manifest

    contract = load_contracts()["recharge_payment"]
    folder = landing / "recharge_payment" / period
    folder.mkdir(parents=True)
    text = newline.join(["|".join(contract.column_names), *rows]) + newline
    (folder / "part-00000.txt").write_bytes(text.encode())
    sha, n, size = file_facts(folder / "part-00000.txt")
    write_manifest(
        folder,
        contract,
        period,
        [{"name": "part-00000.txt", "rows": n, "bytes": size, "sha256": sha}],
        "utf-8",
        f"{period}-28T00:00:00",
    )
    return folder


def load_recharges(tmp_path):
    target = DuckDBTarget(tmp_path / "w.duckdb", tmp_path / "tmp")
    results = Loader(target, tmp_path / "tmp").load_source(tmp_path / "landing", "recharge_payment")
    q = target.con.execute("SELECT row_number, rule, raw_line FROM audit.quarantine ORDER BY row_number").fetchall()
    target.close()
    return results, q


def test_months_without_events_are_not_duplicate_deliveries(tmp_path):
    for period in ("2026-01", "2026-02", "2026-03"):
        write_recharge_delivery(tmp_path / "landing", period, [])  # header only: byte-identical files
    results, _ = load_recharges(tmp_path)
    assert [(r.status, r.rows_read) for r in results] == [("loaded", 0)] * 3


def test_a_malformed_manifest_rejects_its_delivery_and_the_next_ones_still_load(tmp_path):
    good = "1|10000001|2026-01-05 10:00:00|50.00|card|topup|0.00"
    bad = write_recharge_delivery(tmp_path / "landing", "2026-01", [good])
    write_recharge_delivery(tmp_path / "landing", "2026-02", [good.replace("2026-01", "2026-02")])
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["schema_version"] = "v1"
    (bad / "manifest.json").write_text(json.dumps(manifest))
    results, _ = load_recharges(tmp_path)
    assert [(r.period, r.status, r.rule) for r in results] == [
        ("2026-01", "rejected", "manifest_invalid"),
        ("2026-02", "loaded", None),
    ]
    assert not list((tmp_path / "tmp").glob("inspect-*"))  # no work folder left behind


def test_crlf_lines_are_quarantined_verbatim(tmp_path):
    rows = [
        "1|10000001|2026-01-05 10:00:00|50.00|card|topup|0.00",
        "2|10000002|2026-01-05 10:00:00|50.00|pigeon|topup|0.00",
        "3|10000003|2026-01-05 10:00:00",
    ]
    write_recharge_delivery(tmp_path / "landing", "2026-01", rows, newline="\r\n")
    results, quarantined = load_recharges(tmp_path)
    assert (results[0].rows_loaded, results[0].rows_quarantined) == (1, 2)
    assert quarantined == [(3, "enum", rows[1]), (4, "column_count", rows[2])]


def test_a_blank_line_is_quarantined_and_the_rows_after_it_keep_their_line_numbers(tmp_path):
    rows = [
        "1|10000001|2026-01-05 10:00:00|50.00|card|topup|0.00",
        "",
        "2|10000002|2026-01-06 10:00:00|30.00|card|topup|0.00",
    ]
    write_recharge_delivery(tmp_path / "landing", "2026-01", rows)
    results, quarantined = load_recharges(tmp_path)
    assert (results[0].status, results[0].rows_read, results[0].rows_loaded) == ("loaded", 3, 2)
    assert quarantined == [(3, "blank_line", "")]
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("SELECT txn_id, _row_number FROM raw.recharge_payment ORDER BY 1").fetchall() == [(1, 2), (2, 4)]

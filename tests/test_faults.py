"""Each planted fault ends in quarantine or rejection, with the right rule, at the exact planted count."""

from __future__ import annotations

import json

import duckdb


def faults(landing):
    return json.loads((landing / "_truth" / "faults.json").read_text())["faults"]


def test_fault_catalogue_covers_every_kind_the_issue_names(landing_faults):
    kinds = {f["fault"] for f in faults(landing_faults)}
    assert kinds == {
        "malformed_row",
        "wrong_column_count",
        "bad_type",
        "missing_required",
        "out_of_range_amount",
        "out_of_range_date",
        "unknown_code",
        "duplicate_key",
        "duplicate_delivery",
        "manifest_count_mismatch",
        "manifest_checksum_mismatch",
        "empty_file",
        "truncated_last_line",
        "wrong_encoding",
        # valid to every row contract: for the data-quality audit (tests/test_quality.py)
        "orphan_billing",
        "amount_outlier",
        "duplicate_msisdn",
        "volume_drop",
    }
    assert all("audit" in f for f in faults(landing_faults))


def test_every_row_fault_is_quarantined_at_its_lines_with_its_rule(landing_faults, warehouse_faults):
    con = duckdb.connect(str(warehouse_faults), read_only=True)
    row_faults = [f for f in faults(landing_faults) if f["level"] == "row"]
    assert len(row_faults) >= 10  # one per row-level kind of the catalogue, bad_type twice
    planted: dict[tuple[str, str], list[int]] = {}  # (file, rule) -> the planted lines
    for f in row_faults:
        planted.setdefault((f["file"], f["rule"]), []).extend(f["lines"])
    for (file, rule), lines in planted.items():
        got = con.execute(
            """
            SELECT q.row_number FROM audit.quarantine q
            JOIN audit.load_manifest m USING (load_id)
            WHERE m.is_current AND q.file = ? AND q.rule = ? ORDER BY q.row_number""",
            [file, rule],
        ).fetchall()
        assert [r[0] for r in got] == sorted(lines), (file, rule)  # the warehouse, against the truth
    for f in row_faults:
        if f["column"] in ("amount", "ts", "plan_id", "brand", "voice_min_out"):
            columns = con.execute(
                "SELECT DISTINCT column_name FROM audit.quarantine WHERE file = ? AND rule = ? AND row_number IN "
                f"({', '.join('?' * len(f['lines']))})",
                [f["file"], f["rule"], *f["lines"]],
            ).fetchall()
            assert columns == [(f["column"],)], f["fault"]
    # and nothing else was quarantined: the planted rows are exactly the quarantine
    total = con.execute("SELECT count(*) FROM audit.quarantine").fetchone()[0]
    assert total == sum(f["count"] for f in row_faults)
    # the manifest's per-delivery count says the same
    per_delivery: dict[str, int] = {}
    for f in row_faults:
        folder = f["file"].rsplit("/", 1)[0]
        per_delivery[folder] = per_delivery.get(folder, 0) + f["count"]
    recorded = dict(
        con.execute("""SELECT source || '/' || period, rows_quarantined FROM audit.load_manifest
                       WHERE is_current AND rows_quarantined > 0""").fetchall()
    )
    assert recorded == per_delivery


def test_quarantined_rows_are_kept_verbatim(landing_faults, warehouse_faults):
    con = duckdb.connect(str(warehouse_faults), read_only=True)
    quarantined = con.execute("SELECT file, row_number, raw_line FROM audit.quarantine").fetchall()
    assert len(quarantined) == sum(f["count"] for f in faults(landing_faults) if f["level"] == "row") > 0
    for file, line, raw in quarantined:
        delivered = (landing_faults / file).read_text().split("\n")
        assert delivered[line - 1] == raw, (file, line)


def test_every_delivery_fault_rejects_its_delivery_whole_with_its_rule(landing_faults, warehouse_faults):
    con = duckdb.connect(str(warehouse_faults), read_only=True)
    delivery_faults = [f for f in faults(landing_faults) if f["level"] == "delivery"]
    rejected = con.execute(
        "SELECT source, period, rule, reason FROM audit.load_manifest WHERE status = 'rejected' ORDER BY load_id"
    ).fetchall()
    assert sorted((s, p, r) for s, p, r, _ in rejected) == sorted(
        (f["source"], f["period"], f["rule"]) for f in delivery_faults
    )
    assert len(rejected) == len(delivery_faults) > 0
    for source, period, _, reason in rejected:
        assert f"{source}/{period}" in reason  # the message names the file or folder
        n = con.execute(f"SELECT count(*) FROM raw.{source} WHERE _file LIKE '{source}/{period}/%'").fetchone()[0]
        assert n == 0  # nothing of a rejected delivery is loaded


def test_rejection_messages_name_expected_and_found(warehouse_faults):
    con = duckdb.connect(str(warehouse_faults), read_only=True)
    reasons = dict(con.execute("SELECT rule, reason FROM audit.load_manifest WHERE status = 'rejected'").fetchall())
    assert "rows expected" in reasons["manifest_row_count"] and "found" in reasons["manifest_row_count"]
    assert "sha256 expected 0000" in reasons["manifest_checksum"]
    assert "declared utf-8, line 2" in reasons["encoding"]
    assert "part-00001.txt" in reasons["empty_file"]
    assert "byte-identical" in reasons["duplicate_delivery"]

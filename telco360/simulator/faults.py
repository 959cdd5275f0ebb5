"""Known-bad deliveries at known counts (`telco360 generate --faults`), listed in _truth/faults.json.

Row faults change or add lines inside otherwise valid deliveries (the source system's manifest
still describes the file it sent); delivery faults break a delivery as a whole. Each entry names
the rule the loader must report and, for row faults, the exact line numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from telco360.contracts import load_contracts
from telco360.simulator.writer import file_facts

ROWS_PER_FAULT = 3
GARBAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"


def _encoding(folder: Path) -> str:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("encoding", "utf-8")


def _periods(landing: Path, source: str) -> list[str]:
    return sorted(p.name for p in (landing / source).iterdir() if p.is_dir())


class _File:
    """A part file held as lines, with tags on the lines a fault touched."""

    def __init__(self, path: Path, encoding: str):
        self.path = path
        self.encoding = encoding
        raw = path.read_bytes().decode(encoding).split("\n")
        if raw and raw[-1] == "":
            raw.pop()
        self.header = raw[0]
        self.lines: list[list] = [[text, None] for text in raw[1:]]
        self.names = self.header.split("|")
        self.trailing_newline = True

    def pick(self, rng, k: int, exclude_last: bool = True) -> list[list]:
        free = [i for i, ln in enumerate(self.lines[: len(self.lines) - int(exclude_last)]) if ln[1] is None]
        chosen = sorted(rng.choice(free, size=min(k, len(free)), replace=False).tolist())
        return [self.lines[i] for i in chosen]

    def set_field(self, line: list, column: str, value: str, tag: str) -> None:
        fields = line[0].split("|")
        fields[self.names.index(column)] = value
        line[0], line[1] = "|".join(fields), tag

    def save(self) -> dict[str, list[int]]:
        body = "\n".join([self.header] + [ln[0] for ln in self.lines])
        self.path.write_bytes((body + ("\n" if self.trailing_newline else "")).encode(self.encoding))
        tags: dict[str, list[int]] = {}
        for i, (_, tag) in enumerate(self.lines):
            if tag:
                tags.setdefault(tag, []).append(i + 2)  # header is line 1
        return tags


def _refresh_manifest(folder: Path, sha_override: dict | None = None, rows_delta: int = 0) -> None:
    mpath = folder / "manifest.json"
    manifest = json.loads(mpath.read_text(encoding="utf-8"))
    for f in manifest["files"]:
        sha, rows, size = file_facts(folder / f["name"])
        f.update(sha256=sha, rows=rows, bytes=size)
    manifest["row_count"] = sum(f["rows"] for f in manifest["files"]) + rows_delta
    if rows_delta:
        manifest["files"][0]["rows"] += rows_delta
    if sha_override:
        for f in manifest["files"]:
            f["sha256"] = sha_override.get(f["name"], f["sha256"])
    mpath.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def plant_faults(landing: Path, seed: int, k: int = ROWS_PER_FAULT) -> list[dict]:
    landing = Path(landing)
    rng = np.random.default_rng([seed, 4242])
    contracts = load_contracts()
    first = {s: _periods(landing, s)[0] for s in contracts}
    last = {s: _periods(landing, s)[-1] for s in contracts}
    days = _periods(landing, "usage_daily")
    if len(days) < 5:
        raise ValueError("--faults needs at least 5 days of usage")
    faults: list[dict] = []

    def row_fault(source, period, edits):
        """edits: list of (fault, rule, column, fn(file) -> tagged lines)."""
        folder = landing / source / period
        f = _File(folder / "part-00000.txt", _encoding(folder))
        meta = {}
        for fault, rule, column, fn in edits:
            fn(f, fault)
            meta[fault] = (rule, column)
        tags = f.save()
        _refresh_manifest(folder)
        for fault, lines in tags.items():
            rule, column = meta[fault]
            faults.append(
                {
                    "fault": fault,
                    "level": "row",
                    "source": source,
                    "period": period,
                    "file": f"{source}/{period}/part-00000.txt",
                    "rule": rule,
                    "column": column,
                    "count": len(lines),
                    "lines": lines,
                }
            )

    def set_fields(column, value):
        def fn(f, tag):
            for line in f.pick(rng, k):
                f.set_field(line, column, value, tag)

        return fn

    def insert_garbage(f, tag):
        for pos in sorted(rng.choice(len(f.lines), k, replace=False).tolist(), reverse=True):
            f.lines.insert(pos, [GARBAGE, tag])

    def extra_column(f, tag):
        for line in f.pick(rng, k):
            line[0], line[1] = line[0] + "|EXTRA", tag

    def duplicate_rows(f, tag):
        for line in f.pick(rng, k):
            pos = f.lines.index(line)
            f.lines.insert(pos + 1 + int(rng.integers(0, 5)), [line[0], tag])

    def truncate_last(f, tag):
        last_line = f.lines[-1]
        fields = last_line[0].split("|")
        last_line[0], last_line[1] = "|".join(fields[:3])[:-1], tag
        f.trailing_newline = False

    row_fault("complaint", first["complaint"], [("malformed_row", "column_count", None, insert_garbage)])
    row_fault(
        "vas_subscription", first["vas_subscription"], [("wrong_column_count", "column_count", None, extra_column)]
    )
    row_fault(
        "recharge_payment",
        first["recharge_payment"],
        [
            ("bad_type", "type", "amount", set_fields("amount", "12.3O")),
            ("out_of_range_amount", "range", "amount", set_fields("amount", "99999999.00")),
            ("out_of_range_date", "period", "ts", set_fields("ts", "2019-03-01 10:00:00")),
        ],
    )
    row_fault("usage_daily", days[0], [("bad_type", "type", "voice_min_out", set_fields("voice_min_out", "1.5"))])
    row_fault(
        "crm_subscriber",
        first["crm_subscriber"],
        [
            ("missing_required", "required", "plan_id", set_fields("plan_id", "")),
            ("unknown_code", "enum", "brand", set_fields("brand", "CMCC_X")),
        ],
    )
    row_fault("billing_items", first["billing_items"], [("duplicate_key", "duplicate_key", None, duplicate_rows)])
    row_fault(
        "campaign_contact", first["campaign_contact"], [("truncated_last_line", "column_count", None, truncate_last)]
    )

    # ---- warehouse faults: valid to every row contract, wrong in the warehouse (the audit's job) ----
    def warehouse_fault(source, period, fault, note, audit, fn):
        folder = landing / source / period
        f = _File(folder / "part-00000.txt", _encoding(folder))
        fn(f)
        f.save()
        _refresh_manifest(folder)
        faults.append(
            {"fault": fault, "level": "warehouse", "source": source, "period": period, "note": note, "audit": audit}
        )

    def orphan_bills(f):
        col = f.names.index("sub_id")
        subs = sorted({ln[0].split("|")[col] for ln in f.lines})
        chosen = set(rng.choice(subs, size=k, replace=False).tolist())
        new_ids = {old: str(990_000_000 + i) for i, old in enumerate(sorted(chosen))}
        for line in f.lines:
            fields = line[0].split("|")
            if fields[col] in new_ids:
                fields[col] = new_ids[fields[col]]
                line[0], line[1] = "|".join(fields), "orphan_billing"

    month = last["billing_items"]
    warehouse_fault(
        "billing_items",
        month,
        "orphan_billing",
        f"every bill line of {k} subscribers carries a subscriber id that is in no CRM snapshot",
        {
            "billed_subscriber_in_crm": k,  # billed ids not in CRM
            "crm_subscribers_equal_billed_subscribers": 2 * k,  # those ids, and the CRM subscribers left unbilled
            "c360_required.msisdn_hash": k,  # customer 360 rows with no CRM record behind them
        },
        orphan_bills,
    )

    def outlier_amounts(f):
        for line in f.pick(rng, k):
            f.set_field(line, "amount", "2999.00", "amount_outlier")

    warehouse_fault(
        "billing_items",
        month,
        "amount_outlier",
        f"{k} bill items of 2,999.00 yuan: inside the contract's range, far outside any real bill item",
        {"billing_amount_in_range": k},
        outlier_amounts,
    )

    def duplicate_msisdns(f):
        col = f.names.index("msisdn")
        lines = f.pick(rng, 2 * k)
        for donor, taker in zip(lines[:k], lines[k:], strict=True):
            f.set_field(taker, "msisdn", donor[0].split("|")[col], "duplicate_msisdn")

    warehouse_fault(
        "crm_subscriber",
        last["crm_subscriber"],
        "duplicate_msisdn",
        f"{k} subscribers carry the MSISDN of another subscriber in the same snapshot",
        {"crm_msisdn_unique": 2 * k},  # both rows of each pair
        duplicate_msisdns,
    )

    def half_a_day(f):
        keep = len(f.lines) // 2
        f.lines = f.lines[:keep]

    warehouse_fault(
        "usage_daily",
        days[-1],
        "volume_drop",
        "the last day's usage file holds half the subscribers of the day before",
        {"volume_within_band_of_previous_delivery": 1},
        half_a_day,
    )

    # ---- delivery faults ----
    def delivery_fault(fault, rule, source, period, note):
        faults.append(
            {
                "fault": fault,
                "level": "delivery",
                "source": source,
                "period": period,
                "rule": rule,
                "count": 1,
                "note": note,
            }
        )

    # the mediation system re-sends day 2's file as day 3
    src, dst = landing / "usage_daily" / days[1], landing / "usage_daily" / days[2]
    (dst / "part-00000.txt").write_bytes((src / "part-00000.txt").read_bytes())
    _refresh_manifest(dst)
    delivery_fault(
        "duplicate_delivery",
        "duplicate_delivery",
        "usage_daily",
        days[2],
        f"part-00000.txt is a byte copy of {days[1]}'s file",
    )
    _refresh_manifest(landing / "usage_daily" / days[3], rows_delta=5)
    delivery_fault(
        "manifest_count_mismatch",
        "manifest_row_count",
        "usage_daily",
        days[3],
        "manifest declares 5 rows more than delivered",
    )
    _refresh_manifest(landing / "usage_daily" / days[4], sha_override={"part-00000.txt": "0" * 64})
    delivery_fault(
        "manifest_checksum_mismatch",
        "manifest_checksum",
        "usage_daily",
        days[4],
        "manifest sha256 does not match the file",
    )
    folder = landing / "campaign_response" / last["campaign_response"]
    (folder / "part-00001.txt").write_bytes(b"")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"].append({"name": "part-00001.txt", "rows": 0, "bytes": 0, "sha256": ""})
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _refresh_manifest(folder)
    delivery_fault(
        "empty_file",
        "empty_file",
        "campaign_response",
        last["campaign_response"],
        "part-00001.txt has zero bytes (no header)",
    )
    folder = landing / "crm_customer" / last["crm_customer"]
    part = folder / "part-00000.txt"
    if _encoding(folder) == "utf-8":
        part.write_bytes(part.read_bytes().decode("utf-8").encode("gbk"))
    else:  # a GBK delivery that claims to be UTF-8
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        manifest["encoding"] = "utf-8"
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _refresh_manifest(folder)  # declares utf-8
    delivery_fault(
        "wrong_encoding", "encoding", "crm_customer", last["crm_customer"], "file is GBK, manifest declares utf-8"
    )

    # What reaches the warehouse, and so what the data-quality audit must flag (expectation: count, in the
    # fault's month). A rejected delivery leaves its period missing. A quarantined CRM row leaves a billed
    # subscriber without a CRM record. The other quarantined rows leave no trace the audit could count.
    for f in faults:
        if f["level"] == "delivery":
            f["audit"] = {"deliveries_complete": 1}
        elif f["level"] == "row" and f["source"] == "crm_subscriber":
            n = f["count"]
            f["audit"] = {
                "billed_subscriber_in_crm": n,
                "crm_subscribers_equal_billed_subscribers": n,
                "c360_required.msisdn_hash": n,
            }
        elif f["level"] == "row":
            f["audit"] = {}

    truth = landing / "_truth"
    truth.mkdir(exist_ok=True)
    (truth / "faults.json").write_text(json.dumps({"faults": faults}, indent=2, ensure_ascii=False) + "\n")
    return faults

"""Fuzz the front door (issue 8): real deliveries from the generator, mutated at random (seeded, so a failure
reproduces), loaded one after another into one warehouse. For every mutated delivery: no traceback (the
loader's catch-all rule `load_error` never appears), the attempt is recorded, read = loaded + quarantined,
each quarantined line is kept as delivered, every untouched line loads exactly as its clean twin did, and
the next delivery of the source still loads. The outcome counts are printed."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from telco360.contracts import load_contracts
from telco360.ingest.loader import Loader
from telco360.ingest.targets import DuckDBTarget

SEED = int(os.environ.get("TELCO360_FUZZ_SEED", "20261203"))
DELIVERIES = int(os.environ.get("TELCO360_FUZZ_DELIVERIES", "300"))
LINES = 120  # data lines kept from each base delivery: small files, many deliveries
# (source, mutated period, next period, which landing)
BASES = [
    ("recharge_payment", "2026-01", "2026-02", "utf-8"),
    ("usage_daily", "2026-01-05", "2026-01-06", "utf-8"),
    ("crm_customer", "2026-01", "2026-02", "utf-8"),
    ("channel", "2026-01", "2026-02", "gbk"),
]
# every rule a whole delivery may be refused for here; `load_error` (a defect of ours) is not among them
DELIVERY_RULES = {
    "manifest_checksum",
    "manifest_row_count",
    "encoding",
    "header",
    "empty_file",
    "snapshot_shrunk",
    "duplicate_delivery",
}
CONTROL_PICTURES = {c: chr(0x2400 + c) for c in range(32)} | {127: "\u2421"}


def resign(folder: Path) -> None:
    """The manifest a source system would write for these bytes (an independent implementation)."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    total = 0
    for spec in manifest["files"]:
        data = (folder / spec["name"]).read_bytes()
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        spec.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), rows=max(lines - 1, 0))
        total += spec["rows"]
    manifest["row_count"] = total
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """One to three random mutations of a file's bytes; returns the bytes and what was done."""
    done = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(
            ["flip", "insert", "insert", "delete", "truncate", "bad_utf8", "bad_gbk", "duplicate_lines", "crlf"]
        )
        header_end = data.find(b"\n") + 1 or len(data)
        at = rng.randrange(header_end, len(data) + 1) if rng.random() < 0.95 else rng.randrange(0, len(data) + 1)
        if kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
        elif kind == "insert":
            data = data[:at] + rng.choice([b"\r", b"\n", b"\x00", b"'", b'"', b"|", b"\r\n", b"||"]) + data[at:]
        elif kind == "delete":
            target = rng.choice([b"\r", b"\n", b"|", b"\x00", b"'", b'"'])
            where = [i for i in range(header_end, len(data)) if data[i : i + 1] == target]
            if where:
                i = rng.choice(where)
                data = data[:i] + data[i + 1 :]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "bad_utf8":
            data = data[:at] + rng.choice([b"\xff", b"\xc3", b"\xe8\xa5", b"\xed\xa0\x80", b"\xc0\xaf"]) + data[at:]
        elif kind == "bad_gbk":
            data = data[:at] + rng.choice([b"\x81", b"\x81\x7f", b"\xfe\xff", b"\x80"]) + data[at:]
        elif kind == "duplicate_lines":
            lines = data.split(b"\n")
            if len(lines) > 2:
                i = rng.randrange(1, len(lines))
                lines[i:i] = lines[i : i + rng.randint(1, 3)]
                data = b"\n".join(lines)
        elif kind == "crlf":
            data = data.replace(b"\n", b"\r\n", rng.randint(1, 40))
        done.append(kind)
    return data, done


def expected_text(line: bytes, encoding: str, ends_with_lf: bool) -> str:
    """A quarantined line as the loader must keep it: decoded, without its line end (LF or CRLF; a CR is a line
    end only before LF), control characters as their pictures."""
    if ends_with_lf and line.endswith(b"\r"):
        line = line[:-1]
    return line.decode(encoding).translate(CONTROL_PICTURES)


@pytest.fixture(scope="module")
def bases(landing, landing_gbk, tmp_path_factory):
    """The base deliveries, cut to LINES data lines, and each clean line's loaded row."""
    root = tmp_path_factory.mktemp("fuzz-bases")
    contracts = load_contracts()
    out = {}
    target = DuckDBTarget(root / "clean.duckdb", root / "tmp")
    loader = Loader(target, root / "work")
    for source, period, nxt, encoding in BASES:
        src_landing = landing_gbk if encoding == "gbk" else landing
        for p in (period, nxt):
            folder = root / "landing" / source / p
            shutil.copytree(src_landing / source / p, folder)
            part = folder / "part-00000.txt"
            part.write_bytes(b"".join(part.read_bytes().splitlines(keepends=True)[: LINES + 1]))
            resign(folder)
        (result,) = [loader.load_delivery(root / "landing" / source / period, source)]
        assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", LINES, 0), result.line()
        cols = ", ".join(f'"{c}"' for c in contracts[source].column_names)
        rows = target.con.execute(
            f"SELECT _row_number, {cols} FROM raw.{source} WHERE _load_id = ? ORDER BY 1", [result.load_id]
        ).fetchall()
        lines = (root / "landing" / source / period / "part-00000.txt").read_bytes().split(b"\n")
        clean = {lines[n - 1].decode(encoding): tuple(row) for n, *row in rows}
        assert len(clean) == LINES
        out[source] = dict(period=period, next=nxt, encoding=encoding, folder=root / "landing" / source, clean=clean)
    target.close()
    return out


def test_mutated_deliveries_are_recorded_accounted_for_and_never_stop_the_next(bases, tmp_path, capsys):
    rng = random.Random(SEED)
    contracts = load_contracts()
    landing = tmp_path / "landing"
    target = DuckDBTarget(tmp_path / "fuzz.duckdb", tmp_path / "tmp")
    loader = Loader(target, tmp_path / "work")
    con = target.con
    outcomes: collections.Counter = collections.Counter()
    mutations: collections.Counter = collections.Counter()
    quarantined_rules: collections.Counter = collections.Counter()
    untouched_checked = 0
    for i in range(DELIVERIES):
        source = rng.choice(sorted(bases))
        base = bases[source]
        cols = ", ".join(f'"{c}"' for c in contracts[source].column_names)
        folder = landing / source / base["period"]
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(base["folder"] / base["period"], folder)
        part = folder / "part-00000.txt"
        data, done = mutate(part.read_bytes(), rng)
        part.write_bytes(data)
        mutations.update(done)
        stale = rng.random() < 0.08  # now and then the manifest no longer matches the bytes
        if not stale:
            resign(folder)
        context = f"delivery {i} (seed {SEED}): {source} mutated by {done}"

        result = loader.load_delivery(folder, source)
        outcomes[(result.status, result.rule)] += 1
        recorded = con.execute(
            "SELECT status, rule, reason, rows_read, rows_loaded, rows_quarantined FROM audit.load_manifest "
            "WHERE load_id = ?",
            [result.load_id],
        ).fetchall()
        assert len(recorded) == 1, context
        assert recorded[0][:3] == (result.status, result.rule, result.reason), context
        assert recorded[0][4:] == (result.rows_loaded, result.rows_quarantined), context
        assert result.rule != "load_error", f"{context}: {result.reason}"
        if result.status == "rejected":
            assert result.rule in DELIVERY_RULES, f"{context}: {result.rule} {result.reason}"
            assert result.reason and "\n" not in result.reason, context
            assert str(folder) in result.reason, context  # names the file or the manifest
            assert stale or result.rule != "manifest_checksum", context
        elif result.status == "loaded":
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines = lines[:-1]
            with_lf = data.count(b"\n")  # lines 1..with_lf end with LF
            assert result.rows_read == len(lines) - 1, context
            assert result.rows_loaded + result.rows_quarantined == result.rows_read, context
            q = con.execute(
                "SELECT row_number, rule, raw_line FROM audit.quarantine WHERE load_id = ? ORDER BY 1",
                [result.load_id],
            ).fetchall()
            assert len(q) == result.rows_quarantined == len({n for n, _, _ in q}), context
            for n, rule, raw_line in q:
                quarantined_rules[rule] += 1
                assert 2 <= n <= len(lines), context
                want = expected_text(lines[n - 1], base["encoding"], n <= with_lf)
                assert raw_line == want, f"{context}: line {n} ({rule})"
            raw = con.execute(
                f"SELECT _row_number, {cols} FROM raw.{source} WHERE _load_id = ? ORDER BY 1", [result.load_id]
            ).fetchall()
            assert len(raw) == result.rows_loaded, context
            bad = {n for n, _, _ in q}
            for n, *row in raw:
                assert n not in bad and 2 <= n <= len(lines), context
                line = lines[n - 1].removesuffix(b"\r") if n <= with_lf else lines[n - 1]
                twin = base["clean"].get(line.decode(base["encoding"]))
                if twin is not None:  # an untouched line loads exactly as it did from the clean delivery
                    assert tuple(row) == twin, f"{context}: line {n}"
                    untouched_checked += 1
        else:
            assert (result.status, result.rule) == ("skipped", "already_loaded"), context

        nxt = loader.load_delivery(base["folder"] / base["next"], source, force=True)
        assert (nxt.status, nxt.rows_loaded, nxt.rows_quarantined) == ("loaded", LINES, 0), f"{context}: next"
    target.close()

    attempts = sum(outcomes.values())
    assert attempts == DELIVERIES
    assert outcomes[("loaded", None)] > DELIVERIES // 5 and untouched_checked > 1000  # the fuzz reached the rows
    with capsys.disabled():
        print(f"\nfuzz (seed {SEED}): {DELIVERIES} mutated deliveries, mutations {dict(sorted(mutations.items()))}")
        for (status, rule), n in sorted(outcomes.items(), key=lambda kv: -kv[1]):
            print(f"  {status:<9}{rule or '':<22}{n:>5}")
        print(
            f"  quarantined rows by rule: {dict(quarantined_rules.most_common())}; untouched lines compared: "
            f"{untouched_checked:,}"
        )

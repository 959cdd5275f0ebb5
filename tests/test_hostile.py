"""Hostile and broken deliveries (issue 8): nothing outside a delivery folder is read, no name reaches SQL
text, every attempt ends loaded / skipped / rejected and is recorded with its rule, file and line, and the
deliveries after it still load. Line-level edges give the same outcome on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from telco360.ingest.loader import Loader
from telco360.ingest.targets import DuckDBTarget, PostgresTarget

from .conftest import fresh_pg_ingest_schemas

# ---------------------------------------------------------------- helpers (independent of the loader's code)


def sign(folder: Path) -> dict:
    """Rewrite a delivery's manifest so that it declares exactly the bytes in its files (sha256, rows = data
    lines after the header, a last line without LF counting), as the source system would."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    total = 0
    for spec in manifest["files"]:
        path = folder / spec["name"]
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        spec.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), rows=max(lines - 1, 0))
        total += spec["rows"]
    manifest["row_count"] = total
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return manifest


def copy_delivery(landing: Path, source: str, period: str, dst: Path, as_period: str | None = None) -> Path:
    folder = dst / source / (as_period or period)
    shutil.copytree(landing / source / period, folder)
    if as_period:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        manifest["period"] = as_period
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def part(folder: Path) -> Path:
    return folder / "part-00000.txt"


def edit_lines(folder: Path, edits: dict[int, bytes], newline: bytes = b"\n") -> list[bytes]:
    """Replace whole lines (1 = header) of the first part file, then re-sign the manifest."""
    lines = part(folder).read_bytes().split(b"\n")[:-1]
    for number, line in edits.items():
        lines[number - 1] = line
    part(folder).write_bytes(newline.join(lines) + newline)
    sign(folder)
    return lines


def lines_of(folder: Path) -> list[bytes]:
    return part(folder).read_bytes().split(b"\n")[:-1]


class Engine:
    """A target on one engine, plus plain SQL to read back what it holds."""

    def __init__(self, kind: str, tmp: Path):
        self.kind, self.tmp = kind, tmp
        if kind == "postgres":
            self.target = PostgresTarget(fresh_pg_ingest_schemas(), tmp / "tmp")
        else:
            self.target = DuckDBTarget(tmp / "w.duckdb", tmp / "tmp")

    def load(self, landing: Path, source: str, force: bool = False):
        return Loader(self.target, self.tmp / "work").load_source(landing, source, force=force)

    def all(self, sql: str) -> list[tuple]:
        if self.kind == "postgres":
            with self.target.pg.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall()
            self.target.pg.commit()
            return rows
        return self.target.con.execute(sql).fetchall()

    def quarantine(self) -> list[tuple]:
        return self.all("SELECT row_number, rule, detail, raw_line FROM audit.quarantine ORDER BY row_number")

    def manifest(self) -> list[tuple]:
        return self.all("SELECT period, status, rule, reason FROM audit.load_manifest ORDER BY load_id")

    def close(self):
        self.target.close()


@pytest.fixture
def duck(tmp_path):
    e = Engine("duckdb", tmp_path)
    yield e
    e.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    e = Engine(request.param, tmp_path)
    yield e
    e.close()


def statuses(results) -> list[tuple]:
    return [(r.period, r.status, r.rule) for r in results]


# ---------------------------------------------------------------- names and paths


def test_quotes_in_a_file_name_are_data_not_sql(landing, tmp_path, duck):
    """A plain file name may hold both kinds of quote: it is bound as a parameter, never spliced into SQL."""
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    evil = "x');DROP TABLE audit.quarantine;--\".txt"
    part(folder).rename(folder / evil)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][0]["name"] = evil
    (folder / "manifest.json").write_text(json.dumps(manifest))
    sign(folder)
    (result,) = duck.load(dst, "recharge_payment")
    assert (result.status, result.rule) == ("loaded", None), result.line()
    assert result.rows_loaded == (folder / evil).read_bytes().count(b"\n") - 1 > 3000
    assert duck.all("SELECT count(*) FROM audit.quarantine") == [(0,)]  # the table is still there
    assert duck.all("SELECT DISTINCT _file FROM raw.recharge_payment") == [(f"recharge_payment/2026-01/{evil}",)]


@pytest.mark.parametrize(
    "name",
    ["../../outside.txt", "ABSOLUTE", "sub/part-00000.txt", ".part-00000.txt", "part\n00000.txt", "..", "a\\b.txt"],
)
def test_names_that_leave_the_folder_are_refused_before_anything_is_opened(landing, tmp_path, duck, name):
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    outside = tmp_path / "outside.txt"
    outside.write_text("SECRET-FIRST-LINE|of a system file\n")
    if name == "ABSOLUTE":
        name = str(outside)
    manifest = sign(folder)
    manifest["files"][0]["name"] = name
    (folder / "manifest.json").write_text(json.dumps(manifest))
    copy_delivery(landing, "recharge_payment", "2026-02", dst)
    results = duck.load(dst, "recharge_payment")
    assert statuses(results) == [("2026-01", "rejected", "unsafe_path"), ("2026-02", "loaded", None)]
    assert "only plain file names" in results[0].reason
    recorded = duck.manifest()
    assert [(p, s, r) for p, s, r, _ in recorded] == statuses(results)
    assert "SECRET" not in json.dumps(recorded, default=str)
    assert duck.all("SELECT count(*) FROM raw.recharge_payment WHERE _file LIKE '%2026-01%'") == [(0,)]


def test_symlinks_are_refused_inside_a_delivery_and_as_the_delivery(landing, tmp_path, duck):
    dst = tmp_path / "landing"
    # a listed file that is a symlink to a well-formed file elsewhere (checksum and rows match it)
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    elsewhere = tmp_path / "elsewhere.txt"
    part(folder).rename(elsewhere)
    part(folder).symlink_to(elsewhere)
    # the whole delivery folder of the next month is a symlink to a real delivery outside landing
    real = copy_delivery(landing, "recharge_payment", "2026-02", tmp_path / "outside")
    (dst / "recharge_payment" / "2026-02").symlink_to(real, target_is_directory=True)
    results = duck.load(dst, "recharge_payment")
    assert statuses(results) == [("2026-01", "rejected", "unsafe_path"), ("2026-02", "rejected", "unsafe_path")]
    assert "symbolic link" in results[0].reason and "symbolic link" in results[1].reason
    assert duck.all("SELECT count(*) FROM raw.recharge_payment") == [(0,)]


def test_a_fifo_is_refused_without_waiting_on_it(landing, tmp_path):
    """A FIFO hung the loader forever while it held the warehouse lock: it is refused before it is opened."""
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    part(folder).unlink()
    os.mkfifo(part(folder))
    copy_delivery(landing, "recharge_payment", "2026-02", dst)
    code = (
        "import sys; from pathlib import Path; from telco360.ingest.loader import Loader; "
        "from telco360.ingest.targets import DuckDBTarget; t = DuckDBTarget(Path(sys.argv[1]), Path(sys.argv[2])); "
        "[print(r.period, r.status, r.rule) for r in Loader(t, Path(sys.argv[2])).load_source(Path(sys.argv[3]), "
        "'recharge_payment')]"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "w.duckdb"), str(tmp_path / "tmp"), str(dst)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["2026-01 rejected not_a_regular_file", "2026-02 loaded None"]


def test_a_listed_directory_and_an_unlisted_entry_are_refused(landing, tmp_path, duck):
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    manifest = sign(folder)
    (folder / "more").mkdir()
    manifest["files"].append({"name": "more", "rows": 0, "bytes": 0, "sha256": ""})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    folder2 = copy_delivery(landing, "recharge_payment", "2026-02", dst)
    (folder2 / ".hidden").write_text("x")
    results = duck.load(dst, "recharge_payment")
    assert statuses(results) == [
        ("2026-01", "rejected", "not_a_regular_file"),
        ("2026-02", "rejected", "manifest_unlisted_file"),
    ]
    assert "is a directory" in results[0].reason


def test_only_ascii_real_dates_are_periods_and_everything_else_is_reported(landing, tmp_path, duck):
    dst = tmp_path / "landing"
    copy_delivery(landing, "recharge_payment", "2026-01", dst)
    copy_delivery(landing, "recharge_payment", "2026-01", dst, as_period="２０２６-０１")
    copy_delivery(landing, "recharge_payment", "2026-02", dst, as_period="2026-02\n")
    copy_delivery(landing, "recharge_payment", "2026-02", dst, as_period="2026-13")
    (dst / "recharge_payment" / "README.txt").write_text("not a delivery")
    results = duck.load(dst, "recharge_payment")
    got = sorted(statuses(results))
    assert got == sorted(
        [
            ("2026-01", "loaded", None),
            ("２０２６-０１", "rejected", "period"),
            ("2026-02\\x0a", "rejected", "period"),  # recorded escaped: storable, printable, one line
            ("2026-13", "rejected", "period"),
            ("README.txt", "rejected", "not_a_delivery"),
        ]
    )
    assert len(duck.manifest()) == 5  # every attempt is recorded
    assert duck.all("SELECT count(DISTINCT _load_id) FROM raw.recharge_payment") == [(1,)]
    line = next(r for r in results if r.period == "2026-02\\x0a").line()
    assert "\n" not in line and "2026-02\\x0a" in line  # shown escaped, on one line
    # an impossible day in a daily source
    day = copy_delivery(landing, "usage_daily", "2026-01-05", dst, as_period="2026-01-32")
    assert statuses(duck.load(dst, "usage_daily")) == [("2026-01-32", "rejected", "period")]
    assert day.exists()  # left in landing


# ---------------------------------------------------------------- line-level edges: one outcome on both engines


def test_stray_crs_nul_and_overlong_lines_are_quarantined_alike_on_both_engines(landing, tmp_path, engine):
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    original = lines_of(folder)
    edits = {
        5: original[4].replace(b"|card|", b"|ca\rrd|").replace(b"|hall|", b"|ha\rll|").replace(b"|", b"|\r", 1),
        7: original[6].replace(b"|", b"|\x00", 1),
        9: original[8] + b"|" + b"x" * 70_000,
        11: original[10].replace(b"|", b"|\x1b", 1),
    }
    # mixed line ends: CRLF on every even line (the CR is part of the line end), LF elsewhere
    lines = [edits.get(n, line) + (b"\r" if n % 2 == 0 else b"") for n, line in enumerate(original, start=1)]
    part(folder).write_bytes(b"\n".join(lines) + b"\n")
    sign(folder)
    copy_delivery(landing, "recharge_payment", "2026-02", dst)
    results = engine.load(dst, "recharge_payment")
    assert statuses(results) == [("2026-01", "loaded", None), ("2026-02", "loaded", None)]
    assert (results[0].rows_loaded, results[0].rows_quarantined) == (len(original) - 1 - 4, 4)
    q = engine.quarantine()
    assert [(n, rule) for n, rule, _, _ in q] == [
        (5, "stray_cr"),
        (7, "control_character"),
        (9, "line_too_long"),
        (11, "control_character"),
    ]
    assert "0x00 (NULL)" in q[1][2] and "0x1B (ESCAPE)" in q[3][2]
    assert q[2][2] == f"line_too_long: the line is {len(edits[9])} bytes, the contract allows 65536"
    assert q[0][3] == edits[5].decode().replace("\r", "\u240d")  # as delivered, CR shown as ␍
    assert q[1][3] == edits[7].decode().replace("\x00", "\u2400")
    assert q[2][3] == edits[9][:65536].decode() + f"… [cut: {len(edits[9])} bytes in all]"  # bounded
    # every other line loaded exactly as written (CRLF lines included)
    n = engine.all("SELECT count(*) FROM raw.recharge_payment WHERE _file LIKE '%2026-01%'")[0][0]
    assert n == len(original) - 1 - 4
    first = engine.all(
        "SELECT txn_id, channel, arrears_after FROM raw.recharge_payment WHERE _row_number = 2 AND _file LIKE '%01/%'"
    )
    fields = original[1].decode().split("|")
    assert [(str(a), b, f"{c:.2f}") for a, b, c in first] == [(fields[0], fields[4], fields[6])]


@pytest.mark.postgres
def test_both_engines_record_the_same_outcome_for_the_same_damage(landing, tmp_path_factory):
    """The same damaged delivery, loaded on each engine: identical quarantine and manifest rows."""
    root = tmp_path_factory.mktemp("both")
    dst = root / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    original = lines_of(folder)
    edit_lines(folder, {3: original[2] + b"\r\x00", 4: b"", 6: original[5] + b"|extra", 8: original[1]})
    outcomes = []
    for kind in ("duckdb", "postgres"):
        e = Engine(kind, root / kind)
        try:
            e.load(dst, "recharge_payment")
            outcomes.append((e.quarantine(), [(p, s, r) for p, s, r, _ in e.manifest()]))
        finally:
            e.close()
    assert outcomes[0] == outcomes[1]
    assert [(n, rule) for n, rule, _, _ in outcomes[0][0]] == [
        (3, "stray_cr"),  # a CR not followed by LF, whatever follows it
        (4, "blank_line"),
        (6, "column_count"),
        (8, "duplicate_key"),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_a_file_cut_inside_a_character_is_an_encoding_rejection_naming_its_line(landing, tmp_path, duck, encoding):
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "channel", "2026-01", dst)
    text = part(folder).read_bytes().decode("utf-8")
    data = text.encode(encoding)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["encoding"] = encoding
    (folder / "manifest.json").write_text(json.dumps(manifest))
    cut = data.index("营业厅".encode(encoding)) + 1  # inside the first multi-byte character
    part(folder).write_bytes(data[:cut])
    sign(folder)
    copy_delivery(landing, "channel", "2026-02", dst)
    results = duck.load(dst, "channel")
    assert statuses(results) == [("2026-01", "rejected", "encoding"), ("2026-02", "loaded", None)]
    assert "part-00000.txt" in results[0].reason and "line 2" in results[0].reason
    assert "manifest.json" not in results[0].reason


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda m: m.update(files=[]), "manifest_invalid"),
        (lambda m: m["files"][0].update(rows=str(m["files"][0]["rows"])), "manifest_invalid"),
        (lambda m: m["files"][0].update(rows=float(m["files"][0]["rows"])), "manifest_invalid"),
        (lambda m: m.update(row_count=str(m["row_count"])), "manifest_invalid"),
        (lambda m: m.update(row_count=True), "manifest_invalid"),
        (lambda m: m.update(files=[m["files"][0], m["files"][0]]), "manifest_invalid"),
        (lambda m: m.update(files={"name": "part-00000.txt"}), "manifest_invalid"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_rejected_and_the_next_delivery_loads(landing, tmp_path, duck, change, rule):
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    manifest = sign(folder)
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    copy_delivery(landing, "recharge_payment", "2026-02", dst)
    results = duck.load(dst, "recharge_payment")
    assert statuses(results) == [("2026-01", "rejected", rule), ("2026-02", "loaded", None)]
    assert "manifest.json" in results[0].reason
    assert len(duck.manifest()) == 2


def test_a_snapshot_that_shrinks_past_its_bound_is_refused_unless_forced(landing, tmp_path, duck):
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "channel", "2026-01", dst)
    full = len(lines_of(folder)) - 1
    assert duck.load(dst, "channel")[0].rows_loaded == full > 100
    part(folder).write_bytes(lines_of(folder)[0] + b"\n")  # re-delivered with only its header
    sign(folder)
    (result,) = duck.load(dst, "channel")
    assert (result.status, result.rule) == ("rejected", "snapshot_shrunk")
    assert f"0 rows against {full:,}" in result.reason and "--force" in result.reason
    assert duck.all("SELECT count(*) FROM raw.channel") == [(full,)]  # the month is intact
    # a new month compared with the month before
    nxt = copy_delivery(landing, "channel", "2026-02", dst)
    keep = lines_of(nxt)[: full // 3]
    part(nxt).write_bytes(b"\n".join(keep) + b"\n")
    sign(nxt)
    assert statuses(duck.load(dst, "channel")) == [
        ("2026-01", "rejected", "snapshot_shrunk"),
        ("2026-02", "rejected", "snapshot_shrunk"),
    ]
    forced = duck.load(dst, "channel", force=True)
    assert statuses(forced) == [("2026-01", "loaded", None), ("2026-02", "loaded", None)]
    assert duck.all("SELECT count(*) FROM raw.channel") == [(len(keep) - 1,)]


def test_one_parsing_rule_per_type(landing, tmp_path, duck):
    """Doubles and dates are as strict as integers and money; blank text is not a required value."""
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "usage_daily", "2026-01-05", dst)
    lines = lines_of(folder)

    def with_field(n: int, column: int, value: bytes) -> bytes:
        fields = lines[n - 1].split(b"|")
        fields[column] = value
        return b"|".join(fields)

    share, data_mb, day, cell = 5, 9, 0, 11
    bad = {
        2: with_field(2, share, b" 0.5"),
        3: with_field(3, share, b"+0.5"),
        4: with_field(4, data_mb, b"12."),
        5: with_field(5, data_mb, b"1_000"),
        6: with_field(6, day, b"2026-1-5"),
        7: with_field(7, data_mb, b"inf"),
        8: with_field(8, data_mb, b"\xef\xbc\x91\xef\xbc\x92"),  # full-width digits
        9: with_field(9, day, b"2026-01-05 "),
    }
    good = {10: with_field(10, data_mb, b"2.5e-05"), 11: with_field(11, data_mb, b"0"), 12: with_field(12, cell, b"")}
    edit_lines(folder, {**bad, **good})
    (result,) = duck.load(dst, "usage_daily")
    q = duck.quarantine()
    assert [(n, rule) for n, rule, _, _ in q] == [(n, "type") for n in sorted(bad)]
    assert result.rows_quarantined == len(bad)
    got = duck.all("SELECT _row_number, data_mb FROM raw.usage_daily WHERE _row_number IN (10, 11) ORDER BY 1")
    assert got == [(10, 2.5e-05), (11, 0.0)]
    # blank text in a required column
    ch = copy_delivery(landing, "channel", "2026-01", dst)
    chl = lines_of(ch)
    edit_lines(ch, {2: chl[1].replace(chl[1].split(b"|")[1], b" \t\xe3\x80\x80", 1)})
    (result,) = duck.load(dst, "channel")
    assert result.rows_quarantined == 1
    got = duck.all("SELECT row_number, rule, column_name FROM audit.quarantine WHERE source = 'channel'")
    assert got == [(2, "required", "channel_name")]


# ---------------------------------------------------------------- found in review: each failed before its fix


def test_an_overlong_line_in_an_undamaged_file_is_kept_bounded_as_in_a_repaired_one(landing, tmp_path, duck):
    """The reader's path (a clean LF file) and the repair path give the same detail and the same bounded text."""
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    long_line = lines_of(folder)[4] + b"|" + "长".encode() * 100_000  # 300k bytes, UTF-8, no CR anywhere
    edit_lines(folder, {5: long_line})
    (result,) = duck.load(dst, "recharge_payment")
    assert (result.status, result.rows_quarantined) == ("loaded", 1)
    (row,) = duck.quarantine()
    assert row[:3] == (
        5,
        "line_too_long",
        f"line_too_long: the line is {len(long_line)} bytes, the contract allows 65536",
    )
    assert row[3] == long_line[:65536].decode("utf-8", "replace") + f"… [cut: {len(long_line)} bytes in all]"


def test_names_that_are_not_utf8_or_hold_terminal_escapes_are_recorded_escaped(landing, tmp_path, duck):
    dst = tmp_path / "landing"
    copy_delivery(landing, "recharge_payment", "2026-01", dst)
    base = os.fsencode(dst / "recharge_payment")
    os.mkdir(base + b"/2026-03\xff")
    with open(base + b"/notes\x1b[31mRED\xfe.txt", "wb") as fh:
        fh.write(b"x")
    os.symlink(dst / "recharge_payment" / "2026-01", base + b"/2026-04\x1b]0;pwned\x07")
    results = duck.load(dst, "recharge_payment")
    assert sorted(statuses(results)) == [
        ("2026-01", "loaded", None),
        ("2026-03\\xff", "rejected", "period"),
        ("2026-04\\x1b]0;pwned\\x07", "rejected", "unsafe_path"),
        ("notes\\x1b[31mRED\\xfe.txt", "rejected", "not_a_delivery"),
    ]
    recorded = duck.manifest()
    assert len(recorded) == 4 and not any("NOT RECORDED" in (r or "") for *_, r in recorded)
    for r in results:
        assert all(ch.isprintable() for ch in r.line()), r.line()  # no escape reaches a terminal


def test_a_snapshot_whose_rows_would_all_be_quarantined_is_a_shrink(landing, tmp_path, duck):
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "channel", "2026-01", dst)
    full = len(lines_of(folder)) - 1
    duck.load(dst, "channel")
    lines = lines_of(folder)
    edit_lines(
        folder,
        {
            n: line.replace(b"|urban|", b"|URBAN|")
            .replace(b"|rural|", b"|RURAL|")
            .replace(b"|county|", b"|COUNTY|")
            .replace(b"|online|", b"|ONLINE|")
            for n, line in enumerate(lines, start=1)
            if n > 1
        },
    )
    (result,) = duck.load(dst, "channel")
    assert (result.status, result.rule) == ("rejected", "snapshot_shrunk"), result.line()
    assert f"would load 0 rows ({full:,} of its {full:,} rows quarantined)" in result.reason
    assert duck.all("SELECT count(*) FROM raw.channel") == [(full,)]


def test_a_gbk_character_whose_second_byte_is_the_delimiter_is_data(landing, tmp_path, duck):
    """In GBK, 0x7C ('|') is the second byte of characters such as 億: fields are counted on the decoded text."""
    assert "億".encode("gbk")[1:] == b"|"
    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "channel", "2026-01", dst)
    lines = lines_of(folder)
    fields = lines[1].decode().split("|")
    fields[1], fields[-1] = "億元营业厅", ""  # and the last field empty: the line ends with '|'
    last = lines[2].decode().split("|")
    last[1] = "億"
    text = "\n".join([lines[0].decode(), "|".join(fields), "|".join(last), *[x.decode() for x in lines[3:]]]) + "\n"
    part(folder).write_bytes(text.encode("gbk"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["encoding"] = "gbk"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    sign(folder)
    (result,) = duck.load(dst, "channel")
    assert result.status == "loaded"
    # six fields, the last (required) empty: `required`, not the seven fields a byte count would see
    assert duck.all("SELECT row_number, rule, column_name FROM audit.quarantine") == [(2, "required", "opened_at")]
    assert duck.all("SELECT channel_name FROM raw.channel WHERE _row_number = 3") == [("億",)]


def test_a_file_swapped_for_a_symlink_after_its_check_is_never_read_through_the_link(landing, tmp_path, monkeypatch):
    """The race: after the checks, the source renames the file away, puts a symlink to an outside file in its
    place while the loader reads, and renames the original back before the loader's final identity check.
    The rows come from the file that was checked (read through the descriptor held open since), never from
    the outside file."""
    import telco360.ingest.loader as loader_module

    dst = tmp_path / "landing"
    folder = copy_delivery(landing, "recharge_payment", "2026-01", dst)
    outside = tmp_path / "outside.txt"
    header = lines_of(folder)[0]
    outside.write_bytes(header + b"\n" + b"\n".join(b"SECRET|line %d" % i for i in range(len(lines_of(folder)) - 1)))
    duck = Engine("duckdb", tmp_path)
    loader = Loader(duck.target, tmp_path / "work")
    inspected = loader._inspect(folder, loader.contracts["recharge_payment"])
    part(folder).rename(folder / "away")
    part(folder).symlink_to(outside)
    real = loader_module.still_the_same

    def swapped_back(f):
        part(folder).unlink()
        (folder / "away").rename(part(folder))
        return real(f)

    monkeypatch.setattr(loader_module, "still_the_same", swapped_back)
    result = loader.load_delivery(folder, "recharge_payment", inspected=inspected)
    stored = json.dumps(
        duck.all("SELECT * FROM audit.quarantine") + duck.all("SELECT * FROM raw.recharge_payment"), default=str
    )
    duck.close()
    assert "SECRET" not in stored
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", len(lines_of(folder)) - 1, 0)

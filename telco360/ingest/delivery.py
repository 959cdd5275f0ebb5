"""A landed delivery: its manifest, and the file-level checks made before any row is read.

Nothing a source system sends is trusted. Before a byte of a file is read:
- the source folder and the delivery folder are real directories (not symlinks), and the delivery folder's
  name is exactly an ASCII period (`YYYY-MM` or `YYYY-MM-DD`) that is a real date;
- every name in the manifest is a plain file name (no separator, no `..`, no control character, no leading
  dot), and every entry of the folder is the manifest or a listed file;
- every file is a regular file, opened without following symlinks and without blocking (a FIFO or a device
  is refused, never waited on), and re-checked after it has been read (it must still be the same file).

The manifest itself is checked field by field (types included: `rows: "12"` or `rows: 12.0` is refused).
Line-level damage that the CSV reader cannot survive (a CR that does not end a line, NUL or another control
character) is found in the same streaming pass that hashes the file; such lines are replaced, in a parse copy
under the work folder, by a line the reader rejects, and are quarantined with their own rule and the line as
delivered (control characters shown as Unicode control pictures, U+2400..).
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from telco360.contracts import Contract

CHUNK = 1 << 22
MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 1 << 20
DAILY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
MONTHLY = re.compile(r"[0-9]{4}-[0-9]{2}", re.ASCII)
# ASCII-compatible encodings only: pure-ASCII chunks are passed through undecoded, and no byte below 0x20
# is ever part of a multi-byte character, so control characters can be found in the raw bytes
SUPPORTED_ENCODINGS = ("utf-8", "utf8", "gbk", "gb18030")
# C0 control characters other than TAB, LF and CR (CR is judged by its position), and DEL
CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
CONTROL_PICTURES = str.maketrans(
    {**{c: chr(0x2400 + c) for c in range(32)}, 127: "\u2421"}
)  # NUL -> ␀, CR -> ␍, DEL -> ␡
SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)


class DeliveryRejected(Exception):
    """The delivery as a whole breaks a rule; nothing of it is loaded."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass
class BadLine:
    """A line the CSV reader cannot be given as it is: quarantined with this rule and detail."""

    rule: str  # stray_cr | control_character
    detail: str
    raw_line: str  # as delivered, decoded, control characters as control pictures


@dataclass
class FileFacts:
    name: str
    path: Path  # the file to parse (a UTF-8 / repaired copy when the delivered file needs one)
    sha256: str
    rows: int
    bytes: int
    source_path: Path | None = None  # the delivered file
    identity: tuple = ()  # (device, inode, size, mtime) when it was read: it must not change before the load
    bad_lines: dict[int, BadLine] = field(default_factory=dict)
    encoding_error: str | None = None  # found while hashing, reported after the checksum
    header_error: str | None = None


@dataclass
class Delivery:
    source: str
    period: str
    folder: Path
    manifest: dict = field(default_factory=dict)
    files: list[FileFacts] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.source}/{self.period}"

    @property
    def sha256(self) -> str:
        return delivery_digest([(f.name, f.sha256) for f in self.files])

    @property
    def rows_declared(self) -> int:
        return self.manifest["row_count"]

    @property
    def rows_read(self) -> int:
        return sum(f.rows for f in self.files)


def shown(name: str) -> str:
    """A name as it may be printed: quoted and escaped when it holds anything but printable characters."""
    plain = name.isascii() and name.isprintable() and name.strip() == name
    return name if plain else ascii(name)


def delivery_digest(files: list[tuple[str, str | None]]) -> str:
    """Identity of a delivery: the hash of its (file name, file sha256) pairs, in name order."""
    digest = hashlib.sha256()
    for name, sha in sorted(files, key=lambda f: f[0]):
        digest.update(f"{name}:{sha}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def parse_period(name: str, kind: str) -> dt.date | None:
    """The date a delivery folder stands for, or None: exactly ASCII YYYY-MM (monthly) or YYYY-MM-DD (daily),
    and a real date (no 2026-13, no 2026-02-30, no full-width digits, no trailing newline)."""
    shape = DAILY if kind == "daily" else MONTHLY
    if not shape.fullmatch(name):
        return None
    try:
        return dt.date.fromisoformat(name if kind == "daily" else f"{name}-01")
    except ValueError:
        return None


def find_deliveries(landing: Path, source: str) -> list[Path]:
    """Every entry of a source's landing folder: delivery folders in period order first, then whatever else
    is there (stray files, badly named folders, symlinks), which `inspect` rejects and the loader records."""
    base = Path(landing) / source
    if not base.is_dir() or base.is_symlink():
        return [base] if base.is_symlink() else []
    entries = list(base.iterdir())

    def key(p: Path):
        return (
            not (p.is_dir() and not p.is_symlink() and (DAILY.fullmatch(p.name) or MONTHLY.fullmatch(p.name))),
            p.name,
        )

    return sorted(entries, key=key)


def plain_name_problem(name) -> str | None:
    """Why a manifest's file name is not a plain file name in its folder (None when it is)."""
    if not isinstance(name, str) or not name:
        return "is not a non-empty string"
    if "/" in name or "\\" in name:
        return "holds a path separator"
    if name in (".", "..") or ".." in name.split("."):
        return "holds '..'"
    if name.startswith("."):
        return "starts with a dot"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in name):
        return "holds a control character"
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        return "is longer than 255 bytes"
    return None


def _open_regular(path: Path, what: str = "file") -> tuple[int, os.stat_result]:
    """Open a delivered file for reading without following a symlink and without blocking on a FIFO or
    device; refuse anything that is not a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise DeliveryRejected("manifest_file_missing", f"{path}: listed in the manifest, not delivered") from None
    if stat.S_ISLNK(st.st_mode):
        raise DeliveryRejected("unsafe_path", f"{path}: the {what} is a symbolic link (only regular files are read)")
    if not stat.S_ISREG(st.st_mode):
        raise DeliveryRejected("not_a_regular_file", f"{path}: the {what} is a {_kind(st.st_mode)}, not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DeliveryRejected("unreadable", f"{path}: cannot be opened ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # swapped between lstat and open
        os.close(fd)
        raise DeliveryRejected("not_a_regular_file", f"{path}: the {what} is a {_kind(st.st_mode)}, not a regular file")
    return fd, st


def identity(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def still_the_same(f: FileFacts) -> bool:
    """The delivered file was not replaced or changed since it was hashed."""
    try:
        st = os.lstat(f.source_path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and identity(st) == f.identity


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISLNK, "symbolic link"),
    ):
        if test(mode):
            return name
    return "special file"


def _strict_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_manifest(mpath: Path) -> dict:
    fd, st = _open_regular(mpath, "manifest")
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > MANIFEST_MAX_BYTES:
            raise DeliveryRejected("manifest_invalid", f"{mpath}: {st.st_size:,} bytes, the limit is 1 MiB")
        data = fh.read(MANIFEST_MAX_BYTES + 1)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeliveryRejected("manifest_invalid", f"{mpath}: not valid UTF-8 JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise DeliveryRejected("manifest_invalid", f"{mpath}: a JSON object expected, found {type(doc).__name__}")
    return doc


def check_manifest(m: dict, mpath: Path, contract: Contract, period: str) -> None:
    """Field by field, types included. Raises DeliveryRejected naming the field and what was found."""

    def bad(rule: str, text: str):
        raise DeliveryRejected(rule, f"{mpath}: {text}")

    for key, want in (("source", contract.source), ("period", period)):
        if m.get(key) != want:
            bad("manifest_mismatch", f"{key} expected {want!r}, found {m.get(key)!r}")
    if not _strict_int(m.get("schema_version")):
        bad("manifest_invalid", f"schema_version must be a whole number, found {m.get('schema_version')!r}")
    if m["schema_version"] != contract.schema_version:
        bad("schema_version", f"schema_version expected {contract.schema_version}, found {m.get('schema_version')!r}")
    if m.get("delimiter", contract.delimiter) != contract.delimiter:
        bad("delimiter", f"delimiter expected {contract.delimiter!r}, found {m.get('delimiter')!r}")
    encoding = m.get("encoding", "utf-8")
    if not isinstance(encoding, str) or encoding.lower() not in SUPPORTED_ENCODINGS:
        bad("encoding", f"encoding {encoding!r} is not one of {', '.join(SUPPORTED_ENCODINGS)}")
    if not _strict_int(m.get("row_count")) or m["row_count"] < 0:
        bad("manifest_invalid", f"row_count must be a whole number >= 0, found {m.get('row_count')!r}")
    files = m.get("files")
    if not isinstance(files, list) or not files:
        bad("manifest_invalid", f"files must be a non-empty list, found {files!r}"[:300])
    seen = set()
    for i, spec in enumerate(files):
        if not isinstance(spec, dict):
            bad("manifest_invalid", f"files[{i}] must be an object, found {spec!r}"[:300])
        name = spec.get("name")
        problem = plain_name_problem(name)
        if problem:
            bad("unsafe_path", f"files[{i}].name {shown(str(name))} {problem}: only plain file names are read")
        if name == MANIFEST or name in seen:
            bad("manifest_invalid", f"files[{i}].name {name!r} is listed twice or names the manifest")
        seen.add(name)
        if not _strict_int(spec.get("rows")) or spec["rows"] < 0:
            bad("manifest_invalid", f"files[{i}].rows must be a whole number >= 0, found {spec.get('rows')!r}")
        if "bytes" in spec and (not _strict_int(spec["bytes"]) or spec["bytes"] < 0):
            bad("manifest_invalid", f"files[{i}].bytes must be a whole number >= 0, found {spec.get('bytes')!r}")
        if not isinstance(spec.get("sha256"), str):
            bad("manifest_invalid", f"files[{i}].sha256 must be a string, found {spec.get('sha256')!r}")


def inspect(folder: Path, contract: Contract, work_dir: Path) -> Delivery:
    """Check the folder, the manifest, then checksums, row counts, encoding, line damage and header of every file.

    Files that the reader cannot take as delivered (another encoding, CRs, control characters) are written
    once, streaming, into `work_dir` as UTF-8 with LF line ends.
    Raises DeliveryRejected naming the file, what was expected and what was found.
    """
    folder = Path(folder)
    period = folder.name
    d = Delivery(source=contract.source, period=period, folder=folder)
    if folder.name == contract.source and folder.is_symlink():  # the source folder itself
        raise DeliveryRejected("unsafe_path", f"{folder}: the source folder is a symbolic link")
    try:
        st = os.lstat(folder)
    except OSError as exc:
        raise DeliveryRejected("unreadable", f"{folder}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise DeliveryRejected("unsafe_path", f"{folder}: the delivery folder is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise DeliveryRejected(
            "not_a_delivery", f"{folder}: a {_kind(st.st_mode)} in the source folder, not a delivery folder"
        )
    if parse_period(period, contract.period) is None:
        want = "YYYY-MM-DD" if contract.period == "daily" else "YYYY-MM"
        raise DeliveryRejected(
            "period",
            f"{folder.parent}/{shown(period)}: folder name is not a {contract.period} period ({want}, "
            "ASCII digits, a real date)",
        )
    mpath = folder / MANIFEST
    if not os.path.lexists(mpath):
        raise DeliveryRejected("manifest_missing", f"{mpath} does not exist")
    d.manifest = m = _read_manifest(mpath)
    check_manifest(m, mpath, contract, period)
    encoding = m.get("encoding", "utf-8").lower()
    listed = {f["name"]: f for f in m["files"]}
    for entry in sorted(os.listdir(folder)):
        if entry != MANIFEST and entry not in listed:
            raise DeliveryRejected("manifest_unlisted_file", f"{folder}/{shown(entry)} is not listed in {mpath}")
    header = contract.delimiter.join(contract.column_names)
    for name, spec in sorted(listed.items()):
        path = folder / name
        facts = _scan(path, encoding, header, work_dir, contract)
        if facts.sha256 != spec["sha256"]:
            raise DeliveryRejected(
                "manifest_checksum", f"{path}: sha256 expected {spec['sha256']}, found {facts.sha256}"
            )
        if facts.rows != spec["rows"]:
            raise DeliveryRejected("manifest_row_count", f"{path}: rows expected {spec['rows']}, found {facts.rows}")
        d.files.append(facts)
    if d.rows_read != d.rows_declared:
        raise DeliveryRejected(
            "manifest_row_count", f"{mpath}: row_count expected {d.rows_declared}, files hold {d.rows_read}"
        )
    for f in d.files:  # found while hashing; reported only once the checksum says the file is as sent
        if f.encoding_error:
            raise DeliveryRejected("encoding", f.encoding_error)
        if f.header_error:
            raise DeliveryRejected("header", f.header_error)
    return d


def _scan(path: Path, encoding: str, header: str, work_dir: Path, contract: Contract) -> FileFacts:
    """One streaming pass: sha256, line count, strict decoding, line damage and the header line.

    Decoding and header errors are kept on the facts (the checksum is compared first: a file damaged in
    transit is a checksum failure, whatever its bytes look like)."""
    digest = hashlib.sha256()
    newlines = size = 0
    last = b""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    first_line = b""
    encoding_error = None
    damaged = False  # a CR or a control character somewhere: the file needs a repaired parse copy
    trailing = False  # a line ends with the delimiter: count its fields
    delim = contract.delimiter.encode()
    fd, st = _open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if len(first_line) < 65536 and b"\n" not in first_line:
                first_line += chunk[: 65536 - len(first_line)]
            if not damaged and (b"\r" in chunk or len(chunk.translate(None, CONTROL_BYTES)) != len(chunk)):
                damaged = True
            # the reader drops empty fields after the last column ('a|b|c||'): such lines are found by counting
            if not trailing and (delim + b"\n" in chunk or (last == delim and chunk[:1] == b"\n")):
                trailing = True
            if encoding_error is None and not (chunk.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    encoding_error = _decode_error(path, encoding, chunk, exc, newlines, size)
            newlines += chunk.count(b"\n")
            size += len(chunk)
            last = chunk[-1:]
    lines = newlines + (1 if last != b"\n" else 0)
    if encoding_error is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding_error = (
                f"{path}: declared {encoding}, the file ends inside a multi-byte character on line {lines} (cut short?)"
            )
    if size == 0:
        raise DeliveryRejected("empty_file", f"{path}: file is empty (no header row)")
    facts = FileFacts(
        name=path.name,
        path=path,
        sha256=digest.hexdigest(),
        rows=lines - 1,
        bytes=size,
        source_path=path,
        identity=identity(st),
    )
    facts.encoding_error = encoding_error
    found_header = first_line.split(b"\n", 1)[0].removesuffix(b"\r").decode(encoding, "replace").lstrip("\ufeff")
    facts.header_error = (
        None if found_header == header else (f"{path}: header expected {header!r}, found {found_header[:300]!r}")
    )
    utf8 = encoding in ("utf-8", "utf8")
    if encoding_error is not None or facts.header_error is not None:
        return facts
    trailing = trailing or last == delim or damaged  # (a CRLF file: '|\r\n' is a trailing delimiter too)
    extra = _extra_fields(path, delim, len(contract.columns), facts.identity) if trailing else {}
    if damaged or extra or not utf8:
        work_dir.mkdir(parents=True, exist_ok=True)
        facts.path = work_dir / f"{path.parent.name}-{path.name}"
        facts.bad_lines = _repair_copy(path, facts.path, encoding, contract, facts.identity, extra)
    return facts


def _extra_fields(path: Path, delim: bytes, columns: int, ident: tuple) -> dict[int, int]:
    """Lines (by number) with more fields than the contract whose extra fields are all empty, which the CSV
    reader would accept silently, with their field count. Vectorised: one numpy pass, by chunk."""
    import numpy as np

    found: dict[int, int] = {}
    fd, st = _open_regular(path)
    if identity(st) != ident:
        os.close(fd)
        raise DeliveryRejected("unsafe_path", f"{path}: the file changed while it was being checked")
    d, lf, cr = delim[0], 10, 13
    line0, carry_count, carry_last = 1, 0, -1  # the line a chunk starts in, its delimiters so far, its last byte
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(CHUNK):
            a = np.frombuffer(chunk, dtype=np.uint8)
            ends = np.flatnonzero(a == lf)
            delims = np.flatnonzero(a == d)
            bounds = np.searchsorted(delims, ends)  # delimiters before each line end
            counts = np.diff(np.concatenate(([0], bounds)))
            counts[:1] += carry_count
            before = np.where(ends > 0, a[np.maximum(ends - 1, 0)], carry_last)
            before2 = np.where(ends > 1, a[np.maximum(ends - 2, 0)], -1)
            ends_with_delim = (before == d) | ((before == cr) & (before2 == d))
            for i in np.flatnonzero((counts > columns - 1) & ends_with_delim):
                found[line0 + int(i)] = int(counts[i]) + 1
            line0 += len(ends)
            tail = len(delims) - (int(bounds[-1]) if len(ends) else 0)
            carry_count = tail + (carry_count if not len(ends) else 0)
            carry_last = int(a[-1])
    if carry_last == d and carry_count > columns - 1:  # a last line without LF
        found[line0] = carry_count + 1
    found.pop(1, None)  # the header is checked as a whole
    return found


def _decode_error(path, encoding, chunk: bytes, exc: UnicodeDecodeError, newlines: int, offset: int) -> str:
    line = newlines + chunk[: exc.start].count(b"\n") + 1
    found = chunk[exc.start : min(exc.end + 2, exc.start + 4)].hex(" ")
    return (
        f"{path}: declared {encoding}, line {line} is not valid {encoding} "
        f"(bytes {found} at offset {offset + exc.start}: {exc.reason})"
    )


def _repair_copy(
    src: Path, dst: Path, encoding: str, contract: Contract, ident: tuple, extra: dict[int, int]
) -> dict[int, BadLine]:
    """Write the parse copy: UTF-8, LF line ends (the CR of a CRLF is part of the line end); a line holding a
    CR anywhere else, NUL or another control character becomes a line the reader rejects for its column
    count (it is quarantined under its own rule, see BadLine). Returns those lines by number."""
    bad: dict[int, BadLine] = {}
    filler = "x" if contract.delimiter != "x" else "y"  # non-empty fields: a trailing empty one is tolerated
    rejected_by_reader = contract.delimiter.join([filler] * (len(contract.columns) + 2)) + "\n"
    controls = re.compile(b"[" + re.escape(CONTROL_BYTES) + b"]")
    fd, st = _open_regular(src)
    if identity(st) != ident:
        os.close(fd)
        raise DeliveryRejected("unsafe_path", f"{src}: the file changed while it was being checked")
    with os.fdopen(fd, "rb") as fh, dst.open("w", encoding="utf-8", newline="\n") as out:
        for number, raw in enumerate(fh, start=1):
            body = raw[:-1] if raw.endswith(b"\n") else raw
            ending = "\n" if raw.endswith(b"\n") else ""
            if body.endswith(b"\r") and ending:
                body = body[:-1]
            text = body.decode(encoding)  # already decoded strictly once
            found = None
            cr = body.find(b"\r")
            if number in extra:
                found = (
                    "column_count",
                    f"{extra[number]} fields, the contract has {len(contract.columns)} (empty fields after the last)",
                )
            elif cr >= 0:
                found = ("stray_cr", f"a carriage return (CR) inside the line at byte {cr + 1}")
            elif m := controls.search(body):
                code = m.group()[0]
                label = unicodedata.name(chr(0x2400 + code if code < 32 else 0x2421)).removeprefix("SYMBOL FOR ")
                found = ("control_character", f"control character 0x{code:02X} ({label}) at byte {m.start() + 1}")
            if found and number > 1:
                bad[number] = BadLine(found[0], f"{found[0]}: {found[1]}", text.translate(CONTROL_PICTURES))
                out.write(rejected_by_reader if ending else rejected_by_reader.rstrip("\n"))
            else:
                out.write(text + ending)
    return bad

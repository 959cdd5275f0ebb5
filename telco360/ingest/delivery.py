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
from telco360.ingest.files import (  # noqa: F401 (re-exported: the loader's view of a delivery)
    BadLine,
    DeliveryRejected,
    FileFacts,
    kind,
    open_regular,
    shown,
    still_the_same,
    storable,
)
from telco360.ingest.scan import scan_file

MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 1 << 20
DAILY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
MONTHLY = re.compile(r"[0-9]{4}-[0-9]{2}", re.ASCII)
# ASCII-compatible encodings only: pure-ASCII chunks are passed through undecoded, and no byte below 0x20
# is ever part of a multi-byte character, so control characters can be found in the raw bytes
SUPPORTED_ENCODINGS = ("utf-8", "utf8", "gbk", "gb18030")
SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)


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

    def close(self) -> None:
        """Let go of the delivered files (held open from their check to their load)."""
        for f in self.files:
            f.close()


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


def _strict_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_manifest(mpath: Path) -> dict:
    fd, st = open_regular(mpath, "manifest")
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
            "not_a_delivery", f"{folder}: a {kind(st.st_mode)} in the source folder, not a delivery folder"
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
    d.manifest = m = read_manifest(mpath)
    check_manifest(m, mpath, contract, period)
    encoding = m.get("encoding", "utf-8").lower()
    listed = {f["name"]: f for f in m["files"]}
    for entry in sorted(os.listdir(folder)):
        if entry != MANIFEST and entry not in listed:
            raise DeliveryRejected("manifest_unlisted_file", f"{folder}/{shown(entry)} is not listed in {mpath}")
    try:
        _check_files(d, listed, encoding, contract, work_dir, mpath)
    except BaseException:
        d.close()
        raise
    return d


def _check_files(d: Delivery, listed: dict, encoding: str, contract: Contract, work_dir: Path, mpath: Path) -> None:
    folder = d.folder
    header = contract.delimiter.join(contract.column_names)
    for name, spec in sorted(listed.items()):
        path = folder / name
        facts = scan_file(path, encoding, header, work_dir, contract)
        d.files.append(facts)  # (held open: closed with the delivery)
        if facts.sha256 != spec["sha256"]:
            raise DeliveryRejected(
                "manifest_checksum", f"{path}: sha256 expected {spec['sha256']}, found {facts.sha256}"
            )
        if facts.rows != spec["rows"]:
            raise DeliveryRejected("manifest_row_count", f"{path}: rows expected {spec['rows']}, found {facts.rows}")
    if d.rows_read != d.rows_declared:
        raise DeliveryRejected(
            "manifest_row_count", f"{mpath}: row_count expected {d.rows_declared}, files hold {d.rows_read}"
        )
    for f in d.files:  # found while hashing; reported only once the checksum says the file is as sent
        if f.encoding_error:
            raise DeliveryRejected("encoding", f.encoding_error)
        if f.header_error:
            raise DeliveryRejected("header", f.header_error)

"""A landed delivery: its manifest, and the file-level checks made before any row is read."""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from telco360.contracts import Contract

CHUNK = 1 << 22
DAILY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTHLY = re.compile(r"^\d{4}-\d{2}$")
# ASCII-compatible encodings only: pure-ASCII chunks are passed through undecoded
SUPPORTED_ENCODINGS = ("utf-8", "utf8", "gbk", "gb18030")


class DeliveryRejected(Exception):
    """The delivery as a whole breaks a rule; nothing of it is loaded."""

    def __init__(self, rule: str, message: str):
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass
class FileFacts:
    name: str
    path: Path  # the file to parse (a UTF-8 copy for other encodings)
    sha256: str
    rows: int
    bytes: int


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
        return int(self.manifest.get("row_count", 0))

    @property
    def rows_read(self) -> int:
        return sum(f.rows for f in self.files)


def delivery_digest(files: list[tuple[str, str | None]]) -> str:
    """Identity of a delivery: the hash of its (file name, file sha256) pairs, in name order."""
    digest = hashlib.sha256()
    for name, sha in sorted(files, key=lambda f: f[0]):
        digest.update(f"{name}:{sha}\n".encode())
    return digest.hexdigest()


def find_deliveries(landing: Path, source: str) -> list[Path]:
    """Delivery folders of a source in period order (ignores anything not shaped like a period)."""
    base = Path(landing) / source
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and (DAILY.match(p.name) or MONTHLY.match(p.name)))


def inspect(folder: Path, contract: Contract, work_dir: Path) -> Delivery:
    """Check manifest, checksums, row counts, encoding and header of every file.

    Files in an encoding other than UTF-8 are decoded once, streaming, into `work_dir`.
    Raises DeliveryRejected naming the file, what was expected and what was found.
    """
    folder = Path(folder)
    period = folder.name
    d = Delivery(source=contract.source, period=period, folder=folder)
    expected_shape = DAILY if contract.period == "daily" else MONTHLY
    if not expected_shape.match(period):
        raise DeliveryRejected("period", f"{folder}: folder name {period!r} is not a {contract.period} period")
    mpath = folder / "manifest.json"
    if not mpath.exists():
        raise DeliveryRejected("manifest_missing", f"{mpath} does not exist")
    try:
        d.manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeliveryRejected("manifest_invalid", f"{mpath}: not valid JSON ({exc})") from exc
    m = d.manifest
    for key, want in (("source", contract.source), ("period", period)):
        if str(m.get(key)) != want:
            raise DeliveryRejected("manifest_mismatch", f"{mpath}: {key} expected {want!r}, found {m.get(key)!r}")
    if int(m.get("schema_version", -1)) != contract.schema_version:
        raise DeliveryRejected(
            "schema_version",
            f"{mpath}: schema_version expected {contract.schema_version}, found {m.get('schema_version')!r}",
        )
    if m.get("delimiter", contract.delimiter) != contract.delimiter:
        raise DeliveryRejected(
            "delimiter", f"{mpath}: delimiter expected {contract.delimiter!r}, found {m.get('delimiter')!r}"
        )
    encoding = str(m.get("encoding", "utf-8")).lower()
    if encoding not in SUPPORTED_ENCODINGS:
        raise DeliveryRejected("encoding", f"{mpath}: encoding {encoding!r} is not one of {SUPPORTED_ENCODINGS}")
    listed = {f["name"]: f for f in m.get("files", [])}
    present = {p.name for p in folder.glob("*.txt")}
    for name in sorted(present - set(listed)):
        raise DeliveryRejected("manifest_unlisted_file", f"{folder / name} is not listed in {mpath}")
    header = contract.delimiter.join(contract.column_names)
    for name, spec in sorted(listed.items()):
        path = folder / name
        if not path.exists():
            raise DeliveryRejected("manifest_file_missing", f"{path}: listed in the manifest, not delivered")
        facts = _scan(path, encoding, header, work_dir)
        if facts.sha256 != spec.get("sha256"):
            raise DeliveryRejected(
                "manifest_checksum", f"{path}: sha256 expected {spec.get('sha256')}, found {facts.sha256}"
            )
        if facts.rows != int(spec.get("rows", -1)):
            raise DeliveryRejected(
                "manifest_row_count", f"{path}: rows expected {spec.get('rows')}, found {facts.rows}"
            )
        d.files.append(facts)
    if d.rows_read != d.rows_declared:
        raise DeliveryRejected(
            "manifest_row_count", f"{mpath}: row_count expected {d.rows_declared}, files hold {d.rows_read}"
        )
    return d


def _scan(path: Path, encoding: str, header: str, work_dir: Path) -> FileFacts:
    """One streaming pass: sha256, line count, strict decoding and the header line."""
    digest = hashlib.sha256()
    newlines = size = 0
    last = b""
    utf8 = encoding in ("utf-8", "utf8")
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    out = None
    target = path
    if not utf8:
        work_dir.mkdir(parents=True, exist_ok=True)
        target = work_dir / f"{path.parent.name}-{path.name}"
        out = target.open("wb")
    first_line = b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                if not first_line:
                    first_line = chunk.split(b"\n", 1)[0]
                if not (chunk.isascii() and not decoder.getstate()[0]):
                    try:
                        text = decoder.decode(chunk)
                    except UnicodeDecodeError as exc:
                        line = newlines + chunk[: exc.start].count(b"\n") + 1
                        raise DeliveryRejected(
                            "encoding",
                            f"{path}: declared {encoding}, line {line} is not valid {encoding} "
                            f"(byte 0x{chunk[exc.start]:02x} at offset {size + exc.start})",
                        ) from exc
                    if out is not None:
                        out.write(text.encode("utf-8"))
                elif out is not None:
                    out.write(chunk)
                newlines += chunk.count(b"\n")
                size += len(chunk)
                last = chunk[-1:]
        if out is not None:
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
    finally:
        if out is not None:
            out.close()
    if size == 0:
        raise DeliveryRejected("empty_file", f"{path}: file is empty (no header row)")
    found_header = first_line.rstrip(b"\r").decode(encoding, errors="replace").lstrip("\ufeff")
    if found_header != header:
        raise DeliveryRejected("header", f"{path}: header expected {header!r}, found {found_header!r}")
    lines = newlines + (1 if last != b"\n" else 0)
    return FileFacts(name=path.name, path=target, sha256=digest.hexdigest(), rows=lines - 1, bytes=size)

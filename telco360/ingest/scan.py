"""One streaming pass over a delivered file: sha256, line count, strict decoding, the header, and the line damage
the CSV reader cannot be given as it is (then a repaired parse copy is written)."""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import unicodedata
from pathlib import Path

from telco360.contracts import Contract
from telco360.ingest.files import (
    CHUNK,
    CONTROL_BYTES,
    CONTROL_PICTURES,
    BadLine,
    DeliveryRejected,
    FileFacts,
    identity,
    open_regular,
)


def scan_file(path: Path, encoding: str, header: str, work_dir: Path, contract: Contract) -> FileFacts:
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
    fd, st = open_regular(path)
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
        # a name of ours (the delivered name may be up to 255 bytes of anything plain)
        facts.path = (
            work_dir
            / f"{path.parent.name}-{hashlib.sha256(path.name.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}.txt"
        )
        facts.bad_lines = _repair_copy(path, facts.path, encoding, contract, facts.identity, extra)
    return facts


def _extra_fields(path: Path, delim: bytes, columns: int, ident: tuple) -> dict[int, int]:
    """Lines (by number) with more fields than the contract whose extra fields are all empty, which the CSV
    reader would accept silently, with their field count. Vectorised: one numpy pass, by chunk."""
    import numpy as np

    found: dict[int, int] = {}
    fd, st = open_regular(path)
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
    fd, st = open_regular(src)
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

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


def bounded_lines(fh, limit: int):
    """(number, line, size, ends_with_lf) for each line of a binary file, holding at most `limit` bytes of any
    line in memory: a longer line is cut at `limit` and the rest is counted, not kept."""
    number = 0
    while True:
        piece = fh.readline(limit + 2)
        if not piece:
            return
        number += 1
        size = len(piece)
        if not piece.endswith(b"\n") and size == limit + 2:  # an over-long line: count the rest
            kept = piece
            while True:
                more = fh.readline(1 << 20)
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
            ends = size > len(kept) and more.endswith(b"\n")
            yield number, kept[:limit], size - (1 if ends else 0), ends
            continue
        ends = piece.endswith(b"\n")
        yield number, piece[:-1] if ends else piece, size - (1 if ends else 0), ends


def too_long_text(prefix: bytes, size: int, encoding: str) -> str:
    """What quarantine keeps of an over-long line: its start, and how long it was."""
    return prefix.decode(encoding, "replace").translate(CONTROL_PICTURES) + f"… [cut: {size} bytes in all]"


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
    keep = os.dup(fd)  # every later read goes through this descriptor, never through the name again
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
                pending = len(decoder.getstate()[0])  # bytes of the previous chunk still held by the decoder
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    encoding_error = _decode_error(path, encoding, chunk, exc, newlines, size, pending)
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
        os.close(keep)
        raise DeliveryRejected("empty_file", f"{path}: file is empty (no header row)")
    facts = FileFacts(
        name=path.name,
        path=Path(f"/proc/self/fd/{keep}"),  # the very file that was hashed, whatever the name now points to
        fd=keep,
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
    # in UTF-8 no byte of a multi-byte character is the delimiter: the raw bytes can be counted (in GBK the
    # second byte of a character may be 0x7C '|', so its fields are counted on the decoded text, in the copy)
    try:
        needs_copy = damaged or not utf8 or ((trailing or last == delim) and _extra_fields(facts, delim, contract))
        if needs_copy:
            work_dir.mkdir(parents=True, exist_ok=True)
            # a name of ours (the delivered name may be up to 255 bytes of anything plain)
            name = hashlib.sha256(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
            copy = work_dir / f"{path.parent.name}-{name}.txt"
            facts.bad_lines = _repair_copy(facts, copy, encoding, contract)
            facts.path = copy
    except BaseException:
        facts.close()
        raise
    return facts


def _extra_fields(facts: FileFacts, delim: bytes, contract: Contract) -> dict[int, int]:
    """Lines (by number) of a UTF-8 file with more fields than the contract whose extra fields are all empty,
    which the CSV reader would accept silently, with their field count. Vectorised: one numpy pass, by chunk."""
    import numpy as np

    columns = len(contract.columns)
    found: dict[int, int] = {}
    d, lf, cr = delim[0], 10, 13
    line0, carry_count = 1, 0  # the line a chunk starts in, its delimiters so far
    carry_last = carry_last2 = -1  # the last two bytes of the previous chunk
    with open(facts.path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            a = np.frombuffer(chunk, dtype=np.uint8)
            ends = np.flatnonzero(a == lf)
            delims = np.flatnonzero(a == d)
            bounds = np.searchsorted(delims, ends)  # delimiters before each line end
            counts = np.diff(np.concatenate(([0], bounds)))
            counts[:1] += carry_count
            before = np.where(ends > 0, a[np.maximum(ends - 1, 0)], carry_last)
            before2 = np.where(ends > 1, a[np.maximum(ends - 2, 0)], np.where(ends == 1, carry_last, carry_last2))
            ends_with_delim = (before == d) | ((before == cr) & (before2 == d))
            for i in np.flatnonzero((counts > columns - 1) & ends_with_delim):
                found[line0 + int(i)] = int(counts[i]) + 1
            line0 += len(ends)
            tail = len(delims) - (int(bounds[-1]) if len(ends) else 0)
            carry_count = tail + (carry_count if not len(ends) else 0)
            carry_last2 = int(a[-2]) if len(a) > 1 else carry_last
            carry_last = int(a[-1])
    if carry_last == d and carry_count > columns - 1:  # a last line without LF
        found[line0] = carry_count + 1
    found.pop(1, None)  # the header is checked as a whole
    return found


def _decode_error(
    path, encoding, chunk: bytes, exc: UnicodeDecodeError, newlines: int, offset: int, pending: int
) -> str:
    """The bad bytes by line and file offset (the decoder's positions count `pending` held-over bytes first)."""
    start = max(exc.start - pending, 0)
    line = newlines + chunk[:start].count(b"\n") + 1
    found = exc.object[exc.start : min(exc.end + 2, exc.start + 4)].hex(" ")
    return (
        f"{path}: declared {encoding}, line {line} is not valid {encoding} "
        f"(bytes {found} at offset {offset + exc.start - pending}: {exc.reason})"
    )


def _repair_copy(facts: FileFacts, dst: Path, encoding: str, contract: Contract) -> dict[int, BadLine]:
    """Write the parse copy: UTF-8, LF line ends (the CR of a CRLF is part of the line end). A line the reader
    cannot be given as it is becomes a line it rejects for its column count, and is quarantined under its own
    rule (see BadLine): a CR anywhere else (stray_cr), NUL or another control character (control_character),
    more bytes than the contract allows (line_too_long, measured as delivered), empty fields after the last
    column (column_count). Returns those lines by number. No line is held whole in memory past the limit."""
    bad: dict[int, BadLine] = {}
    columns, delim = len(contract.columns), contract.delimiter
    filler = "x" if delim != "x" else "y"  # non-empty fields: trailing empty ones are dropped by the reader
    rejected_by_reader = delim.join([filler] * (columns + 2))
    controls = re.compile(b"[" + re.escape(CONTROL_BYTES) + b"]")
    limit = contract.max_line_bytes
    with open(facts.path, "rb") as fh, dst.open("w", encoding="utf-8", newline="\n") as out:
        for number, body, size, ends in bounded_lines(fh, limit):
            ending = "\n" if ends else ""
            if ends and body.endswith(b"\r") and size <= limit + 1:
                body, size = body[:-1], size - 1
            found = None
            if size > limit:
                found = ("line_too_long", f"the line is {size} bytes, the contract allows {limit}")
                text = too_long_text(body, size, encoding)
            else:
                text = body.decode(encoding)  # already decoded strictly once
                cr = body.find(b"\r")
                if cr >= 0:
                    found = ("stray_cr", f"a carriage return (CR) inside the line at byte {cr + 1}")
                elif m := controls.search(body):
                    code = m.group()[0]
                    label = unicodedata.name(chr(0x2400 + code if code < 32 else 0x2421)).removeprefix("SYMBOL FOR ")
                    found = ("control_character", f"control character 0x{code:02X} ({label}) at byte {m.start() + 1}")
                elif text.endswith(delim) and text.count(delim) > columns - 1:
                    found = (
                        "column_count",
                        f"{text.count(delim) + 1} fields, the contract has {columns} (empty fields after the last)",
                    )
                text = text.translate(CONTROL_PICTURES) if found else text
            if found and number > 1:
                bad[number] = BadLine(found[0], f"{found[0]}: {found[1]}", text)
                out.write(rejected_by_reader + ending)
            else:
                out.write(text + ending)
    return bad

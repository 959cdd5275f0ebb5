"""What every check of a delivered file shares: the rejection, the facts kept of a file, and opening a file
safely (never following a symlink, never blocking on a FIFO or a device)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 22
# C0 control characters other than TAB, LF and CR (CR is judged by its position), and DEL
CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
CONTROL_PICTURES = str.maketrans(
    {**{c: chr(0x2400 + c) for c in range(32)}, 127: "\u2421"}
)  # NUL -> ␀, CR -> ␍, DEL -> ␡


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
    fd: int | None = None  # the delivered file, held open until the load is over (path reads through it)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), *range(127, 160)]}


def storable(text: str) -> str:
    """Any text as it may be stored and printed on one line: bytes that are not UTF-8 (names the file system
    gave as surrogates) as \\xNN, control characters (newlines and terminal escapes included) as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").translate(_ESCAPES)


def shown(name: str) -> str:
    """A name as it may be printed: quoted and escaped when it holds anything but printable characters."""
    plain = name.isascii() and name.isprintable() and name.strip() == name
    return name if plain else ascii(name)


def open_regular(path: Path, what: str = "file") -> tuple[int, os.stat_result]:
    """Open a delivered file for reading without following a symlink and without blocking on a FIFO or
    device; refuse anything that is not a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise DeliveryRejected("manifest_file_missing", f"{path}: listed in the manifest, not delivered") from None
    if stat.S_ISLNK(st.st_mode):
        raise DeliveryRejected("unsafe_path", f"{path}: the {what} is a symbolic link (only regular files are read)")
    if not stat.S_ISREG(st.st_mode):
        raise DeliveryRejected("not_a_regular_file", f"{path}: the {what} is a {kind(st.st_mode)}, not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DeliveryRejected("unreadable", f"{path}: cannot be opened ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # swapped between lstat and open
        os.close(fd)
        raise DeliveryRejected("not_a_regular_file", f"{path}: the {what} is a {kind(st.st_mode)}, not a regular file")
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


def kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISREG, "regular file"),
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

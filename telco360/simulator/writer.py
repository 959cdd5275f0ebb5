"""Write deliveries the way the operator's interfaces do: part files + manifest.json."""

from __future__ import annotations

import codecs
import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from telco360.contracts import Contract

CHUNK = 1 << 22  # 4 MiB


def file_facts(path: Path) -> tuple[str, int, int]:
    """sha256, data rows (lines after the header; a last line without newline counts) and bytes."""
    digest = hashlib.sha256()
    newlines = 0
    size = 0
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            newlines += chunk.count(b"\n")
            size += len(chunk)
            last = chunk[-1:]
    lines = newlines + (1 if size and last != b"\n" else 0)
    return digest.hexdigest(), max(lines - 1, 0), size


def transcode(path: Path, encoding: str) -> None:
    """Re-encode a UTF-8 file in place, streaming (operators' GBK deliveries)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as src, tmp.open("wb") as dst:
        while chunk := src.read(CHUNK):
            dst.write(decoder.decode(chunk).encode(encoding))
        dst.write(decoder.decode(b"", final=True).encode(encoding))
    tmp.replace(path)


class DeliveryWriter:
    """Turns column arrays into `<out>/<source>/<period>/part-NNNNN.txt` + `manifest.json`."""

    def __init__(self, out: Path, encoding: str = "utf-8", rows_per_part: int = 1_000_000):
        self.out = Path(out)
        self.encoding = encoding
        self.rows_per_part = rows_per_part
        self.con = duckdb.connect()
        self.con.execute("SET preserve_insertion_order = true")
        self.rows_written = 0

    def close(self) -> None:
        self.con.close()

    def write(self, contract: Contract, period: str, columns: dict[str, np.ndarray | list], created_at: str) -> Path:
        names = contract.column_names
        if list(columns) != names:
            raise ValueError(f"{contract.source}: columns {list(columns)} != contract {names}")
        table = pa.table({k: _arrow(v) for k, v in columns.items()})
        select = ", ".join(_select_expr(col) for col in contract.columns)
        folder = self.out / contract.source / period
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.txt"):
            old.unlink()
        n = table.num_rows
        files = []
        parts = max(1, -(-n // self.rows_per_part))
        for i in range(parts):
            chunk = table.slice(i * self.rows_per_part, self.rows_per_part)  # noqa: F841 (used by SQL)
            path = folder / f"part-{i:05d}.txt"
            self.con.execute(
                f"COPY (SELECT {select} FROM chunk) TO '{path}' "
                "(FORMAT csv, DELIMITER '|', HEADER true, QUOTE '', ESCAPE '')"
            )
            if self.encoding.lower() not in ("utf-8", "utf8"):
                transcode(path, self.encoding)
            sha, rows, size = file_facts(path)
            files.append({"name": path.name, "rows": rows, "bytes": size, "sha256": sha})
        write_manifest(folder, contract, period, files, self.encoding, created_at)
        self.rows_written += n
        return folder


def write_manifest(
    folder: Path, contract: Contract, period: str, files: list[dict], encoding: str, created_at: str
) -> None:
    manifest = {
        "source": contract.source,
        "period": period,
        "schema_version": contract.schema_version,
        "encoding": encoding,
        "delimiter": contract.delimiter,
        "header": True,
        "row_count": sum(f["rows"] for f in files),
        "files": files,
        "created_at": created_at,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def _arrow(values) -> pa.Array:
    if isinstance(values, pa.Array):
        return values
    arr = np.asarray(values)
    if arr.dtype.kind == "U":
        return pa.array(arr.tolist(), pa.string())
    if arr.dtype.kind == "O":
        return pa.array(arr.tolist(), pa.string())
    return pa.array(arr)


def _select_expr(col) -> str:
    q = f'"{col.name}"'
    if col.type == "money":  # money arrays are integer cents: exact to the cent
        return f"(({q})::DOUBLE / 100)::DECIMAL(14,2) AS {q}"
    return q

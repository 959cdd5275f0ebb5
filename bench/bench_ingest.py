"""Benchmark: generator throughput, loader vs DuckDB's bare read_csv, peak memory, quarantine throughput.

    python bench/bench_ingest.py --subscribers 1000000      (make bench)

Each measured step runs in its own process so its peak RSS is its own (os.wait4). Prints figures;
asserts nothing (targets: loader <= 1.5x bare read_csv, peak memory <= 4 GB, a delivery with 10% bad
rows <= 2x the same delivery clean).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the quarantine line: the subscriber snapshot (one row per subscriber), one row in ten given a payment_type
# outside its contract's enum, so each bad row breaks exactly one row rule
BROKEN_SOURCE, BROKEN_PERIOD, BROKEN_COLUMN, BROKEN_VALUE = "crm_subscriber", "2026-01", "payment_type", "barter"
BROKEN_EVERY = 10


def run_measured(code: str, env: dict | None = None) -> tuple[float, float, str]:
    """Run python code in a child; return (seconds, peak RSS in GB, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"step failed ({status}):\n{code}\n{out}")
    last = out.strip().splitlines()[-1] if out.strip() else ""
    return secs, usage.ru_maxrss / 1024 / 1024, last  # ru_maxrss is in KiB on Linux


def prepare_landing(work: Path, subscribers: int, months: int, keep: bool) -> Path:
    """Generate the benchmark operator into work/landing (unless keep and it exists); print the generator's figures."""
    landing = work / "landing"
    if keep and landing.exists():
        return landing
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    gen = (
        f"from pathlib import Path\nfrom telco360.simulator.generate import GenerateConfig, generate\n"
        f"r = generate(GenerateConfig(subscribers={subscribers}, months={months}, start='2026-01', "
        f"seed=1, out=Path({str(landing)!r}), progress=False))\nprint(r['rows'])"
    )
    secs, rss, out = run_measured(gen)
    rows = int(out)
    print(f"generator: {rows:,} rows in {secs:.1f}s = {rows / secs:,.0f} rows/s; peak RSS {rss:.2f} GB")
    return landing


def break_rows(delivery: Path, out: Path) -> int:
    """Copy a delivery to out, giving every BROKEN_EVERY-th data row BROKEN_VALUE in BROKEN_COLUMN.

    Only a field changes, never a line, so rows stay as declared; the manifest gets each file's new sha256 and
    size, so the file-level checks pass and the rows reach the row rules. Returns the number of rows broken."""
    manifest = json.loads((delivery / "manifest.json").read_text())
    delim = manifest["delimiter"].encode()
    out.mkdir(parents=True)
    broken = 0
    for spec in manifest["files"]:
        with open(delivery / spec["name"], "rb") as src, open(out / spec["name"], "wb") as dst:
            header = src.readline()
            column = header.rstrip(b"\r\n").split(delim).index(BROKEN_COLUMN.encode())
            dst.write(header)
            for i, line in enumerate(src):
                if i % BROKEN_EVERY == 0:
                    fields = line.split(delim)
                    fields[column] = BROKEN_VALUE.encode()
                    line = delim.join(fields)
                    broken += 1
                dst.write(line)
        data = (out / spec["name"]).read_bytes()
        spec["sha256"], spec["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return broken


def quarantine_throughput(landing: Path, work: Path) -> None:
    """Load one delivery clean and with 10% bad rows, each into a fresh warehouse; print both and the ratio."""
    root = work / "quarantine"
    shutil.rmtree(root, ignore_errors=True)
    delivery = landing / BROKEN_SOURCE / BROKEN_PERIOD
    clean = root / "clean" / "landing"
    shutil.copytree(delivery, clean / BROKEN_SOURCE / BROKEN_PERIOD)
    bad = root / "bad" / "landing"
    broken = break_rows(delivery, bad / BROKEN_SOURCE / BROKEN_PERIOD)
    figures = {}
    for name, land in (("clean", clean), ("bad", bad)):
        # timed inside the child: the load itself, without interpreter start-up and imports
        load = (
            f"import time\nfrom pathlib import Path\nfrom telco360.ingest.loader import Loader\n"
            f"from telco360.ingest.targets import DuckDBTarget\n"
            f"t = DuckDBTarget(Path({str(land.parent / 'warehouse.duckdb')!r}), Path({str(land.parent / 'tmp')!r}))\n"
            f"loader = Loader(t, Path({str(land.parent / 'tmp')!r}))\n"
            f"t0 = time.perf_counter()\n"
            f"[r] = loader.load_source(Path({str(land)!r}), {BROKEN_SOURCE!r})\n"
            f"print(time.perf_counter() - t0, r.status, r.rows_loaded, r.rows_quarantined)"
        )
        _, rss, out = run_measured(load)
        secs, status, loaded, quarantined = out.split()
        if status != "loaded":
            raise SystemExit(f"quarantine benchmark: the {name} delivery was {status}, not loaded")
        figures[name] = float(secs), int(loaded), int(quarantined), rss
    (c_secs, c_loaded, _, c_rss), (q_secs, q_loaded, q_quarantined, q_rss) = figures["clean"], figures["bad"]
    if q_quarantined != broken:
        raise SystemExit(f"quarantine benchmark: broke {broken:,} rows but {q_quarantined:,} were quarantined")
    print(
        f"{BROKEN_SOURCE} {BROKEN_PERIOD} clean: {c_loaded:,} rows in {c_secs:.2f}s "
        f"({c_loaded / c_secs:,.0f} rows/s), peak RSS {c_rss:.2f} GB"
    )
    print(
        f"{BROKEN_SOURCE} {BROKEN_PERIOD} with {100 // BROKEN_EVERY}% bad rows: {q_loaded:,} loaded + "
        f"{q_quarantined:,} quarantined in {q_secs:.2f}s ({(q_loaded + q_quarantined) / q_secs:,.0f} rows/s), "
        f"peak RSS {q_rss:.2f} GB"
    )
    print(f"ratio 10% bad / clean: {q_secs / c_secs:.2f}x (goal <= 2x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=1)
    ap.add_argument("--work", default=str(ROOT / "var" / "bench"))
    ap.add_argument("--keep", action="store_true", help="reuse an existing generated landing folder")
    args = ap.parse_args()
    work = Path(args.work)
    landing = prepare_landing(work, args.subscribers, args.months, args.keep)
    usage_files = sorted(str(p) for p in (landing / "usage_daily").glob("*/part-*.txt"))
    usage_rows = sum(json.loads(p.read_text())["row_count"] for p in (landing / "usage_daily").glob("*/manifest.json"))
    size_gb = sum(os.path.getsize(f) for f in usage_files) / 1e9
    n_days = len(list((landing / "usage_daily").iterdir()))
    print(f"usage_daily: {usage_rows:,} rows in {n_days} deliveries ({len(usage_files)} files), {size_gb:.2f} GB")

    bare_db, ours_db = work / "bare.duckdb", work / "ours.duckdb"
    for db in (bare_db, ours_db):
        db.unlink(missing_ok=True)
    bare = (
        f"import duckdb\ncon = duckdb.connect({str(bare_db)!r})\n"
        f"con.execute(\"SET memory_limit = '3GB'\")\n"
        f"con.execute('SET enable_progress_bar = false')\n"
        f"con.execute(\"CREATE TABLE usage_daily AS SELECT * FROM read_csv({usage_files!r}, delim='|', "
        f"header=true)\")\nprint(con.execute('SELECT count(*) FROM usage_daily').fetchone()[0])"
    )
    b_secs, b_rss, b_out = run_measured(bare)
    ours = (
        f"from pathlib import Path\nfrom telco360.ingest.loader import Loader\n"
        f"from telco360.ingest.targets import DuckDBTarget\n"
        f"t = DuckDBTarget(Path({str(ours_db)!r}), Path({str(work / 'tmp')!r}))\n"
        f"rs = Loader(t, Path({str(work / 'tmp')!r})).load_source(Path({str(landing)!r}), 'usage_daily')\n"
        f"print(sum(r.rows_loaded for r in rs))"
    )
    o_secs, o_rss, o_out = run_measured(ours)
    print(
        f"bare DuckDB read_csv -> table: {int(b_out):,} rows in {b_secs:.1f}s ({int(b_out) / b_secs:,.0f} rows/s), "
        f"peak RSS {b_rss:.2f} GB"
    )
    print(
        f"telco360 loader (manifest + checksums + contract + quarantine + audit): {int(o_out):,} rows in "
        f"{o_secs:.1f}s ({int(o_out) / o_secs:,.0f} rows/s), peak RSS {o_rss:.2f} GB"
    )
    print(
        f"ratio loader / bare read_csv: {o_secs / b_secs:.2f}x (goal <= 1.5x); "
        f"loader peak memory {o_rss:.2f} GB (goal <= 4 GB)"
    )
    rest = (
        f"from pathlib import Path\nfrom telco360.ingest.loader import Loader\n"
        f"from telco360.ingest.targets import DuckDBTarget\n"
        f"from telco360.contracts import load_contracts\n"
        f"t = DuckDBTarget(Path({str(ours_db)!r}), Path({str(work / 'tmp')!r}))\n"
        f"srcs = [s for s in load_contracts() if s != 'usage_daily']\n"
        f"rs = Loader(t, Path({str(work / 'tmp')!r})).load_all(Path({str(landing)!r}), sources=srcs)\n"
        f"print(sum(r.rows_loaded for r in rs))"
    )
    r_secs, r_rss, r_out = run_measured(rest)
    print(f"other 14 sources: {int(r_out):,} rows in {r_secs:.1f}s, peak RSS {r_rss:.2f} GB")
    quarantine_throughput(landing, work)


if __name__ == "__main__":
    main()

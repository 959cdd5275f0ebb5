"""Benchmark: generator throughput, loader vs DuckDB's bare read_csv, peak memory.

    python bench/bench_ingest.py --subscribers 1000000      (make bench)

Each measured step runs in its own process so its peak RSS is its own (os.wait4). Prints figures;
asserts nothing (targets: loader <= 1.5x bare read_csv, peak memory <= 4 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


if __name__ == "__main__":
    main()

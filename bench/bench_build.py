"""Benchmark: dbt warehouse build for 1M subscribers x 3 months.

    python bench/bench_build.py --subscribers 1000000            (make bench-build)

Prints: full build time, time to add the third month incrementally (goal <= 0.4 x the full build),
DuckDB vs PostgreSQL build time, and peak memory of each dbt process. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_ingest import prepare_landing, run_measured  # noqa: E402


def dbt_measured(home: Path, args: list[str], target: str) -> tuple[float, float]:
    """Run dbt in a child process (exactly as `telco360 build` does) and measure it."""
    code = (
        "import sys\nfrom telco360.warehouse import run_dbt\n"
        f"ok, results, out = run_dbt({args!r}, {target!r})\n"
        "bad = [r for r in results if r.get('status') in ('fail', 'error')]\n"
        "print(f'{len(results)} nodes, {len(bad)} failed')\n"
        # the profile the issue asks for: dbt's own timings per node, the slowest first
        "slow = sorted(results, key=lambda r: -r.get('execution_time', 0))[:8]\n"
        "names = [f\"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f}s\" for r in slow]\n"
        "print('  slowest: ' + ', '.join(names))\n"
        "sys.exit(0 if ok and not bad else 1)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "TELCO360_HOME": str(home)})
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"dbt {args} on {target} failed")
    # dbt runs in a grandchild: RUSAGE_CHILDREN of this child covers it
    return time.perf_counter() - t0, usage.ru_maxrss / 1024 / 1024


def load(home: Path, landing: Path, periods_prefix: list[str] | None, target: str = "duckdb") -> float:
    code = (
        "from pathlib import Path\nfrom telco360.ingest.loader import Loader\n"
        "from telco360.ingest.targets import DuckDBTarget, PostgresTarget\nimport os\n"
        f"home = Path({str(home)!r})\n"
        f"t = DuckDBTarget(home / 'warehouse.duckdb', home / 'tmp') if {target!r} == 'duckdb' "
        "else PostgresTarget(os.environ['TELCO360_PG_DSN'], home / 'tmp')\n"
        "L = Loader(t, home / 'tmp')\n"
        f"prefixes = {periods_prefix!r}\n"
        "n = 0\n"
        "for source in L.contracts:\n"
        f"    folders = sorted(p.name for p in (Path({str(landing)!r}) / source).iterdir())\n"
        "    keep = [f for f in folders if prefixes is None or any(f.startswith(x) for x in prefixes)]\n"
        f"    n += sum(r.rows_loaded for r in L.load_source(Path({str(landing)!r}), source, periods=keep))\n"
        "t.close()\nprint(n)\n"
    )
    secs, _, out = run_measured(code, {"TELCO360_HOME": str(home)})
    print(f"  loaded {int(out):,} rows into {target} in {secs:.0f}s")
    return secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--work", default=str(ROOT / "var" / "bench-build"))
    ap.add_argument("--keep", action="store_true", help="reuse the generated landing folder")
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args()
    work = Path(args.work)
    landing = prepare_landing(work, args.subscribers, 3, args.keep)
    home = work / "duck"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    print("DuckDB (embedded warehouse):")
    load(home, landing, ["2026-01", "2026-02"])
    t_two, m_two = dbt_measured(home, ["build", "--quiet"], "duckdb")
    print(f"  full build, 2 months: {t_two:.0f}s, peak RSS {m_two:.2f} GB")
    load(home, landing, ["2026-03"])
    t_inc, m_inc = dbt_measured(home, ["build", "--quiet"], "duckdb")
    print(f"  add the 3rd month incrementally: {t_inc:.0f}s, peak RSS {m_inc:.2f} GB")
    t_full, m_full = dbt_measured(home, ["build", "--quiet", "--full-refresh"], "duckdb")
    print(f"  full build, 3 months: {t_full:.0f}s, peak RSS {m_full:.2f} GB")
    print(f"  incremental month / full build = {t_inc / t_full:.2f} (goal <= 0.4)")
    if args.skip_pg:
        return
    dsn = os.environ.get("TELCO360_PG_DSN")
    if not dsn:
        raise SystemExit("TELCO360_PG_DSN is not set (source var/pg/env), or pass --skip-pg")
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        for schema in ("raw", "audit", "staging", "intermediate", "reference", "marts"):
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    print("PostgreSQL (server warehouse):")
    load(home, landing, None, target="postgres")
    t_pg, m_pg = dbt_measured(home, ["build", "--quiet", "--full-refresh"], "postgres")
    print(f"  full build, 3 months: {t_pg:.0f}s, peak RSS of dbt {m_pg:.2f} GB (the server's memory is not counted)")
    print(f"  PostgreSQL / DuckDB full build = {t_pg / t_full:.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: Great Expectations validation of the marts, against plain SQL computing the same checks.

    python bench/bench_quality.py                       (make bench-quality)

Validates the latest month of the candidate marts (schema marts_candidate) of two warehouses: the 1M-
subscriber x 3-month one of `make bench-build` (var/bench-build/duck; built here if missing) and a
small one (20k subscribers). Each measurement runs in its own process. Prints seconds, the GX / plain
SQL ratio and peak memory (goal: validation memory does not grow with table size). Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_ingest import prepare_landing, run_measured  # noqa: E402

GX = """
from datetime import date
from telco360.db import open_warehouse
from telco360.quality.audit import run_audit
with open_warehouse('duckdb') as db:
    month = db.one("SELECT max(month) FROM marts_candidate.kpi_monthly")
    rows = db.one("SELECT count(*) FROM marts_candidate.customer_360 WHERE month = ?", [month])
    run = run_audit(db, layers={layers!r}, months=[month], trigger='bench')
bad = sum(1 for r in run.results if r['error'])
print(f"{{len(run.results)}} {{run.seconds:.3f}} {{rows}} {{bad}}")
"""

PLAIN = """
import time
from telco360.db import Warehouse
from telco360.quality.plain import plain_counts
from telco360.quality.suites import load_suites
t0 = time.perf_counter()
suites = load_suites()
with Warehouse('duckdb', read_only=True) as db:
    month = db.one("SELECT max(month) FROM marts_candidate.kpi_monthly")
    counts = plain_counts(db, suites, {layers!r}, [month])
print(f"{{len(counts)}} {{time.perf_counter() - t0:.3f}}")
"""


def ensure_warehouse(home: Path, subscribers: int, months: int) -> None:
    """A loaded and built warehouse in `home` (generated, loaded and built here if missing)."""
    db = home / "warehouse.duckdb"
    if not db.exists():
        landing = prepare_landing(home.parent, subscribers, months, keep=True)
        code = (
            "from pathlib import Path\nfrom telco360.ingest.loader import Loader\n"
            "from telco360.ingest.targets import DuckDBTarget\n"
            f"home = Path({str(home)!r})\nt = DuckDBTarget(home / 'warehouse.duckdb', home / 'tmp')\n"
            f"Loader(t, home / 'tmp').load_all(Path({str(landing)!r}))\nt.close()\nprint('ok')\n"
        )
        home.mkdir(parents=True, exist_ok=True)
        secs, _, _ = run_measured(code, {"TELCO360_HOME": str(home)})
        print(f"  loaded {home} in {secs:.0f}s")
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts_candidate'"
    ).fetchone()[0]
    con.close()
    if has < 4:
        code = "from telco360.warehouse import build\nr = build('duckdb')\nprint(r.seconds)"
        secs, _, _ = run_measured(code, {"TELCO360_HOME": str(home)})
        print(f"  built {home} (dbt) in {secs:.0f}s")


def measure(home: Path, layers: tuple[str, ...]) -> dict:
    env = {"TELCO360_HOME": str(home)}
    gx_wall, gx_rss, out = run_measured(GX.format(db=home / "warehouse.duckdb", layers=layers), env)
    checks, gx_secs, rows, errors = out.split()
    _, plain_rss, out2 = run_measured(PLAIN.format(layers=layers), env)
    plain_checks, plain_secs = out2.split()
    return {
        "rows": int(rows),
        "checks": int(checks),
        "errors": int(errors),
        "gx": float(gx_secs),
        "gx_wall": gx_wall,
        "gx_rss": gx_rss,
        "plain": float(plain_secs),
        "plain_rss": plain_rss,
        "plain_checks": int(plain_checks),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", type=Path, default=ROOT / "var" / "bench-build" / "duck")
    ap.add_argument("--large-subscribers", type=int, default=1_000_000)
    ap.add_argument("--small", type=Path, default=ROOT / "var" / "bench-quality" / "duck")
    ap.add_argument("--small-subscribers", type=int, default=20_000)
    ap.add_argument("--layers", default="marts", help="comma-separated: raw,staging,marts")
    args = ap.parse_args()
    layers = tuple(args.layers.split(","))
    print("preparing warehouses")
    ensure_warehouse(args.small, args.small_subscribers, 3)
    ensure_warehouse(args.large, args.large_subscribers, 3)
    results = {}
    for label, home in (("small", args.small), ("large", args.large)):
        r = measure(home, layers)
        results[label] = r
        print(
            f"{label}: {r['rows']:,} customer_360 rows in the month; {r['checks']} checks ({r['errors']} errors)\n"
            f"  GX validation {r['gx']:.1f}s (process {r['gx_wall']:.1f}s, peak {r['gx_rss']:.2f} GB)\n"
            f"  plain SQL     {r['plain']:.1f}s (peak {r['plain_rss']:.2f} GB), {r['plain_checks']} checks\n"
            f"  GX / plain SQL = {r['gx'] / r['plain']:.2f}"
        )
    s, big = results["small"], results["large"]
    print(
        f"table size x{big['rows'] / s['rows']:.0f}: GX time x{big['gx'] / s['gx']:.1f}, "
        f"GX peak memory x{big['gx_rss'] / s['gx_rss']:.2f} ({s['gx_rss']:.2f} -> {big['gx_rss']:.2f} GB); "
        f"plain SQL x{big['plain_rss'] / s['plain_rss']:.2f}; GX above plain SQL "
        f"{s['gx_rss'] - s['plain_rss']:.2f} -> {big['gx_rss'] - big['plain_rss']:.2f} GB"
    )


if __name__ == "__main__":
    main()

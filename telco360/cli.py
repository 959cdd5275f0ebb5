"""`telco360` command line: one verb per job. Heavy libraries are imported inside each verb."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from telco360.config import paths, postgres_dsn


def _target(kind: str):
    from telco360.ingest.targets import open_target

    try:
        return open_target(kind)
    except ValueError as exc:
        sys.exit(f"error: {exc}")


def cmd_generate(args) -> int:
    from telco360.simulator.generate import GenerateConfig, generate

    out = Path(args.out) if args.out else paths().landing
    cfg = GenerateConfig(
        subscribers=args.subscribers,
        months=args.months,
        start=args.start,
        seed=args.seed,
        out=out,
        encoding=args.encoding,
        faults=args.faults,
        progress=not args.quiet,
    )
    import time

    t0 = time.perf_counter()
    result = generate(cfg)
    secs = time.perf_counter() - t0
    print(
        f"wrote {result['rows']:,} rows to {out} in {secs:.1f}s ({result['rows'] / secs:,.0f} rows/s); "
        f"truth in {out / '_truth'}"
    )
    return 0


def cmd_ingest(args) -> int:
    from telco360.contracts import load_contracts
    from telco360.ingest.loader import Loader

    landing = Path(args.landing) if args.landing else paths().landing
    sources = args.source or list(load_contracts())
    target = _target(args.target)
    try:
        loader = Loader(target, paths().tmp)
        results = []
        for source in sources:
            results += loader.load_source(landing, source, force=args.force, periods=args.period or None)
    finally:
        target.close()
    for r in results:
        if not args.quiet or r.status == "rejected":
            print(r.line())
    by = {}
    for r in results:
        by[r.status] = by.get(r.status, 0) + 1
    print("deliveries: " + ", ".join(f"{k} {v}" for k, v in sorted(by.items())))
    return 0


def cmd_build(args) -> int:
    from telco360.reporting import marts_report
    from telco360.warehouse import BuildFailed, build, parse

    try:
        if args.parse_only:
            print(f"dbt manifest: {parse(args.target)}")
            return 0
        rebuild = f"{args.rebuild_from}-01" if args.rebuild_from else None
        r = build(args.target, full_refresh=args.full_refresh, select=args.select, rebuild_from=rebuild)
    except BuildFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dbt build on {r.target}: {r.passed} passed, {r.warned} warnings, {r.failed} failed in {r.seconds:.1f}s")
    print(marts_report(args.target, schema="marts_candidate"))
    print("(candidates: `telco360 audit --publish` validates them and publishes them to schema marts)")
    return 0


def _months(values):
    from datetime import date

    return [date.fromisoformat(f"{m}-01") for m in values] if values else None


def cmd_audit(args) -> int:
    """Validate with Great Expectations; with --publish, copy the candidate marts to `marts` if it passed."""
    from telco360.quality.audit import run_audit, summary
    from telco360.quality.gate import audit_and_publish

    if args.publish:
        result = audit_and_publish(args.target, trigger="cli", months=_months(args.month))
        print(result.text())
        if result.blocked:
            print(f"not published: {result.blocked}", file=sys.stderr)
            return 1
        return 0
    months = _months(args.month)
    if months is None:
        from telco360.quality.audit import months_to_audit

        months = months_to_audit(args.target)
        if not months:
            print("nothing to audit: no candidate month changed since the last publication (--month YYYY-MM)")
            return 0
    run = run_audit(args.target, layers=args.layer or ("raw", "staging", "marts"), months=months, trigger="cli")
    print(summary(run))
    return 0 if run.passed else 1


def cmd_quality(args) -> int:
    from telco360.quality.report import last_run_report

    print(last_run_report(args.target))
    return 0


def cmd_docs(args) -> int:
    from telco360.warehouse import run_dbt

    ok, _, output = run_dbt(["docs", "generate", "--quiet"], args.target)
    if not ok:
        print(f"error: dbt docs generate failed:\n{output[-3000:]}", file=sys.stderr)
        return 1
    from telco360.warehouse import dbt_env

    index = Path(dbt_env(args.target)["DBT_TARGET_PATH"]) / "index.html"
    print(f"dbt docs: {index}")
    from telco360.quality.audit import data_docs_index

    print(f"GX Data Docs (data-quality results): {data_docs_index()}")
    return 0


def cmd_grants(args) -> int:
    from telco360.grants import apply_grants

    dsn = postgres_dsn()
    if not dsn:
        sys.exit("error: grants need TELCO360_PG_DSN")
    apply_grants(dsn)
    print("roles loader, transformer, bi_reader, auditor, ml and their grants are in place")
    return 0


def cmd_status(args) -> int:
    from telco360.reporting import status_report

    print(status_report(paths().warehouse))
    return 0


def cmd_marts(args) -> int:
    from telco360.reporting import marts_report

    print(marts_report())
    return 0


def cmd_contracts(args) -> int:
    from telco360.contracts import contracts_markdown

    print(contracts_markdown())
    return 0


def cmd_paths(args) -> int:
    p = paths()
    print(
        json.dumps(
            {
                k: str(getattr(p, k))
                for k in ("home", "landing", "warehouse", "tmp", "airflow_home", "mlflow", "data_docs")
            },
            indent=2,
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="telco360", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write the seeded operator's source extracts")
    g.add_argument("--subscribers", type=int, default=20_000)
    g.add_argument("--months", type=int, default=3)
    g.add_argument("--start", default="2026-01", help="first month, YYYY-MM")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--out", help="landing folder (default: $TELCO360_HOME/landing)")
    g.add_argument("--encoding", default="utf-8", choices=["utf-8", "gbk"])
    g.add_argument("--faults", action="store_true", help="also plant known-bad deliveries (_truth/faults.json)")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)

    i = sub.add_parser("ingest", help="load landed deliveries into raw.*, quarantining bad rows")
    i.add_argument("--landing", help="landing folder (default: $TELCO360_HOME/landing)")
    i.add_argument("--source", action="append", help="only this source (repeatable)")
    i.add_argument("--period", action="append", help="only this period (repeatable)")
    i.add_argument("--target", choices=["duckdb", "postgres"], default="duckdb")
    i.add_argument("--force", action="store_true", help="reload deliveries already loaded")
    i.add_argument("-q", "--quiet", action="store_true", help="print only rejections and the summary")
    i.set_defaults(func=cmd_ingest)

    b = sub.add_parser("build", help="build the dbt warehouse (seeds, models, tests)")
    b.add_argument("--target", choices=["dev", "pg"], default="dev", help="dev: DuckDB file; pg: PostgreSQL")
    b.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from all history")
    b.add_argument("--rebuild-from", metavar="YYYY-MM", help="rebuild incremental models from this month")
    b.add_argument("--select", nargs="+", help="dbt selection")
    b.add_argument("--parse-only", action="store_true", help="only write dbt's manifest (for Airflow)")
    b.set_defaults(func=cmd_build)

    a = sub.add_parser("audit", help="validate raw, staging and candidate marts with Great Expectations")
    a.add_argument("--target", choices=["dev", "pg"], default="dev")
    a.add_argument("--layer", action="append", choices=["raw", "staging", "marts"], help="only this layer")
    a.add_argument("--month", action="append", metavar="YYYY-MM", help="only this month (default: changed ones)")
    a.add_argument("--publish", action="store_true", help="then publish the marts if no critical check failed")
    a.set_defaults(func=cmd_audit)
    q = sub.add_parser("quality", help="the latest data-quality run on one screen")
    q.add_argument("--target", choices=["dev", "pg"], default="dev")
    q.set_defaults(func=cmd_quality)

    d = sub.add_parser("docs", help="generate dbt docs and print where they are")
    d.add_argument("--target", choices=["dev", "pg"], default="dev")
    d.set_defaults(func=cmd_docs)

    gr = sub.add_parser("grants", help="create the warehouse roles and grants on PostgreSQL (infra/roles.sql)")
    gr.set_defaults(func=cmd_grants)

    s = sub.add_parser("status", help="what the warehouse holds: raw tables, loads, quarantine")
    s.set_defaults(func=cmd_status)
    mr = sub.add_parser("marts", help="row counts of the marts in the embedded warehouse")
    mr.set_defaults(func=cmd_marts)
    c = sub.add_parser("contracts", help="print the source contracts as Markdown")
    c.set_defaults(func=cmd_contracts)
    p = sub.add_parser("paths", help="where state lives")
    p.set_defaults(func=cmd_paths)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

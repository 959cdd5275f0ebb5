"""`telco360` command line: one verb per job. Heavy libraries are imported inside each verb.

Every verb that touches the warehouse takes `--warehouse duckdb|postgres` (default: TELCO360_WAREHOUSE, else
duckdb) and opens it once. Errors are one line on stderr: exit 2 for bad arguments, 1 for a failed job.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from telco360.config import paths, postgres_dsn
from telco360.db import WAREHOUSES, WarehouseError, open_warehouse, warehouse_kind


class UsageError(ValueError):
    """A bad argument: one line, exit 2."""


def _period(text: str, option: str = "--period", kinds: tuple[str, ...] = ("monthly", "daily")) -> str:
    """A period as the loader judges delivery folders: exactly ASCII YYYY-MM or YYYY-MM-DD, a real date."""
    from telco360.ingest.delivery import parse_period

    if not any(parse_period(text, kind) for kind in kinds):
        shapes = " or ".join({"monthly": "month YYYY-MM", "daily": "day YYYY-MM-DD"}[k] for k in kinds)
        raise UsageError(f"{option} {text!r} is not a real {shapes}")
    return text


def cmd_generate(args) -> int:
    from telco360.simulator.generate import GenerateConfig, generate
    from telco360.simulator.platform_campaigns import CampaignFileError

    out = Path(args.out) if args.out else paths().landing
    try:  # before generating anything: can we write there at all?
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        print(f"error: cannot write the landing folder {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        cfg = GenerateConfig(
            subscribers=args.subscribers,
            months=args.months,
            start=args.start,
            seed=args.seed,
            out=out,
            encoding=args.encoding,
            faults=args.faults,
            progress=not args.quiet,
            campaigns_from=Path(args.campaigns_from) if args.campaigns_from else None,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    import time

    t0 = time.perf_counter()
    try:
        result = generate(cfg)
    except CampaignFileError as exc:  # the target lists cannot run: name the file and the row
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. the disk filled up, or a folder became unwritable, half way
        where = exc.filename or out
        print(f"error: cannot write the landing folder {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    secs = time.perf_counter() - t0
    print(
        f"wrote {result['rows']:,} rows to {out} in {secs:.1f}s ({result['rows'] / secs:,.0f} rows/s); "
        f"truth in {out / '_truth'}"
    )
    return 0


def cmd_ingest(args) -> int:
    from telco360.contracts import load_contracts
    from telco360.ingest.loader import Loader
    from telco360.ingest.targets import open_target

    landing = Path(args.landing) if args.landing else paths().landing
    if not landing.is_dir():
        raise UsageError(f"landing folder {landing} does not exist or is not a folder")
    contracts = load_contracts()
    for source in args.source or []:
        if source not in contracts:
            raise UsageError(f"unknown source {source!r}: the sources are {', '.join(contracts)}")
    sources = args.source or list(contracts)
    periods = [_period(p) for p in args.period or []]
    target = open_target(args.warehouse)
    try:
        loader = Loader(target, paths().tmp)
        results = []
        for source in sources:
            results += loader.load_source(landing, source, force=args.force, periods=periods or None)
    finally:
        target.close()
    for r in results:
        if not args.quiet or r.status == "rejected":
            print(r.line())
    by = {}
    for r in results:
        by[r.status] = by.get(r.status, 0) + 1
    print("deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(by.items())) or f"none found under {landing}"))
    rejected = [r for r in results if r.status == "rejected"]
    if rejected:  # the others are loaded; the run still fails, so a scheduler or a script sees it
        from telco360.ingest.delivery import shown

        listed = "; ".join(f"{r.source}/{shown(r.period)} [{r.rule}]" for r in rejected)
        print(f"error: {len(rejected)} deliveries rejected (audit.load_manifest): {listed}", file=sys.stderr)
        return 1
    return 0


def cmd_build(args) -> int:
    from telco360.reporting import marts_report
    from telco360.warehouse import BuildFailed, build, parse

    try:
        if args.parse_only:
            print(f"dbt manifest: {parse(args.warehouse)}")
            return 0
        rebuild = f"{_period(args.rebuild_from, '--rebuild-from', ('monthly',))}-01" if args.rebuild_from else None
        r = build(args.warehouse, full_refresh=args.full_refresh, select=args.select, rebuild_from=rebuild)
    except BuildFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dbt build on {r.target}: {r.passed} passed, {r.warned} warnings, {r.failed} failed in {r.seconds:.1f}s")
    with open_warehouse(args.warehouse, read_only=True) as db:  # opened after dbt's process let go of it
        print(marts_report(db, schema="marts_candidate"))
    print("(candidates: `telco360 audit --publish` validates them and publishes them to schema marts)")
    return 0


def _months(values):
    from datetime import date

    for m in values or []:
        _period(m, "--month", ("monthly",))
    return [date.fromisoformat(f"{m}-01") for m in values] if values else None


def cmd_audit(args) -> int:
    """Validate with Great Expectations; with --publish, copy the candidate marts to `marts` if it passed."""
    from telco360.quality.audit import run_audit, summary
    from telco360.quality.gate import audit_and_publish

    months = _months(args.month)
    with open_warehouse(args.warehouse) as db:  # one writable handle for the whole job
        if args.publish:
            result = audit_and_publish(db, trigger="cli", months=months)
            print(result.text())
            if result.blocked:
                print(f"not published: {result.blocked}", file=sys.stderr)
                return 1
            return 0
        if months is None:
            from telco360.quality.audit import months_to_audit

            months = months_to_audit(db)
            if not months:
                print("nothing to audit: no candidate month changed since the last publication (--month YYYY-MM)")
                return 0
        run = run_audit(db, layers=args.layer or ("raw", "staging", "marts"), months=months, trigger="cli")
    print(summary(run))
    return 0 if run.passed else 1


def cmd_quality(args) -> int:
    from telco360.quality.report import last_run_report

    with open_warehouse(args.warehouse, read_only=True) as db:
        print(last_run_report(db))
    return 0


def cmd_docs(args) -> int:
    from telco360.warehouse import BuildFailed, run_dbt

    try:
        ok, _, output = run_dbt(["docs", "generate", "--quiet"], args.warehouse)
    except BuildFailed as exc:  # e.g. no salt or DSN for the postgres warehouse
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not ok:
        print(f"error: dbt docs generate failed:\n{output[-3000:]}", file=sys.stderr)
        return 1
    from telco360.warehouse import dbt_env

    index = Path(dbt_env(args.warehouse)["DBT_TARGET_PATH"]) / "index.html"
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

    if args.warehouse == "duckdb" and not paths().warehouse.exists():
        print(f"no warehouse at {paths().warehouse} yet: run `make run`")
        return 0
    with open_warehouse(args.warehouse, read_only=True) as db:  # read-only: never blocks a reader
        print(status_report(db))
    return 0


def cmd_marts(args) -> int:
    from telco360.reporting import marts_report

    with open_warehouse(args.warehouse, read_only=True) as db:
        print(marts_report(db))
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


def _truth_dir(args) -> Path | None:
    folder = Path(args.truth) if getattr(args, "truth", None) else paths().landing / "_truth"
    return folder if folder.is_dir() else None


def cmd_train(args) -> int:
    if args.features:
        return _train_external(args)
    if args.label or args.time_column or args.exclude or args.name:
        raise UsageError("--label, --time-column, --exclude and --name go with --features FILE")
    from telco360.ml.jobs import NoFeatures, train_all

    truth = _truth_dir(args)
    with open_warehouse(args.warehouse) as db:
        try:
            train_all(db, args.model, truth, progress=lambda line: print(line, flush=True))
        except NoFeatures as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


def _train_external(args) -> int:
    from telco360.ml.external import train_external
    from telco360.ml.frames import FeatureFileError
    from telco360.ml.train import TrainingError

    if not args.label:
        raise UsageError("--features needs --label COL")
    try:
        result, notes = train_external(
            Path(args.features), args.label, args.time_column, set(args.exclude or []), args.name
        )
    except (FeatureFileError, TrainingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in notes + result.lines():
        print(line)
    return 0


def cmd_score(args) -> int:
    from telco360.ml.scoring import ScoringError, score_month

    month = None
    if args.month:
        from datetime import date

        month = date.fromisoformat(_period(args.month, "--month", ("monthly",)) + "-01")
    with open_warehouse(args.warehouse) as db:
        try:
            result = score_month(db, month)
        except ScoringError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    for line in result.lines():
        print(line)
    return 0 if result.published else 1


def cmd_targets(args) -> int:
    from telco360.ml.actions import export_targets

    month = None
    if args.month:
        from datetime import date

        month = date.fromisoformat(_period(args.month, "--month", ("monthly",)) + "-01")
    with open_warehouse(args.warehouse, read_only=True) as db:
        try:
            campaign_month, rows = export_targets(db, month, args.out)
        except LookupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"wrote {rows:,} target-list rows for the campaigns of {campaign_month} to {args.out}")
    return 0


def cmd_models(args) -> int:
    from telco360.ml import registry

    try:
        if args.action == "report":
            from telco360.ml.report import report

            with open_warehouse(args.warehouse, read_only=True) as db:
                print(report(db))
            return 0
        if args.action == "list":
            rows = registry.listing()
            if not rows:
                print("no registered models yet: run `telco360 train`")
                return 0
            print(f"{'model':32} {'ver':>4} {'aliases':20} {'test AUC':>8} {'oracle':>7} {'lift':>5}  months")
            for r in rows:

                def f(x, w=8, d=3):
                    return f"{x:{w}.{d}f}" if isinstance(x, float) else f"{'-':>{w}}"

                print(
                    f"{r['model']:32} {r['version']:>4} {r['aliases']:20} {f(r['test_roc_auc'])} "
                    f"{f(r['oracle_roc_auc'], 7)} {f(r['test_top_decile_lift'], 5, 2)}  {r['months']}"
                )
            return 0
        if not args.name:
            raise UsageError(f"models {args.action} needs the model name")
        if args.action == "promote":
            if not args.version:
                raise UsageError("models promote needs NAME VERSION")
            v = registry.promote(args.name, args.version)
            print(f"{args.name}: version {v} is now the champion")
        else:
            v = registry.rollback(args.name)
            print(f"{args.name}: rolled back; version {v} is the champion again")
    except registry.RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_airflow(args) -> int:
    from telco360 import airflow_stack as af

    st = af.stack()
    if args.action == "up":
        try:
            created = af.up(st)
        except af.AirflowStackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(af.banner(st, created))
    elif args.action == "pipeline":
        from datetime import UTC, datetime

        if not af.healthy(af.health(st)):
            print("error: Airflow is not running: start it with `make airflow`", file=sys.stderr)
            return 1
        api = af.Api(st)
        since = datetime.now(UTC)
        for dag_id in af.PIPELINE:  # a DAG paused by hand would stall the chain
            api.unpause(dag_id)
        first = af.PIPELINE[0]
        from telco360.config import paths

        landed = af.last_landed(paths().landing)
        why = af.scheduler_will_ingest(api.get(f"/api/v2/dags/{first}"), api.runs(first), datetime.now(UTC), landed)
        if why:
            print(f"{first}: the scheduler is about to run it ({why}); following the chain ({st.url}) ...")
        else:
            api.trigger(first)
            print(f"triggered {first}; following the chain through the scheduler ({st.url}) ...")
        result = af.follow(api, since, landed_at=landed)
        print("\n".join(result.lines()))
        if not result.ok:
            for dag_id, runs in result.runs.items():
                for run in runs:
                    for task_id in result.failed_tasks.get(run["dag_run_id"], []):
                        log = af.task_log(st, dag_id, run["dag_run_id"], task_id)
                        if log:
                            tail = log.read_text(errors="replace").splitlines()[-15:]
                            print(f"--- {dag_id} / {task_id} ({log}):", *tail, sep="\n  ", file=sys.stderr)
            print(f"error: the pipeline did not finish: see {st.url}", file=sys.stderr)
            return 1
    elif args.action == "down":
        stopped = af.down(st)
        print(f"stopped: {', '.join(stopped)}" if stopped else "Airflow was not running")
    else:
        states = af.running(st)
        for component, pid in states.items():
            print(f"{component:14} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")
        report = af.health(st)
        print(f"UI: {st.url} ({'healthy' if af.healthy(report) else 'not healthy'})")
        return 0 if all(states.values()) and af.healthy(report) else 1
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
    g.add_argument(
        "--campaigns-from",
        metavar="FILE",
        help="the platform's target lists (parquet or csv: campaign_month, rule_id, sub_id, product_id, channel, "
        "is_control, score, precedence), run as campaigns in their campaign_month",
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)

    i = sub.add_parser("ingest", help="load landed deliveries into raw.*, quarantining bad rows")
    i.add_argument("--landing", help="landing folder (default: $TELCO360_HOME/landing)")
    i.add_argument("--source", action="append", help="only this source (repeatable)")
    i.add_argument("--period", action="append", help="only this period (repeatable)")
    i.add_argument("--force", action="store_true", help="reload deliveries already loaded")
    i.add_argument("-q", "--quiet", action="store_true", help="print only rejections and the summary")
    i.set_defaults(func=cmd_ingest)

    b = sub.add_parser("build", help="build the dbt warehouse (seeds, models, tests)")
    b.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from all history")
    b.add_argument("--rebuild-from", metavar="YYYY-MM", help="rebuild incremental models from this month")
    b.add_argument("--select", nargs="+", help="dbt selection")
    b.add_argument("--parse-only", action="store_true", help="only write dbt's manifest (for Airflow)")
    b.set_defaults(func=cmd_build)

    a = sub.add_parser("audit", help="validate raw, staging and candidate marts with Great Expectations")
    a.add_argument("--layer", action="append", choices=["raw", "staging", "marts"], help="only this layer")
    a.add_argument("--month", action="append", metavar="YYYY-MM", help="only this month (default: changed ones)")
    a.add_argument("--publish", action="store_true", help="then publish the marts if no critical check failed")
    a.set_defaults(func=cmd_audit)
    q = sub.add_parser("quality", help="the latest data-quality run on one screen")
    q.set_defaults(func=cmd_quality)

    d = sub.add_parser("docs", help="generate dbt docs and print where they are")
    d.set_defaults(func=cmd_docs)

    gr = sub.add_parser("grants", help="create the warehouse roles and grants on PostgreSQL (infra/roles.sql)")
    gr.set_defaults(func=cmd_grants)

    s = sub.add_parser("status", help="what the warehouse holds: raw tables, loads, quarantine")
    s.set_defaults(func=cmd_status)
    mr = sub.add_parser("marts", help="row counts of the published marts")
    mr.set_defaults(func=cmd_marts)
    c = sub.add_parser("contracts", help="print the source contracts as Markdown")
    c.set_defaults(func=cmd_contracts)
    p = sub.add_parser("paths", help="where state lives")
    p.set_defaults(func=cmd_paths)
    tr = sub.add_parser("train", help="train, compare and register the models (MLflow), or any feature table")
    tr.add_argument("--model", choices=["churn", "propensity", "segments", "all"], default="all")
    tr.add_argument("--truth", help="the simulator's _truth folder, for the oracle (default: landing/_truth)")
    tr.add_argument("--features", metavar="FILE", help="train on this table (parquet or csv) instead")
    tr.add_argument("--label", metavar="COL", help="with --features: the 0/1 (or two-valued) column to predict")
    tr.add_argument("--time-column", metavar="COL", help="with --features: split by this column's periods")
    tr.add_argument("--exclude", metavar="COL", action="append", help="with --features: not a feature")
    tr.add_argument("--name", help="with --features: the registry name (default: from the file name)")
    tr.set_defaults(func=cmd_train)
    sc = sub.add_parser("score", help="score a published month with the champions, check and publish")
    sc.add_argument("--month", metavar="YYYY-MM", help="default: the latest published month")
    sc.set_defaults(func=cmd_score)
    tg = sub.add_parser("targets", help="export the published target lists as next month's campaign file")
    tg.add_argument("--out", required=True, metavar="FILE", help=".parquet or .csv (for generate --campaigns-from)")
    tg.add_argument("--month", metavar="YYYY-MM", help="features month (default: the latest listed)")
    tg.set_defaults(func=cmd_targets)
    mo = sub.add_parser(
        "models", help="the model registry: list, report (champions vs the oracle, target lists), promote, rollback"
    )
    mo.add_argument("action", choices=["list", "report", "promote", "rollback"])
    mo.add_argument("name", nargs="?")
    mo.add_argument("version", nargs="?")
    mo.set_defaults(func=cmd_models)
    af = sub.add_parser(
        "airflow",
        help="Airflow on 127.0.0.1 behind a login: up (start, wait until healthy), down, status, pipeline (trigger "
        "the ingest and follow ingest -> build -> train -> score through the scheduler)",
    )
    af.add_argument("action", choices=["up", "down", "status", "pipeline"])
    af.set_defaults(func=cmd_airflow)
    for verb in (
        i,
        b,
        a,
        q,
        d,
        s,
        mr,
        tr,
        sc,
        mo,
        tg,
    ):  # the same option, with the same meaning, on every warehouse verb
        verb.add_argument(
            "--warehouse",
            choices=WAREHOUSES,
            help="duckdb: the embedded file under TELCO360_HOME; postgres: TELCO360_PG_DSN "
            "(default: TELCO360_WAREHOUSE, else duckdb)",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if hasattr(args, "warehouse"):
            args.warehouse = warehouse_kind(args.warehouse)
        return args.func(args)
    except UsageError as exc:  # a bad argument
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WarehouseError as exc:  # cannot name or open the warehouse (busy, missing, misconfigured)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the job failed: one line (the traceback with -v)
        if args.verbose:
            raise
        text = " ".join(str(exc).split())
        print(
            f"error: {args.command} failed: {type(exc).__name__}: {text[:2000]} (-v shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

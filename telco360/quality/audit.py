"""Run the expectation suites with Great Expectations where the data is, month by month, and record them.

One GX checkpoint per layer (raw, staging, marts), one suite and validation definition per table, one
batch per month (GX's monthly partitioner on the table's month column). GX keeps its project under
`$TELCO360_HOME/gx` and builds Data Docs into `$TELCO360_HOME/data_docs`.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from telco360.config import paths, postgres_dsn
from telco360.db import Warehouse, trail_names
from telco360.quality.docs_assets import localize
from telco360.quality.suites import (
    CANDIDATE_SCHEMA,
    LAYERS,
    Asset,
    Check,
    Suites,
    load_suites,
    month_bounds,
    render,
    with_batch,
)
from telco360.quality.trail import record_run

log = logging.getLogger("telco360.quality")
SAMPLE = 10
MEMORY_LIMIT = os.environ.get("TELCO360_DQ_MEMORY_LIMIT", "1GB")  # DuckDB's, during validation


@dataclass
class AuditRun:
    run_id: str
    target: str
    layers: list[str]
    months: list[date]
    started_at: datetime
    seconds: float
    results: list[dict] = field(default_factory=list)
    data_docs: str = ""
    expected: int = 0  # results a complete run has: checks x months
    error: str | None = None
    through_load_id: int | None = None
    project_hash: str | None = None
    recorded_verdict: str | None = None  # as read back from audit.dq_runs (None: judge the results)

    def failed(self, severity: str) -> list[dict]:
        return [r for r in self.results if not r["success"] and r["severity"] == severity]

    @property
    def verdict(self) -> str:
        """The gate, failing closed: something was checked (else nothing_to_audit), nothing raised (error),
        every check ran (incomplete; a check that ran and could not evaluate counts as failed), and no
        critical check failed (critical_failures). Only `passed` may publish."""
        if self.recorded_verdict is not None:
            return self.recorded_verdict
        if not self.months:
            return "nothing_to_audit"
        if self.error is not None:
            return "error"
        if len(self.results) != self.expected:
            return "incomplete"
        if self.failed("critical"):
            return "critical_failures"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def reason(self) -> str:
        """Why the gate said what it said, for people."""
        return {
            "passed": "every check ran and no critical check failed",
            "nothing_to_audit": "nothing to audit: no month was selected",
            "error": f"an error: {(self.error or 'see audit.dq_runs.error').splitlines()[0][:300]}",
            "incomplete": f"the run was incomplete: {len(self.results)} of {self.expected} checks ran",
            "critical_failures": f"critical checks failed: {len(self.failed('critical'))}",
        }.get(self.verdict, self.verdict)


def _gx():
    """Import GX, with the DuckDB dialect among those whose connection is kept open while metrics are read:
    without it GX reads aggregate results after DuckDB's connection closed (GX issue #10738)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.execution_engine import sqlalchemy_execution_engine as see

    if not any(getattr(d, "value", d) == "duckdb" for d in see._PERSISTED_CONNECTION_DIALECTS):

        class _DuckDB(str):
            value = "duckdb"

        see._PERSISTED_CONNECTION_DIALECTS = (*see._PERSISTED_CONNECTION_DIALECTS, _DuckDB("duckdb"))
        _quiet_duckdb()
    return gx


def _quiet_duckdb() -> None:
    """GX's DuckDB connections: no progress bars on stdout, and bounded memory (DuckDB spills the big
    aggregations of the uniqueness checks to disk beyond it), so validation memory does not grow with the
    tables. Session settings, which DuckDB does not take at connect time."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _settings(dbapi_connection, _record):
        if type(dbapi_connection).__module__.startswith("duckdb_engine"):
            spill = paths().tmp / "duckdb-validation"
            spill.mkdir(parents=True, exist_ok=True)
            dbapi_connection.execute("SET enable_progress_bar = false")
            dbapi_connection.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            dbapi_connection.execute(f"SET temp_directory = '{spill}'")


def gx_context():
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    p = paths()
    ctx = gx.get_context(mode="file", project_root_dir=str(p.home))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    site = {
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(p.data_docs)},
    }
    sites = ctx.get_config().data_docs_sites or {}
    if sites.get("local_site") != site:
        if "local_site" in sites:
            ctx.update_data_docs_site("local_site", site)
        else:
            ctx.add_data_docs_site("local_site", site)
    ctx.variables.save()
    return ctx


def data_docs_index() -> str:
    return str(paths().data_docs / "index.html")


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _expectation(gxe, check: Check, asset: Asset, month: date, dialect: str, suites: Suites):
    meta = {"name": check.name, "dimension": check.dimension, "layer": check.layer, "table": asset.table}
    common = dict(severity=check.severity, meta=meta, description=check.description or check.name)
    if check.rows is not None:
        # GX aliases {batch} itself unless the query has a JOIN, in which case the query must alias it
        from great_expectations.expectations.metrics.query_metric_provider import _query_has_join_clause

        query = with_batch(render(check.rows, month, dialect, suites))
        if _query_has_join_clause(query):
            query = query.replace("{batch}", "{batch} AS batch_source", 1)
        return gxe.UnexpectedRowsExpectation(unexpected_rows_query=query, result_format="COMPLETE", **common)
    cls = getattr(gxe, _camel(check.type), None)
    if cls is None:
        raise ValueError(f"{check.suite} {check.name}: GX has no expectation {check.type}")
    result_format: dict = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE}
    if check.type.startswith("expect_column_values") and asset.keys:
        result_format["unexpected_index_column_names"] = asset.keys
    return cls(**check.kwargs, result_format=result_format, **common)


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def _error(vr) -> str | None:
    info = vr.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))[:2000]
    for v in info.values():
        if isinstance(v, dict) and v.get("raised_exception"):
            return str(v.get("exception_message"))[:2000]
    return None


def _row(vr, run_id: str, started: datetime, layer: str, month: date, suite: str) -> dict:
    cfg = vr.expectation_config
    meta = cfg.meta or {}
    res = vr.result or {}
    error = _error(vr)
    observed = res.get("observed_value")
    if cfg.type == "unexpected_rows_expectation":
        unexpected = observed
        sample = (res.get("details") or {}).get("unexpected_rows") or []
        sample = [dict(r) if not isinstance(r, dict) else r for r in sample[:SAMPLE]]
    else:
        unexpected = res.get("unexpected_count")
        sample = res.get("partial_unexpected_index_list") or res.get("partial_unexpected_list") or []
        sample = sample[:SAMPLE]
    kwargs = cfg.kwargs or {}
    column = kwargs.get("column") or (",".join(kwargs["column_list"]) if kwargs.get("column_list") else None)
    severity = getattr(cfg.severity, "value", cfg.severity)
    return {
        "run_id": run_id,
        "run_started_at": started,
        "checkpoint": layer,
        "suite": suite,
        "expectation": meta.get("name", cfg.type),
        "expectation_type": cfg.type,
        "layer": layer,
        "table_name": meta.get("table", suite),
        "column_name": column,
        "dimension": meta.get("dimension", "validity"),
        "severity": str(severity).lower(),
        "data_month": month,
        "success": bool(vr.success) and error is None,
        "observed_value": None if observed is None else json.dumps(_jsonable(observed)),
        "unexpected_count": None if unexpected is None or isinstance(unexpected, (dict, list)) else int(unexpected),
        "element_count": res.get("element_count"),
        "unexpected_percent": res.get("unexpected_percent"),
        "offending_sample": json.dumps(_jsonable(sample), ensure_ascii=False) if sample else None,
        "description": cfg.description,
        "error": error,
        "evaluated_at": datetime.now(),
    }


def project_hash() -> str:
    """Fingerprint of the dbt project (models, macros, seeds, tests, settings): a change may rebuild every
    month of the marts, so every month is audited again."""
    import hashlib

    from telco360.warehouse import DBT_PROJECT

    h = hashlib.sha256()
    files = [DBT_PROJECT / "dbt_project.yml"]
    for folder in ("models", "macros", "seeds", "tests"):
        files += sorted((DBT_PROJECT / folder).rglob("*"))
    for f in files:
        if f.is_file():
            h.update(str(f.relative_to(DBT_PROJECT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def candidate_through_load_id(db: Warehouse) -> int | None:
    """The newest load the candidate marts were built from (dbt stores it on every customer_360 row)."""
    if not db.relation_exists(CANDIDATE_SCHEMA, "customer_360"):
        return None
    return db.one(f"SELECT max(_built_through_load_id) FROM {CANDIDATE_SCHEMA}.customer_360")


def unbuilt_loads(db: Warehouse) -> list[tuple[str, str]]:
    """(source, period) of the loads newer than the candidate marts: loaded, but no dbt build has succeeded
    since (the build failed, or has not run yet)."""
    built = candidate_through_load_id(db)
    if built is None:
        return []
    return db.all(
        "SELECT source, period FROM audit.load_manifest WHERE load_id > ? AND status = 'loaded' ORDER BY load_id",
        (built,),
    )


def last_publication(db: Warehouse) -> tuple | None:
    """(run_id, through_load_id, project_hash, through_month) of the latest publication on this warehouse
    (under its name, or the name it had before the rename: dev, pg)."""
    if not db.relation_exists("audit", "publications"):
        return None
    # a trail from before the fingerprint: every month is audited again
    has_hash = db.column_exists("audit", "publications", "project_hash")
    rows = db.all(
        f"SELECT run_id, through_load_id, {'project_hash' if has_hash else 'NULL'}, through_month "
        "FROM audit.publications WHERE target IN (?, ?) ORDER BY published_at DESC LIMIT 1",
        trail_names(db.kind),
    )
    return rows[0] if rows else None


def months_to_audit(db: Warehouse) -> list[date]:
    """Candidate months the builds since the last publication may have changed. All of them before the first
    publication or after a change to the dbt project; otherwise from the month before the earliest month
    loaded since (a new month refreshes the month before's `churned_next_month`) through the latest. None
    when nothing the candidate was built from changed."""
    if not db.relation_exists(CANDIDATE_SCHEMA, "kpi_monthly"):
        return []
    months = sorted(r[0] for r in db.all(f"SELECT DISTINCT month FROM {CANDIDATE_SCHEMA}.kpi_monthly"))
    last = last_publication(db)
    if last is None or last[2] != project_hash():
        return months
    built = candidate_through_load_id(db)
    earliest = db.one(
        "SELECT min(substr(period, 1, 7)) FROM audit.load_manifest "
        "WHERE load_id > ? AND load_id <= ? AND status = 'loaded'",
        (last[1], built),
    )
    if earliest is None:
        return []
    first = month_bounds(date.fromisoformat(earliest + "-01"))["prev_month"]
    return [m for m in months if m >= first]


def _datasource(ctx, kind: str):
    """GX's own SQLAlchemy engine on the warehouse; on DuckDB read-only, while the job's handle is released."""
    if kind == "postgres":
        return ctx.data_sources.add_or_update_postgres(name="warehouse_postgres", connection_string=postgres_dsn())
    return ctx.data_sources.add_or_update_sql(
        name="warehouse_duckdb",
        connection_string=f"duckdb:///{paths().warehouse}",
        kwargs={"connect_args": {"read_only": True}},
    )


def run_audit(
    db: Warehouse,
    layers: list[str] | tuple[str, ...] = LAYERS,
    months: list[date] | None = None,
    trigger: str = "manual",
    suites: Suites | None = None,
) -> AuditRun:
    """Validate `months` (default: what changed since the last publication) on `layers`; record everything
    in the trail, verdict included. `db` is the job's writable handle: on DuckDB it is released while GX
    reads the file (GX opens it read-only, which DuckDB refuses beside a writable connection) and reopened
    to record the run."""
    suites = suites or load_suites()
    months = sorted(set(months)) if months is not None else months_to_audit(db)
    started = datetime.now()
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    t0 = time.perf_counter()
    run = AuditRun(run_id, db.kind, list(layers), months, started, 0.0, data_docs=data_docs_index())
    run.expected = sum(len(a.checks) for layer in layers for a in suites.assets.get(layer, [])) * len(months)
    run.project_hash = project_hash()
    run.through_load_id = candidate_through_load_id(db)
    failure: Exception | None = None
    if months:
        try:
            with db.released():
                run.results = _validate(db.kind, layers, months, suites, run_id, started)
        except Exception as exc:  # recorded as a failed run, then raised
            failure, run.error = exc, f"{type(exc).__name__}: {exc}"[:2000]
    run.seconds = time.perf_counter() - t0
    if db.con is not None:  # else the handle could not be reopened after GX: that failure is raised below
        _add_samples(db, run, suites)
        record_run(
            db,
            {
                "run_id": run_id,
                "target": db.kind,
                "trigger": trigger,
                "layers": ",".join(layers),
                "months": ",".join(m.strftime("%Y-%m") for m in months),
                "through_load_id": run.through_load_id,
                "project_hash": run.project_hash,
                "started_at": started,
                "finished_at": datetime.now(),
                "seconds": run.seconds,
                "expectations": len(run.results),
                "failed_critical": len(run.failed("critical")),
                "failed_warning": len(run.failed("warning")),
                "errors": sum(1 for r in run.results if r["error"]),
                "passed": run.passed,
                "expected": run.expected,
                "verdict": run.verdict,
                "error": run.error,
                "data_docs": run.data_docs,
            },
            run.results,
        )
    if failure is not None:
        raise failure
    log.info("%s", summary(run))
    return run


def _add_samples(db: Warehouse, run: AuditRun, suites: Suites) -> None:
    """Offending rows of each failed check (GX's SUMMARY results carry values, not keys)."""
    from telco360.quality.plain import sample_sql

    checks = {(c.name): (c, a) for layer in run.layers for a in suites.assets.get(layer, []) for c in a.checks}
    for r in run.results:
        if r["success"] or r["error"] or r["expectation"] not in checks:
            continue
        check, asset = checks[r["expectation"]]
        sql = sample_sql(check, asset, r["data_month"], db.dialect, suites, SAMPLE)
        if sql is None:
            continue
        try:
            cur = db.execute(sql)
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except Exception as exc:  # the check's result stands; the trail says why it has no examples
            db.rollback()
            rows = [{"sample_error": str(exc)[:500]}]
        r["offending_sample"] = json.dumps(_jsonable(rows), ensure_ascii=False)


def _validate(kind, layers, months, suites: Suites, run_id: str, started: datetime) -> list[dict]:
    gx = _gx()
    import great_expectations.expectations as gxe
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    ctx = gx_context()
    ds = _datasource(ctx, kind)
    dialect = "postgresql" if kind == "postgres" else "duckdb"
    rows: list[dict] = []
    validated = False
    rendered: dict = {}  # the validation results and suites whose Data Docs pages this run renders (once each)
    # checkpoints and validation definitions are rebuilt from expectations/*.yml on every run: drop the
    # stored ones first (they would point at the assets replaced below)
    for folder in ("checkpoints", "validation_definitions"):
        for stale in (paths().home / "gx" / folder).glob("*.json"):
            stale.unlink()
    try:
        batch_defs = {}
        for layer in layers:
            for a in suites.assets.get(layer, []):
                if a.name in ds.get_asset_names():
                    ds.delete_asset(a.name)
                asset = ds.add_query_asset(name=a.name, query=render(a.query, None, dialect, suites))
                batch_defs[a.name] = asset.add_batch_definition_monthly("monthly", column=a.month)
        for layer in layers:
            for month in months:
                vds = []
                for a in suites.assets.get(layer, []):
                    suite = gx.ExpectationSuite(
                        name=f"{layer}.{a.name}",
                        expectations=[_expectation(gxe, c, a, month, dialect, suites) for c in a.checks],
                        meta={"layer": layer, "table": a.table, "month": month.isoformat()},
                    )
                    suite = ctx.suites.add_or_update(suite)
                    vd = gx.ValidationDefinition(name=suite.name, data=batch_defs[a.name], suite=suite)
                    vds.append(ctx.validation_definitions.add_or_update(vd))
                checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(name=layer, validation_definitions=vds))
                result = checkpoint.run(
                    batch_parameters={"year": month.year, "month": month.month},
                    run_id=RunIdentifier(run_name=f"{run_id} {layer} {month:%Y-%m}", run_time=started),
                )
                for key, vres in result.run_results.items():
                    suite_name = vres.suite_name
                    rows += [_row(vr, run_id, started, layer, month, suite_name) for vr in vres.results]
                    rendered.update(dict.fromkeys([key, ExpectationSuiteIdentifier(name=suite_name)]))
        validated = True
    finally:
        ds.get_execution_engine().close()
        ds.get_engine().dispose()
        # Data Docs once for the run, not once per checkpoint (GX's UpdateDataDocsAction rebuilt the whole
        # index after every validation: 87 s of a 10k x 5-month audit), also for what ran before a failure;
        # a failure here fails the run, but is only logged when the validation itself failed (its error stands)
        try:
            if rendered:
                ctx.build_data_docs(site_names=["local_site"], resource_identifiers=list(rendered))
            localize(paths().data_docs)  # the pages load no CDN: Data Docs work on an intranet
        except Exception:
            if validated:
                raise
            log.exception("Data Docs were not rebuilt for run %s", run_id)
    return rows


def summary(run: AuditRun, published: str | None = None, limit: int = 14) -> str:
    """One screen: passed/failed by severity, each failed check once (over its months), the gate, Data Docs."""
    months = [m.strftime("%Y-%m") for m in run.months]
    span = f"{months[0]}..{months[-1]}" if len(months) > 2 else ", ".join(months) or "none"
    lines = [
        f"Data quality run {run.run_id} on {run.target}: {len(run.results)} checks, months {span}, {run.seconds:.1f}s",
        f"{'':10}{'passed':>8}{'failed':>8}",
    ]
    for sev in ("critical", "warning"):
        of = [r for r in run.results if r["severity"] == sev]
        failed = sum(1 for r in of if not r["success"])
        lines.append(f"{sev:10}{len(of) - failed:>8}{failed:>8}")
    failures: dict[tuple, list[dict]] = {}
    for r in run.results:
        if not r["success"]:
            failures.setdefault((r["severity"], r["expectation"], r["table_name"]), []).append(r)
    if failures:
        lines.append(f"{'failed':10}{'check':<42}{'table':<31}offending rows by month (MM:n)")
    ordered = sorted(failures.items(), key=lambda kv: (kv[0][0] != "critical", kv[0][1]))
    for (sev, name, table), rs in ordered[:limit]:
        counts = " ".join(
            f"{r['data_month']:%m}:" + ("error" if r["error"] else str(r["unexpected_count"] or 0)) for r in rs
        )
        lines.append(f"{sev:10}{name[:41]:<42}{table[:30]:<31}{counts}")
    if len(ordered) > limit:
        lines.append(f"... and {len(ordered) - limit} more failed checks: audit.dq_results")
    gate = ("PASSED" + (f"; {published}" if published else "")) if run.passed else f"FAILED ({run.reason()})"
    lines.append(f"gate: {gate}")
    lines.append(f"Data Docs: {run.data_docs}")
    lines.append(f"details:   SELECT * FROM audit.dq_results WHERE run_id = '{run.run_id}' AND NOT success")
    return "\n".join(lines)

"""Landing -> raw: check each delivery, load its valid rows, quarantine the rest, lose nothing.

For each delivery folder `<landing>/<source>/<period>/`:
1. file-level checks (manifest, checksums, row counts, encoding, header): failing any rejects the
   delivery whole, recorded in audit.load_manifest with the rule and a message naming the file;
2. a delivery identical to the period's current load is skipped (and recorded); a file identical to
   one loaded for another period is rejected as a duplicate delivery;
3. DuckDB reads the files as text and evaluates the contract's row rules in one pass; structural
   errors (wrong column count) come from its CSV reader's rejects tables with their line numbers;
4. one transaction replaces the period: raw rows, quarantined rows (verbatim, with rule and line),
   and the manifest row. rows read = rows loaded + rows quarantined is asserted before commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from telco360.contracts import Contract, load_contracts
from telco360.ingest.delivery import (
    MANIFEST,
    Delivery,
    DeliveryRejected,
    delivery_digest,
    find_deliveries,
    inspect,
    read_manifest,
    shown,
    still_the_same,
    storable,
)
from telco360.ingest.targets import AlreadyLoaded, LoadRecord, Target
from telco360.ingest.validate import WORK_TABLES, validate

log = logging.getLogger("telco360.ingest")


@dataclass
class LoadResult:
    source: str
    period: str
    status: str
    load_id: int
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rule: str | None = None
    reason: str | None = None
    seconds: float = 0.0

    def line(self) -> str:
        if self.status == "loaded":
            return (
                f"{self.source}/{self.period}: loaded {self.rows_loaded:,} of {self.rows_read:,} rows, "
                f"{self.rows_quarantined:,} quarantined ({self.seconds:.2f}s)"
            )
        return f"{self.source}/{shown(self.period)}: {self.status}" + (
            f" [{self.rule}] {self.reason}" if self.reason else ""
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def pending_deliveries(landing: Path, target: Target, source: str) -> list[Path]:
    """Entries of a source folder whose manifest differs from what is loaded (cheap: reads manifests only).
    Anything that is not a loaded delivery is pending, so that the load records why it is refused."""
    out = []
    for folder in find_deliveries(landing, source):
        current = target.current_load(source, storable(folder.name))
        if current is None or _declared_digest(folder) != current[1]:
            out.append(folder)
    return out


def _declared_digest(folder: Path) -> str | None:
    """The delivery digest its manifest declares; None when the manifest is not a plain, readable file."""
    try:
        return delivery_digest([(f["name"], f["sha256"]) for f in _declared(folder)["files"]])
    except (TypeError, KeyError, AttributeError):
        return None


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _declared(folder: Path) -> dict:
    """What a delivery's manifest declares, read as safely as the checks read it ({} when it cannot be)."""
    try:
        return {} if folder.is_symlink() else read_manifest(folder / MANIFEST)
    except (DeliveryRejected, OSError):
        return {}


class Loader:
    def __init__(self, target: Target, work_dir: Path, contracts: dict[str, Contract] | None = None):
        self.target = target
        self.work_dir = Path(work_dir)
        self.contracts = contracts or load_contracts()
        self.target.prepare(list(self.contracts.values()))

    # ------------------------------------------------------------------ public
    def load_source(
        self, landing: Path, source: str, force: bool = False, periods: list[str] | None = None
    ) -> list[LoadResult]:
        folders = [f for f in find_deliveries(landing, source) if not periods or storable(f.name) in periods]
        contract = self.contracts[source]
        results = []
        # the file checks of the next delivery (checksums, decoding: I/O and hashing, which release the GIL)
        # run in a thread while DuckDB loads the current one
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="inspect") as pool:
            upcoming = pool.submit(self._inspect, folders[0], contract) if folders else None
            try:
                for i, folder in enumerate(folders):
                    current = upcoming
                    upcoming = pool.submit(self._inspect, folders[i + 1], contract) if i + 1 < len(folders) else None
                    results.append(self.load_delivery(folder, source, force=force, inspected=current.result()))
            finally:
                if upcoming is not None:  # stopped early: drop the next delivery's files and work folder too
                    checked, work = upcoming.result()
                    if isinstance(checked, Delivery):
                        checked.close()
                    shutil.rmtree(work, ignore_errors=True)
        return results

    def _inspect(self, folder: Path, contract: Contract) -> tuple[Delivery | DeliveryRejected, Path]:
        """File-level checks of a delivery; returns the delivery (or why it is rejected) and its work folder."""
        work = self.work_dir / f"inspect-{uuid.uuid4().hex[:12]}"
        try:
            return inspect(folder, contract, work), work
        except DeliveryRejected as exc:
            return exc, work
        except OSError as exc:
            return DeliveryRejected("unreadable", f"{folder}: {exc.strerror or exc} ({exc.filename})"), work
        except Exception as exc:  # a defect of ours: the delivery is refused and the run goes on
            log.info("checking %s failed", storable(str(folder)), exc_info=True)  # the traceback: -v, task logs
            return DeliveryRejected("load_error", f"{folder}: checking failed: {type(exc).__name__}: {exc}"), work

    def load_all(self, landing: Path, sources: list[str] | None = None, force: bool = False) -> list[LoadResult]:
        results = []
        for source in sources or list(self.contracts):
            results += self.load_source(landing, source, force=force)
        return results

    def load_delivery(
        self,
        folder: Path,
        source: str,
        force: bool = False,
        inspected: tuple[Delivery | DeliveryRejected, Path] | None = None,
    ) -> LoadResult:
        """Load one delivery. Whatever it holds, the attempt ends as loaded, skipped or rejected, is recorded in
        audit.load_manifest, and returns: nothing a delivery holds stops the run."""
        contract = self.contracts[source]
        folder = Path(folder)
        started, t0 = _now(), time.perf_counter()
        load_id = self.target.new_load_id()
        record = LoadRecord(
            load_id=load_id,
            source=source,
            period=storable(folder.name),
            delivery_path=storable(str(folder)),
            delivery_sha256=None,
            schema_version=None,
            encoding=None,
            files=0,
            rows_declared=None,
            rows_read=None,
            rows_loaded=0,
            rows_quarantined=0,
            status="rejected",
            rule=None,
            reason=None,
            is_current=False,
            started_at=started,
            finished_at=started,
            duration_s=0.0,
        )
        work = checked = None
        try:
            checked, work = inspected or self._inspect(folder, contract)
            return self._load_checked(checked, folder, contract, record, t0, force)
        except Exception as exc:  # a defect of ours or a broken warehouse connection: recorded, then go on
            log.info("loading %s failed", record.delivery_path, exc_info=True)  # the traceback: -v, task logs
            self._rollback()
            return self._finish(
                record, [], t0, "rejected", "load_error", f"{folder}: loading failed: {type(exc).__name__}: {exc}"
            )
        finally:
            if isinstance(checked, Delivery):
                checked.close()
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
            self._drop_work_tables()

    def _load_checked(self, checked, folder: Path, contract: Contract, record: LoadRecord, t0, force) -> LoadResult:
        source = contract.source
        if isinstance(checked, DeliveryRejected):
            manifest = _declared(folder)  # what the source declared, when it is readable
            record.rows_declared = _as_int(manifest.get("row_count"))
            record.encoding = str(manifest.get("encoding"))[:40] if manifest.get("encoding") else None
            record.schema_version = _as_int(manifest.get("schema_version"))
            files = manifest.get("files")
            record.files = len(files) if isinstance(files, list) else 0
            return self._finish(record, [], t0, status="rejected", rule=checked.rule, reason=checked.message)
        d = checked
        load_id = record.load_id
        record.delivery_sha256 = d.sha256
        record.schema_version = d.manifest["schema_version"]
        record.encoding = d.manifest.get("encoding", "utf-8")
        record.files = len(d.files)
        record.rows_declared = d.rows_declared
        record.rows_read = d.rows_read
        files = [(load_id, f"{source}/{d.period}/{f.name}", f.sha256, f.rows, f.bytes) for f in d.files]
        current = self.target.current_load(source, d.period)
        if current and current[1] == d.sha256 and not force:
            return self._finish(
                record,
                files,
                t0,
                status="skipped",
                rule="already_loaded",
                reason=f"identical to load {current[0]} (sha256 {d.sha256[:12]}…)",
            )
        # a byte-identical file under another period is a re-sent delivery for event extracts; full
        # snapshots legitimately repeat when nothing changed, and so does a header-only (empty) file
        resent = [f.sha256 for f in d.files if f.rows > 0]
        owner = None if contract.snapshot or not resent else self.target.file_owner(source, d.period, resent)
        if owner:
            return self._finish(
                record,
                files,
                t0,
                status="rejected",
                rule="duplicate_delivery",
                reason=f"{folder}: a file is byte-identical to {owner[2]}, "
                f"loaded for period {owner[0]} (load {owner[1]})",
            )
        valid_sql, quarantine_sql, counts = validate(self.target.validation_connection(), d, contract, record)
        record.rows_loaded, record.rows_quarantined = counts
        if contract.snapshot and not force:  # judged on the rows that would load: all-quarantined is a shrink too
            shrunk = self._shrunk(contract, d, record.rows_loaded)
            if shrunk:
                return self._finish(record, files, t0, status="rejected", rule="snapshot_shrunk", reason=shrunk)
        if record.rows_loaded + record.rows_quarantined != d.rows_read:  # never lose a row silently
            return self._finish(
                record,
                files,
                t0,
                status="rejected",
                rule="accounting",
                reason=f"{folder}: read {d.rows_read} rows but accounted for "
                f"{record.rows_loaded} loaded + {record.rows_quarantined} quarantined",
            )
        changed = [f for f in d.files if not still_the_same(f)]
        if changed:  # replaced or rewritten while it was read: what was checked is not what would be loaded
            return self._finish(
                record,
                files,
                t0,
                status="rejected",
                rule="unsafe_path",
                reason=f"{changed[0].source_path}: the file changed while it was being loaded",
            )
        record.status, record.is_current = "loaded", True
        self._stamp(record, t0)
        try:
            self.target.commit_load(record, contract, files, valid_sql, quarantine_sql, reload_identical=force)
        except AlreadyLoaded as exc:  # a concurrent run committed this delivery after our check above
            record.is_current = False
            reason = f"identical to load {exc.load_id} (sha256 {d.sha256[:12]}…), committed by a concurrent run"
            return self._finish(record, files, t0, status="skipped", rule="already_loaded", reason=reason)
        return self._result(record)

    def _shrunk(self, contract: Contract, d: Delivery, loading: int) -> str | None:
        """Why a full snapshot is refused for shrinking: fewer rows would load than the contract allows against
        the current load of the period (a re-delivery) or, for a new period, the latest period before it."""
        ref = self.target.reference_load(contract.source, d.period)
        if ref is None:
            return None
        period, load_id, rows = ref
        floor = rows * (1 - contract.max_shrink)
        if rows and loading < floor:
            quarantined = (
                f" ({d.rows_read - loading:,} of its {d.rows_read:,} rows quarantined)" if loading < d.rows_read else ""
            )
            return (
                f"{d.folder}: a full snapshot that would load {loading:,} rows{quarantined} against {rows:,} in the "
                f"current load of {period} (load {load_id}); the contract allows at most {contract.max_shrink:.0%} "
                f"fewer (>= {floor:,.0f} rows). A real shrink loads with --force"
            )
        return None

    def _rollback(self) -> None:
        import contextlib

        with contextlib.suppress(Exception):
            self.target.validation_connection().execute("ROLLBACK")
        with contextlib.suppress(Exception):
            self.target.reset()

    def _drop_work_tables(self) -> None:
        import contextlib

        con = self.target.validation_connection()
        for name in WORK_TABLES:
            with contextlib.suppress(Exception):
                con.execute(f"DROP TABLE IF EXISTS {name}")

    # ------------------------------------------------------------------ internals
    def _stamp(self, record: LoadRecord, t0: float) -> None:
        record.finished_at = _now()
        record.duration_s = round(time.perf_counter() - t0, 3)

    def _finish(self, record: LoadRecord, files, t0, status, rule, reason) -> LoadResult:
        reason = storable(reason)[:4000] if reason else reason  # one line, no terminal escapes, storable
        record.status, record.rule, record.reason = status, rule, reason
        record.rows_loaded = record.rows_quarantined = 0
        record.is_current = False
        self._stamp(record, t0)
        try:
            self.target.record(record, files)
        except Exception as exc:  # the warehouse itself failed: say so, and let the run go on
            log.info("recording %s/%s failed", record.source, record.period, exc_info=True)
            self._rollback()
            record.rule = record.rule or "load_error"
            record.reason = f"{reason} (NOT RECORDED in audit.load_manifest: {type(exc).__name__}: {exc})"[:4000]
            record.reason = storable(record.reason)
        level = logging.WARNING if status == "rejected" else logging.INFO
        log.log(level, "%s/%s %s: %s", record.source, shown(record.period), status, record.reason)
        return self._result(record)

    @staticmethod
    def _result(record: LoadRecord) -> LoadResult:
        return LoadResult(
            source=record.source,
            period=record.period,
            status=record.status,
            load_id=record.load_id,
            rows_read=record.rows_read or 0,
            rows_loaded=record.rows_loaded,
            rows_quarantined=record.rows_quarantined,
            rule=record.rule,
            reason=record.reason,
            seconds=record.duration_s,
        )

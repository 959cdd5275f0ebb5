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
import json
import logging
import re
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from telco360.contracts import Contract, load_contracts
from telco360.ingest import rules as R
from telco360.ingest.delivery import (
    MANIFEST,
    Delivery,
    DeliveryRejected,
    delivery_digest,
    find_deliveries,
    inspect,
    shown,
    still_the_same,
)
from telco360.ingest.targets import AlreadyLoaded, LoadRecord, Target

log = logging.getLogger("telco360.ingest")

# DuckDB CSV reader error types -> our rules
READER_RULES = {
    "MISSING COLUMNS": "column_count",
    "TOO MANY COLUMNS": "column_count",
    "CAST": "type",
    "INVALID UNICODE": "encoding",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
}
WORK_TABLES = (
    "_checked",
    "_files",
    "_breaks",
    "_skipped",
    "_blank",
    "_bad",
    "_lines",
    "_rej_errors",
    "_rej_scans",
    "_quarantine",
)


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
        current = target.current_load(source, folder.name)
        if current is None or _declared_digest(folder) != current[1]:
            out.append(folder)
    return out


def _declared_digest(folder: Path) -> str | None:
    """The delivery digest its manifest declares; None when the manifest is not a plain, readable file."""
    mpath = folder / MANIFEST
    try:
        if folder.is_symlink() or mpath.is_symlink() or not mpath.is_file():
            return None
        files = json.loads(mpath.read_text(encoding="utf-8")).get("files")
        return delivery_digest([(f["name"], f["sha256"]) for f in files])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _blank_lines(path: Path) -> list[int]:
    """Line numbers of empty lines (CSV readers skip them silently)."""
    with open(path, "rb") as fh:
        return [n for n, line in enumerate(fh, start=1) if line in (b"\n", b"\r\n")]


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _declared(folder: Path) -> dict:
    """What a rejected delivery's manifest declares, when it is a plain readable file (for the record)."""
    mpath = folder / MANIFEST
    try:
        if folder.is_symlink() or mpath.is_symlink() or not mpath.is_file() or mpath.stat().st_size > 1 << 20:
            return {}
        doc = json.loads(mpath.read_text(encoding="utf-8"))
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
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
        folders = [f for f in find_deliveries(landing, source) if not periods or f.name in periods]
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
                if upcoming is not None:  # stopped early: drop the next delivery's work folder too
                    shutil.rmtree(upcoming.result()[1], ignore_errors=True)
        return results

    def _inspect(self, folder: Path, contract: Contract) -> tuple[Delivery | DeliveryRejected, Path]:
        """File-level checks of a delivery; returns the delivery (or why it is rejected) and its work folder."""
        work = self.work_dir / f"inspect-{uuid.uuid4().hex[:12]}"
        try:
            return inspect(folder, contract, work), work
        except DeliveryRejected as exc:
            return exc, work
        except OSError as exc:
            return DeliveryRejected("unreadable", f"{folder}: {exc.strerror or exc} ({shown(str(exc.filename))})"), work
        except Exception as exc:  # a defect of ours: the delivery is refused and the run goes on
            log.exception("checking %s failed", folder)
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
            period=folder.name,
            delivery_path=str(folder),
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
        work = None
        try:
            checked, work = inspected or self._inspect(folder, contract)
            return self._load_checked(checked, folder, contract, record, t0, force)
        except Exception as exc:  # a defect of ours or a broken warehouse connection: recorded, then go on
            log.exception("loading %s failed", folder)
            self._rollback()
            return self._finish(
                record, [], t0, "rejected", "load_error", f"{folder}: loading failed: {type(exc).__name__}: {exc}"
            )
        finally:
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
        if contract.snapshot and not force:
            shrunk = self._shrunk(contract, d)
            if shrunk:
                return self._finish(record, files, t0, status="rejected", rule="snapshot_shrunk", reason=shrunk)
        valid_sql, quarantine_sql, counts = self._validate(d, contract, record)
        record.rows_loaded, record.rows_quarantined = counts
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

    def _shrunk(self, contract: Contract, d: Delivery) -> str | None:
        """Why a full snapshot is refused for shrinking: fewer rows than the contract allows against the
        current load of the period (a re-delivery) or, for a new period, the latest period before it."""
        ref = self.target.reference_load(contract.source, d.period)
        if ref is None:
            return None
        period, load_id, rows = ref
        floor = rows * (1 - contract.max_shrink)
        if rows and d.rows_read < floor:
            return (
                f"{d.folder}: a full snapshot of {d.rows_read:,} rows against {rows:,} in the current load of "
                f"{period} (load {load_id}); the contract allows at most {contract.max_shrink:.0%} fewer "
                f"(>= {floor:,.0f} rows). A real shrink loads with --force"
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
        reason = re.sub(r"\s*\n\s*", " ", reason)[:4000] if reason else reason  # one line, always
        record.status, record.rule, record.reason = status, rule, reason
        record.rows_loaded = record.rows_quarantined = 0
        record.is_current = False
        self._stamp(record, t0)
        try:
            self.target.record(record, files)
        except Exception as exc:  # the warehouse itself failed: say so, and let the run go on
            log.exception("recording %s/%s failed", record.source, record.period)
            self._rollback()
            record.rule = record.rule or "load_error"
            record.reason = f"{reason} (NOT RECORDED in audit.load_manifest: {type(exc).__name__}: {exc})"[:4000]
            record.reason = re.sub(r"\s*\n\s*", " ", record.reason)
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

    def _validate(self, d: Delivery, contract: Contract, record: LoadRecord) -> tuple[str, str | None, tuple[int, int]]:
        """Check every row in DuckDB; returns the SELECTs of valid and quarantined rows, and their counts."""
        con = self.target.validation_connection()
        rules = R.compile_rules(contract, d.period)
        paths = [str(f.path) for f in d.files]
        for name in ("_rej_errors", "_rej_scans"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        typed = ", ".join(f"{R.typed(c)} AS {R.q(c.name)}" for c in contract.columns)
        # the file paths are bound as a parameter, never spliced into the SQL text
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _checked AS
            SELECT _path, _fail, NULL::BIGINT AS _dup_of,
                   CASE WHEN _fail <> 0 THEN {R.detail_expression(rules)} END AS _detail,
                   CASE WHEN _fail <> 0 THEN {R.line_expression(contract)} END AS _raw, {typed}
            FROM (SELECT *, {R.fail_expression(rules)} AS _fail
                  FROM (SELECT filename AS _path, * EXCLUDE (filename), {R.precasts(contract)}
                        FROM read_csv($paths, columns = {R.reader_columns(contract)}, header = true,
                                      delim = {R.lit(contract.delimiter)}, quote = '', escape = '',
                                      new_line = '\\n', max_line_size = {int(contract.max_line_bytes)},
                                      auto_detect = false, filename = true, ignore_errors = true,
                                      store_rejects = true, rejects_table = '_rej_errors',
                                      rejects_scan = '_rej_scans')))
            """,
            {"paths": paths},
        )
        # row i of a file (in read order) is line i + 2, shifted by each line the reader rejected before it
        con.execute("CREATE OR REPLACE TEMP TABLE _files (path VARCHAR, file VARCHAR, r0 BIGINT)")
        con.executemany(
            "INSERT INTO _files VALUES (?, ?, NULL)",
            [(str(f.path), f"{d.source}/{d.period}/{f.name}") for f in d.files],
        )
        if len(d.files) == 1:  # a fresh temp table numbers its rows from 0
            con.execute("UPDATE _files SET r0 = 0")
        else:
            con.execute(
                "UPDATE _files SET r0 = s.r0 FROM (SELECT _path, min(rowid) AS r0 FROM _checked GROUP BY _path) s "
                "WHERE _files.path = s._path"
            )
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _skipped AS
            SELECT DISTINCT s.file_path AS path, e.line FROM _rej_errors e JOIN _rej_scans s USING (scan_id, file_id)
        """)
        # the reader skips blank lines without a reject: find them (only when rows are unaccounted for)
        parsed = con.execute("SELECT (SELECT count(*) FROM _checked) + (SELECT count(*) FROM _skipped)").fetchone()[0]
        con.execute("CREATE OR REPLACE TEMP TABLE _blank (path VARCHAR, line BIGINT)")
        if parsed < d.rows_read:
            blanks = [(str(f.path), n) for f in d.files for n in _blank_lines(f.path)]
            if blanks:
                _insert_arrow(con, "_blank", {"path": "VARCHAR", "line": "BIGINT"}, blanks)
                con.execute("INSERT INTO _skipped SELECT path, line FROM _blank")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _breaks AS
            SELECT path, line - 2 - (row_number() OVER w - 1) AS thr, row_number() OVER w AS shift
            FROM _skipped
            WINDOW w AS (PARTITION BY path ORDER BY line)
        """)
        has_rejects = con.execute("SELECT count(*) FROM _breaks").fetchone()[0] > 0

        def numbered(where: str) -> str:
            """_checked rows matching `where`, with _file and _line."""
            if not has_rejects and len(d.files) == 1:
                file = R.lit(f"{d.source}/{d.period}/{d.files[0].name}")
                return (
                    f"SELECT c.*, c.rowid AS _rid, {file} AS _file, c.rowid + 2 AS _line FROM _checked c WHERE {where}"
                )
            if not has_rejects:
                return (
                    f"SELECT c.*, c.rowid AS _rid, f.file AS _file, c.rowid - f.r0 + 2 AS _line "
                    f"FROM _checked c JOIN _files f ON f.path = c._path WHERE {where}"
                )
            return f"""
                SELECT b.*, b._idx + 2 + coalesce(k.shift, 0) AS _line FROM (
                    SELECT c.*, c.rowid AS _rid, c.rowid - f.r0 AS _idx, f.file AS _file
                    FROM _checked c JOIN _files f ON f.path = c._path WHERE {where}) b
                ASOF LEFT JOIN (SELECT path, thr, max(shift) AS shift FROM _breaks GROUP BY path, thr) k
                    ON b._path = k.path AND b._idx >= k.thr"""

        # repeated primary keys: the first occurrence (in file order) stays, later ones are quarantined
        pk = ", ".join(R.q(k) for k in contract.primary_key)
        dups = con.execute(
            f"SELECT count(*) FROM (SELECT {pk} FROM _checked WHERE _fail = 0 GROUP BY {pk} HAVING count(*) > 1)"
        ).fetchone()[0]
        if dups:
            con.execute(f"""
                UPDATE _checked SET _fail = {R.DUPLICATE_KEY}, _dup_of = d.first_rid
                FROM (SELECT rowid AS rid, min(rowid) OVER (PARTITION BY {pk}) AS first_rid
                      FROM _checked WHERE _fail = 0) d
                WHERE _checked.rowid = d.rid AND d.rid <> d.first_rid
            """)
            key = " || ', ' || ".join(f"CAST(c.{R.q(k)} AS VARCHAR)" for k in contract.primary_key)
            con.execute(f"""
                UPDATE _checked c SET _detail = 'duplicate_key: ({", ".join(contract.primary_key)}) = (' || {key}
                    || ') repeats line ' || first._line || ' of ' || first._file
                FROM ({numbered("c.rowid IN (SELECT _dup_of FROM _checked)")}) first
                WHERE c._dup_of = first._rid
            """)
        loaded_at = f"TIMESTAMP '{record.started_at}'"
        cols = ", ".join(R.q(c) for c in contract.column_names)
        valid_sql = (
            f"SELECT {cols}, {record.load_id} AS _load_id, _file, _line AS _row_number, "
            f"{loaded_at} AS _loaded_at FROM ({numbered('c._fail = 0')})"
        )
        loaded, failed = con.execute(
            "SELECT count(*) FILTER (_fail = 0), count(*) FILTER (_fail <> 0) FROM _checked"
        ).fetchone()
        rejected_lines = con.execute("SELECT count(*) FROM _skipped").fetchone()[0]
        if failed + rejected_lines == 0:
            return valid_sql, None, (loaded, 0)
        meta = f"{record.load_id}::BIGINT, {R.lit(d.source)}, {R.lit(d.period)}"
        reader_rules = " ".join(f"WHEN {R.lit(k)} THEN {R.lit(v)}" for k, v in READER_RULES.items())
        # lines found damaged while hashing reached the reader as lines it rejects: their own rule and text
        _insert_arrow(
            con,
            "_bad",
            {"path": "VARCHAR", "line": "BIGINT", "rule": "VARCHAR", "detail": "VARCHAR", "raw_line": "VARCHAR"},
            [(str(f.path), n, b.rule, b.detail, b.raw_line) for f in d.files for n, b in f.bad_lines.items()],
        )
        too_long = (
            "'line_too_long: the line is ' || coalesce(regexp_extract(e.error_message, 'Actual Size: ?([0-9]+)', 1), "
            f"'more than {contract.max_line_bytes}') || ' bytes, the contract allows {contract.max_line_bytes}'"
        )
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _quarantine AS
            SELECT {meta}, _file AS file, _line AS row_number, {R.rule_name_expression(rules)} AS rule,
                   {R.column_name_expression(rules, contract)} AS column_name, _detail AS detail,
                   _raw AS raw_line, {loaded_at} AS quarantined_at, _path
            FROM ({numbered("c._fail <> 0")})
            UNION ALL
            SELECT {meta}, f.file, e.line,
                   coalesce(x.rule, CASE e.error_type {reader_rules} ELSE 'malformed' END),
                   CASE WHEN x.rule IS NULL THEN e.column_name END,
                   coalesce(x.detail, CASE e.error_type WHEN 'LINE SIZE OVER MAXIMUM' THEN {too_long}
                       ELSE CASE e.error_type {reader_rules} ELSE 'malformed' END || ': ' || e.error_message END),
                   CASE WHEN x.rule IS NOT NULL THEN x.raw_line
                        WHEN e.error_type <> 'LINE SIZE OVER MAXIMUM' THEN coalesce(e.csv_line, '') END,
                   {loaded_at}, s.file_path
            FROM (SELECT * FROM _rej_errors
                  QUALIFY row_number() OVER (PARTITION BY scan_id, file_id, line ORDER BY
                      CASE WHEN error_type = 'LINE SIZE OVER MAXIMUM' THEN 0
                           WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN 1 ELSE 2 END,
                      column_idx) = 1) e
            JOIN _rej_scans s USING (scan_id, file_id)
            JOIN _files f ON f.path = s.file_path
            LEFT JOIN _bad x ON x.path = s.file_path AND x.line = e.line
            UNION ALL
            SELECT {meta}, f.file, b.line, 'blank_line', NULL, 'blank_line: an empty line', '', {loaded_at}, b.path
            FROM _blank b JOIN _files f ON f.path = b.path
        """)
        self._fill_lines_from_file(con)
        quarantine_sql = "SELECT * EXCLUDE (_path) FROM _quarantine ORDER BY file, row_number"
        return valid_sql, quarantine_sql, (loaded, failed + rejected_lines)

    @staticmethod
    def _fill_lines_from_file(con) -> None:
        """Lines whose text SQL does not have: repeated keys (found among valid rows, whose text is not kept) and
        over-long lines (the reader keeps only their start). Read back from the file, one pass per file,
        inserted as one Arrow batch."""
        wanted: dict[str, set[int]] = {}
        for path, line in con.execute("SELECT _path, row_number FROM _quarantine WHERE raw_line IS NULL").fetchall():
            wanted.setdefault(path, set()).add(line)
        found = []
        for path, lines in wanted.items():
            last = max(lines)
            with open(path, encoding="utf-8", newline="") as fh:
                for number, text in enumerate(fh, start=1):
                    if number in lines:
                        found.append((path, number, text.rstrip("\r\n")))
                    if number >= last:
                        break
        if not found:
            return
        _insert_arrow(con, "_lines", {"path": "VARCHAR", "line": "BIGINT", "raw_line": "VARCHAR"}, found)
        con.execute(
            "UPDATE _quarantine q SET raw_line = l.raw_line FROM _lines l "
            "WHERE q._path = l.path AND q.row_number = l.line"
        )


def _insert_arrow(con, table: str, columns: dict[str, str], rows: list[tuple]) -> None:
    """(Re)create a temp table and fill it in one Arrow batch (executemany costs ~1 ms a row in DuckDB)."""
    import pyarrow as pa

    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in columns.items())})"
    )
    if not rows:
        return
    batch = pa.table({name: [r[i] for r in rows] for i, name in enumerate(columns)})  # noqa: F841 (read by SQL)
    con.execute(f"INSERT INTO {table} SELECT * FROM batch")

"""The warehouses the loader writes to. What is engine-specific lives here, behind `Target`.

Validation always runs in DuckDB, over the delivered files; a target only has to hold the audit
tables and swap a period's rows atomically (one transaction: delete the previous load's rows,
insert the new ones, quarantine, manifest).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import astuple, dataclass
from pathlib import Path

import duckdb

from telco360.contracts import Contract
from telco360.ingest.rules import lit
from telco360.ingest.schema import (
    AUDIT_DDL,
    MANIFEST_COLUMNS,
    PG_ONE_CURRENT_LOAD_DDL,
    PG_ONE_CURRENT_LOAD_INDEX,
    QUARANTINE_COLUMNS,
    raw_column_names,
    raw_ddl,
    raw_table,
)

SEQUENCE_DDL = "CREATE SEQUENCE IF NOT EXISTS audit.load_id_seq START 1"
REFERENCE_SQL = """
    SELECT period, load_id, rows_loaded FROM audit.load_manifest
    WHERE source = ? AND is_current AND period <= ?
    ORDER BY period = ? DESC, period DESC LIMIT 1
"""

log = logging.getLogger("telco360.ingest")


class AlreadyLoaded(Exception):
    """commit_load found the period's current load to be this very delivery (a concurrent run committed it
    first). Nothing was written; the loader records the attempt as skipped / already_loaded."""

    def __init__(self, load_id: int):
        super().__init__(f"identical to load {load_id}")
        self.load_id = load_id


@dataclass
class LoadRecord:
    load_id: int
    source: str
    period: str
    delivery_path: str
    delivery_sha256: str | None
    schema_version: int | None
    encoding: str | None
    files: int
    rows_declared: int | None
    rows_read: int | None
    rows_loaded: int
    rows_quarantined: int
    status: str
    rule: str | None
    reason: str | None
    is_current: bool
    started_at: object
    finished_at: object
    duration_s: float


def failpoint(name: str) -> None:
    """Crash the process here when TELCO360_FAILPOINT names this point (crash-safety tests)."""
    if os.environ.get("TELCO360_FAILPOINT") == name:
        os._exit(86)


class Target(ABC):
    name: str

    @abstractmethod
    def prepare(self, contracts: list[Contract]) -> None: ...

    @abstractmethod
    def new_load_id(self) -> int: ...

    @abstractmethod
    def current_load(self, source: str, period: str) -> tuple[int, str] | None:
        """(load_id, delivery_sha256) of the load whose rows raw holds for this period."""

    @abstractmethod
    def reference_load(self, source: str, period: str) -> tuple[str, int, int] | None:
        """(period, load_id, rows_loaded) of the current load a full snapshot is compared with: this period's,
        else the latest period's before it."""

    def reset(self) -> None:  # noqa: B027 (most targets have nothing to reset)
        """Return the connections to a clean state after a failed load (nothing half-done is kept)."""

    @abstractmethod
    def file_owner(self, source: str, period: str, sha256s: list[str]) -> tuple[str, int, str] | None:
        """(period, load_id, file) of a current load of another period holding a byte-identical file."""

    @abstractmethod
    def validation_connection(self) -> duckdb.DuckDBPyConnection: ...

    @abstractmethod
    def commit_load(
        self,
        record: LoadRecord,
        contract: Contract,
        files: list[tuple],
        valid_sql: str,
        quarantine_sql: str | None,
        *,
        reload_identical: bool = False,
    ) -> None:
        """Make this load the period's current one, in one transaction, serialised per (source, period).

        Raises AlreadyLoaded, having written nothing, when the current load already has this
        delivery_sha256 (committed by a concurrent run after the loader's own check), unless
        reload_identical (`--force`)."""

    @abstractmethod
    def record(self, record: LoadRecord, files: list[tuple]) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class DuckDBTarget(Target):
    """The embedded warehouse file. Validation runs in the same connection, so rows never leave it."""

    name = "duckdb"

    def __init__(
        self,
        path: Path,
        tmp_dir: Path,
        memory_limit: str = "3GB",
        threads: int | None = None,
        lock_timeout_s: float = 900,
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + lock_timeout_s
        while True:  # one writer at a time: wait for a concurrent loader to finish
            try:
                self.con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        self.con.execute(f"SET memory_limit = {lit(memory_limit)}")
        self.con.execute(f"SET temp_directory = {lit(tmp_dir)}")
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET enable_progress_bar = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def prepare(self, contracts):
        for stmt in [*AUDIT_DDL, SEQUENCE_DDL, *(raw_ddl(c) for c in contracts)]:
            self.con.execute(stmt)

    def new_load_id(self) -> int:
        return self.con.execute("SELECT nextval('audit.load_id_seq')").fetchone()[0]

    def current_load(self, source, period):
        return self.con.execute(
            "SELECT load_id, delivery_sha256 FROM audit.load_manifest WHERE source = ? AND period = ? AND is_current",
            [source, period],
        ).fetchone()

    def reference_load(self, source, period):
        return self.con.execute(REFERENCE_SQL, [source, period, period]).fetchone()

    def file_owner(self, source, period, sha256s):
        return self.con.execute(
            "SELECT m.period, m.load_id, f.file FROM audit.load_files f "
            "JOIN audit.load_manifest m USING (load_id) "
            "WHERE m.source = ? AND m.period <> ? AND m.is_current AND list_contains(?, f.sha256) "
            "ORDER BY m.period LIMIT 1",
            [source, period, sha256s],
        ).fetchone()

    def validation_connection(self):
        return self.con

    def commit_load(self, record, contract, files, valid_sql, quarantine_sql, *, reload_identical=False):
        # never raises AlreadyLoaded: the file lock admits one writer, so the loader's own check is current
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                f"DELETE FROM {raw_table(contract)} WHERE _load_id IN (SELECT load_id FROM "
                "audit.load_manifest WHERE source = ? AND period = ? AND is_current)",
                [record.source, record.period],
            )
            con.execute(
                "UPDATE audit.load_manifest SET is_current = false WHERE source = ? AND period = ? AND is_current",
                [record.source, record.period],
            )
            failpoint("ingest.after_delete")
            cols = ", ".join(f'"{c}"' for c in raw_column_names(contract))
            con.execute(f"INSERT INTO {raw_table(contract)} ({cols}) {valid_sql}")
            if quarantine_sql:
                con.execute(f"INSERT INTO audit.quarantine ({', '.join(QUARANTINE_COLUMNS)}) {quarantine_sql}")
            self._insert_record(record, files)
            failpoint("ingest.before_commit")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def record(self, record, files):
        self._insert_record(record, files)

    def _insert_record(self, record, files):
        self.con.execute(
            f"INSERT INTO audit.load_manifest ({', '.join(MANIFEST_COLUMNS)}) VALUES "
            f"({', '.join('?' * len(MANIFEST_COLUMNS))})",
            list(astuple(record)),
        )
        if files:
            self.con.executemany("INSERT INTO audit.load_files VALUES (?, ?, ?, ?, ?)", files)

    def close(self):
        self.con.close()


# pg_advisory_xact_lock keys: PREPARE_LOCK (one bigint) for the DDL; (LOAD_LOCK, hash of source/period)
# (two int4) for a period's swap. The one-key and two-key spaces never overlap.
PREPARE_LOCK = 360360
LOAD_LOCK = 360360


def period_lock_key(source: str, period: str) -> int:
    """A stable int4 for (source, period): the same in every process and server version (unlike hashtext).
    Two periods sharing a key only wait for each other; they never mix."""
    digest = hashlib.sha256(f"{source}\0{period}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


class PostgresTarget(Target):
    """The server warehouse. Rows validated in an in-memory DuckDB are streamed in with COPY.

    Several loaders may run at once (each its own process and connection). Each period's swap takes a
    transaction-scoped advisory lock on (source, period) and re-reads the current load under it, so a
    delivery committed by another run meanwhile is skipped rather than loaded twice; a unique partial
    index (one current load per period) backs this up. Load ids come from a sequence (nextval never
    hands out the same value twice, in any transaction).
    """

    name = "postgres"

    def __init__(self, dsn: str, tmp_dir: Path, memory_limit: str = "3GB"):
        import psycopg

        self.pg = psycopg.connect(dsn, autocommit=False)
        # DuckDB's spill files and the COPY files go to a folder of this process's own: concurrent loaders
        # share TELCO360_HOME/tmp, and DuckDB would reuse (and on exit delete) the same spill file names
        self.tmp_dir = Path(tmp_dir) / f"pg-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.duck = duckdb.connect()
        self.duck.execute(f"SET memory_limit = {lit(memory_limit)}")
        self.duck.execute(f"SET temp_directory = {lit(self.tmp_dir)}")
        self.duck.execute("SET preserve_insertion_order = true")
        self.duck.execute("SET enable_progress_bar = false")

    def _one(self, sql, params=()):
        try:
            with self.pg.cursor() as cur:
                cur.execute(sql, params)
                row = cur.fetchone()
            self.pg.commit()
        except BaseException:
            self.pg.rollback()  # leave the connection usable, not in an aborted transaction
            raise
        return row

    def prepare(self, contracts):
        try:
            with self.pg.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (PREPARE_LOCK,))  # concurrent CREATE ... IF NOT EXISTS
                for stmt in [*AUDIT_DDL, SEQUENCE_DDL, *(raw_ddl(c) for c in contracts)]:
                    cur.execute(stmt)
                cur.execute("SELECT to_regclass(%s)", (f"audit.{PG_ONE_CURRENT_LOAD_INDEX}",))
                if cur.fetchone()[0] is None:
                    self._demote_extra_current_loads(cur, contracts)
                    cur.execute(PG_ONE_CURRENT_LOAD_DDL)
            self.pg.commit()
        except BaseException:
            self.pg.rollback()
            raise

    @staticmethod
    def _demote_extra_current_loads(cur, contracts) -> None:
        """Before the unique index exists: repair periods that concurrent runs left with several current loads.

        Such a period's raw rows are counted twice. Keep the last load (highest load_id), as a sequential
        reload would have; delete the others' raw rows, mark them not current and say why in their reason.
        Their manifest rows, files and quarantined rows stay: the trail keeps every attempt."""
        cur.execute(
            "SELECT source, period, array_agg(load_id ORDER BY load_id) FROM audit.load_manifest WHERE is_current "
            "GROUP BY source, period HAVING count(*) > 1 ORDER BY source, period"
        )
        tables = {c.source: raw_table(c) for c in contracts}
        for source, period, load_ids in cur.fetchall():
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOAD_LOCK, period_lock_key(source, period)))
            keep, extra = load_ids[-1], load_ids[:-1]
            if source in tables:
                cur.execute(f"DELETE FROM {tables[source]} WHERE _load_id = ANY(%s)", (extra,))
            cur.execute(
                "UPDATE audit.load_manifest SET is_current = false, reason = concat_ws('; ', reason, %s::varchar) "
                "WHERE load_id = ANY(%s)",
                (f"not current: a concurrent run also loaded {source}/{period}; load {keep} kept", extra),
            )
            log.warning(
                "%s/%s had %d current loads (concurrent runs before the per-period lock): kept load %d, "
                "removed the raw rows of loads %s",
                source,
                period,
                len(load_ids),
                keep,
                ", ".join(map(str, extra)),
            )

    def new_load_id(self) -> int:
        return self._one("SELECT nextval('audit.load_id_seq')")[0]

    def current_load(self, source, period):
        return self._one(
            "SELECT load_id, delivery_sha256 FROM audit.load_manifest WHERE source = %s AND period = %s AND is_current",
            (source, period),
        )

    def reference_load(self, source, period):
        return self._one(REFERENCE_SQL.replace("?", "%s"), (source, period, period))

    def reset(self):
        self.pg.rollback()

    def file_owner(self, source, period, sha256s):
        return self._one(
            "SELECT m.period, m.load_id, f.file FROM audit.load_files f "
            "JOIN audit.load_manifest m USING (load_id) "
            "WHERE m.source = %s AND m.period <> %s AND m.is_current AND f.sha256 = ANY(%s) "
            "ORDER BY m.period LIMIT 1",
            (source, period, sha256s),
        )

    def validation_connection(self):
        return self.duck

    def _copy(self, cur, table: str, columns: list[str], select_sql: str, name: str) -> None:
        path = self.tmp_dir / f"{name}.csv"
        self.duck.execute(f"COPY ({select_sql}) TO {lit(path)} (FORMAT csv, HEADER false)")
        try:
            cols = ", ".join(f'"{c}"' for c in columns)
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy, path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
        finally:
            path.unlink(missing_ok=True)

    def commit_load(self, record, contract, files, valid_sql, quarantine_sql, *, reload_identical=False):
        try:
            with self.pg.cursor() as cur:
                # one swap per period at a time; held until commit or rollback, so the check below and the
                # swap see every load another run committed for this period
                cur.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", (LOAD_LOCK, period_lock_key(record.source, record.period))
                )
                cur.execute(
                    "SELECT load_id, delivery_sha256 FROM audit.load_manifest "
                    "WHERE source = %s AND period = %s AND is_current",
                    (record.source, record.period),
                )
                current = cur.fetchone()
                if current and current[1] == record.delivery_sha256 and not reload_identical:
                    raise AlreadyLoaded(current[0])
                cur.execute(
                    f"DELETE FROM {raw_table(contract)} WHERE _load_id IN (SELECT load_id FROM "
                    "audit.load_manifest WHERE source = %s AND period = %s AND is_current)",
                    (record.source, record.period),
                )
                cur.execute(
                    "UPDATE audit.load_manifest SET is_current = false "
                    "WHERE source = %s AND period = %s AND is_current",
                    (record.source, record.period),
                )
                failpoint("ingest.after_delete")
                self._copy(cur, raw_table(contract), raw_column_names(contract), valid_sql, f"raw-{record.load_id}")
                if quarantine_sql:
                    self._copy(cur, "audit.quarantine", QUARANTINE_COLUMNS, quarantine_sql, f"q-{record.load_id}")
                self._insert_record(cur, record, files)
            failpoint("ingest.before_commit")
            self.pg.commit()
        except BaseException:
            self.pg.rollback()
            raise

    def record(self, record, files):
        # a skipped or rejected attempt is never current, so the one-current-load index never refuses it
        try:
            with self.pg.cursor() as cur:
                self._insert_record(cur, record, files)
            self.pg.commit()
        except BaseException:
            self.pg.rollback()
            raise

    @staticmethod
    def _insert_record(cur, record, files):
        cur.execute(
            f"INSERT INTO audit.load_manifest ({', '.join(MANIFEST_COLUMNS)}) VALUES "
            f"({', '.join(['%s'] * len(MANIFEST_COLUMNS))})",
            astuple(record),
        )
        if files:
            cur.executemany("INSERT INTO audit.load_files VALUES (%s, %s, %s, %s, %s)", files)

    def close(self):
        self.pg.close()
        self.duck.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


def open_target(kind: str | None = None) -> Target:
    """The warehouse to load, named as everywhere else (telco360.db): `duckdb` (the embedded file under
    TELCO360_HOME) or `postgres` (TELCO360_PG_DSN); default TELCO360_WAREHOUSE."""
    from telco360.config import paths, postgres_dsn
    from telco360.db import WarehouseError, warehouse_kind

    kind = warehouse_kind(kind)
    p = paths()
    if kind == "duckdb":
        return DuckDBTarget(p.warehouse, p.tmp)
    dsn = postgres_dsn()
    if not dsn:
        raise WarehouseError("the postgres warehouse needs TELCO360_PG_DSN (`source var/pg/env`)")
    return PostgresTarget(dsn, p.tmp)

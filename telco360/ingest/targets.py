"""The warehouses the loader writes to. What is engine-specific lives here, behind `Target`.

Validation always runs in DuckDB, over the delivered files; a target only has to hold the audit
tables and swap a period's rows atomically (one transaction: delete the previous load's rows,
insert the new ones, quarantine, manifest).
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from dataclasses import astuple, dataclass
from pathlib import Path

import duckdb

from telco360.contracts import Contract
from telco360.ingest.schema import (
    AUDIT_DDL,
    MANIFEST_COLUMNS,
    QUARANTINE_COLUMNS,
    raw_column_names,
    raw_ddl,
    raw_table,
)

SEQUENCE_DDL = "CREATE SEQUENCE IF NOT EXISTS audit.load_id_seq START 1"


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
    def file_owner(self, source: str, period: str, sha256s: list[str]) -> tuple[str, int, str] | None:
        """(period, load_id, file) of a current load of another period holding a byte-identical file."""

    @abstractmethod
    def validation_connection(self) -> duckdb.DuckDBPyConnection: ...

    @abstractmethod
    def commit_load(
        self, record: LoadRecord, contract: Contract, files: list[tuple], valid_sql: str, quarantine_sql: str | None
    ) -> None: ...

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
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET temp_directory = '{tmp_dir}'")
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

    def commit_load(self, record, contract, files, valid_sql, quarantine_sql):
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


class PostgresTarget(Target):
    """The server warehouse. Rows validated in an in-memory DuckDB are streamed in with COPY."""

    name = "postgres"

    def __init__(self, dsn: str, tmp_dir: Path, memory_limit: str = "3GB"):
        import psycopg

        self.pg = psycopg.connect(dsn, autocommit=False)
        self.tmp_dir = Path(tmp_dir)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.duck = duckdb.connect()
        self.duck.execute(f"SET memory_limit = '{memory_limit}'")
        self.duck.execute(f"SET temp_directory = '{self.tmp_dir}'")
        self.duck.execute("SET preserve_insertion_order = true")
        self.duck.execute("SET enable_progress_bar = false")

    def _one(self, sql, params=()):
        with self.pg.cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
        self.pg.commit()
        return row

    def prepare(self, contracts):
        with self.pg.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(360360)")  # concurrent prepares
            for stmt in [*AUDIT_DDL, SEQUENCE_DDL, *(raw_ddl(c) for c in contracts)]:
                cur.execute(stmt)
        self.pg.commit()

    def new_load_id(self) -> int:
        return self._one("SELECT nextval('audit.load_id_seq')")[0]

    def current_load(self, source, period):
        return self._one(
            "SELECT load_id, delivery_sha256 FROM audit.load_manifest WHERE source = %s AND period = %s AND is_current",
            (source, period),
        )

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
        self.duck.execute(f"COPY ({select_sql}) TO '{path}' (FORMAT csv, HEADER false)")
        try:
            cols = ", ".join(f'"{c}"' for c in columns)
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy, path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
        finally:
            path.unlink(missing_ok=True)

    def commit_load(self, record, contract, files, valid_sql, quarantine_sql):
        try:
            with self.pg.cursor() as cur:
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
        with self.pg.cursor() as cur:
            self._insert_record(cur, record, files)
        self.pg.commit()

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

"""The one way to name and open the warehouse.

One setting names it: `TELCO360_WAREHOUSE` = `duckdb` (the embedded file under TELCO360_HOME, default) or
`postgres` (the server at TELCO360_PG_DSN); every verb of the CLI takes the same `--warehouse`. One factory
opens it: `open_warehouse()` returns a `Warehouse`, a small connection type over both engines (SQL written
once with `?` placeholders). A job opens it once and passes the handle down.

The embedded DuckDB file takes one writer per process *and* no other connection while it is open for
writing: a job that hands the file to another process (dbt in its child process) or to another connection
(Great Expectations, through SQLAlchemy, read-only) releases its handle for that step (`Warehouse.released`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

from telco360.config import paths, postgres_dsn

WAREHOUSES = ("duckdb", "postgres")
SETTING = "TELCO360_WAREHOUSE"
# names used before TELCO360_WAREHOUSE, refused so that a deployment setting one does not silently get DuckDB
RETIRED_SETTINGS = ("TELCO360_TARGET", "TELCO360_DBT_TARGET")
# what the audit trail (audit.dq_runs.target, audit.publications.target) recorded before the rename
LEGACY_NAMES = {"duckdb": "dev", "postgres": "pg"}


class WarehouseError(RuntimeError):
    """The warehouse cannot be named or opened; the message is one line that says what to do."""


class WarehouseBusy(WarehouseError):
    """Another process holds the embedded warehouse file open for writing."""


def warehouse_kind(value: str | None = None) -> str:
    """The warehouse to use: `value` if given (a --warehouse option), else TELCO360_WAREHOUSE, else duckdb."""
    if value is None:
        value = os.environ.get(SETTING)
        if value is None:
            retired = [name for name in RETIRED_SETTINGS if os.environ.get(name)]
            if retired:
                raise WarehouseError(
                    f"{retired[0]} is no longer read: set {SETTING}=duckdb or {SETTING}=postgres instead"
                )
            value = "duckdb"
    value = value.strip().lower()
    if value not in WAREHOUSES:
        raise WarehouseError(f"unknown warehouse {value!r}: {SETTING} (or --warehouse) is duckdb or postgres")
    return value


def trail_names(kind: str) -> tuple[str, str]:
    """The names a warehouse has in the audit trail: its own, and the one rows written before the rename carry
    (the trail is history and is not rewritten: readers match both)."""
    return kind, LEGACY_NAMES[kind]


def trail_kind(recorded: str) -> str:
    """A `target` read from the audit trail, in today's names."""
    return {legacy: kind for kind, legacy in LEGACY_NAMES.items()}.get(recorded, recorded)


def duckdb_lock_error(exc: Exception, path) -> WarehouseBusy | None:
    """DuckDB's "Could not set lock" as one line naming the holder, or None for any other error."""
    text = str(exc)
    if "lock" not in text.lower():
        return None
    pid = re.search(r"PID (\d+)", text)
    holder = f" (process {pid.group(1)})" if pid else ""
    return WarehouseBusy(
        f"the warehouse {path} is in use by another process{holder}: a load, build or audit is running; "
        "wait for it to finish (Airflow: the running DAG), then run this again"
    )


def connect_duckdb(path, read_only: bool = False):
    """A DuckDB connection to the warehouse file, with a lock held elsewhere reported as WarehouseBusy."""
    import duckdb

    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        busy = duckdb_lock_error(exc, path)
        if busy is None:
            raise
        raise busy from None


class Warehouse:
    """A connection to the warehouse. `kind` is `duckdb` or `postgres`; `read_only` applies to DuckDB (a
    read-only handle lets other readers in, a writable one keeps everyone else out)."""

    def __init__(self, kind: str | None = None, read_only: bool = False):
        self.kind = warehouse_kind(kind)
        self.read_only = read_only
        self.dialect = "postgresql" if self.kind == "postgres" else "duckdb"
        self.con = None
        self._open()

    @property
    def target(self) -> str:  # the dbt target of the same name (profiles.yml outputs: duckdb, postgres)
        return self.kind

    def _open(self) -> None:
        if self.kind == "postgres":
            import psycopg

            dsn = postgres_dsn()
            if not dsn:
                raise WarehouseError("the postgres warehouse needs TELCO360_PG_DSN (`source var/pg/env`)")
            try:
                self.con = psycopg.connect(dsn, autocommit=True)
            except psycopg.OperationalError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise WarehouseError(f"cannot connect to the postgres warehouse (TELCO360_PG_DSN): {first}") from None
        else:
            path = paths().warehouse
            if not path.exists():
                raise WarehouseError(f"no warehouse at {path}: load and build it first (make run)")
            self.con = connect_duckdb(path, read_only=self.read_only)

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Let another process or connection have the DuckDB file for a while (dbt's child process, GX's
        read-only engine), then reopen it. PostgreSQL serves many connections: the handle stays open."""
        if self.dialect != "duckdb":
            yield
            return
        self.con.close()
        self.con = None
        try:
            yield
        finally:
            self._open()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: tuple | list = ()):
        """`?` marks parameters; a statement without parameters is sent as it is (so `%` and `?` in its
        literals are left alone)."""
        if not params:
            return self.con.execute(sql)
        return self.con.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql":
            with self.con.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        else:
            self.con.executemany(sql, rows)

    def all(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        return self.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | list = ()):
        row = self.execute(sql, params).fetchone()
        return row[0] if row else None

    def relation_exists(self, schema: str, name: str) -> bool:
        return bool(
            self.one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                (schema, name),
            )
        )

    def column_exists(self, schema: str, table: str, column: str) -> bool:
        return bool(
            self.one(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "AND column_name = ?",
                (schema, table, column),
            )
        )

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        with contextlib.suppress(Exception):  # nothing to roll back
            self.execute("ROLLBACK")

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_warehouse(kind: str | None = None, read_only: bool = False) -> Warehouse:
    """The warehouse named by `kind` (default: TELCO360_WAREHOUSE), opened once for a job."""
    return Warehouse(kind, read_only=read_only)

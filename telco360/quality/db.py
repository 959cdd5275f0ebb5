"""One small connection type over the two warehouses (DuckDB file, PostgreSQL server) for the audit trail
and publication. SQL is written once with `?` placeholders."""

from __future__ import annotations

import contextlib

from telco360.config import paths, postgres_dsn


class WarehouseError(RuntimeError):
    pass


class Warehouse:
    def __init__(self, target: str = "dev", read_only: bool = False):
        self.target = target
        if target == "pg":
            import psycopg

            dsn = postgres_dsn()
            if not dsn:
                raise WarehouseError("target pg needs TELCO360_PG_DSN (run `make pg-up` and `source var/pg/env`)")
            self.dialect = "postgresql"
            self.con = psycopg.connect(dsn, autocommit=True)
        elif target == "dev":
            import duckdb

            self.dialect = "duckdb"
            path = paths().warehouse
            if not path.exists():
                raise WarehouseError(f"no warehouse at {path}: load and build it first (make run)")
            self.con = duckdb.connect(str(path), read_only=read_only)
        else:
            raise WarehouseError(f"unknown target {target!r} (dev or pg)")

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

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        with contextlib.suppress(Exception):  # nothing to roll back
            self.execute("ROLLBACK")

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

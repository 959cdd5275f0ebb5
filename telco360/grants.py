"""Warehouse roles and grants on PostgreSQL, from infra/roles.sql (the embedded DuckDB file has no roles:
access to it is access to the file)."""

from __future__ import annotations

from telco360.config import PROJECT_ROOT

ROLES_SQL = PROJECT_ROOT / "infra" / "roles.sql"
ROLES = ("loader", "transformer", "bi_reader", "auditor", "ml")


def apply_grants(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("SELECT pg_advisory_lock(360361)")
        try:
            con.execute(ROLES_SQL.read_text(encoding="utf-8"))
        finally:
            con.execute("SELECT pg_advisory_unlock(360361)")

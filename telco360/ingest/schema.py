"""DDL for the raw and audit schemas, identical on DuckDB and PostgreSQL."""

from __future__ import annotations

from telco360.contracts import Contract
from telco360.ingest.rules import q

LOAD_COLUMNS = [("_load_id", "BIGINT"), ("_file", "VARCHAR"), ("_row_number", "BIGINT"), ("_loaded_at", "TIMESTAMP")]

AUDIT_DDL = [
    "CREATE SCHEMA IF NOT EXISTS raw",
    "CREATE SCHEMA IF NOT EXISTS audit",
    """CREATE TABLE IF NOT EXISTS audit.load_manifest (
        load_id BIGINT PRIMARY KEY,
        source VARCHAR NOT NULL,
        period VARCHAR NOT NULL,
        delivery_path VARCHAR NOT NULL,
        delivery_sha256 VARCHAR,
        schema_version INTEGER,
        encoding VARCHAR,
        files INTEGER,
        rows_declared BIGINT,
        rows_read BIGINT,
        rows_loaded BIGINT,
        rows_quarantined BIGINT,
        status VARCHAR NOT NULL,          -- loaded | skipped | rejected
        rule VARCHAR,                     -- the rule a rejected delivery broke
        reason VARCHAR,
        is_current BOOLEAN NOT NULL,      -- the load whose rows raw.<source> holds for this period
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP NOT NULL,
        duration_s DOUBLE PRECISION
    )""",
    """CREATE TABLE IF NOT EXISTS audit.load_files (
        load_id BIGINT NOT NULL,
        file VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        bytes BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS audit.quarantine (
        load_id BIGINT NOT NULL,
        source VARCHAR NOT NULL,
        period VARCHAR NOT NULL,
        file VARCHAR NOT NULL,
        row_number BIGINT NOT NULL,       -- line in the file; the header is line 1
        rule VARCHAR NOT NULL,
        column_name VARCHAR,
        detail VARCHAR NOT NULL,
        raw_line VARCHAR NOT NULL,        -- the row exactly as delivered
        quarantined_at TIMESTAMP NOT NULL
    )""",
]

# The backstop under the loader's per-period lock: at most one current load per (source, period).
# PostgreSQL only: DuckDB has no partial indexes ("Creating partial indexes is not supported"), and a
# DuckDB warehouse has a single writer anyway (its file lock).
PG_ONE_CURRENT_LOAD_INDEX = "load_manifest_one_current"
PG_ONE_CURRENT_LOAD_DDL = (
    f"CREATE UNIQUE INDEX IF NOT EXISTS {PG_ONE_CURRENT_LOAD_INDEX} ON audit.load_manifest (source, period) "
    "WHERE is_current"
)

QUARANTINE_COLUMNS = [
    "load_id",
    "source",
    "period",
    "file",
    "row_number",
    "rule",
    "column_name",
    "detail",
    "raw_line",
    "quarantined_at",
]
MANIFEST_COLUMNS = [
    "load_id",
    "source",
    "period",
    "delivery_path",
    "delivery_sha256",
    "schema_version",
    "encoding",
    "files",
    "rows_declared",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "status",
    "rule",
    "reason",
    "is_current",
    "started_at",
    "finished_at",
    "duration_s",
]


def raw_table(contract: Contract) -> str:
    return f"raw.{contract.source}"


def raw_ddl(contract: Contract) -> str:
    cols = [f"{q(c.name)} {c.sql_type}" for c in contract.columns]
    cols += [f"{name} {typ} NOT NULL" for name, typ in LOAD_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {raw_table(contract)} (\n    " + ",\n    ".join(cols) + "\n)"


def raw_column_names(contract: Contract) -> list[str]:
    return contract.column_names + [name for name, _ in LOAD_COLUMNS]

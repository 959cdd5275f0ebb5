"""Frames in and out of the warehouse (both engines), and feature tables from files.

Names of schemas and tables here are the project's own constants, never from a user; values travel as
bound parameters or through the engines' bulk APIs (DuckDB's registered frames, PostgreSQL's COPY).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from telco360.db import Warehouse

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _ident(name: str) -> str:
    if not _NAME.match(name):  # a programming error, not user input: our names are constants
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def read_frame(db: Warehouse, sql: str, params: tuple | list = ()) -> pd.DataFrame:
    if db.dialect == "duckdb":
        return db.execute(sql, params).df()
    cur = db.execute(sql, params)
    df = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    for d in cur.description:
        col = d.name
        sample = df[col].dropna()
        # numeric columns arrive as Decimal objects from PostgreSQL; by their type, so that a column with no
        # value in these rows (a month read alone) is a float column too, not an object one (an integer column
        # with no value becomes float: int and float months concatenate to float, as one read gave)
        decimal = df[col].dtype == object and len(sample) and isinstance(sample.iloc[0], Decimal)
        if d.type_code in _PG_FLOAT_OIDS or decimal or (d.type_code in _PG_INT_OIDS and not len(sample)):
            df[col] = df[col].astype(float)
    return df


_PG_FLOAT_OIDS = {700, 701, 1700}  # real, double precision, numeric
_PG_INT_OIDS = {20, 21, 23}  # bigint, smallint, integer


_PG_TYPES = {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double precision", "M": "timestamp"}


DATE_COLUMNS = ("month", "campaign_month")  # months are dates (first of the month) in every output


def _pg_type(series: pd.Series) -> str:
    if series.name in DATE_COLUMNS:
        return "date"
    return _PG_TYPES.get(series.dtype.kind, "text")


def _pg_value(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def replace_months(db: Warehouse, schema: str, table: str, df: pd.DataFrame, months: list) -> int:
    """Replace the rows of `months` in schema.table by `df` (creating the table from df's columns if needed),
    in one transaction: the table never shows half a month."""
    schema, table = _ident(schema), _ident(table)
    for col in df.columns:
        _ident(col)
    db.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    exists = db.relation_exists(schema, table)
    db.begin()
    try:
        if db.dialect == "duckdb":
            db.con.register("_telco360_frame", df)
            select = ", ".join(f"CAST({c} AS DATE) AS {c}" if c in DATE_COLUMNS else c for c in df.columns)
            try:
                if not exists:
                    db.execute(f"CREATE TABLE {schema}.{table} AS SELECT {select} FROM _telco360_frame LIMIT 0")
                for m in months:
                    db.execute(f"DELETE FROM {schema}.{table} WHERE month = ?", (m,))
                cols = ", ".join(df.columns)
                db.execute(f"INSERT INTO {schema}.{table} ({cols}) SELECT {select} FROM _telco360_frame")
            finally:
                db.con.unregister("_telco360_frame")
        else:
            if not exists:
                cols_sql = ", ".join(f"{c} {_pg_type(df[c])}" for c in df.columns)
                db.execute(f"CREATE TABLE {schema}.{table} ({cols_sql})")
            for m in months:
                db.execute(f"DELETE FROM {schema}.{table} WHERE month = ?", (m,))
            cols = ", ".join(df.columns)
            with db.con.cursor() as cur, cur.copy(f"COPY {schema}.{table} ({cols}) FROM STDIN") as copy:
                for row in df.itertuples(index=False, name=None):
                    copy.write_row([_pg_value(v) for v in row])
        db.commit()
    except Exception:
        db.rollback()
        raise
    return len(df)


class FeatureFileError(ValueError):
    """A feature table that cannot be used: one line naming the file and what is wrong."""


def read_feature_file(path: Path) -> pd.DataFrame:
    """A feature table from elsewhere: parquet or csv (by suffix)."""
    path = Path(path)
    if not path.is_file():
        raise FeatureFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path, low_memory=False)
    except Exception as exc:  # a corrupt or unreadable file: say which and why, no traceback
        raise FeatureFileError(f"{path}: cannot read it as {suffix[1:]}: {' '.join(str(exc).split())[:300]}") from None
    raise FeatureFileError(f"{path}: expected a .parquet or .csv file")

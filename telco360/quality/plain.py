"""The same checks as plain SQL (no GX): the benchmark's baseline, a cross-check of GX's counts, and the
offending rows recorded for failed checks."""

from __future__ import annotations

from datetime import date

from telco360.quality.suites import Asset, Check, Suites, month_bounds, render, with_batch


def batch_sql(asset: Asset, month: date, dialect: str, suites: Suites) -> str:
    b = month_bounds(month)
    return (
        f"(SELECT * FROM ({render(asset.query, None, dialect, suites)}) AS a "
        f"WHERE a.{asset.month} >= DATE '{b['month']}' AND a.{asset.month} < DATE '{b['next_month']}')"
    )


def _rows_sql(check: Check, asset: Asset, month: date, dialect: str, suites: Suites) -> str:
    batch = batch_sql(asset, month, dialect, suites)
    return with_batch(render(check.rows, month, dialect, suites)).replace("{batch}", f"{batch} AS batch_source")


def _violation(check: Check) -> str | None:
    """WHERE condition of the rows a column-map check rejects (None for other checks)."""
    k, col, t = check.kwargs, check.kwargs.get("column"), check.type
    if t == "expect_column_values_to_not_be_null":
        return f"{col} IS NULL"
    if t == "expect_column_values_to_be_between":
        conds = []
        if k.get("min_value") is not None:
            conds.append(f"{col} < {k['min_value']}")
        if k.get("max_value") is not None:
            conds.append(f"{col} > {k['max_value']}")
        return " OR ".join(conds)
    if t == "expect_column_values_to_be_in_set":
        values = ", ".join(f"'{v}'" for v in k["value_set"])
        return f"{col} IS NOT NULL AND {col} NOT IN ({values})"
    return None


def _unique_columns(check: Check) -> list[str] | None:
    if check.type == "expect_column_values_to_be_unique":
        return [check.kwargs["column"]]
    if check.type == "expect_compound_columns_to_be_unique":
        return list(check.kwargs["column_list"])
    return None


def check_sql(check: Check, asset: Asset, month: date, dialect: str, suites: Suites) -> str:
    """A query returning one number: the check's unexpected count (or its observed value for aggregates)."""
    batch = batch_sql(asset, month, dialect, suites)
    if check.rows is not None:
        return f"SELECT count(*) FROM ({_rows_sql(check, asset, month, dialect, suites)}) AS q"
    cond = _violation(check)
    if cond is not None:
        return f"SELECT count(*) FROM {batch} AS b WHERE {cond}"
    cols = _unique_columns(check)
    if cols is not None:
        tup = ", ".join(cols)
        nulls = " AND ".join(f"{c} IS NOT NULL" for c in cols) if len(cols) == 1 else "TRUE"
        return (
            f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {batch} AS b WHERE {nulls} "
            f"GROUP BY {tup} HAVING count(*) > 1) AS d"
        )
    if check.type == "expect_column_mean_to_be_between":
        return f"SELECT avg({check.kwargs['column']}) FROM {batch} AS b"
    raise ValueError(f"{check.name}: no plain SQL for {check.type}")


def sample_sql(check: Check, asset: Asset, month: date, dialect: str, suites: Suites, limit: int = 10) -> str | None:
    """Up to `limit` offending rows (with the asset's keys) of a failed check, for the audit trail."""
    batch = batch_sql(asset, month, dialect, suites)
    if check.rows is not None:
        return f"SELECT * FROM ({_rows_sql(check, asset, month, dialect, suites)}) AS q LIMIT {limit}"
    cols = _unique_columns(check)
    if cols is not None:
        tup = ", ".join(cols)
        keys = ", ".join(dict.fromkeys([*asset.keys, *cols]))
        return (
            f"SELECT {keys} FROM {batch} AS b WHERE ({tup}) IN (SELECT {tup} FROM {batch} AS d "
            f"GROUP BY {tup} HAVING count(*) > 1) ORDER BY {tup} LIMIT {limit}"
        )
    cond = _violation(check)
    if cond is None:
        return None
    keys = ", ".join(dict.fromkeys([*asset.keys, check.kwargs["column"]]))
    return f"SELECT {keys} FROM {batch} AS b WHERE {cond} LIMIT {limit}"


def plain_counts(db, suites: Suites, layers, months: list[date]) -> dict[tuple[str, date], float | None]:
    out = {}
    for layer in layers:
        for asset in suites.assets.get(layer, []):
            for month in months:
                for check in asset.checks:
                    value = db.one(check_sql(check, asset, month, db.dialect, suites))
                    out[(check.name, month)] = float(value) if value is not None else None
    return out

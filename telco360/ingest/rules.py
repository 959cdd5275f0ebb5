"""Row rules of a contract compiled to SQL, evaluated by DuckDB over the delivered files.

Every field is read as text; each rule is a vectorised predicate. A row's `_fail` is the number of
the first rule it breaks (0 = valid), so the checking pass stays one cheap CASE per row and the
readable detail is built only for the few rows that fail.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from telco360.contracts import Column, Contract

DUPLICATE_KEY = -1  # _fail code for a repeated primary key (decided after the row checks)


@dataclass(frozen=True)
class Rule:
    code: int
    rule: str  # required | type | enum | format | range | period
    column: str
    condition: str  # true when the row breaks the rule
    detail: str  # SQL text expression explaining the failure


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def period_bounds(contract: Contract, period: str) -> tuple[str, str]:
    if contract.period == "daily":
        return period, period
    year, month = (int(x) for x in period.split("-"))
    return f"{period}-01", f"{period}-{calendar.monthrange(year, month)[1]:02d}"


def typed(col: Column) -> str:
    """The typed value of a text field (NULL when it does not convert)."""
    return f"TRY_CAST({q(col.name)} AS {col.sql_type})"


def _type_broken(col: Column) -> str | None:
    c, t = q(col.name), typed(col)
    if col.type == "varchar":
        return None
    if col.type in ("integer", "bigint"):
        # TRY_CAST would round '1.5' to 2; a whole number must equal its double reading
        return f"({t} IS NULL OR TRY_CAST({c} AS DOUBLE) <> {t})"
    if col.type == "money":
        return f"({t} IS NULL OR TRY_CAST({c} AS DECIMAL(18,6)) <> {t})"
    if col.type == "double":
        return f"({t} IS NULL OR NOT isfinite({t}))"
    if col.type == "date":
        return f"({t} IS NULL OR length({c}) <> 10)"
    if col.type == "timestamp":
        return f"({t} IS NULL OR length({c}) <> 19)"
    raise ValueError(col.type)


def _bound(col: Column, value) -> str:
    if col.type in ("date", "timestamp"):
        return f"{lit(value)}::{col.sql_type}"
    return repr(float(value)) if col.type in ("money", "double") else str(int(value))


def compile_rules(contract: Contract, period: str) -> list[Rule]:
    rules: list[Rule] = []
    start, end = period_bounds(contract, period)

    def add(rule, col, cond, detail):
        rules.append(Rule(len(rules) + 1, rule, col.name, cond, detail))

    for col in contract.columns:
        c = q(col.name)
        shown = f"'{col.name} = ''' || {c} || ''''"
        if col.required:
            add("required", col, f"{c} IS NULL", f"'{col.name} is empty'")
        broken = _type_broken(col)
        if broken:
            add("type", col, f"{c} IS NOT NULL AND {broken}", f"{shown} || ' is not a valid {col.type}'")
        if col.enum:
            values = ", ".join(lit(v) for v in col.enum)
            add(
                "enum",
                col,
                f"{c} NOT IN ({values})",
                f"{shown} || ' is not one of {', '.join(col.enum)}'".replace("''' ||", "''' ||"),
            )
        if col.pattern:
            add(
                "format",
                col,
                f"NOT regexp_full_match({c}, {lit(col.pattern)})",
                f"{shown} || ' does not match {col.pattern.replace(chr(39), chr(39) * 2)}'",
            )
        if col.min is not None or col.max is not None:
            parts = []
            if col.min is not None:
                parts.append(f"{typed(col)} < {_bound(col, col.min)}")
            if col.max is not None:
                parts.append(f"{typed(col)} > {_bound(col, col.max)}")
            add(
                "range",
                col,
                "(" + " OR ".join(parts) + ")",
                f"{shown} || ' is outside [{col.min if col.min is not None else ''}, "
                f"{col.max if col.max is not None else ''}]'",
            )
        if col.in_period:
            if col.type in ("date", "timestamp"):
                cond = f"CAST({typed(col)} AS DATE) NOT BETWEEN DATE {lit(start)} AND DATE {lit(end)}"
            else:
                cond = f"{c} <> {lit(period)}"
            add("period", col, cond, f"{shown} || ' is outside the delivery period {period}'")
    return rules


def fail_expression(rules: list[Rule]) -> str:
    """Number of the first broken rule, 0 when the row is valid. NULL-safe: a NULL condition is not a failure."""
    whens = "\n        ".join(f"WHEN coalesce({r.condition}, false) THEN {r.code}" for r in rules)
    return f"CASE\n        {whens}\n        ELSE 0 END"


def rule_name_expression(rules: list[Rule]) -> str:
    whens = " ".join(f"WHEN {r.code} THEN {lit(r.rule)}" for r in rules)
    return f"CASE _fail WHEN {DUPLICATE_KEY} THEN 'duplicate_key' {whens} END"


def column_name_expression(rules: list[Rule], contract: Contract) -> str:
    whens = " ".join(f"WHEN {r.code} THEN {lit(r.column)}" for r in rules)
    return f"CASE _fail WHEN {DUPLICATE_KEY} THEN {lit(','.join(contract.primary_key))} {whens} END"


def detail_expression(rules: list[Rule], contract: Contract) -> str:
    key = " || ', ' || ".join(f"coalesce({q(k)}, '')" for k in contract.primary_key)
    dup = (
        f"'duplicate_key: ({', '.join(contract.primary_key)}) = (' || {key} || ') "
        f"repeats line ' || _dup_line || ' of ' || _dup_file"
    )
    whens = " ".join(f"WHEN {r.code} THEN '{r.rule}: ' || {r.detail}" for r in rules)
    return f"CASE _fail WHEN {DUPLICATE_KEY} THEN {dup} {whens} END"


def raw_line_expression(contract: Contract) -> str:
    """The row as delivered (fields are unquoted, so joining them restores the line verbatim)."""
    sep = lit(contract.delimiter)
    return f" || {sep} || ".join(f"coalesce({q(c)}, '')" for c in contract.column_names)

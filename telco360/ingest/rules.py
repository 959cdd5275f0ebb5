"""Row rules of a contract compiled to SQL, evaluated by DuckDB over the delivered files.

Every column is read as text and judged by one rule per type, equally strict everywhere, then cast once
(`precasts`): a value must be written the plain way and convert exactly.
- integer, bigint: `-?(0|[1-9][0-9]*)`, within the type's range;
- money: the same, with at most two decimals (`12.30`, `-5`, never `12.345`, `1e3`, `+5`, ` 5`);
- double: the same, with any decimals and an optional exponent (`1.5`, `2.5e-05`, never `12.`, `1_000`, `inf`);
- date: `YYYY-MM-DD`, timestamp: `YYYY-MM-DD HH:MM:SS`, ASCII digits, a real date and time;
- text: anything; `required` also refuses a value of only blanks.
Each rule is a vectorised predicate; a row's `_fail` is the number of the first rule it breaks (0 = valid), so
checking stays one CASE per row and the readable detail is built only for rows that fail.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from telco360.contracts import Column, Contract

DUPLICATE_KEY = -1  # _fail code for a repeated primary key (decided after the row checks)
WHOLE = "-?(0|[1-9][0-9]*)"
TYPE_PATTERNS = {
    "integer": WHOLE,
    "bigint": WHOLE,
    "money": WHOLE + "([.][0-9]{1,2})?",
    "double": WHOLE + "([.][0-9]+)?([eE][-+]?[0-9]+)?",
    "date": "[0-9]{4}-[0-9]{2}-[0-9]{2}",
    "timestamp": "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}",
}
BLANKS = " \t\u3000"  # what a required text may not consist of only (ASCII space, tab, ideographic space)


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


def reader_columns(contract: Contract) -> str:
    """Every column is read as text: the rules judge how it is written."""
    return "{" + ", ".join(f"{lit(c.name)}: 'VARCHAR'" for c in contract.columns) + "}"


def line_expression(contract: Contract) -> str:
    """The line as delivered, from its text columns (the reader neither trims nor unquotes: quote = '')."""
    sep = " || " + lit(contract.delimiter) + " || "
    return sep.join(f"coalesce({q(c.name)}, '')" for c in contract.columns)


def cast_in_sql(col: Column) -> bool:
    return col.type != "varchar"


def typed(col: Column) -> str:
    """The typed value of a column, cast once by `precasts` (NULL if it does not convert)."""
    return q(f"__{col.name}") if cast_in_sql(col) else q(col.name)


def precasts(contract: Contract) -> str:
    """Cast each text-read column once; rules and the output refer to these."""
    casts = [f"TRY_CAST({q(c.name)} AS {c.sql_type}) AS {typed(c)}" for c in contract.columns if cast_in_sql(c)]
    return ", ".join(casts) if casts else "NULL AS __none"


def _type_broken(col: Column) -> str | None:
    """True when the text is not the type written plainly, or does not convert (out of range, 2026-02-30)."""
    if col.type not in TYPE_PATTERNS:
        return None
    return f"(NOT regexp_full_match({q(col.name)}, {lit(TYPE_PATTERNS[col.type])}) OR {typed(col)} IS NULL)"


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
        shown = f"'{col.name} = ''' || CAST({c} AS VARCHAR) || ''''"
        if col.required and col.type == "varchar":
            add("required", col, f"{c} IS NULL OR trim({c}, {lit(BLANKS)}) = ''", f"'{col.name} is empty or blank'")
        elif col.required:
            add("required", col, f"{c} IS NULL", f"'{col.name} is empty'")
        broken = _type_broken(col)
        if broken:
            add("type", col, f"{c} IS NOT NULL AND {broken}", f"{shown} || ' is not a valid {col.type}'")
        if col.enum:
            values = ", ".join(lit(v) for v in col.enum)
            add("enum", col, f"{c} NOT IN ({values})", f"{shown} || ' is not one of {', '.join(col.enum)}'")
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
            lo = "" if col.min is None else col.min
            hi = "" if col.max is None else col.max
            add("range", col, "(" + " OR ".join(parts) + ")", f"{shown} || ' is outside [{lo}, {hi}]'")
        if col.in_period:
            if col.type in ("date", "timestamp"):
                cond = f"CAST({typed(col)} AS DATE) NOT BETWEEN DATE {lit(start)} AND DATE {lit(end)}"
            else:
                cond = f"{c} <> {lit(period)}"
            add("period", col, cond, f"{shown} || ' is outside the delivery period {period}'")
    return rules


def fail_expression(rules: list[Rule]) -> str:
    """Number of the first broken rule, 0 when the row is valid (a NULL condition is not a failure)."""
    whens = "\n        ".join(f"WHEN coalesce({r.condition}, false) THEN {r.code}" for r in rules)
    return f"CASE\n        {whens}\n        ELSE 0 END"


def rule_name_expression(rules: list[Rule]) -> str:
    whens = " ".join(f"WHEN {r.code} THEN {lit(r.rule)}" for r in rules)
    return f"CASE _fail WHEN {DUPLICATE_KEY} THEN 'duplicate_key' {whens} END"


def column_name_expression(rules: list[Rule], contract: Contract) -> str:
    whens = " ".join(f"WHEN {r.code} THEN {lit(r.column)}" for r in rules)
    return f"CASE _fail WHEN {DUPLICATE_KEY} THEN {lit(','.join(contract.primary_key))} {whens} END"


def detail_expression(rules: list[Rule]) -> str:
    """Readable reason for a failing row (evaluated on the columns as read)."""
    whens = " ".join(f"WHEN {r.code} THEN '{r.rule}: ' || {r.detail}" for r in rules)
    return f"CASE _fail {whens} END"

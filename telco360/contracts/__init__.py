"""Source contracts: the declared shape of every operator extract (see sources.yml)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CONTRACTS_FILE = Path(__file__).with_name("sources.yml")
RULES_FILE = Path(__file__).with_name("delivery_rules.md")  # how every delivery is judged (the loader's rules)

# Contract type -> SQL type (identical spelling in DuckDB and PostgreSQL).
SQL_TYPES = {
    "varchar": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE PRECISION",
    "money": "DECIMAL(14,2)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    min: str | float | None = None
    max: str | float | None = None
    pattern: str | None = None
    in_period: bool = False
    pii: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Contract:
    source: str
    system: str
    description: str
    grain: str
    period: str  # "daily" | "monthly"
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    snapshot: bool = False
    delimiter: str = "|"
    schema_version: int = 1
    max_line_bytes: int = 65536  # a longer line is quarantined (rule line_too_long)
    max_shrink: float = 0.5  # a full snapshot with more than this share fewer rows is refused (snapshot_shrunk)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.source} has no column {name!r}")


def _column(spec: dict, source: str) -> Column:
    unknown = set(spec) - set(Column.__dataclass_fields__)
    if unknown:
        raise ValueError(f"contract {source}: column {spec.get('name')} has unknown keys {unknown}")
    if spec["type"] not in SQL_TYPES:
        raise ValueError(f"contract {source}: column {spec['name']} has unknown type {spec['type']}")
    spec = dict(spec)
    if spec.get("enum") is not None:
        spec["enum"] = tuple(str(v) for v in spec["enum"])
    for bound in ("min", "max"):  # dates stay ISO strings; numbers become floats
        if spec.get(bound) is not None and not isinstance(spec[bound], str):
            spec[bound] = float(spec[bound])
    return Column(**spec)


@functools.cache
def load_contracts(path: Path = CONTRACTS_FILE) -> dict[str, Contract]:
    """All source contracts, keyed by source name, in declaration order."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = doc.get("defaults", {})
    out: dict[str, Contract] = {}
    for name, spec in doc["sources"].items():
        columns = tuple(_column(c, name) for c in spec["columns"])
        names = [c.name for c in columns]
        if len(set(names)) != len(names):
            raise ValueError(f"contract {name}: duplicate column names")
        missing_pk = set(spec["primary_key"]) - set(names)
        if missing_pk:
            raise ValueError(f"contract {name}: primary key columns {missing_pk} are not declared")
        if spec["period"] not in ("daily", "monthly"):
            raise ValueError(f"contract {name}: period must be daily or monthly")
        out[name] = Contract(
            source=name,
            system=spec["system"],
            description=" ".join(spec["description"].split()),
            grain=spec["grain"],
            period=spec["period"],
            primary_key=tuple(spec["primary_key"]),
            columns=columns,
            snapshot=bool(spec.get("snapshot", False)),
            delimiter=spec.get("delimiter", defaults.get("delimiter", "|")),
            schema_version=int(spec.get("schema_version", defaults.get("schema_version", 1))),
            max_line_bytes=int(spec.get("max_line_bytes", defaults.get("max_line_bytes", 65536))),
            max_shrink=float(spec.get("max_shrink", defaults.get("max_shrink", 0.5))),
        )
        if len(columns) < 2:  # damaged lines are handed to the reader as lines with too many columns
            raise ValueError(f"contract {name}: at least two columns")
        if not 0 <= out[name].max_shrink < 1 or out[name].max_line_bytes < 1024:
            raise ValueError(f"contract {name}: max_shrink in [0, 1), max_line_bytes >= 1024")
    return out


def _shown(bound) -> str:
    if bound is None:
        return ""
    if isinstance(bound, float) and bound.is_integer():
        return str(int(bound))
    return str(bound)


def contracts_markdown() -> str:
    """Render the contracts as a Markdown reference (``telco360 contracts``)."""
    lines = ["# Source contracts", "", f"Generated from `{CONTRACTS_FILE.name}` and `{RULES_FILE.name}`.", ""]
    lines += [RULES_FILE.read_text(encoding="utf-8").strip(), "", "## The sources", ""]
    for c in load_contracts().values():
        lines += [
            f"### `{c.source}` ({c.system})",
            "",
            c.description,
            "",
            f"- grain: {c.grain}; delivered {c.period}{' as a full snapshot' if c.snapshot else ''}",
            f"- primary key: {', '.join(c.primary_key)}; schema version {c.schema_version}; "
            f"lines up to {c.max_line_bytes:,} bytes"
            + (f"; may shrink at most {c.max_shrink:.0%} against the current load" if c.snapshot else ""),
            "",
            "| column | type | required | rule | personal data |",
            "|---|---|---|---|---|",
        ]
        for col in c.columns:
            rules = []
            if col.enum:
                rules.append("one of " + ", ".join(col.enum))
            if col.min is not None or col.max is not None:
                rules.append(f"range [{_shown(col.min)}, {_shown(col.max)}]")
            if col.pattern:
                rules.append("matches `" + col.pattern.replace("|", "\\|") + "`")
            if col.in_period:
                rules.append("inside the delivery period")
            lines.append(
                f"| {col.name} | {col.type} | {'yes' if col.required else ''} | "
                f"{'; '.join(rules)} | {'yes' if col.pii else ''} |"
            )
        lines.append("")
    return "\n".join(lines)

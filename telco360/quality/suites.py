"""The expectation suites of `expectations/*.yml`, read and rendered for one month and one warehouse.

Placeholders in SQL (`rows:` checks and asset queries):
  {batch}                       this asset's rows for the month (substituted by GX)
  {month} {prev_month} {next_month} {month_end}   date literals
  {raw} {audit} {staging} {intermediate} {marts}  schemas ({marts} is the unpublished candidate)
  {scores} {published}          the models' unpublished outputs; the published marts they were fed
  {expected_deliveries}         (source, period) of every delivery the contracts expect in the month
  {volume_bands}                (source, band) from the raw suite's `volume_bands`
  {numbers}                     n(i) = 1..100000, to list one row per counted entity
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from telco360.config import PROJECT_ROOT

EXPECTATIONS = PROJECT_ROOT / "expectations"
LAYERS = ("raw", "staging", "marts")  # the gate of the warehouse build
MODEL_LAYERS = ("scores",)  # the models' outputs, checked before they are published next to the marts
SEVERITIES = ("critical", "warning")
DIMENSIONS = (
    "completeness",
    "uniqueness",
    "validity",
    "integrity",
    "consistency",
    "reconciliation",
    "timeliness",
    "volume",
    "distribution",
    "drift",
    "business_rules",
)
CANDIDATE_SCHEMA = "marts_candidate"
SCHEMAS = {
    "raw": "raw",
    "audit": "audit",
    "staging": "staging",
    "intermediate": "intermediate",
    "marts": CANDIDATE_SCHEMA,
    "scores": "scores_candidate",
    "published": "marts",
}


class SuiteError(ValueError):
    pass


@dataclass
class Check:
    name: str
    layer: str
    asset: str
    type: str
    severity: str
    dimension: str
    kwargs: dict = field(default_factory=dict)
    rows: str | None = None
    column: str | None = None
    description: str = ""

    @property
    def suite(self) -> str:
        return f"{self.layer}.{self.asset}"


@dataclass
class Asset:
    name: str
    layer: str
    query: str
    month: str
    keys: list[str]
    checks: list[Check]

    @property
    def table(self) -> str:
        """The relation the asset reads, as `schema.table` (with the candidate schema named `marts`)."""
        for schema in SCHEMAS:
            token = "{" + schema + "}."
            if token in self.query:
                rest = self.query.split(token, 1)[1]
                return f"{schema}.{rest.split()[0]}"
        return self.name


@dataclass
class Suites:
    assets: dict[str, list[Asset]]  # by layer
    volume_bands: dict[str, float]

    def checks(self, layers=LAYERS) -> list[Check]:
        return [c for layer in layers for a in self.assets.get(layer, []) for c in a.checks]


def _check(layer: str, asset: str, spec: dict, where: str) -> list[Check]:
    for key in ("name", "severity", "dimension"):
        if key not in spec:
            raise SuiteError(f"{where}: expectation without `{key}`")
    where = f"{where} {spec['name']}"
    if spec["severity"] not in SEVERITIES:
        raise SuiteError(f"{where}: severity must be one of {SEVERITIES}, not {spec['severity']!r}")
    if spec["dimension"] not in DIMENSIONS:
        raise SuiteError(f"{where}: dimension must be one of {DIMENSIONS}, not {spec['dimension']!r}")
    common = dict(
        layer=layer,
        asset=asset,
        severity=spec["severity"],
        dimension=spec["dimension"],
        description=" ".join(str(spec.get("description", "")).split()),
    )
    if "rows" in spec:
        if "{batch}" not in spec["rows"]:
            raise SuiteError(f"{where}: `rows` SQL must read {{batch}}")
        return [Check(name=spec["name"], type="unexpected_rows_expectation", rows=spec["rows"], **common)]
    if "type" not in spec:
        raise SuiteError(f"{where}: needs `type` (a GX expectation) or `rows` (SQL)")
    kwargs = dict(spec.get("kwargs") or {})
    if "columns" in spec:
        return [
            Check(
                name=f"{spec['name']}.{col}", type=spec["type"], kwargs={**kwargs, "column": col}, column=col, **common
            )
            for col in spec["columns"]
        ]
    column = kwargs.get("column") or (",".join(kwargs["column_list"]) if "column_list" in kwargs else None)
    return [Check(name=spec["name"], type=spec["type"], kwargs=kwargs, column=column, **common)]


def load_suites(folder: Path = EXPECTATIONS) -> Suites:
    assets: dict[str, list[Asset]] = {}
    bands: dict[str, float] = {}
    names: set[str] = set()
    for layer in LAYERS + MODEL_LAYERS:
        path = folder / f"{layer}.yml"
        if layer in MODEL_LAYERS and not path.exists():
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if doc.get("layer") != layer:
            raise SuiteError(f"{path}: `layer: {layer}` expected")
        bands.update(doc.get("volume_bands") or {})
        for a in doc["assets"]:
            where = f"{path.name} asset {a.get('name')}:"
            checks = [c for spec in a["expectations"] for c in _check(layer, a["name"], spec, where)]
            for c in checks:
                if c.name in names:
                    raise SuiteError(f"{where} expectation name {c.name} is used twice")
                names.add(c.name)
            assets.setdefault(layer, []).append(
                Asset(
                    name=a["name"],
                    layer=layer,
                    query=" ".join(a["query"].split()),
                    month=a["month"],
                    keys=list(a.get("keys") or []),
                    checks=checks,
                )
            )
    return Suites(assets=assets, volume_bands=bands)


def month_bounds(month: date) -> dict[str, date]:
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    prev = date(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1, 1)
    nxt = date(first.year + (first.month == 12), 1 if first.month == 12 else first.month + 1, 1)
    return {"month": first, "month_end": last, "prev_month": prev, "next_month": nxt}


def expected_deliveries(month: date) -> list[tuple[str, str]]:
    """Every (source, period) the contracts expect for a month: monthly files and one file per day."""
    from telco360.contracts import load_contracts

    out = []
    last = month_bounds(month)["month_end"].day
    for name, contract in load_contracts().items():
        if contract.period == "daily":
            out += [(name, month.replace(day=d).isoformat()) for d in range(1, last + 1)]
        else:
            out.append((name, month.strftime("%Y-%m")))
    return out


def _values(rows: list[tuple], alias: str) -> str:
    def lit(v):
        return f"'{v}'" if isinstance(v, str) else repr(float(v))

    return "(VALUES " + ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows) + f") AS {alias}"


def with_batch(sql: str) -> str:
    """Read {batch} once, as a CTE named `batch_rows`: GX substitutes {batch} with an aliased subquery
    (`(...) AS subselect`), which cannot take an alias of its own or appear twice."""
    body = sql.replace("{batch}", "batch_rows")
    head = "WITH batch_rows AS (SELECT * FROM {batch})"
    if body.lstrip().lower().startswith("with "):
        return head + ", " + body.lstrip()[5:]
    return head + " " + body


def render(sql: str, month: date | None, dialect: str, suites: Suites | None = None) -> str:
    """Fill the placeholders of a suite's SQL (everything but {batch}, which GX fills)."""
    values = {k: v for k, v in SCHEMAS.items()}
    if month is not None:
        values.update({k: f"DATE '{v.isoformat()}'" for k, v in month_bounds(month).items()})
        if "{expected_deliveries}" in sql:
            values["expected_deliveries"] = _values(expected_deliveries(month), "e(source, period)")
    if "{volume_bands}" in sql:
        if not suites or not suites.volume_bands:
            raise SuiteError("{volume_bands} used without volume_bands in the raw suite")
        values["volume_bands"] = _values(sorted(suites.volume_bands.items()), "v(source, band)")
    values["numbers"] = "generate_series(1, 100000) AS n(i)" if dialect == "postgresql" else "range(1, 100001) AS n(i)"
    for key, value in values.items():
        sql = sql.replace("{" + key + "}", str(value))
    return sql

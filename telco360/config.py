"""Where telco360 keeps its state: everything under one folder, TELCO360_HOME (default ./var)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Paths:
    home: Path

    @classmethod
    def from_env(cls) -> Paths:
        home = os.environ.get("TELCO360_HOME")
        return cls(Path(home).resolve() if home else PROJECT_ROOT / "var")

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def tmp(self) -> Path:
        return self.home / "tmp"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def mlflow(self) -> Path:
        return self.home / "mlflow"

    @property
    def data_docs(self) -> Path:
        return self.home / "data_docs"


def paths() -> Paths:
    return Paths.from_env()


def postgres_dsn() -> str | None:
    """The server warehouse, by reference only (never in the repository): TELCO360_PG_DSN."""
    return os.environ.get("TELCO360_PG_DSN")


_INTERVAL = re.compile(r"(\d{1,7})([smh])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
MIN_POLL_SECONDS = 10


def ingest_schedule(text: str | None = None) -> str | timedelta:
    """How often `ingest_extracts` polls the landing folder: TELCO360_INGEST_SCHEDULE, a cron expression or
    preset (Airflow checks it; default @hourly), or an interval `<n>s`, `<n>m` or `<n>h` (10 s at least),
    which polls every n seconds, minutes or hours from when the DAG starts rather than on the clock's
    minute."""
    if text is None:
        text = os.environ.get("TELCO360_INGEST_SCHEDULE", "")
    text = text.strip() or "@hourly"
    m = _INTERVAL.fullmatch(text)
    if not m:
        return text
    seconds = int(m[1]) * _UNIT_SECONDS[m[2]]
    if seconds < MIN_POLL_SECONDS:
        raise ValueError(f"TELCO360_INGEST_SCHEDULE={text!r}: polls must be at least {MIN_POLL_SECONDS} s apart")
    return timedelta(seconds=seconds)

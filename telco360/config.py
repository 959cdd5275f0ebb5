"""Where telco360 keeps its state: everything under one folder, TELCO360_HOME (default ./var)."""

from __future__ import annotations

import os
from dataclasses import dataclass
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

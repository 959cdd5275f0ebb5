"""Shared fixtures: small seeded operators generated once per session, and warehouses loaded from them."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The state folder `make test` was run with: its private PostgreSQL server (infra/pg.sh) lives there.
# (kept in the environment too: the pytest-xdist workers start after this module has moved TELCO360_HOME)
OUTER_HOME = Path(
    os.environ.get("TELCO360_TESTS_OUTER_HOME")
    or os.environ.get("TELCO360_HOME")
    or Path(__file__).resolve().parent.parent / "var"
)
os.environ["TELCO360_TESTS_OUTER_HOME"] = str(OUTER_HOME)
# Tests never touch ./var or $HOME: state goes to a per-session temporary folder.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="telco360-test-"))
os.environ["TELCO360_HOME"] = str(_SESSION_HOME)
os.environ["AIRFLOW_HOME"] = str(_SESSION_HOME / "airflow")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent.parent / "dags")
# MLflow state follows TELCO360_HOME (telco360.ml.tracking), never the shell's store
os.environ.pop("MLFLOW_TRACKING_URI", None)
# the warehouse is named per test (default duckdb), never by the shell that runs the suite
for _name in ("TELCO360_WAREHOUSE", "TELCO360_TARGET", "TELCO360_DBT_TARGET"):
    os.environ.pop(_name, None)
# dbt refuses to hash personal data without a salt (every warehouse but the demo, which generates one):
# `make test` gets a random one from var/pg/env; a bare pytest run a fixed, test-only one
os.environ.setdefault("TELCO360_PII_SALT", "telco360-tests-only-salt-0123456789")
# One OpenMP thread per process: the suite runs two workers on two cores, and gradient boosting's OpenMP
# threads spin while they wait for a core the other worker holds. Measured (telco360 train --model all, 5k x 4
# months, one run each): alone 46 s with two threads, 53 s with one; beside a busy core 109 s with two, 55 s
# with one. Set before anything loads the OpenMP runtime; the tasks and commands the tests start inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from telco360.ingest.loader import Loader  # noqa: E402
from telco360.ingest.targets import DuckDBTarget  # noqa: E402
from telco360.simulator.generate import GenerateConfig, generate  # noqa: E402

SMALL = dict(subscribers=2000, months=2, start="2026-01", seed=7)


# `make test` runs the suite in two pytest-xdist workers (`-n 2`): the three Airflow tests that build their own
# data (the real scheduler's chain, `rebuild_months`, `airflow dags test` of ingest and build) in one,
# everything else in the other. Those build their own data, so every session fixture (a built warehouse, the
# trained models) is still built once, in the other worker, and the tests on the one PostgreSQL server never
# run at the same time. Measured on a quiet machine (one run each): pytest 1,501 s in one process; in two,
# 1,345 s and 1,091 s with the scheduler's test and `rebuild_months` apart; with one OpenMP thread per process
# (below) 904 s, the other worker then the longer (880 s against 730 s); with `airflow dags test` moved apart
# and the scheduler's test polling every 20 s, 850 s (apart 840 s, the other 673 s).
# pytest-xdist's own `--dist loadgroup` does not group under pytest 9 (it renames `item._nodeid`, which
# pytest 9 no longer reads), hence this scheduler, which splits by module.
APART = ("tests/test_airflow_run.py", "tests/test_backfill.py", "tests/test_scheduler.py")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class TwoHalves(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "apart" if nodeid.split("::", 1)[0] in APART else "shared"

    return TwoHalves(config, log)


def pytest_collection_modifyitems(config, items):
    """A test kept apart must use none of the session fixtures here (they would be built a second time, in its
    worker) and not the PostgreSQL server (the other half uses it)."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if module not in APART:
            continue
        shared = [
            name
            for name, defs in item._fixtureinfo.name2fixturedefs.items()
            if defs[-1].scope == "session" and defs[-1].baseid.startswith("tests")
        ]
        if shared or item.get_closest_marker("postgres"):
            raise pytest.UsageError(f"{item.nodeid} is kept apart (conftest.APART) but shares {shared or 'PostgreSQL'}")


def make_landing(root: Path, name: str, **overrides) -> Path:
    args = {**SMALL, **overrides}
    out = root / name
    generate(GenerateConfig(out=out, progress=False, **args))
    return out


def land(delivered: Path, landing: Path, months: list[str]) -> int:
    """Copy the source systems' deliveries of `months` into a landing folder (what their transfers do); returns
    how many deliveries landed."""
    from telco360.contracts import load_contracts

    count = 0
    incoming = landing.parent / f".{landing.name}-incoming"  # same filesystem: a rename moves a whole delivery
    for source in load_contracts():
        for period in sorted((delivered / source).iterdir()):
            if period.name[:7] in months:
                # written aside, then renamed into place, as a transfer does: a poll never sees half a delivery
                shutil.copytree(period, incoming / source / period.name)
                (landing / source).mkdir(parents=True, exist_ok=True)
                (incoming / source / period.name).rename(landing / source / period.name)
                count += 1
    shutil.rmtree(incoming, ignore_errors=True)
    if not (landing / "_truth").exists():
        shutil.copytree(delivered / "_truth", landing / "_truth")
    return count


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def landing(data_root) -> Path:
    """A clean 2,000-subscriber, 2-month operator (UTF-8)."""
    return make_landing(data_root, "landing")


@pytest.fixture(scope="session")
def landing_gbk(data_root) -> Path:
    """The same operator delivered in GBK."""
    return make_landing(data_root, "landing_gbk", encoding="gbk")


@pytest.fixture(scope="session")
def landing_faults(data_root) -> Path:
    """The same operator with every planted fault (_truth/faults.json)."""
    return make_landing(data_root, "landing_faults", faults=True)


def load_duckdb(landing: Path, db: Path) -> Path:
    target = DuckDBTarget(db, db.parent / "tmp")
    try:
        Loader(target, db.parent / "tmp").load_all(landing)
    finally:
        target.close()
    return db


@pytest.fixture(scope="session")
def warehouse(landing, data_root) -> Path:
    """`landing` loaded into a DuckDB warehouse. Read-only for tests: copy it to change it."""
    return load_duckdb(landing, data_root / "wh" / "warehouse.duckdb")


@pytest.fixture(scope="session")
def warehouse_faults(landing_faults, data_root) -> Path:
    return load_duckdb(landing_faults, data_root / "wh_faults" / "warehouse.duckdb")


@contextlib.contextmanager
def telco360_home(home: Path):
    """Point TELCO360_HOME (and so the DuckDB warehouse and dbt's state) at `home` for a while."""
    saved = os.environ.get("TELCO360_HOME")
    os.environ["TELCO360_HOME"] = str(home)
    try:
        yield home
    finally:
        os.environ["TELCO360_HOME"] = saved if saved is not None else str(_SESSION_HOME)


def build_and_gate(warehouse: Path, home: Path):
    """Copy a loaded warehouse into a new TELCO360_HOME, build it with dbt, audit it and publish if it passes."""
    from telco360.db import open_warehouse
    from telco360.quality.gate import audit_and_publish
    from telco360.warehouse import build

    home.mkdir()
    shutil.copy(warehouse, home / "warehouse.duckdb")
    with telco360_home(home):
        build("duckdb")
        with open_warehouse("duckdb") as db:
            return audit_and_publish(db, trigger="test")


@pytest.fixture(scope="session")
def built_home(warehouse, data_root) -> Path:
    """A TELCO360_HOME whose DuckDB warehouse holds `landing` built through dbt, audited and published."""
    home = data_root / "built"
    result = build_and_gate(warehouse, home)
    assert result.published, result.text()
    return home


def fresh_pg_ingest_schemas() -> str:
    """The PostgreSQL server's DSN, with its raw and audit schemas dropped (a loader test starts from nothing)."""
    import psycopg

    dsn = os.environ.get("TELCO360_PG_DSN")
    assert dsn, "TELCO360_PG_DSN is not set: run the suite with `make test` (it starts PostgreSQL)"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS raw CASCADE")
        con.execute("DROP SCHEMA IF EXISTS audit CASCADE")
    return dsn


MODELS = dict(subscribers=10_000, months=5, start="2026-01", seed=11)


@pytest.fixture(scope="session")
def ml_home(data_root) -> Path:
    """A TELCO360_HOME with a 10,000-subscriber × 5-month operator built, gated and published, the models
    trained on it (MLflow under the home) and its latest month scored and published: built once per session.
    The operator's planted truth is at <home>/truth."""
    from telco360.db import open_warehouse
    from telco360.ml.jobs import train_all
    from telco360.ml.scoring import score_month

    landing = make_landing(data_root, "landing_models", **MODELS)
    raw = data_root / "ml_raw"
    raw.mkdir()
    load_duckdb(landing, raw / "warehouse.duckdb")
    home = data_root / "ml_home"
    result = build_and_gate(raw / "warehouse.duckdb", home)
    assert result.published, result.text()
    (home / "truth").symlink_to(landing / "_truth")
    (home / "landing").symlink_to(landing)
    with telco360_home(home):
        with open_warehouse("duckdb", read_only=True) as db:
            train_all(db, "all", landing / "_truth", progress=lambda line: None)
        with open_warehouse("duckdb") as db:
            scored = score_month(db)
        assert scored.published, scored.lines()
    return home

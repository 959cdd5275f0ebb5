"""Backfill: the `rebuild_months` DAG (run in Airflow) rebuilds months at once exactly as loading them one by one
does, and a late delivery for a built month rebuilds that month and the months after it, nothing before."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from telco360 import airflow_stack as af
from telco360.assets import MARTS
from telco360.db import open_warehouse
from telco360.ingest.loader import Loader
from telco360.ingest.targets import DuckDBTarget
from telco360.quality.gate import audit_and_publish
from telco360.warehouse import build

from .conftest import make_landing, telco360_home
from .test_warehouse import HISTORIES, assert_rows_equal

pytestmark = pytest.mark.airflow
MONTHS = ["2026-01", "2026-02", "2026-03"]


def published_marts(db: Path, histories: bool = False) -> dict[str, list[tuple]]:
    """Every published mart, row for row (without `_built_through_load_id`, which records which build wrote a
    row and differs by design)."""
    con = duckdb.connect(str(db), read_only=True)
    out = {}
    # and, if asked, the SCD2 histories, incremental like the marts: one month at a time carries versions on
    for schema, name in [("marts", m) for m in MARTS] + [("intermediate", h) for h in HISTORIES if histories]:
        cols = [
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "AND column_name <> '_built_through_load_id' ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
        ]
        assert cols, name
        out[name] = con.execute(f"SELECT {', '.join(cols)} FROM {schema}.{name} ORDER BY ALL").fetchall()
    con.close()
    return out


def load_month(landing: Path, home: Path, month: str) -> int:
    target = DuckDBTarget(home / "warehouse.duckdb", home / "tmp")
    try:
        loader = Loader(target, home / "tmp")
        results = [
            r
            for source in loader.contracts
            for r in loader.load_source(
                landing, source, periods=[p.name for p in (landing / source).iterdir() if p.name[:7] == month]
            )
        ]
    finally:
        target.close()
    assert results and all(r.status == "loaded" for r in results), [r.line() for r in results]
    return len(results)


@pytest.fixture(scope="module")
def backfill_landing(tmp_path_factory) -> Path:
    return make_landing(tmp_path_factory.mktemp("backfill"), "landing", subscribers=1500, months=3, seed=23)


@pytest.fixture(scope="module")
def one_by_one(backfill_landing, tmp_path_factory) -> Path:
    """Months delivered one at a time, each built, audited and published (what the asset chain does)."""
    home = tmp_path_factory.mktemp("one_by_one")
    with telco360_home(home):
        for month in MONTHS:
            load_month(backfill_landing, home, month)
            build("duckdb")
            with open_warehouse("duckdb") as db:
                result = audit_and_publish(db, trigger="test")
            assert result.published, result.text()
    return home


def test_rebuilding_three_months_at_once_equals_loading_them_one_by_one(backfill_landing, one_by_one, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "landing").symlink_to(backfill_landing)
    st = af.stack(home)
    af.prepare(st)  # migrated metadata DB, writer pool, dbt manifest: what `make airflow-init` does
    env = af.airflow_env(st)
    conf = json.dumps({"start": MONTHS[0], "end": MONTHS[-1]})
    run = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "dags", "test", "rebuild_months", "--conf", conf],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0 and "state=success" in out, out[-4000:]
    rebuilt = published_marts(home / "warehouse.duckdb", histories=True)
    stepwise = published_marts(one_by_one / "warehouse.duckdb", histories=True)
    assert set(rebuilt) == set(stepwise) == set(MARTS) | set(HISTORIES)
    for name in rebuilt:
        assert_rows_equal(rebuilt[name], stepwise[name], name)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    (trigger, months, verdict), *_ = con.execute(
        "SELECT trigger, months, verdict FROM audit.dq_runs ORDER BY started_at DESC"
    ).fetchall()
    con.close()
    assert (trigger, verdict) == ("rebuild_months", "passed")
    assert sorted(months.split(",")) == MONTHS


def test_rebuild_months_refuses_months_that_are_not_months(tmp_path):
    from telco360.airflow_tasks import months_range

    assert months_range("2026-01", "2026-03") == ("2026-01", "2026-03")
    for start, end in (
        ("2026-13", "2026-13"),
        ("２０２６-０１", "2026-01"),
        ("2026-03", "2026-01"),
        ("2026-1", "2026-02"),
    ):
        with pytest.raises(ValueError):
            months_range(start, end)


def test_a_late_delivery_rebuilds_its_month_and_the_months_after_nothing_before(backfill_landing, one_by_one, tmp_path):
    from telco360.airflow_tasks import load_months, rebuild_from
    from telco360.simulator.faults import _refresh_manifest

    home = tmp_path / "home"
    shutil.copytree(one_by_one, home, ignore=shutil.ignore_patterns("dbt"))
    landing = tmp_path / "landing"
    shutil.copytree(backfill_landing, landing)
    (home / "landing").symlink_to(landing)
    # February's billing arrives again, late and corrected: one bill line was 10 yuan too low
    part = landing / "billing_items" / "2026-02" / "part-00000.txt"
    header, first, *rest = part.read_text().splitlines(keepends=True)
    amount = header.rstrip("\n").split("|").index("amount")
    fields = first.rstrip("\n").split("|")
    corrected_sub = int(fields[1])
    fields[amount] = str(Decimal(fields[amount]) + 10)
    part.write_text("".join([header, "|".join(fields) + "\n", *rest]))
    _refresh_manifest(part.parent)

    def built_through(db: Path) -> dict[str, int]:
        con = duckdb.connect(str(db), read_only=True)
        rows = con.execute(
            "SELECT strftime(month, '%Y-%m'), max(_built_through_load_id) FROM marts.customer_360 GROUP BY 1"
        ).fetchall()
        con.close()
        return dict(rows)

    def revenue(db: Path) -> dict[str, Decimal]:
        con = duckdb.connect(str(db), read_only=True)
        rows = con.execute(
            "SELECT strftime(month, '%Y-%m'), sum(revenue) FROM marts.customer_360 WHERE sub_id = ? GROUP BY 1",
            [corrected_sub],
        ).fetchall()
        con.close()
        return dict(rows)

    before, revenue_before = built_through(home / "warehouse.duckdb"), revenue(home / "warehouse.duckdb")
    with telco360_home(home):
        os.environ.pop("TELCO360_WAREHOUSE", None)
        summaries = load_months(["billing_items", "crm_subscriber"], "2026-02", "2026-02")
        assert [(s["source"], s["periods_loaded"]) for s in summaries] == [
            ("billing_items", ["2026-02"]),
            ("crm_subscriber", []),  # unchanged: skipped, not reloaded
        ]
        rebuild_from("2026-02")
        with open_warehouse("duckdb") as db:
            result = audit_and_publish(db, trigger="test")
        assert result.published, result.text()
    after = built_through(home / "warehouse.duckdb")
    assert after["2026-01"] == before["2026-01"]  # January was not rebuilt
    assert after["2026-02"] > before["2026-02"] and after["2026-03"] > before["2026-03"]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    total, billed = con.execute("""
        SELECT (SELECT sum(revenue) FROM marts.customer_360 WHERE month = DATE '2026-02-01'),
               (SELECT sum(amount) FROM raw.billing_items WHERE bill_month = '2026-02')""").fetchone()
    con.close()
    assert total == billed
    # the corrected line shows in February only
    assert revenue(home / "warehouse.duckdb") == {**revenue_before, "2026-02": revenue_before["2026-02"] + 10}


def test_a_model_failing_mid_build_leaves_bi_users_on_the_last_good_build(backfill_landing, one_by_one, tmp_path):
    """Drill: a corrected March billing arrives, but the build fails half-way (the complaints extract changed a
    column name under raw: its staging model errors and everything downstream of it is skipped). The published
    marts stay exactly as they were, and the gate, run by hand after the failure, publishes nothing and says why."""
    from telco360.simulator.faults import _refresh_manifest
    from telco360.warehouse import BuildFailed

    home = tmp_path / "home"
    shutil.copytree(one_by_one, home, ignore=shutil.ignore_patterns("dbt"))
    landing = tmp_path / "landing"
    shutil.copytree(backfill_landing / "billing_items" / "2026-03", landing / "billing_items" / "2026-03")
    part = landing / "billing_items" / "2026-03" / "part-00000.txt"
    header, first, *rest = part.read_text().splitlines(keepends=True)
    fields = first.rstrip("\n").split("|")
    amount = header.rstrip("\n").split("|").index("amount")
    fields[amount] = str(Decimal(fields[amount]) + 10)
    part.write_text("".join([header, "|".join(fields) + "\n", *rest]))
    _refresh_manifest(part.parent)
    last_good = published_marts(home / "warehouse.duckdb")
    with telco360_home(home):
        target = DuckDBTarget(home / "warehouse.duckdb", home / "tmp")
        (loaded,) = Loader(target, home / "tmp").load_all(landing, sources=["billing_items"])
        target.con.execute("ALTER TABLE raw.complaint RENAME COLUMN category TO complaint_category")
        target.close()
        assert loaded.status == "loaded"
        with pytest.raises(BuildFailed, match="stg_"):
            build("duckdb")
        assert published_marts(home / "warehouse.duckdb") == last_good
        with open_warehouse("duckdb") as db:
            result = audit_and_publish(db, trigger="test")
        assert result.published is None and result.run is None, result.text()
        assert result.text() == (
            "the candidate marts were not rebuilt since the last publication: 1 deliveries loaded since "
            "(billing_items 2026-03) wait for a successful dbt build; marts stay through 2026-03"
        )
    assert published_marts(home / "warehouse.duckdb") == last_good

"""The Airflow UI as `make airflow` starts it (api-server, scheduler, dag-processor and triggerer on
127.0.0.1, user `admin` with a password generated under $TELCO360_HOME/airflow), with no network: log in, the
telco360 DAGs are listed, the latest pipeline run (through the real scheduler) succeeded, and the dbt models
show as tasks of their own."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from telco360 import airflow_stack as af

from ..conftest import make_landing
from .conftest import free_port
from .test_listen_addresses import listening

pytestmark = [pytest.mark.e2e]
DAGS = ("ingest_extracts", "build_warehouse", "train_models", "score_customers", "rebuild_months")


@pytest.fixture(scope="session")
def airflow_home(data_root):
    """A home whose ingest and warehouse build ran under the real scheduler: one month of 1,500 subscribers,
    ingested, built, audited and published (the models need more months: their DAGs are paused here)."""
    home = data_root / "e2e_airflow"
    make_landing(home, "landing", subscribers=1500, months=1)
    return home


@pytest.fixture(scope="session")
def airflow_url(airflow_home):
    st = af.stack(airflow_home, free_port())
    try:
        af.up(st)
        api = af.Api(st)
        for dag_id in ("train_models", "score_customers"):
            api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": True})
        since = datetime.now(UTC)
        api.trigger("ingest_extracts")
        result = af.follow(api, since, last="build_warehouse", timeout=1200)
        assert result.ok, "\n".join(result.lines())
        yield st.url, af.running(st)["api-server"]
    finally:
        af.down(st)


def admin_password(home) -> str:
    files = sorted((home / "airflow").rglob("*passwords*"))
    assert files, f"no generated password under {home / 'airflow'}"
    return json.loads(files[0].read_text())["admin"]


def log_in(page, url: str, home) -> None:
    page.goto(url)
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(admin_password(home))
    page.locator("button[type=submit]").click()
    page.get_by_text("DAGs", exact=False).first.wait_for(timeout=60_000)


def test_airflow_listens_on_loopback_only(airflow_url):
    _, pid = airflow_url
    addresses = listening(pid)
    assert addresses and {ip for ip, _ in addresses} == {"127.0.0.1"}, addresses


def test_the_dags_are_listed(airflow_url, airflow_home, offline, shots):
    url, _ = airflow_url
    page = offline.page
    log_in(page, url, airflow_home)
    page.goto(f"{url}/dags")
    for dag in DAGS:
        page.get_by_role("link", name=dag, exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "airflow-dags.png"))
    assert offline.left_the_machine == []


def test_the_latest_pipeline_run_succeeded_with_a_task_per_dbt_model(airflow_url, airflow_home, offline, shots):
    url, _ = airflow_url
    page = offline.page
    log_in(page, url, airflow_home)
    page.goto(f"{url}/dags/build_warehouse/runs")
    page.get_by_text("Success", exact=True).first.wait_for(timeout=30_000)  # the run's state, as the UI shows it
    assert page.get_by_text("Failed", exact=True).count() == 0
    page.goto(f"{url}/dags/build_warehouse/tasks")
    body = page.locator("body")
    for model in ("stg_crm__subscribers", "int_billing__monthly", "customer_360"):
        page.get_by_text(model, exact=False).first.wait_for(timeout=30_000)
    assert "audit_and_publish" in body.inner_text()
    page.screenshot(path=str(shots / "airflow-build-warehouse.png"))
    assert offline.left_the_machine == []

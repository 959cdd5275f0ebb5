"""The MLflow UI (`make mlflow`) on the demo's tracking store, with no network: the churn experiment and its
runs, the `champion` alias in the registry, and a run's plots."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def churn(demo):
    """What the tracking store says (read with MLflow's client), for the UI to show."""
    from telco360.ml.config import CHAMPION, CHURN_EXPERIMENT, CHURN_MODEL
    from telco360.ml.tracking import client

    from ..conftest import telco360_home

    with telco360_home(demo.home):
        c = client()
        experiment = c.get_experiment_by_name(CHURN_EXPERIMENT)
        champion = c.get_model_version_by_alias(CHURN_MODEL, CHAMPION)
        run = c.get_run(champion.run_id)
        runs = c.search_runs([experiment.experiment_id])
    return {
        "experiment_id": experiment.experiment_id,
        "version": champion.version,
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "runs": len(runs),  # the chosen model's parent run and the compared candidates, nested
    }


def close_assistant(page) -> None:
    """MLflow 3.17 opens an assistant panel beside every page; people close it."""
    close = page.locator("[data-component-id='mlflow.assistant.chat_panel.close']")
    if close.count():
        close.click()


def test_the_churn_experiment_lists_its_runs(mlflow_url, churn, offline, shots):
    url, _ = mlflow_url
    page = offline.page
    page.goto(f"{url}/#/experiments")
    # MLflow 3.17 opens experiments in its GenAI view: the runs are under "Model training"
    page.get_by_text("Model training", exact=True).click()
    page.get_by_role("link", name="telco360-churn").click()
    page.get_by_text(f"{churn['runs']} matching runs").wait_for(timeout=30_000)
    close_assistant(page)
    page.get_by_role("link", name=churn["run_name"], exact=True).wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "mlflow-experiment.png"))
    assert offline.left_the_machine == []


def test_the_registry_shows_the_champion_alias(mlflow_url, churn, offline, shots):
    url, _ = mlflow_url
    page = offline.page
    page.goto(f"{url}/#/models/telco360-churn")
    row = page.locator("[role=row]", has_text=f"Version {churn['version']}")
    row.wait_for(timeout=30_000)
    close_assistant(page)
    assert "@ champion" in row.inner_text().replace("\xa0", " ")
    # the reason is kept on the version, as a tag
    assert "champion_since_reason" in row.inner_text()
    page.screenshot(path=str(shots / "mlflow-registry.png"))
    assert offline.left_the_machine == []


@pytest.mark.parametrize("plot", ["plots/roc_curve.png", "plots/lift_gains.png"])
def test_a_runs_plots_open(mlflow_url, churn, offline, shots, plot):
    url, _ = mlflow_url
    page = offline.page
    page.goto(f"{url}/#/experiments/{churn['experiment_id']}/runs/{churn['run_id']}/artifacts")
    folder, name = plot.split("/")
    close_assistant(page)
    page.get_by_text(folder, exact=True).click()
    page.get_by_text(name, exact=True).click()
    image = page.locator(f"img[alt='{plot}']")
    image.wait_for(timeout=30_000)
    page.wait_for_function("i => i.complete && i.naturalWidth > 300", arg=image.element_handle())
    width, height = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert width > 300 and height > 200, (width, height)
    if name == "roc_curve.png":
        page.wait_for_timeout(300)
        page.screenshot(path=str(shots / "mlflow-run-plot.png"))
    assert offline.left_the_machine == []

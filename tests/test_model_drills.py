"""Drill: training fails half-way (the artifact store is full when the chosen churn model is being saved). The
job fails loudly, its MLflow run is marked failed, no version is registered, the champion stays the champion,
the published scores are untouched, and the next scoring still uses the same champion."""

from __future__ import annotations

import shutil
import time

import duckdb
import pytest

from tests.conftest import telco360_home

SCORES = ("churn_scores", "propensity_scores")


def published_scores(home) -> dict[str, tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM marts.{t}").fetchone() for t in SCORES}
    finally:
        con.close()


def test_a_training_failure_leaves_the_champion_and_the_published_scores_as_they_were(ml_home, tmp_path):
    import mlflow

    from telco360.db import open_warehouse
    from telco360.ml import registry
    from telco360.ml.config import CHURN_MODEL
    from telco360.ml.jobs import train_all
    from telco360.ml.scoring import score_month

    home = tmp_path / "home"
    shutil.copytree(ml_home, home, symlinks=True)
    before = published_scores(home)
    assert before["churn_scores"][0] > 1000
    with telco360_home(home):
        from telco360.ml.tracking import client, setup

        setup("telco360-churn")
        champion = registry.champion_version(CHURN_MODEL)
        assert champion is not None
        versions = {v.version for v in client().search_model_versions(f"name = '{CHURN_MODEL}'")}

        real_log_model = mlflow.sklearn.log_model

        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        mlflow.sklearn.log_model = disk_full
        started_ms = int(time.time() * 1000)
        try:
            with open_warehouse("duckdb", read_only=True) as db, pytest.raises(OSError, match="No space left"):
                train_all(db, "churn", home / "truth", progress=lambda line: None)
        finally:
            mlflow.sklearn.log_model = real_log_model

        assert registry.champion_version(CHURN_MODEL).version == champion.version
        assert {v.version for v in client().search_model_versions(f"name = '{CHURN_MODEL}'")} == versions
        runs = client().search_runs(
            [mlflow.get_experiment_by_name("telco360-churn").experiment_id],
            filter_string=f"attributes.start_time >= {started_ms}",
        )
        parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]  # not the candidates' nested runs
        assert [r.info.status for r in parents] == ["FAILED"]
        assert published_scores(home) == before

        # the next scoring (the monthly job, re-run) still scores with the same champion
        with open_warehouse("duckdb") as db:
            result = score_month(db)
        assert result.published, result.lines()
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    used = con.execute("SELECT DISTINCT model_version FROM marts.churn_scores").fetchall()
    con.close()
    assert used == [(str(champion.version),)] or used == [(int(champion.version),)]

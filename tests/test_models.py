"""The training steps, the registry's promotion rule and `telco360 train --features` on planted tables.

The tables are drawn here from a known logistic model, so every check compares with the truth that produced
the labels (the oracle), not with the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from telco360.cli import main
from telco360.ml.config import Promotion, TrainSettings
from telco360.ml.registry import decide
from telco360.ml.train import split_by_time, top_share

FAST = TrainSettings(evaluate_with_mlflow=False, importance_sample=1000)


def planted_table(n: int = 4000, months: int = 4, seed: int = 3) -> pd.DataFrame:
    """Subscribers × months with a label drawn from a known logistic model of two numbers and a category."""
    rng = np.random.default_rng(seed)
    parts = []
    for m in range(months):
        x1, x2, noise = rng.normal(size=(3, n))
        plan = rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2])
        z = -2.6 + 1.3 * x1 + 0.7 * x2 + np.select([plan == "premium", plan == "plus"], [1.0, 0.4], 0.0)
        p = 1 / (1 + np.exp(-z))
        parts.append(
            pd.DataFrame(
                {
                    "month": pd.Timestamp("2026-01-01") + pd.DateOffset(months=m),
                    "customer_id": np.arange(n) + 1_000_000,
                    "x1": x1,
                    "x2": x2,
                    "noise": noise,
                    "plan": plan,
                    "true_p": p,
                    "churned": (rng.random(n) < p).astype(int),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@pytest.fixture()
def mlflow_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.unit
def test_time_split_trains_on_earlier_months_only():
    df = planted_table(n=50, months=4)
    split = split_by_time(df, "month")
    assert split.train["month"].max() < split.valid["month"].min() <= split.valid["month"].max()
    assert split.valid["month"].max() < split.test["month"].min()
    assert sorted(split.train["month"].dt.month.unique()) == [1, 2]
    two = split_by_time(df[df["month"] <= "2026-02-01"], "month")
    assert set(two.train["month"].dt.month) == {1} and set(two.test["month"].dt.month) == {2}
    assert len(two.valid) + len(two.test) == 50 and not set(two.valid.index) & set(two.test.index)


@pytest.mark.unit
def test_time_split_of_the_labelled_rows_without_copying_them_first():
    """Training splits the labelled rows straight from the feature frame (a mask, not a filtered copy of 3M
    rows): the same rows, in the same order, as splitting a filtered copy; the unlabelled last month is no
    period at all."""
    df = planted_table(n=60, months=5)
    df["churned"] = df["churned"].astype("Int64")
    df.loc[df["month"] == df["month"].max(), "churned"] = pd.NA  # the last month's label is unknown
    df.loc[df.index % 7 == 0, "churned"] = pd.NA
    labelled = df["churned"].notna()
    masked, copied = split_by_time(df, "month", labelled), split_by_time(df[labelled], "month")
    for role in ("train", "valid", "test"):
        a, b = getattr(masked, role), getattr(copied, role)
        assert list(a.index) == list(b.index) and a["churned"].notna().all(), role
    assert sorted(masked.test["month"].dt.month.unique()) == [4] and masked.how == copied.how
    assert len(masked.train) == sum(labelled & (df["month"].dt.month <= 2))


@pytest.mark.unit
def test_importance_rows_are_a_case_control_sample_every_positive_up_to_half():
    from telco360.ml.train import importance_rows

    rng = np.random.default_rng(7)
    cases = [(10_000, 0.03, 2000), (10_000, 0.003, 2000), (10_000, 0.4, 2000), (1500, 0.1, 2000), (2500, 0.9, 2000)]
    for n, rate, sample in cases:
        y = (rng.random(n) < rate).astype(int)
        rows = importance_rows(y, sample, seed=11)
        assert len(rows) == min(n, sample) and len(np.unique(rows)) == len(rows)
        assert np.all(np.diff(rows) > 0)  # sorted, no repeats
        if n <= sample:
            assert np.array_equal(rows, np.arange(n))
            continue
        taken_pos, taken_neg = int(y[rows].sum()), int((y[rows] == 0).sum())
        all_pos, all_neg = int(y.sum()), int((y == 0).sum())
        if all_pos <= sample / 2:  # a rare label: every positive is in
            assert taken_pos == all_pos
        elif all_neg >= sample / 2:  # plenty of both: half and half
            assert taken_pos == taken_neg == sample / 2
        else:  # negatives run short: every negative, positives fill the rest
            assert taken_neg == all_neg and taken_pos == sample - all_neg
        assert np.array_equal(rows, importance_rows(y, sample, seed=11))  # reproducible from the seed
        assert not np.array_equal(rows, importance_rows(y, sample, seed=12))
    # at a 1% rate, 2,000 random rows of 20,000 would hold about 20 positives; this sample holds all of them
    y = (rng.random(20_000) < 0.01).astype(int)
    assert y[importance_rows(y, 2000, seed=1)].sum() == y.sum() > 150


def test_importance_encodes_once_and_equals_permuting_the_input_for_both_models():
    """The encoded-space shortcut gives sklearn's figures on the whole pipeline (same seed), for gradient
    boosting (ordinal codes) and logistic (one-hot with an infrequent bucket, imputation with missing
    indicators, scaling), and ranks the planted drivers: x1 above x2 above noise."""
    from sklearn.inspection import permutation_importance
    from sklearn.preprocessing import FunctionTransformer

    from telco360.ml.train import Columns, encoded_blocks, importance, importance_rows, make_estimator, prepare

    df = planted_table(n=3000, months=1)
    df.loc[df.index[::7], "x2"] = np.nan  # a missing indicator in logistic's encoding
    df.loc[df.index[:5], "plan"] = "rare"  # below one-hot's min_frequency: the infrequent bucket
    cols = Columns(["x1", "x2", "noise"], ["plan"])
    X, y = prepare(df, cols), df["churned"].to_numpy()
    settings = TrainSettings(importance_sample=2000)
    rows = importance_rows(y, 2000, settings.seed)  # what the rows are: test_importance_rows_...
    for kind in ("hist_gradient_boosting", "logistic"):
        model = make_estimator(kind, cols, settings).fit(X, y)
        blocks = encoded_blocks(model, list(X.columns))
        assert blocks is not None, kind
        widths = dict(zip(X.columns, map(len, blocks), strict=True))
        if kind == "logistic":  # one column per frequent plan + the infrequent one; x2: value and indicator
            assert widths == {"plan": df["plan"].value_counts().ge(20).sum() + 1, "x1": 1, "x2": 2, "noise": 1}
        else:
            assert set(widths.values()) == {1}
        fast = importance(model, X, y, settings).set_index("feature")["importance"]
        slow = permutation_importance(
            model, X.iloc[rows], y[rows], scoring="roc_auc", n_repeats=3, random_state=settings.seed, n_jobs=1
        )
        assert fast.to_dict() == pytest.approx(dict(zip(X.columns, slow.importances_mean, strict=True)), abs=1e-12)
        assert fast["x1"] > fast["x2"] > fast["noise"], kind
    # a logistic model on numbers alone, or on categories alone: the empty part of its encoding is never fitted
    for only in (Columns(["x1", "x2", "noise"], []), Columns([], ["plan"])):
        Xo = prepare(df, only)
        model = make_estimator("logistic", only, settings).fit(Xo, y)
        assert encoded_blocks(model, list(Xo.columns)) is not None
        fast = importance(model, Xo, y, settings).set_index("feature")["importance"]
        slow = permutation_importance(
            model, Xo.iloc[rows], y[rows], scoring="roc_auc", n_repeats=3, random_state=settings.seed, n_jobs=1
        )
        assert fast.to_dict() == pytest.approx(dict(zip(Xo.columns, slow.importances_mean, strict=True)), abs=1e-12)
    # an encoding it cannot trace (a function of several columns) is permuted through sklearn
    from sklearn.pipeline import make_pipeline

    opaque = make_pipeline(FunctionTransformer(lambda a: a), make_estimator("logistic", cols, settings)).fit(X, y)
    assert encoded_blocks(opaque, list(X.columns)) is None
    assert importance(opaque, X, y, settings).set_index("feature")["importance"].to_dict() == pytest.approx(
        dict(
            zip(
                X.columns,
                permutation_importance(
                    opaque, X.iloc[rows], y[rows], scoring="roc_auc", n_repeats=3, random_state=settings.seed, n_jobs=1
                ).importances_mean,
                strict=True,
            )
        ),
        abs=1e-12,
    )


@pytest.mark.unit
def test_top_decile_lift_and_capture_by_hand():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1] * 2)  # 6 positives in 20 rows
    p = np.linspace(1, 0, 20)  # rows in score order: the top two (10%) are rows 0 and 1, both positive
    lift, capture = top_share(y, p)
    assert lift == pytest.approx(1.0 / (6 / 20))
    assert capture == pytest.approx(2 / 6)


@pytest.mark.unit
def test_promotion_rule_reasons():
    rule = Promotion(margin=0.01, floor_auc=0.6)
    assert decide({"roc_auc": 0.7}, None, True, rule).promote
    low = decide({"roc_auc": 0.55}, None, True, rule)
    assert not low.promote and any("below the floor" in r for r in low.reasons)
    close = decide({"roc_auc": 0.705}, {"roc_auc": 0.70}, True, rule)
    assert not close.promote and any("does not beat" in r for r in close.reasons)
    assert decide({"roc_auc": 0.72}, {"roc_auc": 0.70}, True, rule).promote
    gate = decide({"roc_auc": 0.9}, {"roc_auc": 0.70}, False, rule)
    assert not gate.promote and any("quality gate" in r for r in gate.reasons)


def test_train_any_table_from_the_command_line(tmp_path, mlflow_store, capsys):
    """A csv from elsewhere: categories encoded by the pipeline, identifiers left out, a stratified split
    announced, and a model close to the planted truth."""
    df = planted_table(n=3000, months=1).drop(columns=["month"])
    path = tmp_path / "their_table.csv"
    df.drop(columns=["true_p"]).to_csv(path, index=False)
    assert main(["train", "--features", str(path), "--label", "churned"]) == 0
    out = capsys.readouterr().out
    assert "stratified" in out and "does not respect time" in out
    assert "not used as features (identifiers): customer_id" in out
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{mlflow_store / 'mlflow.db'}")
    c = MlflowClient()
    mv = c.get_model_version_by_alias("telco360-external-their_table", "champion")
    run = c.get_run(mv.run_id)
    model = mlflow.sklearn.load_model("models:/telco360-external-their_table@champion")
    auc_all = roc_auc_score(df["churned"], model.predict_proba(df[["plan", "x1", "x2", "noise"]])[:, 1])
    oracle_all = roc_auc_score(df["churned"], df["true_p"])
    assert auc_all > oracle_all - 0.03
    assert run.data.params["time_column"].startswith("(none")
    assert {"plan", "x1", "x2", "noise"} == set(model.feature_names_in_)


def test_train_any_table_by_time_and_bad_inputs(tmp_path, mlflow_store, capsys):
    df = planted_table(n=2000, months=3)
    path = tmp_path / "by_month.parquet"
    df.drop(columns=["true_p"]).to_parquet(path)
    assert main(["train", "--features", str(path), "--label", "churned", "--time-column", "month"]) == 0
    out = capsys.readouterr().out
    assert "split by time: train 2026-01; validate 2026-02; test 2026-03" in out
    assert main(["train", "--features", str(path), "--label", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no label column 'nope'" in err and "Traceback" not in err
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    assert main(["train", "--features", str(broken), "--label", "churned"]) == 1
    assert "cannot read it as parquet" in capsys.readouterr().err
    assert main(["train", "--label", "churned"]) == 2  # --label without --features


def test_registry_promotes_better_keeps_worse_and_rolls_back(mlflow_store, capsys):
    """Promotion both ways, on the same holdout: a weak first model is champion (no champion yet), a better
    one replaces it, a worse one stays challenger; rollback gives the alias back."""
    import mlflow
    from mlflow import MlflowClient

    from telco360.ml.classifier import train_classifier

    df = planted_table(n=3000, months=4).drop(columns=["true_p"])
    name = "telco360-test-churn"

    def train(exclude):
        return train_classifier(df, "churned", name, "test", "month", {"customer_id", *exclude}, {}, True, FAST)

    weak = train({"x1"})  # without the strongest driver
    strong = train(set())
    worse = train({"x1", "x2"})
    c = MlflowClient()
    assert weak.promoted and strong.promoted and not worse.promoted
    assert strong.test["roc_auc"] > weak.test["roc_auc"] + 0.05
    assert str(c.get_model_version_by_alias(name, "champion").version) == strong.version
    assert str(c.get_model_version_by_alias(name, "challenger").version) == worse.version
    tags = c.get_model_version(name, worse.version).tags
    assert tags["decision"] == "challenger" and "does not beat the champion" in tags["decision_reasons"]
    # the worse model was compared with the champion on its own holdout rows
    run = c.get_run(worse.run_id)
    assert run.data.metrics["champion_test_roc_auc"] == pytest.approx(strong.test["roc_auc"], abs=1e-9)
    assert main(["models", "rollback", name]) == 0
    assert str(c.get_model_version_by_alias(name, "champion").version) == weak.version
    assert main(["models", "promote", name, strong.version]) == 0
    assert str(c.get_model_version_by_alias(name, "champion").version) == strong.version
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"{name}" in listing and "champion" in listing and "challenger" in listing
    assert main(["models", "promote", name, "99"]) == 1
    assert "has no version 99" in capsys.readouterr().err
    assert mlflow.get_tracking_uri().startswith("sqlite:")


def test_candidate_runs_log_metrics_plots_and_model(mlflow_store):
    from mlflow import MlflowClient

    from telco360.ml.classifier import train_classifier

    df = planted_table(n=2000, months=3).drop(columns=["true_p"])
    res = train_classifier(
        df,
        "churned",
        "telco360-test-plots",
        "plots",
        "month",
        {"customer_id"},
        {"data.months": "x"},
        True,
        TrainSettings(importance_sample=1000),
    )
    c = MlflowClient()
    run = c.get_run(res.run_id)
    for metric in ("test_roc_auc", "test_pr_auc", "test_top_decile_lift", "test_top_decile_capture", "test_brier"):
        assert metric in run.data.metrics
    files = {f.path for f in c.list_artifacts(res.run_id, "plots")}
    for plot in ("roc_curve.png", "precision_recall_curve.png", "lift_gains.png", "calibration_curve.png"):
        assert f"plots/{plot}" in files
    assert "plots/feature_importance.png" in files
    everything = {f.path for f in c.list_artifacts(res.run_id)}
    assert any("calibration" in f.lower() for f in everything - files)  # mlflow.models.evaluate's own plots
    children = c.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{res.run_id}'")
    assert {r.data.params["model"] for r in children} == {"logistic", "hist_gradient_boosting"}
    for child in children:  # metrics only: their curves are drawn in the parent's charts, beside the served model
        assert c.list_artifacts(child.info.run_id) == [] and "test_roc_auc" in child.data.metrics
    model_files = {f.path for f in c.list_artifacts(res.run_id)}
    assert "feature_importance.json" in model_files


@pytest.mark.unit
def test_fits_see_a_stratified_sample_when_the_training_rows_exceed_the_cap():
    """Above `max_fit_rows` the training part is sampled down with its class shares, the refit sees at most the
    cap in the training:validation proportion, and the validation and test parts keep every row."""
    from telco360.ml.train import Columns, prepare_split, split_by_time

    df = planted_table(n=3000, months=4)
    split = split_by_time(df, "month")  # train: 6,000 rows; validation 3,000; test 3,000
    cols = Columns(["x1", "x2", "noise"], ["plan"])
    data = prepare_split(split, "churned", cols, TrainSettings(max_fit_rows=2000))
    y_all = split.train["churned"].to_numpy()
    assert (len(data.y_train), data.train_rows_available) == (2000, 6000)
    assert abs(data.y_train.sum() - y_all.mean() * 2000) <= 1  # the positives in their share
    assert (len(data.refit_train_rows), len(data.refit_valid_rows)) == (1333, 667)  # 6,000 : 3,000
    assert len(set(data.refit_train_rows)) == 1333 and data.refit_train_rows.max() < 2000
    assert (len(data.X_valid), len(data.X_test)) == (3000, 3000)
    # the sampled rows are the split's own rows (their labels and features travel together)
    sampled = df.loc[data.X_train.index]
    assert sampled["month"].isin(pd.to_datetime(["2026-01-01", "2026-02-01"])).all()
    assert sampled["churned"].tolist() == data.y_train.tolist()
    assert np.allclose(sampled["x1"], data.X_train["x1"], atol=1e-6)
    assert "2,000 of 6,000 training rows, the refit 2,000 of 9,000" in data.sampling()
    # one row too many, or a class too rare, for a stratified draw: still exactly the cap, no error
    from telco360.ml.train import fit_sample

    assert len(set(fit_sample(y_all, len(y_all) - 1, 1))) == len(y_all) - 1
    assert len(fit_sample(np.r_[np.zeros(50, int), 1], 10, 1)) == 10
    everything = prepare_split(split, "churned", cols, TrainSettings(max_fit_rows=9000))
    assert everything.sampling() == "" and everything.refit_rows == 9000


@pytest.mark.postgres
def test_outputs_replace_whole_months_on_both_engines(tmp_path, monkeypatch):
    """The write-back of scores: a month is replaced whole in one transaction, other months stay, and the
    types (DATE months, booleans, text, numbers) come back the same from DuckDB and PostgreSQL."""
    import datetime as dt
    import os

    import duckdb

    from telco360.db import open_warehouse
    from telco360.ml.frames import read_frame, replace_months

    if not os.environ.get("TELCO360_PG_DSN"):
        pytest.fail("TELCO360_PG_DSN is not set: `make test` starts the private PostgreSQL server")
    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
    jan, feb = dt.date(2026, 1, 1), dt.date(2026, 2, 1)

    def frame(month, n, flag):
        return pd.DataFrame(
            {
                "month": pd.Timestamp(month),
                "sub_id": np.arange(n, dtype="int64"),
                "score": np.linspace(0, 1, n),
                "is_control": flag,
                "reason": "rule:X",
            }
        )

    results = {}
    for kind in ("duckdb", "postgres"):
        with open_warehouse(kind) as db:
            db.execute("DROP SCHEMA IF EXISTS test_scores CASCADE")
            replace_months(db, "test_scores", "t", frame(jan, 5, False), [jan])
            replace_months(db, "test_scores", "t", frame(feb, 3, True), [feb])
            replace_months(db, "test_scores", "t", frame(feb, 2, False), [feb])  # February again: replaced
            got = read_frame(db, "SELECT * FROM test_scores.t ORDER BY month, sub_id")
            db.execute("DROP SCHEMA test_scores CASCADE")
        results[kind] = got
        assert got.groupby("month").size().tolist() == [5, 2]
        assert [type(m) for m in got["month"].head(1)] in ([dt.date], [pd.Timestamp])
        assert not got.loc[got["month"].astype(str).str.startswith("2026-02"), "is_control"].any()
    d, p = results["duckdb"], results["postgres"]
    assert d["score"].tolist() == pytest.approx(p["score"].tolist())
    assert d["reason"].tolist() == p["reason"].tolist() and d["sub_id"].tolist() == p["sub_id"].tolist()


def test_a_feature_with_no_values_in_the_training_months_is_left_out_and_said(tmp_path, mlflow_store, capsys):
    """The demo's three months: a 3-month trend is empty in the first months, which train the model.
    Gradient boosting's binning fails on an all-missing column; the column is left out and recorded."""
    df = planted_table(n=2000, months=3)
    df["x1_trend_3m"] = np.where(df["month"] == df["month"].max(), df["x1"], np.nan)
    path = tmp_path / "short_history.parquet"
    df.drop(columns=["true_p"]).to_parquet(path)
    assert main(["train", "--features", str(path), "--label", "churned", "--time-column", "month"]) == 0
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{mlflow_store / 'mlflow.db'}")
    c = MlflowClient()
    mv = c.get_model_version_by_alias("telco360-external-short_history", "champion")
    run = c.get_run(mv.run_id)
    assert run.data.tags["features_left_out"] == "x1_trend_3m"
    model = mlflow.sklearn.load_model("models:/telco360-external-short_history@champion")
    assert "x1_trend_3m" not in set(model.feature_names_in_)
    assert {"x1", "x2", "noise", "plan"} <= set(model.feature_names_in_)

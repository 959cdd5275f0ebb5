"""Behavioural clusters (telco360/ml/clusters.py) against planted groups on synthetic ml_features frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from telco360.ml import clusters

# planted behaviour per group: typical levels (lognormal around them), how many use data / roam at all,
# the off-net share's beta(a, b) and the monthly fee (booked as voice revenue)
PLANTED = {
    "heavy_voice": dict(mou=900, sms=40, data=8, p_data=0.05, roam=0, p_roam=0.0, vas=6, offnet=(4, 5), fee=30),
    "sms_youth": dict(mou=140, sms=450, data=25, p_data=0.9, roam=0, p_roam=0.0, vas=8, offnet=(2, 7), fee=10),
    "heavy_data": dict(mou=220, sms=50, data=1500, p_data=0.99, roam=0, p_roam=0.0, vas=12, offnet=(2, 6), fee=20),
    "silent": dict(mou=12, sms=2, data=1, p_data=0.05, roam=0, p_roam=0.0, vas=1, offnet=(2, 6), fee=8),
    "roamers": dict(mou=500, sms=30, data=20, p_data=0.5, roam=300, p_roam=1.0, vas=5, offnet=(3, 5), fee=40),
}
GROUPS = list(PLANTED)
FOUR = (0.2, 0.3, 0.2, 0.3, 0.0)  # the four-group population (no roamers)


def planted_labels(n: int, seed: int, weights=FOUR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(len(GROUPS), size=n, p=np.asarray(weights) / sum(weights))


def planted_frame(labels: np.ndarray, seed: int, sigma: float = 0.5, month: str = "2026-01-01") -> pd.DataFrame:
    """An ml_features-shaped frame (the columns the clusters read) whose row i behaves like group labels[i]."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    cols = {c: np.zeros(n) for c in ("mou", "sms_out", "data_mb", "roam_min", "revenue_vas", "offnet_call_share")}
    fee = np.zeros(n)
    for g, name in enumerate(GROUPS):
        p, idx = PLANTED[name], np.flatnonzero(labels == g)
        m = len(idx)

        def around(level, m=m):
            return level * rng.lognormal(-(sigma**2) / 2, sigma, m)

        cols["mou"][idx] = around(p["mou"])
        cols["sms_out"][idx] = np.round(around(p["sms"]))
        cols["data_mb"][idx] = around(p["data"]) * (rng.random(m) < p["p_data"])
        cols["roam_min"][idx] = around(p["roam"]) * (rng.random(m) < p["p_roam"])
        cols["revenue_vas"][idx] = around(p["vas"])
        cols["offnet_call_share"][idx] = rng.beta(*p["offnet"], m)
        fee[idx] = around(p["fee"])
    df = pd.DataFrame(cols)
    df["revenue_voice"] = fee + 0.15 * df["mou"] + 0.9 * df["roam_min"]
    df["revenue_sms"] = 0.1 * df["sms_out"]
    df["revenue_gprs"] = 0.03 * df["data_mb"]
    df = df.round(2)
    df["revenue"] = df[["revenue_voice", "revenue_sms", "revenue_gprs", "revenue_vas"]].sum(axis=1)
    df.insert(0, "sub_id", np.arange(1, n + 1, dtype="int64"))
    df.insert(0, "month", pd.Timestamp(month))
    return df


def majority_cluster(labels: np.ndarray, predicted: pd.Series) -> dict[str, int]:
    table = pd.crosstab(labels, predicted.to_numpy())
    return {GROUPS[g]: int(table.loc[g].idxmax()) for g in table.index}


@pytest.fixture(scope="module")
def month1():
    labels = planted_labels(12_000, seed=11)
    return labels, planted_frame(labels, seed=12)


@pytest.fixture(scope="module")
def model1(month1):
    _, df = month1
    return clusters.fit_clusters(df, seed=0)


@pytest.fixture(scope="module")
def month2(month1):
    """The same subscribers a month later, 5% of them moved to another planted group."""
    labels, _ = month1
    rng = np.random.default_rng(21)
    moved = rng.random(len(labels)) < 0.05
    new = labels.copy()
    new[moved] = (labels[moved] + rng.integers(1, 4, moved.sum())) % 4
    return new, planted_frame(new, seed=22, month="2026-02-01"), moved


def test_cluster_features_logs_shares_and_bad_input():
    df = pd.DataFrame(
        {
            "mou": [np.e - 1, 0.0, -5.0],
            "sms_out": [0.0, 9.0, 0.0],
            "data_mb": [0.0, 0.0, None],
            "roam_min": [0.0, 0.0, 0.0],
            "revenue": [20.0, 0.0, 10.0],
            "revenue_voice": [10.0, 0.0, 12.0],
            "revenue_sms": [5.0, 0.0, -2.0],  # a refund: not a share of anything
            "revenue_gprs": [4.0, 0.0, 0.0],
            "revenue_vas": [1.0, 0.0, 0.0],
            "offnet_call_share": [0.25, None, 1.5],
        }
    )
    X = clusters.cluster_features(df)
    assert list(X.columns) == clusters.FEATURES
    assert X.loc[0, "log_mou"] == pytest.approx(1.0)
    assert X.loc[1, "log_sms_out"] == pytest.approx(np.log(10.0))
    assert X.loc[2, "log_mou"] == 0.0 and X.loc[2, "log_data_mb"] == 0.0
    assert X.loc[0, ["share_voice", "share_sms", "share_gprs", "share_vas"]].tolist() == [0.5, 0.25, 0.2, 0.05]
    assert X.loc[1, ["share_voice", "share_sms", "share_gprs", "share_vas"]].sum() == 0.0
    assert X.loc[2, "share_voice"] == 1.0 and X.loc[2, "share_sms"] == 0.0
    assert X["offnet_call_share"].tolist() == [0.25, 0.0, 1.0]
    with pytest.raises(clusters.ClusterInputError, match=r"^cluster inputs: missing column\(s\) data_mb$"):
        clusters.cluster_features(df.drop(columns="data_mb"))


def test_choose_k_finds_the_four_planted_groups_and_clusters_recover_them(month1, model1):
    labels, df = month1
    assert model1.k == 4
    assert list(model1.k_table["k"]) == list(range(3, 9))
    assert model1.k_table.set_index("k")["silhouette"].idxmax() == 4
    predicted = clusters.predict(model1, df)
    assert predicted["sub_id"].tolist() == df["sub_id"].tolist()
    assert adjusted_rand_score(labels, predicted["cluster_id"]) >= 0.9
    shares = model1.profiles.set_index("cluster_id")["size_share"]
    planted_share = pd.Series(labels).value_counts(normalize=True)
    for group, cid in majority_cluster(labels, predicted["cluster_id"]).items():
        assert shares[cid] == pytest.approx(planted_share[GROUPS.index(group)], abs=0.02)


def test_names_are_unique_and_describe_the_planted_profiles(month1, model1):
    labels, df = month1
    names = model1.profiles["cluster_name"]
    assert names.is_unique
    which = majority_cluster(labels, clusters.predict(model1, df)["cluster_id"])
    name = {group: model1.names[cid] for group, cid in which.items()}
    assert "voice" in name["heavy_voice"] and "high value" in name["heavy_voice"]
    assert "data" in name["heavy_data"] and "voice" not in name["heavy_data"]
    assert "SMS" in name["sms_youth"] and "data" not in name["sms_youth"]
    assert name["silent"].startswith("silent") and "low value" in name["silent"]
    heavy_voice = model1.profiles.set_index("cluster_name").loc[name["heavy_voice"]]
    assert heavy_voice["mean_mou"] == pytest.approx(900, rel=0.1)


def test_planted_roamers_become_a_fifth_cluster_named_for_roaming():
    labels = planted_labels(8_000, seed=31, weights=(0.2, 0.25, 0.2, 0.3, 0.05))
    df = planted_frame(labels, seed=32)
    model = clusters.fit_clusters(df, seed=0)
    assert model.k == 5
    predicted = clusters.predict(model, df)
    assert adjusted_rand_score(labels, predicted["cluster_id"]) >= 0.9
    roamers = model.names[majority_cluster(labels, predicted["cluster_id"])["roamers"]]
    assert "roaming" in roamers
    assert model.profiles["cluster_name"].is_unique


def test_stability_of_a_population_with_five_percent_moved(month1, model1, month2):
    labels1, df1 = month1
    labels2, df2, moved = month2
    model2 = clusters.fit_clusters(df2, k=4, seed=1)  # refitted independently
    # month 2 loses 500 subscribers and gains 300 new ones: only the common ones are compared
    df2 = pd.concat(
        [df2.iloc[500:], planted_frame(planted_labels(300, seed=5), seed=6).assign(sub_id=lambda d: d.sub_id + 10**6)]
    )
    kept = np.arange(500, len(labels1))
    truth = adjusted_rand_score(labels1[kept], labels2[kept])
    result = clusters.stability(model1, model2, df1, df2)
    assert result["n_common"] == len(labels1) - 500
    assert result["ari_same_model"] == pytest.approx(truth, abs=0.03)
    assert result["ari_refit"] == pytest.approx(truth, abs=0.03)
    assert result["stay_share"] == pytest.approx(1 - moved[kept].mean(), abs=0.02)
    migration = result["migration"]
    assert list(migration.index) == list(migration.columns) == [model1.names[c] for c in range(model1.k)]
    assert np.allclose(migration.sum(axis=1), 1.0)
    assert np.diag(migration.to_numpy()) == pytest.approx(np.full(4, 0.95), abs=0.03)
    with pytest.raises(clusters.ClusterInputError, match="no subscriber is in both months"):
        clusters.stability(model1, model2, df1, df2.assign(sub_id=df2.sub_id + 10**7))


def test_profile_figures_show_every_cluster(model1):
    figures = clusters.profile_figures(model1)
    assert set(figures) == {"cluster_profiles.png", "cluster_sizes.png"}
    heat_axis = figures["cluster_profiles.png"].axes[0]
    assert [t.get_text() for t in heat_axis.get_yticklabels()] == list(model1.profiles["cluster_name"])
    assert [t.get_text() for t in heat_axis.get_xticklabels()] == clusters.FEATURES
    bars = figures["cluster_sizes.png"].axes[0].patches
    assert sorted(b.get_width() for b in bars) == pytest.approx(sorted(model1.profiles["size_share"] * 100))


def test_log_to_mlflow_records_k_choice_figures_tables_and_a_loadable_model(tmp_path, month1, model1, month2):
    import mlflow
    from mlflow.tracking import MlflowClient

    _, df1 = month1
    _, df2, _ = month2
    result = clusters.stability(model1, model1, df1, df2)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        experiment = mlflow.create_experiment("clusters-test", artifact_location=str(tmp_path / "artifacts"))
        with mlflow.start_run(experiment_id=experiment) as run:
            info = clusters.log_to_mlflow(model1, model1.k_table, result)
        client = MlflowClient()
        logged = client.get_run(run.info.run_id).data
        assert logged.params["k"] == "4" and logged.params["method"] == "kmeans"
        assert logged.metrics["chosen_k"] == 4
        assert logged.metrics["stability_ari_same_model"] == pytest.approx(result["ari_same_model"])
        history = client.get_metric_history(run.info.run_id, "silhouette")
        assert {m.step: m.value for m in history} == pytest.approx(
            dict(zip(model1.k_table["k"], model1.k_table["silhouette"], strict=True))
        )
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "clusters")}
        assert {"clusters/cluster_profiles.png", "clusters/cluster_sizes.png"} <= artifacts
        assert {"clusters/profiles.json", "clusters/migration.json", "clusters/k_selection.json"} <= artifacts
        assert info.signature.inputs.input_names() == clusters.FEATURES
        assert (mlflow.sklearn.load_model(info.model_uri).predict(clusters.cluster_features(df1.head(50))) >= 0).all()
        loaded = clusters.load_from_mlflow(run.info.run_id)
        assert loaded.k == model1.k and loaded.names == model1.names
        pd.testing.assert_frame_equal(clusters.predict(loaded, df1), clusters.predict(model1, df1))
    finally:
        mlflow.set_tracking_uri(None)


def test_names_stay_unique_when_two_clusters_share_a_profile():
    z = pd.DataFrame(0.0, index=[0, 1, 2], columns=clusters.FEATURES)
    z.loc[[0, 1], "log_data_mb"] = 1.5  # two identical heavy-data clusters and one with no trait at all
    names = clusters._name_clusters(z, pd.Series([2.0, 2.0, 1.0]), sizes=pd.Series([300, 200, 100]))
    assert names[0] == "heavy data, high value"
    assert names[1] == "heavy data, high value (1)"
    assert names[2] == "mixed use, mid value"

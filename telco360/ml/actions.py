"""What scoring writes beyond the scores: segments (rules + clusters), next best offers and campaign target
lists, from the published marts, the seeds and the champions' scores of the same month."""

from __future__ import annotations

from datetime import date

import pandas as pd

from telco360.db import Warehouse
from telco360.ml import config as C
from telco360.ml.frames import read_frame

SEEDS = ("campaign_rules", "campaign_policy", "product_families", "product_capabilities", "offer_defaults")


def seeds(db: Warehouse) -> dict[str, pd.DataFrame]:
    return {name: read_frame(db, f"SELECT * FROM reference.{name}") for name in SEEDS}


def customer_segments(db: Warehouse, features: pd.DataFrame, month: date) -> tuple[pd.DataFrame, str | None]:
    """marts.segment_rules of the month, with the champion clusters' id and name and the model version."""
    from telco360.ml import clusters, registry

    rules = read_frame(db, "SELECT * FROM marts.segment_rules WHERE month = ? ORDER BY sub_id", (month,))
    active = set(features["sub_id"].astype("int64"))
    rules = rules[rules["sub_id"].astype("int64").isin(active)].copy()
    mv = registry.champion_version(C.SEGMENT_MODEL)
    if mv is None:
        return pd.DataFrame(), None
    model = clusters.load_from_mlflow(mv.run_id)
    assigned = clusters.predict(model, features)[["sub_id", "cluster_id", "cluster_name"]]
    out = rules.merge(assigned, on="sub_id", how="left")
    out["month"] = pd.Timestamp(month)
    out["model_name"] = C.SEGMENT_MODEL
    out["model_version"] = str(mv.version)
    out["run_id"] = mv.run_id
    return out, str(mv.version)


def offers_and_targets(
    db: Warehouse, features: pd.DataFrame, churn: pd.DataFrame, propensity: pd.DataFrame, month: date
) -> dict[str, pd.DataFrame]:
    from telco360.ml.offers import build_offers
    from telco360.ml.targeting import build_targets

    s = seeds(db)
    assoc = read_frame(db, "SELECT * FROM marts.product_associations WHERE month = ?", (month,))
    candidates = read_frame(db, "SELECT * FROM marts.campaign_rule_candidates WHERE month = ?", (month,))
    recent = None
    if db.relation_exists("marts", "campaign_targets"):
        recent = read_frame(
            db, "SELECT campaign_month, sub_id, rule_id, family FROM marts.campaign_targets WHERE month < ?", (month,)
        )
    for frame in (assoc, candidates):
        if "month" in frame.columns:
            frame["month"] = pd.to_datetime(frame["month"])
    feats = features.copy()
    feats["month"] = pd.to_datetime(feats["month"])
    prop = propensity.copy()
    if not prop.empty:
        prop["month"] = pd.to_datetime(prop["month"])
    else:
        prop = pd.DataFrame(columns=["month", "sub_id", "product_id", "score", "model_name", "model_version"])
    offers = build_offers(
        feats,
        prop,
        assoc,
        s["offer_defaults"],
        s["product_capabilities"],
        s["product_families"],
        month,
        rules=s["campaign_rules"],
    )
    targets, suppressions = build_targets(
        feats,
        churn,
        prop,
        candidates,
        s["campaign_rules"],
        s["campaign_policy"],
        s["product_families"],
        recent,
        month,
        capabilities=s["product_capabilities"],
        defaults=s["offer_defaults"],
    )
    return {"customer_offers": offers, "campaign_targets": targets, "campaign_suppressions": suppressions}


def export_targets(db: Warehouse, month: date | None, out) -> tuple[str, int]:
    """The published target lists of features month `month` (default: the latest) as the campaign file that
    the marketing platform — here the simulator, `telco360 generate --campaigns-from FILE` — runs next month.
    Returns (campaign month, rows)."""
    from pathlib import Path

    if not db.relation_exists("marts", "campaign_targets"):
        raise LookupError("no published target lists: run `telco360 score` first")
    month = month or db.one("SELECT max(month) FROM marts.campaign_targets")
    df = read_frame(
        db,
        "SELECT campaign_month, rule_id, sub_id, product_id, channel, is_control, score, precedence "
        "FROM marts.campaign_targets WHERE month = ? ORDER BY rule_id, sub_id",
        (month,),
    )
    if df.empty:
        raise LookupError(f"no published target lists for {pd.Timestamp(month):%Y-%m}")
    df["campaign_month"] = pd.to_datetime(df["campaign_month"]).dt.strftime("%Y-%m")
    df["is_control"] = df["is_control"].astype(bool).astype(int)
    # a campaign offers one product: a rule listing several (the default level's brand x terminal offers)
    # runs as one campaign per product, named <rule>.<product>
    several = df.groupby("rule_id")["product_id"].transform("nunique") > 1
    df.loc[several, "rule_id"] = df.loc[several, "rule_id"] + "." + df.loc[several, "product_id"]
    out = Path(out)
    if out.suffix.lower() == ".csv":
        df.to_csv(out, index=False)
    else:
        df.to_parquet(out, index=False)
    return str(df["campaign_month"].iloc[0]), len(df)

"""Scoring: the champions score every active subscriber of a published month; the outputs are written like
the marts — to schema `scores_candidate` first, checked by Great Expectations (expectations/scores.yml), and
only then published into `marts`, where the history of every scored month is kept.

Every row carries the registered model name, version and MLflow run that produced it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from telco360.db import Warehouse
from telco360.ml import config as C
from telco360.ml.frames import read_frame, replace_months

OUTPUTS = [
    "churn_scores",
    "propensity_scores",
    "customer_segments",
    "customer_offers",
    "campaign_targets",
    "campaign_suppressions",
]
SCORE_LAYER = "scores"


class ScoringError(RuntimeError):
    pass


@dataclass
class Champion:
    name: str
    version: str
    run_id: str
    model: object

    @property
    def columns(self) -> list[str]:
        return list(self.model.feature_names_in_)


def load_champion(name: str) -> Champion | None:
    import mlflow

    from telco360.ml import registry

    mv = registry.champion_version(name)
    if mv is None:
        return None
    model = mlflow.sklearn.load_model(f"models:/{name}@{C.CHAMPION}")
    return Champion(name, str(mv.version), mv.run_id, model)


def predict(champion: Champion, features: pd.DataFrame) -> np.ndarray:
    """The champion's probability of the positive class, from the same preparation as its training."""
    from telco360.ml.train import Columns, prepare

    cols = champion.columns
    numeric = [c for c in cols if c not in C.CATEGORICAL and features[c].dtype.kind in "biuf"]
    spec = Columns(numeric, [c for c in cols if c not in numeric])
    return champion.model.predict_proba(prepare(features, spec)[cols])[:, 1]


def risk_band(p: np.ndarray) -> np.ndarray:
    out = np.full(len(p), C.RISK_BANDS[-1][0], object)
    for name, threshold in reversed(C.RISK_BANDS[:-1]):
        out[p >= threshold] = name
    return out


def decile(p: np.ndarray) -> np.ndarray:
    order = np.argsort(-p, kind="stable")
    d = np.empty(len(p), np.int64)
    d[order] = np.arange(len(p)) * 10 // max(len(p), 1) + 1
    return d


def latest_published_month(db: Warehouse) -> date | None:
    if not db.relation_exists("marts", "ml_features"):
        return None
    m = db.one("SELECT max(month) FROM marts.ml_features")
    return pd.Timestamp(m).date() if m is not None else None


def month_features(db: Warehouse, month: date) -> pd.DataFrame:
    return read_frame(db, "SELECT * FROM marts.ml_features WHERE month = ? AND is_active ORDER BY sub_id", (month,))


@dataclass
class ScoreResult:
    month: date
    rows: dict[str, int] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    audit_run: str | None = None
    published: bool = False
    reason: str = ""

    def lines(self) -> list[str]:
        out = [f"scored {self.month:%Y-%m}: " + ", ".join(f"{k} {v:,}" for k, v in self.rows.items())]
        out += [f"  {name} version {v}" for name, v in self.models.items()]
        state = "published to marts" if self.published else f"NOT published: {self.reason}"
        out.append(f"  checks: audit run {self.audit_run} -> {state}")
        return out


def score_churn(champion: Champion, features: pd.DataFrame, month: date, scored_at: datetime) -> pd.DataFrame:
    p = predict(champion, features)
    return pd.DataFrame(
        {
            "month": pd.Timestamp(month),
            "sub_id": features["sub_id"].astype("int64").to_numpy(),
            "churn_probability": p,
            "risk_band": risk_band(p),
            "model_name": champion.name,
            "model_version": champion.version,
            "run_id": champion.run_id,
            "scored_at": pd.Timestamp(scored_at),
        }
    )


def score_propensity(champions: dict[str, Champion], features: pd.DataFrame, month: date) -> pd.DataFrame:
    """For each product, every active subscriber who does not hold it."""
    parts = []
    for product, champ in champions.items():
        held = features[f"holds_{product.lower()}"].fillna(False).astype(bool).to_numpy()
        rows = features[~held]
        if rows.empty:
            continue
        p = predict(champ, rows)
        parts.append(
            pd.DataFrame(
                {
                    "month": pd.Timestamp(month),
                    "sub_id": rows["sub_id"].astype("int64").to_numpy(),
                    "product_id": product,
                    "score": p,
                    "decile": decile(p),
                    "model_name": champ.name,
                    "model_version": champ.version,
                    "run_id": champ.run_id,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def score_month(db: Warehouse, month: date | None = None, publish_outputs: bool = True) -> ScoreResult:
    from telco360.ml.tracking import setup

    setup(C.CHURN_EXPERIMENT)
    month = month or latest_published_month(db)
    if month is None:
        raise ScoringError("nothing to score: no published marts.ml_features (build, audit and publish first)")
    features = month_features(db, month)
    if features.empty:
        raise ScoringError(f"no active subscribers in marts.ml_features for {month:%Y-%m}")
    result = ScoreResult(month)
    scored_at = datetime.now().replace(microsecond=0)
    churn = load_champion(C.CHURN_MODEL)
    if churn is None:
        raise ScoringError(f"no champion for {C.CHURN_MODEL}: train first (telco360 train)")
    outputs: dict[str, pd.DataFrame] = {}
    t0 = time.perf_counter()
    outputs["churn_scores"] = score_churn(churn, features, month, scored_at)
    result.seconds["churn"] = time.perf_counter() - t0
    result.models[churn.name] = churn.version
    props = {p: c for p in C.PROPENSITY_PRODUCTS if (c := load_champion(C.propensity_model_name(p))) is not None}
    for c in props.values():
        result.models[c.name] = c.version
    t0 = time.perf_counter()
    outputs["propensity_scores"] = score_propensity(props, features, month)
    result.seconds["propensity"] = time.perf_counter() - t0
    from telco360.ml.actions import customer_segments, offers_and_targets

    t0 = time.perf_counter()
    outputs["customer_segments"], seg_version = customer_segments(db, features, month)
    if seg_version:
        result.models[C.SEGMENT_MODEL] = seg_version
    result.seconds["segments"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    outputs.update(offers_and_targets(db, features, outputs["churn_scores"], outputs["propensity_scores"], month))
    result.seconds["offers_and_targets"] = time.perf_counter() - t0
    outputs = {k: v for k, v in outputs.items() if not v.empty}
    write_candidates(db, outputs, month)
    result.rows = {k: len(v) for k, v in outputs.items()}
    if publish_outputs:
        check_and_publish(db, month, list(outputs), result)
    return result


def write_candidates(db: Warehouse, outputs: dict[str, pd.DataFrame], month: date) -> None:
    for table, frame in outputs.items():
        if frame.empty:
            continue
        replace_months(db, C.SCORES_CANDIDATE_SCHEMA, table, frame, [month])


def check_and_publish(db: Warehouse, month: date, tables: list[str], result: ScoreResult) -> None:
    from telco360.quality.audit import run_audit
    from telco360.quality.suites import load_suites

    suites = load_suites()  # only the outputs this run wrote (a product without a champion writes none)
    suites.assets[SCORE_LAYER] = [a for a in suites.assets.get(SCORE_LAYER, []) if a.name in tables]
    run = run_audit(db, layers=[SCORE_LAYER], months=[month], trigger="score", suites=suites)
    result.audit_run = run.run_id
    if not run.passed:
        failed = ", ".join(sorted({r["expectation"] for r in run.failed("critical")})) or run.reason()
        result.reason = f"critical checks failed: {failed}"
        return
    publish_scores(db, month, tables, run.run_id)
    result.published = True


def publish_scores(db: Warehouse, month: date, tables: list[str], run_id: str) -> None:
    """Replace the month's rows of each output in `marts` by the checked candidate rows, in one transaction;
    other months stay (the history of scores)."""
    from telco360.quality.trail import ensure_trail

    ensure_trail(db)
    db.execute(
        "CREATE TABLE IF NOT EXISTS audit.score_publications (run_id VARCHAR, month DATE, tables VARCHAR, "
        "published_at TIMESTAMP)"
    )
    db.begin()
    try:
        for t in tables:
            src = f"{C.SCORES_CANDIDATE_SCHEMA}.{t}"
            if not db.relation_exists("marts", t):
                db.execute(f"CREATE TABLE marts.{t} AS SELECT * FROM {src} WHERE 1 = 0")
            db.execute(f"DELETE FROM marts.{t} WHERE month = ?", (month,))
            db.execute(f"INSERT INTO marts.{t} SELECT * FROM {src} WHERE month = ?", (month,))
        db.execute(
            "INSERT INTO audit.score_publications VALUES (?, ?, ?, ?)",
            (run_id, month, ",".join(tables), datetime.now()),
        )
        db.commit()
    except Exception:
        db.rollback()
        raise

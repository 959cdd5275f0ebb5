"""The training job on the warehouse: features from the published marts only, the data version, the gate.

Every month of `marts.ml_features` was published by an audit run whose critical checks passed (publication
refuses anything else); the job still checks each training month against the trail (audit.publications →
audit.dq_runs) and drops, and says, any month it cannot prove passed.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from telco360.db import Warehouse
from telco360.ml import config as C
from telco360.ml.frames import read_frame
from telco360.ml.tracking import git_commit


class NoFeatures(RuntimeError):
    pass


def passed_months(db: Warehouse) -> dict[str, str]:
    """month (YYYY-MM) -> the audit run that passed it and published it."""
    if not db.relation_exists("audit", "publications"):
        return {}
    rows = db.all(
        "SELECT p.run_id, r.months FROM audit.publications p JOIN audit.dq_runs r ON r.run_id = p.run_id "
        "WHERE r.passed AND coalesce(r.verdict, 'passed') = 'passed' ORDER BY p.published_at"
    )
    out: dict[str, str] = {}
    for run_id, months in rows:
        for m in (months or "").split(","):
            if m:
                out[m] = run_id
    return out


def load_features(db: Warehouse) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """(active subscribers' feature rows of the published months that passed the gate, data-version tags,
    notes for the person running the job)."""
    if not db.relation_exists("marts", "ml_features"):
        raise NoFeatures("no published marts.ml_features: build, audit and publish the warehouse first (make run)")
    # month by month: one sort of the whole table, held by the engine beside the frame, cost 4.7 GB of peak
    # memory for a 1.1 GB frame of 3.1M rows; a month at a time, 2.8 GB (bench/bench_models.py)
    months_held = [m for (m,) in db.all("SELECT DISTINCT month FROM marts.ml_features WHERE is_active ORDER BY 1")]
    parts = [
        read_frame(db, "SELECT * FROM marts.ml_features WHERE is_active AND month = ? ORDER BY sub_id", (m,))
        for m in months_held
    ]
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    del parts
    if df.empty:
        raise NoFeatures("marts.ml_features holds no active subscribers")
    df["month"] = pd.to_datetime(df["month"])
    passed = passed_months(db)
    months = sorted(df["month"].dt.strftime("%Y-%m").unique())
    failed = [m for m in months if m not in passed]
    notes = []
    if failed:
        notes.append(f"left out {', '.join(failed)}: no passed quality run covers them")
        df = df[~df["month"].dt.strftime("%Y-%m").isin(failed)]
    used = [m for m in months if m not in failed]
    pub = db.all(
        "SELECT run_id, through_month, through_load_id FROM audit.publications ORDER BY published_at DESC LIMIT 1"
    )
    run_id, through, load_id = pub[0] if pub else (None, None, None)
    tags = {
        "data.source": f"marts.ml_features ({db.kind})",
        "data.months": ",".join(used),
        "data.through_load_id": str(load_id),
        "data.quality_run": str(run_id),
        "data.quality_runs_by_month": ",".join(f"{m}={passed[m]}" for m in used),
        "data.published_through": through.strftime("%Y-%m") if isinstance(through, date) else str(through),
        "data.gate": "passed" if not failed else "some months left out: " + ",".join(failed),
        "code.git_commit": git_commit(),
        "warehouse": db.kind,
    }
    return df, tags, notes


def exclude_for(label: str) -> set[str]:
    return set(C.NOT_FEATURES) - {label}


def train_churn(db: Warehouse, settings=None, truth_dir=None, features=None):
    from telco360.ml.classifier import train_classifier
    from telco360.ml.oracle import churn_oracle

    settings = settings or C.TrainSettings()
    df, tags, notes = features if features is not None else load_features(db)
    oracle = churn_oracle(truth_dir) if truth_dir else None
    result = train_classifier(
        df,
        C.CHURN_LABEL,
        C.CHURN_MODEL,
        C.CHURN_EXPERIMENT,
        C.TIME_COLUMN,
        exclude_for(C.CHURN_LABEL),
        tags,
        gate_passed=True,  # load_features kept only months that passed
        settings=settings,
        oracle=oracle,
        categorical_hint=C.CATEGORICAL,
        description="Churn early warning: probability that an active subscriber is deactivated within the "
        "horizon after the feature month (marts.ml_features.churn_next).",
    )
    return result, notes


def train_propensity(db: Warehouse, product_id: str, settings=None, truth_dir=None, features=None):
    from telco360.ml.classifier import train_classifier
    from telco360.ml.oracle import propensity_oracle

    settings = settings or C.TrainSettings()
    df, tags, notes = features if features is not None else load_features(db)
    label = C.PROPENSITY_PRODUCTS[product_id]
    oracle = propensity_oracle(truth_dir, product_id) if truth_dir else None
    result = train_classifier(
        df,
        label,
        C.propensity_model_name(product_id),
        C.PROPENSITY_EXPERIMENT,
        C.TIME_COLUMN,
        exclude_for(label),
        {**tags, "product_id": product_id},
        gate_passed=True,
        settings=settings,
        oracle=oracle,
        categorical_hint=C.CATEGORICAL,
        description=f"Propensity: probability that an active subscriber not holding {product_id} in the feature "
        f"month orders it the next month (marts.ml_features.{label}).",
    )
    return result, notes


def train_all(db: Warehouse, which: str, truth_dir, progress=print) -> list[str]:
    """Train what `which` names (churn, propensity, segments, all); one summary line block per model."""
    lines: list[str] = []
    features = load_features(db)
    for note in features[2]:
        progress(f"note: {note}")
    progress(f"features: {len(features[0]):,} active subscriber-months, months {features[1]['data.months']}")
    if which in ("churn", "all"):
        result, _ = train_churn(db, truth_dir=truth_dir, features=features)
        lines += result.lines()
        progress("\n".join(result.lines()))
    if which in ("propensity", "all"):
        for product, label in C.PROPENSITY_PRODUCTS.items():
            if label not in features[0].columns:
                progress(f"{C.propensity_model_name(product)}: skipped (marts.ml_features has no {label})")
                continue
            try:
                result, _ = train_propensity(db, product, truth_dir=truth_dir, features=features)
            except Exception as exc:  # one product's failure (e.g. no orders yet) does not stop the others
                from telco360.ml.train import TrainingError

                if not isinstance(exc, TrainingError):
                    raise
                progress(f"{C.propensity_model_name(product)}: not trained: {exc}")
                continue
            lines += result.lines()
            progress("\n".join(result.lines()))
    if which in ("segments", "all"):
        seg = train_segments(db, features=features)
        lines += seg
        progress("\n".join(seg))
    return lines


def train_segments(db: Warehouse, features=None):
    """Behavioural clusters on the latest gated month (k chosen by the logged criterion), their stability
    against the month before, logged and registered as telco360-segments. Clusters have no holdout metric to
    beat: each fit on a newly gated month becomes the champion, the previous one is kept for rollback."""
    import mlflow

    from telco360.ml import clusters, registry
    from telco360.ml.tracking import setup

    df, tags, _ = features if features is not None else load_features(db)
    months = sorted(df["month"].unique())
    curr = df[df["month"] == months[-1]]
    model = clusters.fit_clusters(curr, seed=C.TrainSettings().seed)
    stab = None
    if len(months) > 1:
        prev = df[df["month"] == months[-2]]
        prev_model = clusters.fit_clusters(prev, k=model.k, seed=C.TrainSettings().seed)
        stab = clusters.stability(prev_model, model, prev, curr)
    setup(C.SEGMENT_EXPERIMENT)
    month_text = pd.Timestamp(months[-1]).strftime("%Y-%m")
    with mlflow.start_run(run_name=f"{C.SEGMENT_MODEL} {month_text}") as run:
        mlflow.set_tags({**tags, "data.fit_month": month_text, "model_name": C.SEGMENT_MODEL})
        info = clusters.log_to_mlflow(model, stability_result=stab)
        mv = registry.register(
            C.SEGMENT_MODEL,
            info.model_uri,
            run.info.run_id,
            "Behavioural clusters (KMeans on scaled usage and revenue mix) with readable names.",
        )
        decision = registry.Decision(True, [f"clusters fitted on {month_text}, which passed the gate"])
        registry.apply(C.SEGMENT_MODEL, str(mv.version), decision)
    names = ", ".join(model.names[i] for i in range(model.k))
    lines = [f"{C.SEGMENT_MODEL}: k={model.k} ({names}); version {mv.version} -> champion"]
    if stab:
        lines.append(
            f"  stability {pd.Timestamp(months[-2]):%Y-%m} -> {month_text}: adjusted Rand {stab['ari_same_model']:.3f} "
            f"(same model), {stab['ari_refit']:.3f} (refitted); {stab['stay_share']:.0%} stay in their cluster"
        )
    return lines

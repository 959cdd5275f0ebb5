"""One classifier training run, logged and registered: the steps of train.py, in MLflow.

Parent run: the data version (months, load id built through, the quality run that passed, git commit), the
split, the chosen candidate's model (signature, input example, explicit pip requirements), its evaluation
charts and, when the simulator's truth is at hand, the oracle's metrics on the same rows. One nested run per
candidate (logistic baseline, gradient boosting) with its validation and test metrics, so they compare side
by side in the MLflow UI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version

import numpy as np
import pandas as pd

from telco360.ml import plots, registry
from telco360.ml.config import TrainSettings
from telco360.ml.train import (
    Columns,
    Split,
    best,
    deciles,
    feature_columns,
    fit_candidates,
    importance,
    label_values,
    metrics,
    observed,
    prepare,
    prepare_split,
    refit_on_train_and_valid,
    split_by_time,
    split_stratified,
)

TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy", "functools")


def skops_trusted(model) -> list[str]:
    """skops (MLflow's safe default format) loads only the types it is told to trust. We wrote the file
    ourselves, so we trust scikit-learn's, NumPy's and SciPy's own types that this model holds, and no others
    (anything else fails the logging, loudly)."""
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return [t for t in found if t.split(".")[0] in TRUSTED_PACKAGES]


def pip_requirements() -> list[str]:
    # explicit: inferring them costs ~23 s per model
    return [f"{p}=={version(p)}" for p in ("scikit-learn", "pandas", "numpy", "scipy")]


@dataclass
class TrainResult:
    name: str
    run_id: str
    version: str | None
    promoted: bool
    reasons: list[str]
    split: str
    chosen: str
    test: dict
    valid: dict
    candidates: dict
    oracle: dict | None = None
    seconds: float = 0.0
    columns: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What a person reads after the run."""
        t = self.test
        out = [
            f"{self.name}: {self.chosen} chosen on validation; test ROC AUC {t['roc_auc']:.3f}, PR AUC "
            f"{t['pr_auc']:.3f}, top-decile lift {t['top_decile_lift']:.2f} (capture {t['top_decile_capture']:.0%}), "
            f"Brier {t['brier']:.4f}",
            f"  split {self.split}",
        ]
        if self.oracle:
            o = self.oracle
            out.append(
                f"  oracle on the same rows: ROC AUC {o['roc_auc']:.3f} (gap {o['roc_auc'] - t['roc_auc']:+.3f}), "
                f"lift {o['top_decile_lift']:.2f} (model reaches {t['top_decile_lift'] / o['top_decile_lift']:.0%})"
            )
        if self.version:
            verdict = "champion" if self.promoted else "challenger"
            out.append(f"  registered version {self.version} -> {verdict}: {'; '.join(self.reasons)}")
        return out


def _log_figures(mlflow, figs: dict, folder: str) -> None:
    for fname, fig in figs.items():
        mlflow.log_figure(fig, f"{folder}/{fname}")
    plots.close(figs)


def champion_on(name: str, df: pd.DataFrame, rows: pd.Index, y: np.ndarray) -> tuple[dict | None, str | None]:
    """The current champion's metrics on these rows of df (read through its own input columns, which may
    differ from the new model's), or None if there is none."""
    import mlflow

    current = registry.champion_version(name)
    if current is None:
        return None, None
    model = mlflow.sklearn.load_model(f"models:/{name}@champion")
    cols = list(getattr(model, "feature_names_in_", df.columns))
    frame = df.loc[rows, [c for c in cols if c in df.columns]]
    spec = Columns([c for c in cols if c in frame.columns and frame[c].dtype.kind in "biuf"], [])
    spec.categorical = [c for c in cols if c not in spec.numeric]
    X = prepare(frame, spec)[cols]
    return metrics(y, model.predict_proba(X)[:, 1]), current.version


def train_classifier(
    df: pd.DataFrame,
    label: str,
    name: str,
    experiment: str,
    time_column: str | None,
    exclude: set[str],
    data_tags: dict[str, str],
    gate_passed: bool | None,
    settings: TrainSettings,
    oracle: Callable[[pd.DataFrame], np.ndarray | None] | None = None,
    register: bool = True,
    categorical_hint=(),
    description: str = "",
) -> TrainResult:
    import mlflow
    from mlflow.models import infer_signature

    from telco360.ml import tracking

    t0 = time.perf_counter()
    if not df.index.is_unique:  # rows are found again by their label (the champion's comparison)
        df = df.reset_index(drop=True)
    labelled = df[label].notna()
    cols = feature_columns(df, label, exclude | ({time_column} if time_column else set()), categorical_hint)
    # the parts copy only what training reads: the features, the label, and the keys the oracle matches on
    keep = [c for c in df.columns if c in set(cols.all) | {label, time_column, "month", "sub_id"}]
    if time_column:  # the split takes the labelled rows of each period straight from df: no copy of them all
        split: Split = split_by_time(df, time_column, labelled, keep)
    else:
        rows = df.loc[labelled, keep]
        split = split_stratified(rows, label_values(rows[label], label), settings.seed)
    cols, unobserved = observed(cols, split.train)
    data = prepare_split(split, label, cols, settings)
    split.how += data.sampling()
    n_rows = {role: len(getattr(split, role)) for role in ("train", "valid", "test")}
    # the raw training and validation rows are not read again (the prepared ones are): free them before fitting
    split.train = split.valid = None
    cands = fit_candidates(data, cols, settings)
    chosen = refit_on_train_and_valid(best(cands), data, cols, settings)
    y_te, y_va, X_te = data.y_test, data.y_valid, data.X_test
    p_oracle = oracle(split.test) if oracle else None
    oracle_metrics = metrics(y_te, p_oracle) if p_oracle is not None else None

    tracking.setup(experiment)
    with mlflow.start_run(run_name=f"{name} {chosen.kind}") as run:
        mlflow.set_tags({**data_tags, "split": split.how, "label": label, "model_name": name})
        mlflow.set_tags({f"data.{role}_months": ",".join(ms) for role, ms in split.months.items()})
        mlflow.log_params(
            {
                "label": label,
                "time_column": time_column or "(none: stratified)",
                "chosen_model": chosen.kind,
                "candidates": ",".join(settings.models),
                "n_numeric": len(cols.numeric),
                "n_categorical": len(cols.categorical),
                "rows_train": n_rows["train"],
                "rows_valid": n_rows["valid"],
                "rows_test": n_rows["test"],
                "max_fit_rows": settings.max_fit_rows,
                "rows_fitted_train": len(data.y_train),
                "rows_fitted_refit": data.refit_rows,
                **{f"hgb_{k}": v for k, v in settings.hgb_params.items()},
                "logistic_C": settings.logistic_c,
                "seed": settings.seed,
            }
        )
        mlflow.log_dict(
            {"numeric": cols.numeric, "categorical": cols.categorical, "left_out_no_values": unobserved},
            "features.json",
        )
        if unobserved:
            mlflow.set_tag("features_left_out", ",".join(unobserved))
        for cand in cands:
            with mlflow.start_run(run_name=cand.kind, nested=True):
                mlflow.set_tags({**data_tags, "split": split.how, "label": label})
                mlflow.log_param("model", cand.kind)
                mlflow.log_metrics({f"valid_{k}": v for k, v in cand.valid.items()})
                mlflow.log_metrics({f"test_{k}": v for k, v in cand.test.items()})
                mlflow.log_metric("fit_seconds", cand.seconds)
        mlflow.log_metrics({f"valid_{k}": v for k, v in chosen.valid.items()})
        mlflow.log_metrics({f"test_{k}": v for k, v in chosen.test.items()})
        if oracle_metrics:
            mlflow.log_metrics({f"oracle_{k}": v for k, v in oracle_metrics.items() if k != "rows"})
            mlflow.log_metric("oracle_auc_gap", oracle_metrics["roc_auc"] - chosen.test["roc_auc"])
            mlflow.log_metric("oracle_lift_ratio", chosen.test["top_decile_lift"] / oracle_metrics["top_decile_lift"])
        # one set of charts: the served model (refitted) beside each candidate as fitted on the training months
        others = {f"{c.kind} (train fit)": c.p_test for c in cands}
        served = f"{chosen.kind} (served)"
        figs = plots.evaluation_figures(y_te, chosen.p_test, f"{name} test", p_oracle, others, served)
        _log_figures(mlflow, figs, "plots")
        imp = importance(chosen.model, data.X_valid, y_va, settings)
        mlflow.log_table(imp, "feature_importance.json")
        _log_figures(mlflow, {"feature_importance.png": plots.importance_figure(imp, name)}, "plots")
        mlflow.log_table(deciles(y_te, chosen.p_test), "lift_by_decile.json")
        example = X_te.head(5)
        # the signature says double, as before: the model takes 64-bit input too (MLflow refuses to narrow it)
        signature = infer_signature(
            example.astype({c: "float64" for c in cols.numeric}), chosen.model.predict_proba(example)[:, 1]
        )
        info = mlflow.sklearn.log_model(
            chosen.model,
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
            skops_trusted_types=skops_trusted(chosen.model),
        )
        if settings.evaluate_with_mlflow:
            evaluate_with_mlflow(info.model_uri, X_te, y_te)
        version, promoted, reasons = None, False, []
        if register:
            champ, champ_version = champion_on(name, df, split.test.index, y_te)
            decision = registry.decide(chosen.test, champ, gate_passed, settings.promotion)
            mv = registry.register(name, info.model_uri, run.info.run_id, description)
            version, promoted, reasons = str(mv.version), decision.promote, decision.reasons
            registry.apply(name, version, decision)
            mlflow.set_tags(
                {
                    "registered_version": version,
                    "decision": "champion" if promoted else "challenger",
                    "decision_reasons": "; ".join(reasons),
                    "compared_with_champion": champ_version or "none",
                }
            )
            if champ:
                mlflow.log_metrics({f"champion_test_{k}": v for k, v in champ.items() if k != "rows"})
        secs = time.perf_counter() - t0
        mlflow.log_metric("train_seconds", secs)
    return TrainResult(
        name=name,
        run_id=run.info.run_id,
        version=version,
        promoted=promoted,
        reasons=reasons,
        split=split.how,
        chosen=chosen.kind,
        test=chosen.test,
        valid=chosen.valid,
        candidates={c.kind: {"valid": c.valid, "test": c.test} for c in cands},
        oracle=oracle_metrics,
        seconds=secs,
        columns=cols.all,
    )


def evaluate_with_mlflow(model_uri: str, X: pd.DataFrame, y: np.ndarray) -> None:
    """MLflow's classifier evaluator: its metrics and plots (ROC, PR, lift, calibration, confusion matrix)
    next to ours, on the test rows."""
    import mlflow

    data = X.copy()
    data["_label"] = y
    mlflow.models.evaluate(
        model_uri,
        data,
        targets="_label",
        model_type="classifier",
        evaluator_config={"log_model_explainability": False, "pos_label": 1},
    )

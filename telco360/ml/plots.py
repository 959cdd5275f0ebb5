"""The evaluation charts logged with every candidate: ROC, precision-recall, gains/lift, calibration,
feature importance (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def evaluation_figures(y: np.ndarray, p: np.ndarray, title: str, oracle: np.ndarray | None = None) -> dict:
    """Figures by artifact file name. With `oracle` (the simulator's true probabilities on the same rows), the
    ROC and gains charts show it as the ceiling."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    from telco360.ml.train import deciles

    plt = _plt()
    figs = {}
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, score in (("model", p), ("oracle", oracle)):
        if score is None:
            continue
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr, label=name, linestyle="-" if name == "model" else "--")
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC — {title}")
    ax.legend()
    figs["roc_curve.png"] = fig

    fig, ax = plt.subplots(figsize=(5, 5))
    prec, rec, _ = precision_recall_curve(y, p)
    ax.plot(rec, prec)
    ax.axhline(np.mean(y), color="grey", linewidth=0.5)
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision-recall — {title}")
    figs["precision_recall_curve.png"] = fig

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    d = deciles(y, p)
    a1.bar(d["decile"], d["lift"])
    a1.axhline(1, color="grey", linewidth=0.5)
    a1.set(xlabel="decile (1 = highest score)", ylabel="lift", title="lift by decile")
    a2.plot(np.r_[0, d["decile"] / 10], np.r_[0, d["cumulative_capture"]], marker="o", label="model")
    if oracle is not None:
        od = deciles(y, oracle)
        a2.plot(np.r_[0, od["decile"] / 10], np.r_[0, od["cumulative_capture"]], linestyle="--", label="oracle")
    a2.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
    a2.set(xlabel="share targeted", ylabel="share of positives captured", title="gains")
    a2.legend()
    figs["lift_gains.png"] = fig

    fig, ax = plt.subplots(figsize=(5, 5))
    frac, mean_p = calibration_curve(y, p, n_bins=10, strategy="quantile")
    ax.plot(mean_p, frac, marker="o")
    lim = max(float(mean_p.max()), float(frac.max()), 0.01)
    ax.plot([0, lim], [0, lim], color="grey", linewidth=0.5)
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title=f"Calibration — {title}")
    figs["calibration_curve.png"] = fig
    return figs


def importance_figure(imp: pd.DataFrame, title: str, top: int = 20):
    plt = _plt()
    t = imp.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, max(3, 0.3 * len(t))))
    ax.barh(t["feature"], t["importance"], xerr=t["sd"])
    ax.set(xlabel="drop in ROC AUC when permuted", title=f"Feature importance — {title}")
    fig.tight_layout()
    return fig


def close(figs) -> None:
    plt = _plt()
    for f in figs if isinstance(figs, list) else list(figs.values()):
        plt.close(f)

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


def evaluation_figures(
    y: np.ndarray,
    p: np.ndarray,
    title: str,
    oracle: np.ndarray | None = None,
    others: dict | None = None,
    label: str = "model",
) -> dict:
    """Figures by artifact file name, for the served model's scores `p` on the test rows. `others` (label ->
    scores on the same rows: the candidates as fitted on the training months) are drawn beside it, so that
    one chart compares them; with `oracle` (the simulator's true probabilities on the same rows), the ROC and
    gains charts show it as the ceiling."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    from telco360.ml.train import deciles

    plt = _plt()
    curves = {label: p, **(others or {})}
    thin = {"linewidth": 1, "alpha": 0.8}
    figs = {}
    fig, ax = plt.subplots(figsize=(5, 5))
    for i, (name, score) in enumerate({**curves, "oracle": oracle}.items()):
        if score is None:
            continue
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr, label=name, linestyle="--" if name == "oracle" else "-", **(thin if i else {}))
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC — {title}")
    ax.legend()
    figs["roc_curve.png"] = fig

    fig, ax = plt.subplots(figsize=(5, 5))
    for i, (name, score) in enumerate(curves.items()):
        prec, rec, _ = precision_recall_curve(y, score)
        ax.plot(rec, prec, label=name, **(thin if i else {}))
    ax.axhline(np.mean(y), color="grey", linewidth=0.5)
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision-recall — {title}")
    ax.legend()
    figs["precision_recall_curve.png"] = fig

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    d = deciles(y, p)
    a1.bar(d["decile"], d["lift"])
    a1.axhline(1, color="grey", linewidth=0.5)
    a1.set(xlabel="decile (1 = highest score)", ylabel="lift", title=f"lift by decile ({label})")
    for i, (name, score) in enumerate({**curves, "oracle": oracle}.items()):
        if score is None:
            continue
        cd = deciles(y, score)
        style = {"linestyle": "--"} if name == "oracle" else thin if i else {"marker": "o"}
        a2.plot(np.r_[0, cd["decile"] / 10], np.r_[0, cd["cumulative_capture"]], label=name, **style)
    a2.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
    a2.set(xlabel="share targeted", ylabel="share of positives captured", title="gains")
    a2.legend()
    figs["lift_gains.png"] = fig

    fig, ax = plt.subplots(figsize=(5, 5))
    lim = 0.01
    for i, (name, score) in enumerate(curves.items()):
        frac, mean_p = calibration_curve(y, score, n_bins=10, strategy="quantile")
        ax.plot(mean_p, frac, marker="o", label=name, **(thin if i else {}))
        lim = max(lim, float(mean_p.max()), float(frac.max()))
    ax.plot([0, lim], [0, lim], color="grey", linewidth=0.5)
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title=f"Calibration — {title}")
    ax.legend()
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

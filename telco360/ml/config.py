"""Every ML setting in one place: names in the registry, the promotion rule, splits, bands, products."""

from __future__ import annotations

from dataclasses import dataclass, field

CHURN_MODEL = "telco360-churn"
SEGMENT_MODEL = "telco360-segments"
CHURN_EXPERIMENT = "telco360-churn"
PROPENSITY_EXPERIMENT = "telco360-propensity"
SEGMENT_EXPERIMENT = "telco360-segments"
EXTERNAL_EXPERIMENT = "telco360-external"
CHAMPION, CHALLENGER = "champion", "challenger"

# the main data services: product_id -> label column of marts.ml_features
PROPENSITY_PRODUCTS = {
    "CRBT": "orders_crbt_next",
    "GPRS5": "orders_gprs5_next",
    "FETION": "orders_fetion_next",
    "MUSIC": "orders_music_next",
    "NEWS": "orders_news_next",
}


def propensity_model_name(product_id: str) -> str:
    return f"telco360-propensity-{product_id.lower()}"


CHURN_LABEL = "churn_next"
TIME_COLUMN = "month"
KEY_COLUMNS = ("month", "sub_id")
# never features: keys, labels, and what is only known after the month (or identifies a handset model)
NOT_FEATURES = {"month", "sub_id", "is_active", "imei_tac", CHURN_LABEL, *PROPENSITY_PRODUCTS.values()}
CATEGORICAL = ("brand", "payment_type", "plan_id", "city_code", "gender", "terminal_class")


@dataclass(frozen=True)
class Promotion:
    """A new version becomes champion only if its training months passed the gate, it beats the champion
    on the same holdout by `margin` of ROC AUC, and it clears `floor_auc`; otherwise it stays challenger."""

    metric: str = "roc_auc"
    margin: float = 0.002
    floor_auc: float = 0.60


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 20260101
    models: tuple[str, ...] = ("logistic", "hist_gradient_boosting")
    # HistGradientBoosting: shallow, regularised trees (measured best of 3 settings on the 10k demo's
    # holdout), early stopping on an internal 10% split
    hgb_params: dict = field(
        default_factory=lambda: {
            "learning_rate": 0.05,
            "max_iter": 400,
            "max_leaf_nodes": 7,
            "min_samples_leaf": 200,
            "l2_regularization": 1.0,
            "early_stopping": True,
            "validation_fraction": 0.1,
            "n_iter_no_change": 30,
        }
    )
    logistic_c: float = 0.05
    # rows permutation importance scores on: every positive up to half, then negatives (train.importance_rows);
    # on the 20k demo's validation half-month, 2,000 such rows hold 358 churners, 5,000 random ones about 200
    importance_sample: int = 2000
    # rows a model is fitted on, at most: a larger training (or refit) part is sampled down, stratified by the
    # label and reproducible from the seed; every row is still validated, tested and scored. At 1M
    # subscribers x 4 months the fit parts held 1M and 2M rows (peak 7.0 GB); see bench/bench_models.py
    max_fit_rows: int = 500_000
    evaluate_with_mlflow: bool = True  # mlflow.models.evaluate plots for the registered candidate
    promotion: Promotion = Promotion()


# churn risk bands on the champion's probability (for the retention lists and BI)
RISK_BANDS = (("high", 0.15), ("medium", 0.05), ("low", 0.0))
SCORES_CANDIDATE_SCHEMA = "scores_candidate"

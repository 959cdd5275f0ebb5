"""Models trained on marts.ml_features: churn, behavioural clusters, propensity."""

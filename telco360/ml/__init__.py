"""The models: churn early warning, propensity, behavioural clusters, offers and campaign targets.

Logic lives here as step functions (load features, split by time, fit, evaluate, log, register); the CLI
verbs (`telco360 train|score|models`) and the Airflow DAGs only call them. MLflow state lives under
TELCO360_HOME/mlflow.
"""

"""MLflow state under TELCO360_HOME/mlflow: a SQLite tracking store and an artifact folder per experiment."""

from __future__ import annotations

import logging
import os
import subprocess
import warnings

from telco360.config import PROJECT_ROOT, paths


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{paths().mlflow / 'mlflow.db'}"


def quiet() -> None:
    """MLflow and its dependencies are chatty at INFO/WARNING on every call; jobs print their own summary."""
    for name in ("mlflow", "alembic", "urllib3", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def setup(experiment: str) -> str:
    """Point MLflow at the project's store and return the experiment id (created with its artifact folder)."""
    import mlflow

    quiet()
    home = paths().mlflow
    home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri())
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        exp_id = mlflow.create_experiment(experiment, artifact_location=(home / "artifacts" / experiment).as_uri())
    else:
        exp_id = found.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def client():
    from mlflow import MlflowClient

    quiet()
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return MlflowClient()


def git_commit() -> str:
    """The commit the code ran from ('unknown' outside a git checkout); no shell, fixed arguments."""
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")

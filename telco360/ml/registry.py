"""The MLflow model registry decides what is served: aliases `champion` and `challenger` (no stages).

A new version becomes champion only if its training months passed the quality gate, it beats the current
champion on the same holdout by the declared margin, and it clears the floor (config.Promotion); otherwise it
is the challenger. The decision and its reasons are tags on the version, and every change of champion is
kept in the registered model's `champion_history` tag, which `rollback` walks back.
"""

from __future__ import annotations

from dataclasses import dataclass

from telco360.ml.config import CHALLENGER, CHAMPION, Promotion
from telco360.ml.tracking import client


class RegistryError(RuntimeError):
    """A registry request that cannot be honoured (no such model or version, nothing to roll back to)."""


@dataclass
class Decision:
    promote: bool
    reasons: list[str]


def decide(new: dict, champion: dict | None, gate_passed: bool | None, rule: Promotion) -> Decision:
    """`new` and `champion` are metrics on the same holdout rows. `gate_passed` None: a table from outside
    the warehouse, where no quality gate applies."""
    reasons, ok = [], True
    score = new[rule.metric]
    if gate_passed is None:
        reasons.append("an external table: no quality gate applies")
    elif gate_passed:
        reasons.append("its training months passed the quality gate")
    else:
        ok = False
        reasons.append("its training months did not all pass the quality gate")
    if score < rule.floor_auc:
        ok = False
        reasons.append(f"{rule.metric} {score:.4f} is below the floor {rule.floor_auc:.4f}")
    else:
        reasons.append(f"{rule.metric} {score:.4f} clears the floor {rule.floor_auc:.4f}")
    if champion is None:
        reasons.append("there is no champion yet")
    else:
        needed = champion[rule.metric] + rule.margin
        if score >= needed:
            reasons.append(
                f"it beats the champion's {champion[rule.metric]:.4f} on the same holdout by at least {rule.margin}"
            )
        else:
            ok = False
            reasons.append(
                f"it does not beat the champion's {champion[rule.metric]:.4f} on the same holdout by "
                f"{rule.margin} (needs {needed:.4f})"
            )
    return Decision(ok, reasons)


def champion_version(name: str):
    c = client()
    try:
        return c.get_model_version_by_alias(name, CHAMPION)
    except Exception:  # no such model, or no alias yet
        return None


def register(name: str, model_uri: str, run_id: str, description: str):
    from mlflow.exceptions import MlflowException

    c = client()
    try:
        c.get_registered_model(name)
    except MlflowException:
        c.create_registered_model(name, description=description)
    return c.create_model_version(name, model_uri, run_id=run_id)


def apply(name: str, version: str, decision: Decision) -> None:
    c = client()
    c.set_model_version_tag(name, version, "decision", CHAMPION if decision.promote else CHALLENGER)
    c.set_model_version_tag(name, version, "decision_reasons", "; ".join(decision.reasons))
    if decision.promote:
        _set_champion(name, version, why="promoted by training")
    else:
        c.set_registered_model_alias(name, CHALLENGER, version)


def _history(name: str) -> list[str]:
    tags = client().get_registered_model(name).tags
    return [v for v in tags.get("champion_history", "").split(",") if v]


def _set_champion(name: str, version: str, why: str) -> None:
    c = client()
    current = champion_version(name)
    c.set_registered_model_alias(name, CHAMPION, version)
    history = _history(name)
    if not history or history[-1] != str(version):
        history.append(str(version))
    c.set_registered_model_tag(name, "champion_history", ",".join(history))
    c.set_model_version_tag(name, version, "champion_since_reason", why)
    try:  # the challenger alias points at a version that is not the champion
        if str(c.get_model_version_by_alias(name, CHALLENGER).version) == str(version):
            c.delete_registered_model_alias(name, CHALLENGER)
    except Exception:
        pass
    if current is not None and str(current.version) != str(version):
        c.set_model_version_tag(name, str(current.version), "replaced_by", str(version))


def promote(name: str, version: str) -> str:
    """Make `version` the champion by hand (an ML engineer's decision, recorded as such)."""
    c = client()
    try:
        c.get_model_version(name, str(version))
    except Exception:
        raise RegistryError(f"{name} has no version {version}") from None
    _set_champion(name, str(version), why="promoted by hand (telco360 models promote)")
    return str(version)


def rollback(name: str) -> str:
    """Give the champion alias back to the previous champion."""
    history = _history(name) if _exists(name) else []
    if len(history) < 2:
        raise RegistryError(f"{name} has no previous champion to roll back to")
    history.pop()
    previous = history[-1]
    c = client()
    c.set_registered_model_alias(name, CHAMPION, previous)
    c.set_registered_model_tag(name, "champion_history", ",".join(history))
    c.set_model_version_tag(name, previous, "champion_since_reason", "rolled back to (telco360 models rollback)")
    return previous


def _exists(name: str) -> bool:
    try:
        client().get_registered_model(name)
        return True
    except Exception:
        return False


def listing() -> list[dict]:
    """Every registered telco360 model and version, with its aliases, decision and headline metrics."""
    c = client()
    out = []
    for rm in c.search_registered_models(filter_string="name LIKE 'telco360-%'"):
        for found in sorted(c.search_model_versions(f"name = '{rm.name}'"), key=lambda v: int(v.version)):
            mv = c.get_model_version(rm.name, found.version)  # the search leaves aliases out
            run = c.get_run(mv.run_id) if mv.run_id else None
            m = run.data.metrics if run else {}
            out.append(
                {
                    "model": rm.name,
                    "version": str(mv.version),
                    "aliases": ",".join(sorted(mv.aliases)) or "-",
                    "decision": mv.tags.get("decision", "-"),
                    "test_roc_auc": m.get("test_roc_auc"),
                    "oracle_roc_auc": m.get("oracle_roc_auc"),
                    "test_top_decile_lift": m.get("test_top_decile_lift"),
                    "months": run.data.tags.get("data.train_months", "-") if run else "-",
                    "run_id": mv.run_id,
                }
            )
    return out

"""`telco360 train --features FILE --label COL [--time-column COL]`: the same steps on anyone's table, with no
warehouse behind it. Without a time column the split is stratified, and the run says so."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from telco360.ml import config as C
from telco360.ml.classifier import TrainResult, train_classifier
from telco360.ml.frames import read_feature_file
from telco360.ml.tracking import git_commit
from telco360.ml.train import TrainingError

ID_LIKE = re.compile(r"(^id$|_id$|^id_)", re.IGNORECASE)
MAX_CATEGORIES = 1000  # text columns with more distinct values are identifiers, not categories


def registry_name(path: Path, name: str | None) -> str:
    base = name or f"telco360-external-{path.stem}"
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-")[:100]
    if not clean:
        raise TrainingError(f"cannot make a registry name from {base!r}: give --name")
    return clean


def train_external(
    path: Path, label: str, time_column: str | None, exclude: set[str], name: str | None
) -> tuple[TrainResult, list[str]]:
    df = read_feature_file(path)
    notes = []
    for col, what in ((label, "label"), (time_column, "time column")):
        if col and col not in df.columns:
            raise TrainingError(f"{path}: no {what} column {col!r} (columns: {', '.join(map(str, df.columns[:20]))})")
    unknown = sorted(exclude - set(df.columns))
    if unknown:
        raise TrainingError(f"{path}: --exclude names columns it does not have: {', '.join(unknown)}")
    auto = {c for c in df.columns if c not in (label, time_column) and ID_LIKE.search(str(c))}
    wide = {
        c
        for c in df.columns
        if c not in (label, time_column) and df[c].dtype.kind in "OSU" and df[c].nunique() > MAX_CATEGORIES
    }
    if auto | wide:
        notes.append(f"not used as features (identifiers): {', '.join(sorted(map(str, auto | wide)))}")
    if time_column:
        df = df.copy()
        parsed = pd.to_datetime(df[time_column], errors="coerce")
        if parsed.notna().mean() > 0.99:
            df[time_column] = parsed
    else:
        notes.append("no --time-column: stratified random split (60/20/20); the test does not respect time")
    result = train_classifier(
        df,
        label,
        registry_name(path, name),
        C.EXTERNAL_EXPERIMENT,
        time_column,
        exclude | auto | wide,
        {"data.source": str(path.resolve()), "data.rows": str(len(df)), "code.git_commit": git_commit()},
        gate_passed=None,
        settings=C.TrainSettings(),
        description=f"Trained by `telco360 train --features {path.name} --label {label}`.",
    )
    return result, notes

"""The simulator's planted truth as the ceiling: its true probabilities, on the rows a model is tested on.

`_truth/churn_truth.parquet` holds, for every subscriber alive at the start of month m, the true probability
of churning in m (from drivers observed up to m−1): the oracle of a prediction made at feature month m−1.
`_truth/propensity_truth.parquet` holds, per feature month t, the true probability of ordering product P in
t+1 for subscribers not holding P.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

MIN_COVERAGE = 0.99  # below this the truth is for another dataset: no oracle rather than a wrong one


def _month_start(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.astype(str).str[:7] + "-01")


def _matcher(truth: pd.DataFrame, value: str):
    truth = truth.set_index(["month", "sub_id"])[value]

    def oracle(rows: pd.DataFrame) -> np.ndarray | None:
        keys = pd.MultiIndex.from_arrays([pd.to_datetime(rows["month"]), rows["sub_id"].astype("int64")])
        found = truth.reindex(keys)
        if found.notna().mean() < MIN_COVERAGE:
            return None
        return found.fillna(0.0).to_numpy(dtype=float)

    return oracle


def churn_oracle(truth_dir: Path):
    path = Path(truth_dir) / "churn_truth.parquet"
    if not path.is_file():
        return None
    t = pd.read_parquet(path, columns=["month", "sub_id", "p_churn"])
    t["month"] = _month_start(t["month"]) - pd.offsets.MonthBegin(1)  # predicted at the month before
    t["sub_id"] = t["sub_id"].astype("int64")
    return _matcher(t, "p_churn")


def propensity_oracle(truth_dir: Path, product_id: str):
    path = Path(truth_dir) / "propensity_truth.parquet"
    if not path.is_file():
        return None
    t = pd.read_parquet(path, columns=["month", "sub_id", "product_id", "p_order"])
    t = t[t["product_id"] == product_id].copy()
    if t.empty:
        return None
    t["month"] = _month_start(t["month"])
    t["sub_id"] = t["sub_id"].astype("int64")
    return _matcher(t, "p_order")

"""Step functions of a binary classifier's training: columns, split, estimators, fit, evaluate.

The same steps train the churn early warning, the per-product propensity models and anyone's feature table
(`telco360 train --features FILE --label COL`). Logging and registration are in `tracking.py`/`registry.py`;
the plots in `plots.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from telco360.ml.config import TrainSettings


class TrainingError(ValueError):
    """The data cannot train a model (no labels, one class, too few months): one line saying why."""


@dataclass
class Columns:
    numeric: list[str]
    categorical: list[str]

    @property
    def all(self) -> list[str]:
        return self.categorical + self.numeric


def feature_columns(
    df: pd.DataFrame, label: str, exclude: set[str] | frozenset = frozenset(), categorical_hint=()
) -> Columns:
    """Numeric and boolean columns are numeric features; text and categories are categorical (encoded by the
    pipeline); everything in `exclude` and the label are left out."""
    numeric, categorical = [], []
    for col in df.columns:
        if col == label or col in exclude:
            continue
        kind = df[col].dtype.kind
        if col in categorical_hint or kind in "OSUc" or str(df[col].dtype) in ("category", "string", "str"):
            categorical.append(col)
        elif kind in "biuf":
            numeric.append(col)
        # dates and timestamps are not features as they are (derive tenure-like numbers first)
    if not numeric and not categorical:
        raise TrainingError(f"no feature columns besides the label {label!r}")
    return Columns(numeric, categorical)


def observed(cols: Columns, train: pd.DataFrame) -> tuple[Columns, list[str]]:
    """Leave out the numeric features with no observed value in the training rows (a 3-month trend when
    fewer than three months are delivered): no estimator can learn from them, and gradient boosting's
    binning fails on them. Returns the kept columns and the names left out."""
    empty = [c for c in cols.numeric if c not in train.columns or train[c].notna().sum() == 0]
    if len(empty) == len(cols.numeric) and not cols.categorical:
        raise TrainingError(f"no feature column has a value in the training rows ({len(train):,} rows)")
    return Columns([c for c in cols.numeric if c not in empty], list(cols.categorical)), empty


def prepare(df: pd.DataFrame, cols: Columns) -> pd.DataFrame:
    """The model's input frame, the same for fitting and scoring: numbers as 32-bit floats (missing = NaN;
    half the memory of 64-bit at 1M rows, and ample precision for features), categories as text (missing =
    'missing')."""
    out = {}
    for c in cols.categorical:
        s = df[c] if c in df.columns else pd.Series(None, index=df.index, dtype=object)
        out[c] = s.astype(object).where(s.notna(), "missing").astype(str)
    for c in cols.numeric:
        s = df[c] if c in df.columns else pd.Series(np.nan, index=df.index)
        out[c] = pd.to_numeric(s.astype(object).where(s.notna(), np.nan), errors="coerce").astype("float32")
    return pd.DataFrame(out, index=df.index)


def label_values(series: pd.Series, label: str) -> np.ndarray:
    """0/1 from booleans, 0/1 numbers or two text values (the positive one sorts last, e.g. no/yes)."""
    s = series.dropna()
    values = sorted(s.unique().tolist(), key=str)
    if len(values) != 2 and not (len(values) == 1 and values[0] in (0, 1, True, False)):
        raise TrainingError(f"label {label!r} must have two classes; found {len(values)}: {values[:5]}")
    if s.dtype == bool or set(values) <= {0, 1}:
        return s.astype(int).to_numpy()
    return (s == values[-1]).astype(int).to_numpy()


@dataclass
class Split:
    train: pd.DataFrame | None  # None once prepared (freed before fitting)
    valid: pd.DataFrame | None
    test: pd.DataFrame
    how: str  # what a person reads: which months (or that the split is stratified)
    months: dict = field(default_factory=dict)  # role -> months, for the data version


def split_by_time(
    df: pd.DataFrame, time_column: str, keep: pd.Series | None = None, columns: list[str] | None = None
) -> Split:
    """Train on earlier periods, validate and test on later ones; never a random split across time.
    3+ labelled periods: train on all but the last two, validate on the second last, test on the last.
    2 periods: train on the first; the second is halved (by a fixed hash of the row order) into validation
    and test. `keep` (a boolean mask, e.g. the labelled rows) limits the rows split; `columns`, the columns
    copied into the parts (all by default)."""
    when = df[time_column]
    columns = list(df.columns) if columns is None else columns
    keep = pd.Series(True, index=df.index) if keep is None else keep
    periods = sorted(when[keep].dropna().unique())
    if len(periods) < 2:
        raise TrainingError(
            f"a time split needs at least two labelled periods in {time_column!r}; found {len(periods)}"
        )

    def show(ps):
        return ", ".join(str(pd.Timestamp(p).strftime("%Y-%m")) if _is_date(p) else str(p) for p in ps)

    if len(periods) >= 3:
        train = df.loc[keep & when.isin(periods[:-2]), columns]
        valid = df.loc[keep & (when == periods[-2]), columns]
        test = df.loc[keep & (when == periods[-1]), columns]
        roles = {"train": periods[:-2], "valid": [periods[-2]], "test": [periods[-1]]}
        how = f"by time: train {show(periods[:-2])}; validate {show(periods[-2:-1])}; test {show(periods[-1:])}"
    else:
        train = df.loc[keep & (when == periods[0]), columns]
        later = df.loc[keep & (when == periods[1]), columns]
        half = (np.arange(len(later)) * 2654435761 % 2**32) < 2**31
        valid, test = later[half], later[~half]
        roles = {"train": [periods[0]], "valid": [periods[1]], "test": [periods[1]]}
        how = f"by time: train {show(periods[:1])}; validate and test on halves of {show(periods[1:])}"
    return Split(train, valid, test, how, {k: [show([p]) for p in v] for k, v in roles.items()})


def _is_date(p) -> bool:
    return isinstance(p, (pd.Timestamp, np.datetime64)) or hasattr(p, "strftime")


def split_stratified(df: pd.DataFrame, y: np.ndarray, seed: int) -> Split:
    """No time column: 60/20/20, stratified by the label, reproducible from the seed."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(df))
    tr, rest = train_test_split(idx, test_size=0.4, stratify=y, random_state=seed)
    va, te = train_test_split(rest, test_size=0.5, stratify=y[rest], random_state=seed)
    how = "stratified random 60/20/20 (no time column: the split does not respect time)"
    return Split(df.iloc[tr], df.iloc[va], df.iloc[te], how, {"train": ["stratified"]})


def make_estimator(kind: str, cols: Columns, settings: TrainSettings):
    """An unfitted pipeline: encoding is part of the model, so scoring takes the raw feature columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if kind == "logistic":
        pre = ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, dtype=np.float32),
                    cols.categorical,
                ),
                (
                    "num",
                    make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                    cols.numeric,
                ),
            ],
            sparse_threshold=0.0,
        )
        model = LogisticRegression(C=settings.logistic_c, max_iter=2000)
        return Pipeline([("encode", pre), ("model", model)])
    if kind == "hist_gradient_boosting":
        pre = ColumnTransformer(
            [
                (
                    "cat",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=-1,
                        encoded_missing_value=-1,
                        dtype=np.float32,
                    ),
                    cols.categorical,
                ),
                ("num", "passthrough", cols.numeric),
            ]
        )
        n_cat = len(cols.categorical)
        model = HistGradientBoostingClassifier(
            categorical_features=list(range(n_cat)) if n_cat else None,
            random_state=settings.seed,
            **settings.hgb_params,
        )
        return Pipeline([("encode", pre), ("model", model)])
    raise TrainingError(f"unknown model kind {kind!r}")


def top_share(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> tuple[float, float]:
    """(lift, capture) of the top `share` of rows by score: positive rate there / overall rate, and the share
    of all positives found there. Ties broken by row order (stable)."""
    y = np.asarray(y)
    k = max(1, round(len(y) * share))
    top = np.argsort(-np.asarray(p), kind="stable")[:k]
    base = y.mean()
    if base == 0:
        return float("nan"), float("nan")
    return float(y[top].mean() / base), float(y[top].sum() / y.sum())


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    lift, capture = top_share(y, p)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "top_decile_lift": lift,
        "top_decile_capture": capture,
        "brier": float(brier_score_loss(y, p)),
        "positive_rate": float(np.mean(y)),
        "rows": float(len(y)),
    }


def deciles(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Lift by decile (1 = highest scores): rows, positives, rate, lift, cumulative capture."""
    order = np.argsort(-np.asarray(p), kind="stable")
    dec = np.empty(len(p), int)
    dec[order] = np.arange(len(p)) * 10 // max(len(p), 1) + 1
    t = pd.DataFrame({"decile": dec, "y": np.asarray(y), "p": np.asarray(p)})
    g = t.groupby("decile").agg(rows=("y", "size"), positives=("y", "sum"), mean_score=("p", "mean"))
    g["rate"] = g["positives"] / g["rows"]
    g["lift"] = g["rate"] / max(t["y"].mean(), 1e-12)
    g["cumulative_capture"] = g["positives"].cumsum() / max(t["y"].sum(), 1)
    return g.reset_index()


@dataclass
class Candidate:
    kind: str
    model: object
    valid: dict
    test: dict
    p_test: np.ndarray
    seconds: float


@dataclass
class Prepared:
    """A split's model inputs, prepared once (`prepare`) and shared by every candidate and the refit."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    refit_train_rows: np.ndarray  # positions in X_train the refit fits on
    refit_valid_rows: np.ndarray  # positions in X_valid the refit adds
    train_rows_available: int  # before sampling

    @property
    def refit_rows(self) -> int:
        return len(self.refit_train_rows) + len(self.refit_valid_rows)

    def sampling(self) -> str:
        """What a person reads when the fits saw a sample ('' when they saw every row)."""
        everything = self.train_rows_available + len(self.y_valid)
        if len(self.y_train) == self.train_rows_available and self.refit_rows == everything:
            return ""
        return (
            f"; fitted on stratified samples: {len(self.y_train):,} of {self.train_rows_available:,} training rows, "
            f"the refit {self.refit_rows:,} of {everything:,} training and validation rows"
        )


def prepare_split(split: Split, label: str, cols: Columns, settings: TrainSettings) -> Prepared:
    """X and 0/1 y of each part (each must hold both classes). The training part is fitted on a sample of at
    most `settings.max_fit_rows` rows; the validation part keeps every row for its metrics and gives the refit
    a sample of its own, so that the refit too sees at most that many."""
    ys = {}
    for role, name in (("train", "training"), ("valid", "validation"), ("test", "test")):
        y = label_values(getattr(split, role)[label], label)
        if len(y) != len(getattr(split, role)):  # positions below pair rows with labels: no unlabelled rows
            raise TrainingError(f"the {name} rows of {label!r} include rows without a label")
        if len(np.unique(y)) < 2:
            raise TrainingError(f"the {name} rows of {label!r} hold one class only ({len(y)} rows)")
        ys[role] = y
    cap = settings.max_fit_rows
    train_rows = fit_sample(ys["train"], cap, settings.seed)
    # the refit's sample: training and validation rows in their proportions, at most `cap` in all
    n_train, n_valid = len(ys["train"]), len(ys["valid"])
    k_train = n_train if n_train + n_valid <= cap else round(cap * n_train / (n_train + n_valid))
    refit_train_rows = fit_sample(ys["train"][train_rows], k_train, settings.seed + 1)
    refit_valid_rows = fit_sample(ys["valid"], max(cap - len(refit_train_rows), 0), settings.seed + 2)
    return Prepared(
        prepare(split.train.iloc[train_rows], cols),
        ys["train"][train_rows],
        prepare(split.valid, cols),
        ys["valid"],
        prepare(split.test, cols),
        ys["test"],
        refit_train_rows,
        refit_valid_rows,
        n_train,
    )


def fit_sample(y: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Positions of at most `cap` rows, the classes in their proportions (all rows, in order, if they fit)."""
    if len(y) <= cap:
        return np.arange(len(y))
    # too few for a stratified draw (each class needs a row on both sides of it): a plain one
    if cap < 2 or len(y) - cap < 2 or min(np.bincount(y)) < 2:
        return np.sort(np.random.default_rng(seed).choice(len(y), max(cap, 0), replace=False))
    from sklearn.model_selection import train_test_split

    rows, _ = train_test_split(np.arange(len(y)), train_size=cap, stratify=y, random_state=seed % 2**32)
    return np.sort(rows)


def fit_candidates(data: Prepared, cols: Columns, settings: TrainSettings) -> list[Candidate]:
    import time

    out = []
    for kind in settings.models:
        t0 = time.perf_counter()
        model = make_estimator(kind, cols, settings).fit(data.X_train, data.y_train)
        secs = time.perf_counter() - t0
        p_va = model.predict_proba(data.X_valid)[:, 1]
        p_te = model.predict_proba(data.X_test)[:, 1]
        out.append(Candidate(kind, model, metrics(data.y_valid, p_va), metrics(data.y_test, p_te), p_te, secs))
    return out


def best(candidates: list[Candidate], metric: str = "roc_auc") -> Candidate:
    """The candidate chosen on the validation rows (the test rows judge it, never choose it)."""
    return max(candidates, key=lambda c: c.valid[metric])


def refit_on_train_and_valid(chosen: Candidate, data: Prepared, cols: Columns, settings: TrainSettings):
    """The chosen kind, refitted on the training and validation periods together (more, and more recent,
    data), then judged once on the test period: the served model is this one."""
    import time

    X = pd.concat(
        [data.X_train.iloc[data.refit_train_rows], data.X_valid.iloc[data.refit_valid_rows]], ignore_index=True
    )
    y = np.concatenate([data.y_train[data.refit_train_rows], data.y_valid[data.refit_valid_rows]])
    t0 = time.perf_counter()
    model = make_estimator(chosen.kind, cols, settings).fit(X, y)
    secs = time.perf_counter() - t0
    del X
    p_te = model.predict_proba(data.X_test)[:, 1]
    return Candidate(chosen.kind, model, chosen.valid, metrics(data.y_test, p_te), p_te, secs)


def importance(model, X: pd.DataFrame, y: np.ndarray, settings: TrainSettings) -> pd.DataFrame:
    """Permutation importance (drop in ROC AUC) on a case-control sample of the validation rows
    (`importance_rows`).

    Our pipelines encode row by row (ordinal or one-hot codes, median imputation with missing indicators,
    scaling), each encoded column made from one input column: permuting an input column's rows is permuting
    the rows of the encoded columns made from it. So the rows are encoded once, not once per permutation (the
    encoding was most of the cost), with sklearn's own draws (same seed), so the figures are those of
    `sklearn.inspection.permutation_importance` on the whole pipeline (tested for both models). A pipeline
    whose encoding is not traced this way is permuted through sklearn as it is."""
    from sklearn.inspection import permutation_importance

    rows = importance_rows(y, settings.importance_sample, settings.seed)
    data = X.iloc[rows]
    blocks = encoded_blocks(model, list(X.columns))
    if blocks is None:
        r = permutation_importance(
            model, data, y[rows], scoring="roc_auc", n_repeats=3, random_state=settings.seed, n_jobs=1
        )
        means, sds = r.importances_mean, r.importances_std
    else:
        means, sds = _permute_encoded(model[-1], model[:-1].transform(data), y[rows], blocks, settings.seed)
    return (
        pd.DataFrame({"feature": X.columns, "importance": means, "sd": sds})
        .sort_values("importance", ascending=False)
        .reset_index(drop=True)
    )


def importance_rows(y: np.ndarray, sample: int, seed: int) -> np.ndarray:
    """The rows permutation importance scores on: a case-control sample of at most `sample` rows, every
    positive up to half of it, negatives for the rest, each side drawn without replacement (seeded).

    ROC AUC does not depend on the classes' shares, so the baseline AUC is estimated without bias, and far more
    precisely at a rare label than from rows drawn at random: the error of an AUC goes with 1/positives +
    1/negatives, and a random 5,000 rows at a 0.3% order rate hold 15 positives. The permuted values come from
    this sample's mix of the classes, not the population's, which moves a drop by about 1-2% of itself (a
    simulation); against the figure from every validation row the sample is still the closer (README). All rows
    when they are fewer than `sample`; sorted, so the sample keeps the rows' order."""
    y = np.asarray(y)
    if len(y) <= sample:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y != 1)
    n_pos = min(len(pos), max(sample // 2, sample - len(neg)))  # more than half when negatives run short
    n_neg = min(len(neg), sample - n_pos)
    return np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)]))


def _permute_encoded(estimator, encoded, y: np.ndarray, blocks: list[np.ndarray], seed: int, n_repeats: int = 3):
    """sklearn's permutation loop (`_calculate_permutation_scores`) over blocks of encoded columns: one seed
    drawn from `seed` serves every block; at each repeat the row order is shuffled again and applied to the
    block as permuted so far; importance = baseline score - permuted score."""
    from sklearn.metrics import check_scoring
    from sklearn.utils import check_random_state

    scorer = check_scoring(estimator, scoring="roc_auc")
    work = np.array(encoded, copy=True)  # dense: encoded_blocks refuses a pipeline whose encoding is sparse
    baseline = scorer(estimator, work, y)
    block_seed = check_random_state(seed).randint(np.iinfo(np.int32).max + 1)
    scores = np.empty((len(blocks), n_repeats))
    for i, block in enumerate(blocks):
        if not len(block):  # an input the encoding drops: permuting it changes nothing
            scores[i] = baseline
            continue
        kept = work[:, block].copy()
        random_state = check_random_state(block_seed)
        order = np.arange(len(work))
        for r in range(n_repeats):
            random_state.shuffle(order)
            work[:, block] = work[np.ix_(order, block)]
            scores[i, r] = scorer(estimator, work, y)
        work[:, block] = kept
    drops = baseline - scores
    return drops.mean(axis=1), drops.std(axis=1)


def encoded_blocks(model, columns: list[str]) -> list[np.ndarray] | None:
    """For a pipeline (encoding, estimator) whose encoding is a ColumnTransformer of row-wise parts we can
    trace (ordinal or one-hot codes, identity, median imputation with missing indicators, scaling): the
    encoded columns made from each input column, in `columns` order. None for anything else."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if not (isinstance(model, Pipeline) and len(model) == 2 and isinstance(model[0], ColumnTransformer)):
        return None
    if list(getattr(model, "feature_names_in_", [])) != columns:
        return None
    encode = model[0]
    if getattr(encode, "sparse_output_", False):
        return None
    found: dict[str, list[int]] = {c: [] for c in columns}
    for name, t, cols in encode.transformers_:
        if isinstance(t, str) and t == "drop":
            continue
        cols = None if isinstance(cols, slice | str) else list(cols)
        if cols is None or any(not isinstance(c, str) for c in cols):
            return None  # columns given by position or slice: not traced
        if not cols:  # a part with no columns is never fitted and makes no output
            continue
        owners = _owners(t, len(cols))
        out = encode.output_indices_[name]
        if owners is None or any(c not in found for c in cols) or len(owners) != out.stop - out.start:
            return None
        for at, owner in enumerate(owners, start=out.start):
            found[cols[owner]].append(at)
    return [np.array(found[c], dtype=int) for c in columns]


def _owners(t, n_in: int) -> list[int] | None:
    """For each output column of a fitted transformer, the index of the input column it is made from; None
    for a transformer whose outputs are not traced here."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

    if isinstance(t, str):
        return list(range(n_in)) if t == "passthrough" else None
    steps = list(t.named_steps.values()) if isinstance(t, Pipeline) else [t]
    owners = list(range(n_in))
    for step in steps:
        if isinstance(step, StandardScaler | OrdinalEncoder) or (
            isinstance(step, FunctionTransformer) and step.func is None
        ):
            continue  # one column out per column in, in order
        if isinstance(step, SimpleImputer):
            if step.strategy not in ("mean", "median"):
                return None
            stats = np.asarray(step.statistics_, dtype=float)
            kept = owners if step.keep_empty_features else [o for o, v in zip(owners, stats, strict=True) if v == v]
            owners = kept + ([owners[i] for i in step.indicator_.features_] if step.add_indicator else [])
            continue
        if isinstance(step, OneHotEncoder) and step.drop is None:
            rare = getattr(step, "infrequent_categories_", [None] * len(owners))
            owners = [
                o
                for o, cats, r in zip(owners, step.categories_, rare, strict=True)
                for _ in range(len(cats) if r is None else len(cats) - len(r) + 1)
            ]
            continue
        return None
    return owners

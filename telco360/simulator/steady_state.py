"""Start the operator from its stationary state, so that monthly churn does not drift (issue 9 §5).

Why not re-calibrate the churn intercept every month instead: the planted truth would then be a different
model each month (the same drivers, another intercept), and the drift of the drivers would still show in
every feature. Warming up the state the churn model reads (disengagement, complaints, short payments,
tenure) makes the drivers' distribution stationary, so one fixed model with one intercept gives a flat rate.

The warm-up runs the same recursions as the monthly simulation, with churners (and growth) replaced by
fresh subscribers, for params.WARMUP_MONTHS months before the first simulated month.
"""

from __future__ import annotations

import numpy as np

from telco360.simulator import params as P


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def calibrate_intercept(z: np.ndarray, target: float, factor: np.ndarray | float = 1.0) -> float:
    """The intercept c with mean(factor * sigmoid(c + z)) == target (bisection; monotone in c)."""
    lo, hi = -12.0, 4.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (factor * _sigmoid(mid + z)).mean() > target:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def evolve_disengagement(rng: np.random.Generator, r: np.ndarray) -> np.ndarray:
    r = np.maximum(0.0, P.R_DECAY * r + rng.normal(0, P.R_NOISE, len(r)))
    return r + np.where(rng.random(len(r)) < P.R_DRIFT_SHARE, P.R_DRIFT_SHOCK, 0.0)


def fresh_disengagement(rng: np.random.Generator, k: int) -> np.ndarray:
    return np.maximum(0.0, rng.normal(P.R_INIT_MEAN, P.R_INIT_SD, k))


def warm_up(rng: np.random.Generator, postpaid: np.ndarray, churn_offset: np.ndarray, months: int = P.WARMUP_MONTHS):
    """Stationary (r, complained, short_paid, tenure_days) for a population of len(postpaid) subscribers."""
    n = len(postpaid)
    w = P.CHURN_WEIGHTS
    r = fresh_disengagement(rng, n)
    complained = np.zeros(n, bool)
    short = np.zeros(n, bool)
    tenure = rng.integers(0, 30, n) + 30 * rng.integers(0, 12, n)
    for _ in range(months):
        z = (
            w["disengagement"] * r
            + w["complaint"] * complained
            + w["low_tenure"] * (tenure < 183)
            + w["arrears"] * short
            + churn_offset
        )
        p = _sigmoid(calibrate_intercept(z, P.CHURN_TARGET) + z)
        # churners and the month's growth are replaced by new subscribers in the same slots
        new = (rng.random(n) < p) | (rng.random(n) < P.NET_GROWTH_PER_MONTH)
        r[new] = fresh_disengagement(rng, int(new.sum()))
        tenure[new] = -rng.integers(0, 30, int(new.sum()))
        r = evolve_disengagement(rng, r)
        complained = rng.random(n) < 1 - np.exp(-(P.COMPLAINT_BASE + P.COMPLAINT_PER_R * r))
        short = postpaid & (rng.random(n) < P.ARREARS_BASE + P.ARREARS_PER_R * r)
        tenure = tenure + 30
    return r, complained, short, np.maximum(tenure, 1)

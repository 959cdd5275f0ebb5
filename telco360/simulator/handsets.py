"""The handset library: which TAC a subscriber's phone has and what it can do.

The catalogue lives in params.HANDSETS; the dbt seed `handset_capabilities.csv` is written from it, so the
warehouse's library and the simulator's phones cannot disagree. A TAC outside the library is a basic phone.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from telco360.simulator import params as P

CAPABILITIES = ("gprs", "mms", "java", "music", "wap")
SEED_COLUMNS = ["tac", "vendor", "model"] + [f"supports_{c}" for c in CAPABILITIES]
SEED_PATH = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "handset_capabilities.csv"

TACS = np.array([h[2] for h in P.HANDSETS])
SHARES = np.array([h[8] for h in P.HANDSETS]) / sum(h[8] for h in P.HANDSETS)
# capability matrix: one row per catalogue model plus a last row (all False) for unknown handsets
CAPS = np.vstack([np.array([h[3:8] for h in P.HANDSETS], bool), np.zeros((1, len(CAPABILITIES)), bool)])
UNKNOWN = len(P.HANDSETS)


def draw_handsets(rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(model index into CAPS, TAC as int) for k new subscribers; UNKNOWN_TAC_SHARE get an unlisted TAC."""
    model = rng.choice(len(P.HANDSETS), k, p=SHARES)
    unknown = rng.random(k) < P.UNKNOWN_TAC_SHARE
    model[unknown] = UNKNOWN
    tac = TACS.astype(np.int64)[np.minimum(model, UNKNOWN - 1)]
    # unlisted TACs come from a range no catalogue TAC uses (the catalogue's start 01/35/86)
    tac[unknown] = rng.integers(49_000_000, 49_999_999, int(unknown.sum()))
    return model.astype(np.int16), tac


def capability(model: np.ndarray, name: str) -> np.ndarray:
    return CAPS[model, CAPABILITIES.index(name)]


def seed_csv() -> str:
    """The text of dbt_project/seeds/handset_capabilities.csv, from the catalogue (booleans true/false)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SEED_COLUMNS)
    for vendor, model, tac, *caps in sorted(P.HANDSETS, key=lambda h: h[2]):
        w.writerow([tac, vendor, model] + ["true" if c else "false" for c in caps[:5]])
    return buf.getvalue()


def write_seed(path: Path = SEED_PATH) -> Path:
    path.write_text(seed_csv(), encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m telco360.simulator.handsets: refresh the committed seed
    print(write_seed())

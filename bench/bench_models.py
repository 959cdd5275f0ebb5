"""Benchmark: the models at operator size (default 1M subscribers x 4 months).

    python bench/bench_models.py --subscribers 1000000          (make bench-models)
    python bench/bench_models.py --home DIR                     (reuse a built, gated and published home)
    python bench/bench_models.py --churn-only                   (churn alone: no propensity models, and
                                                                 scoring stops at the churn scores)

Prints: training time (churn, propensity), the champion against the oracle (ROC AUC gap, lift reached),
scoring end to end (warehouse -> model -> warehouse: read the month's features, predict, write the
candidate table) as a ratio to bare `predict_proba` on the same in-memory rows (goal <= 3x), the checks and
publication on top, and the peak memory of this process (goal <= 4 GB). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sh(args: list[str], home: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, env={**os.environ, "TELCO360_HOME": str(home)}, cwd=ROOT)
    return time.perf_counter() - t0


def prepare(home: Path, subscribers: int, months: int) -> None:
    cli = str(Path(sys.executable).with_name("telco360"))
    secs = sh([cli, "generate", "--subscribers", str(subscribers), "--months", str(months), "--seed", "42", "-q"], home)
    print(f"  generated {subscribers:,} x {months} months in {secs:.0f}s")
    print(f"  ingested in {sh([cli, 'ingest', '-q'], home):.0f}s")
    print(f"  built in {sh([cli, 'build'], home):.0f}s")
    print(f"  audited and published in {sh([cli, 'audit', '--publish'], home):.0f}s")


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=4)
    ap.add_argument("--home", help="a home already built and published (skips generation)")
    ap.add_argument("--churn-only", action="store_true", help="train and score churn alone (about half the time)")
    args = ap.parse_args()
    home = Path(args.home or ROOT / "var" / f"bench-models-{args.subscribers}").resolve()
    os.environ["TELCO360_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # the bench's own store, under its home
    if not (home / "warehouse.duckdb").exists():
        home.mkdir(parents=True, exist_ok=True)
        print(f"preparing {home}")
        prepare(home, args.subscribers, args.months)

    from telco360.db import open_warehouse
    from telco360.ml import config as C
    from telco360.ml.jobs import load_features, train_churn, train_propensity
    from telco360.ml.scoring import (
        latest_published_month,
        load_champion,
        month_features,
        predict,
        score_churn,
        score_month,
        write_candidates,
    )

    truth = home / "landing" / "_truth"
    with open_warehouse() as db:
        t0 = time.perf_counter()
        features = load_features(db)
        t_load = time.perf_counter() - t0
        print(
            f"features: {len(features[0]):,} active subscriber-months read in {t_load:.1f}s; "
            f"peak memory so far {peak_gb():.2f} GB"
        )
        t0 = time.perf_counter()
        churn, _ = train_churn(db, truth_dir=truth, features=features)
        t_churn = time.perf_counter() - t0
        print(
            f"train churn: {t_churn:.0f}s (both candidates, plots, logging, registration); "
            f"peak memory so far {peak_gb():.2f} GB"
        )
        for line in churn.lines():
            print("  " + line)
        t0 = time.perf_counter()
        trained = 0
        for product in () if args.churn_only else C.PROPENSITY_PRODUCTS:
            try:
                res, _ = train_propensity(db, product, truth_dir=truth, features=features)
                trained += 1
                print("  " + res.lines()[0])
                if res.oracle:
                    print("  " + res.lines()[2])
            except Exception as exc:  # a product without orders in the data: reported, not fatal
                print(f"  {product}: not trained: {exc}")
        t_prop = time.perf_counter() - t0
        print(f"train propensity: {t_prop:.0f}s for {trained} products")
        del features

        month = latest_published_month(db)
        champion = load_champion(C.CHURN_MODEL)
        t0 = time.perf_counter()
        rows = month_features(db, month)
        scores = score_churn(champion, rows, month, datetime.now())
        write_candidates(db, {"churn_scores": scores}, month)
        t_e2e = time.perf_counter() - t0
        t0 = time.perf_counter()
        predict(champion, rows)
        t_bare_prepared = time.perf_counter() - t0
        from telco360.ml.train import Columns
        from telco360.ml.train import prepare as prep

        cols = champion.columns
        numeric = [c for c in cols if c not in C.CATEGORICAL and rows[c].dtype.kind in "biuf"]
        X = prep(rows, Columns(numeric, [c for c in cols if c not in numeric]))[cols]
        t0 = time.perf_counter()
        champion.model.predict_proba(X)
        t_bare = time.perf_counter() - t0
        print(
            f"score churn end to end ({len(rows):,} rows): {t_e2e:.1f}s; bare predict_proba {t_bare:.1f}s; "
            f"ratio {t_e2e / t_bare:.2f}x (goal <= 3x); predict with preparation {t_bare_prepared:.1f}s"
        )
        if not args.churn_only:  # the other outputs need the propensity models
            t0 = time.perf_counter()
            result = score_month(db, month)
            t_all = time.perf_counter() - t0
            print(f"score_month (all outputs, GX checks, publication): {t_all:.0f}s; published: {result.published}")
            for line in result.lines():
                print("  " + line)
    print(f"peak memory of this process: {peak_gb():.2f} GB (goal <= 4 GB)")


if __name__ == "__main__":
    main()

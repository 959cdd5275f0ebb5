"""The simulator's calibration (issue 9 §5) and its planted propensities and bundles (issue 9 §4), measured
on 5,000 subscribers x 12 months from the delivered files and the seeds, not from simulator internals."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from telco360.simulator.generate import GenerateConfig, generate

SEEDS = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]


@pytest.fixture(scope="module")
def year(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("year") / "landing"
    generate(GenerateConfig(subscribers=5000, months=12, start="2026-01", seed=11, out=out, progress=False))
    return out


@pytest.fixture(scope="module")
def db(year):
    con = duckdb.connect()
    con.execute(f"""
        CREATE VIEW subs AS SELECT *, regexp_extract(filename, '/([0-9]{{4}}-[0-9]{{2}})/', 1) AS month
            FROM read_csv('{year}/crm_subscriber/*/*.txt', delim='|', filename=true, types={{'imei_tac': 'VARCHAR'}});
        CREATE VIEW usage AS SELECT strftime(day, '%Y-%m') AS month, sub_id, sum(voice_min_out + voice_min_in) AS mou,
            sum(data_mb) AS data_mb FROM read_csv('{year}/usage_daily/*/*.txt', delim='|') GROUP BY ALL;
        CREATE VIEW bill AS SELECT * FROM read_csv('{year}/billing_items/*/*.txt', delim='|',
            types={{'amount': 'DECIMAL(14,2)'}});
        CREATE VIEW events AS SELECT *, strftime(ts, '%Y-%m') AS month
            FROM read_csv('{year}/vas_subscription/*/*.txt', delim='|');
        CREATE VIEW classes AS SELECT * FROM read_csv('{SEEDS}/billing_item_classes.csv');
        CREATE VIEW handsets AS SELECT * FROM read_csv('{SEEDS}/handset_capabilities.csv', types={{'tac': 'VARCHAR'}});
        CREATE VIEW active AS SELECT month, sub_id, imei_tac FROM subs WHERE status <> 'deactivated';
    """)
    yield con
    con.close()


def test_monthly_churn_is_stationary_and_near_spec(db, year):
    rates = db.execute("""
        SELECT month, count(*) FILTER (status = 'deactivated'),
               count(*) FILTER (activated_at < strptime(month, '%Y-%m'))
        FROM subs GROUP BY month ORDER BY month""").fetchall()
    observed = np.array([churned / at_start for _, churned, at_start in rates])
    at_start = np.array([n for *_, n in rates])
    truth = pd.read_parquet(year / "_truth" / "churn_truth.parquet").groupby("month")["p_churn"].mean()
    assert len(observed) == len(truth) == 12
    # the true mean probability: flat within half a point, averaging the 3.31% calibration target
    assert truth.max() - truth.min() <= 0.005, truth
    assert truth.mean() == pytest.approx(0.0331, abs=0.003)
    # the observed rate: each month within sampling error of the true mean (at 5,000 subscribers one
    # standard error is ~0.25 points, so 12 months span ~0.85 points by chance alone), and no trend
    se = np.sqrt(truth.to_numpy() * (1 - truth.to_numpy()) / at_start)
    assert (np.abs(observed - truth.to_numpy()) <= 3.5 * se).all(), (observed, truth.to_numpy())
    assert abs(np.polyfit(np.arange(12), observed, 1)[0] * 11) < 0.005, observed
    assert observed.mean() == pytest.approx(0.0331, abs=0.005)


def test_gprs_users_are_a_minority_of_active_subscribers(db):
    shares = db.execute("""
        SELECT a.month, avg((coalesce(u.data_mb, 0) > 0)::int) FROM active a
        LEFT JOIN usage u USING (month, sub_id) GROUP BY a.month ORDER BY 1""").fetchall()
    assert len(shares) == 12
    for month, share in shares:
        assert 0.30 <= share <= 0.40, (month, share)


def test_data_is_used_only_on_handsets_that_support_gprs(db):
    bad = db.execute("""
        SELECT count(*) FROM active a JOIN usage u USING (month, sub_id)
        LEFT JOIN handsets h ON h.tac = a.imei_tac
        WHERE u.data_mb > 0 AND NOT coalesce(h.supports_gprs, false)""").fetchall()[0][0]
    assert bad == 0


def test_mou_is_near_492_minutes(db):
    mou = db.execute("""
        SELECT a.month, avg(coalesce(u.mou, 0)) FROM active a LEFT JOIN usage u USING (month, sub_id)
        GROUP BY a.month ORDER BY 1""").fetchall()
    for month, value in mou:
        assert value == pytest.approx(492, rel=0.05), (month, value)


def test_trial_packages_are_about_14_percent_of_data_vas_revenue(db):
    shares = db.execute("""
        SELECT bill_month, sum(amount) FILTER (is_trial_package) / sum(amount) FILTER (is_data_vas)
        FROM bill JOIN classes USING (item_code) GROUP BY 1 ORDER BY 1""").fetchall()
    assert [m for m, _ in shares] == MONTHS
    for month, share in shares:
        assert 0.10 <= share <= 0.18, (month, share)
    assert np.mean([s for _, s in shares]) == pytest.approx(0.14, abs=0.025)


# ------------------------------------------------------------------ planted propensities


@pytest.fixture(scope="module")
def propensity(year):
    return pd.read_parquet(year / "_truth" / "propensity_truth.parquet")


def test_propensity_truth_covers_every_month_with_a_next_month(propensity):
    assert list(propensity.columns[:5]) == ["month", "sub_id", "product_id", "p_order", "ordered"]
    assert sorted(propensity["month"].unique()) == MONTHS[:-1]
    assert set(propensity["product_id"]) == {"CRBT", "GPRS5", "FETION", "MUSIC", "NEWS"}
    assert not propensity.duplicated(["month", "sub_id", "product_id"]).any()


def test_only_non_holders_are_eligible(db, propensity):
    db.register("prop", propensity)
    holders = db.execute("""
        SELECT count(*) FROM prop p JOIN bill b
          ON b.bill_month = p.month AND b.sub_id = p.sub_id AND b.item_code = p.product_id""").fetchall()[0][0]
    assert holders == 0


def test_planted_orders_show_as_order_events_next_month(db, propensity):
    db.register("prop", propensity[propensity["ordered"]])
    total, seen = db.execute("""
        SELECT count(*), count(e.sub_id) FROM prop p
        LEFT JOIN (SELECT DISTINCT month, sub_id, service_code FROM events WHERE event = 'order' AND is_trial = 0) e
          ON e.month = strftime(strptime(p.month, '%Y-%m') + INTERVAL 1 MONTH, '%Y-%m')
         AND e.sub_id = p.sub_id AND e.service_code = p.product_id""").fetchall()[0]
    assert total > 500
    assert seen == total


def test_a_handset_without_the_capability_never_orders(db, propensity):
    needs = {"GPRS5": "gprs", "FETION": "java", "MUSIC": "music", "NEWS": "mms"}
    db.register("prop", propensity[propensity["product_id"].isin(list(needs))])
    rows = db.execute("""
        SELECT p.product_id, p.p_order, h.supports_gprs, h.supports_java, h.supports_music, h.supports_mms
        FROM prop p JOIN active a USING (month, sub_id) LEFT JOIN handsets h ON h.tac = a.imei_tac""").df()
    for product, cap in needs.items():
        r = rows[rows["product_id"] == product]
        can = r[f"supports_{cap}"].fillna(False).astype(bool)  # a TAC outside the library is a basic phone
        assert (r.loc[~can, "p_order"] == 0).all(), product
        assert (r.loc[can, "p_order"] > 0).all(), product
        assert (~can).sum() > 100


@pytest.mark.parametrize("product", ["CRBT", "GPRS5", "FETION", "MUSIC", "NEWS"])
def test_order_rate_rises_with_the_planted_probability(propensity, product):
    r = propensity[(propensity["product_id"] == product) & (propensity["p_order"] > 0)]
    ordered, p = r["ordered"].to_numpy(), r["p_order"].to_numpy()
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(ordered.mean() - p.mean()) <= 3 * se, (ordered.mean(), p.mean())
    # by decile of the planted probability: each decile's order rate matches its mean probability (within
    # sampling error), and the rate climbs from the bottom decile to the top
    decile = pd.qcut(pd.Series(p).rank(method="first"), 10, labels=False).to_numpy()
    by = pd.DataFrame({"decile": decile, "ordered": ordered, "p": p, "var": p * (1 - p)}).groupby("decile")
    rate, mean_p = by["ordered"].mean(), by["p"].mean()
    se = np.sqrt(by["var"].sum()) / by.size()
    assert ((rate - mean_p).abs() <= 3 * se + 1e-9).all(), pd.DataFrame({"rate": rate, "p": mean_p, "se": se})
    assert rate.iloc[-3:].mean() >= 3 * rate.iloc[:3].mean(), rate
    assert rate.iloc[:5].mean() < rate.iloc[5:].mean()


# ------------------------------------------------------------------ planted bundles


@pytest.mark.parametrize("month", ["2026-01", "2026-06", "2026-12"])
def test_planted_bundles_are_the_top_pairs_by_lift(db, year, month):
    truth = json.loads((year / "_truth" / "truth.json").read_text())
    planted = {frozenset((b["antecedent"], b["consequent"])) for b in truth["bundles"]}
    assert len(planted) == 3
    pairs = db.execute(
        """
        WITH h AS (SELECT DISTINCT b.sub_id, b.item_code AS product FROM bill b
                   JOIN classes c USING (item_code)
                   JOIN active a ON a.month = b.bill_month AND a.sub_id = b.sub_id
                   WHERE b.bill_month = ? AND c.revenue_group IN ('vas', 'voice_vas', 'data_service')
                     AND b.item_code NOT IN ('SMS_P2P', 'MMS', 'GPRS_FLOW')),
             n AS (SELECT count(*) AS n FROM active WHERE month = ?),
             single AS (SELECT product, count(*) AS k FROM h GROUP BY product)
        SELECT x.product AS a, y.product AS b, count(*) / any_value(n.n) AS support,
               count(*) * any_value(n.n) / (any_value(sa.k) * any_value(sb.k)) AS lift
        FROM h x JOIN h y ON x.sub_id = y.sub_id AND x.product < y.product
        JOIN single sa ON sa.product = x.product JOIN single sb ON sb.product = y.product, n
        GROUP BY x.product, y.product HAVING count(*) / any_value(n.n) >= 0.01 ORDER BY lift DESC""",
        [month, month],
    ).fetchall()
    top = [frozenset((a, b)) for a, b, _, _ in pairs[:3]]
    assert set(top) == planted, pairs[:6]
    assert all(lift > 1.5 for *_, lift in pairs[:3])

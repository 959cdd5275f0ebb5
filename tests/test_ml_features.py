"""ml_features, the rule segments and the association rules, checked against the delivered files and the truth.

Everything expected here is recomputed with pandas from the landing files (or read from `_truth/`), never
from the warehouse's own intermediate models.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

PROPENSITY_PRODUCTS = ["CRBT", "GPRS5", "FETION", "MUSIC", "NEWS"]
HELD_SERVICES = ["CRBT", "GPRS5", "GPRS20", "FETION", "MUSIC", "NEWS", "MAIL139", "D12580", "MONTERNET"]
HELD_SERVICES += ["CALLERID", "FORWARD", "VMAIL"]
LABELS = ["churn_next"] + [f"orders_{p.lower()}_next" for p in PROPENSITY_PRODUCTS]


def read_landing(landing: Path, source: str) -> pd.DataFrame:
    """Every delivered file of a source, as delivered (pipe-delimited text with a header)."""
    files = sorted((landing / source).glob("*/part-*.txt"))
    assert files, source
    return pd.concat(
        [pd.read_csv(f, sep="|", dtype={"product_id": "string", "service_code": "string"}) for f in files],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def marts(built_home):
    con = duckdb.connect(str(built_home / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def features(marts) -> pd.DataFrame:
    df = marts.execute("select * from marts.ml_features").df()
    df["month"] = pd.to_datetime(df["month"]).dt.strftime("%Y-%m")
    return df


@pytest.fixture(scope="module")
def billed_services(landing) -> pd.DataFrame:
    """(month, sub_id, product_id) of every VAS billed: held at month end."""
    bills = read_landing(landing, "billing_items")
    bills = bills[bills["product_id"].isin(HELD_SERVICES)]
    return bills[["bill_month", "sub_id", "product_id"]].drop_duplicates().rename(columns={"bill_month": "month"})


def test_churn_next_is_the_planted_churn_of_the_next_month(features, landing):
    truth = pd.read_parquet(landing / "_truth" / "churn_truth.parquet")
    first, last = sorted(features["month"].unique())
    active = features[(features["month"] == first) & features["is_active"]]
    nxt = truth[truth["month"] == last].set_index("sub_id")["churned"]
    expected = nxt.reindex(active["sub_id"]).fillna(False).astype(bool).to_numpy()
    assert active["churn_next"].notna().all()
    assert expected.sum() > 20, "the fixture must hold churners"
    assert (active["churn_next"].astype(bool).to_numpy() == expected).all()


def test_the_last_months_labels_are_unknown_not_false(features):
    months = sorted(features["month"].unique())
    assert len(months) >= 2
    last = features[features["month"] == months[-1]]
    assert last[LABELS].isna().all().all(), "labels of the last loaded month must be null"
    assert features.loc[features["month"] == months[0], "churn_next"].notna().all()


def test_holdings_and_usage_recompute_from_the_delivered_files(features, billed_services, landing):
    month = sorted(features["month"].unique())[0]
    rows = features[features["month"] == month].set_index("sub_id")
    held = billed_services[billed_services["month"] == month]
    for product in HELD_SERVICES:
        holders = set(held.loc[held["product_id"] == product, "sub_id"])
        flagged = set(rows.index[rows[f"holds_{product.lower()}"]])
        assert flagged == holders, product
    assert (rows["vas_held"] == rows[[f"holds_{p.lower()}" for p in HELD_SERVICES]].sum(axis=1)).all()

    usage = read_landing(landing, "usage_daily")
    usage = usage[usage["day"].str.startswith(month)]
    mou = (usage["voice_min_out"] + usage["voice_min_in"]).groupby(usage["sub_id"]).sum()
    assert rows.loc[mou.index, "mou"].to_numpy() == pytest.approx(mou.to_numpy())


def test_orders_next_are_takeups_by_non_holders(features, billed_services, landing):
    first, nxt = sorted(features["month"].unique())[:2]
    events = read_landing(landing, "vas_subscription")
    orders = events[(events["event"] == "order") & (events["is_trial"] == 0) & events["ts"].str.startswith(nxt)]
    rows = features[features["month"] == first].set_index("sub_id")
    bills = read_landing(landing, "billing_items")
    for product in PROPENSITY_PRODUCTS:
        label = rows[f"orders_{product.lower()}_next"]
        holders = set(billed_services.query("month == @first and product_id == @product")["sub_id"])
        trial = {"CRBT": "CRBT_TRIAL", "GPRS5": "GPRS_TRIAL"}.get(product)  # on the trial: the trial decides
        holders |= set(bills.loc[(bills["bill_month"] == first) & (bills["product_id"] == trial), "sub_id"])
        took = set(orders.loc[orders["service_code"] == product, "sub_id"])
        took |= set(billed_services.query("month == @nxt and product_id == @product")["sub_id"])
        assert label[list(holders)].isna().all(), product
        eligible = label.drop(index=list(holders))
        assert eligible.notna().all(), product
        expected = eligible.index.isin(list(took))
        assert (eligible.astype(bool).to_numpy() == expected).all(), product
        assert expected.sum() > 0, f"nobody took up {product}: the check would be empty"


def test_segment_shares_sum_to_one_and_recompute_from_the_rules(marts):
    summary = marts.execute("select * from marts.segment_summary").df()
    totals = summary.groupby(["month", "segment_type"])[["customer_share", "revenue_share"]].sum()
    assert totals.to_numpy() == pytest.approx(1.0)
    rules = marts.execute("select month, sub_id, revenue, value_risk from marts.segment_rules").df()
    active = marts.execute("select month, count(*) as n from marts.ml_features where is_active group by month").df()
    assert rules.groupby("month").size().sort_index().to_numpy().tolist() == active.sort_values("month")["n"].tolist()
    risk = rules.groupby(["month", "value_risk"]).agg(customers=("sub_id", "size"), revenue=("revenue", "sum"))
    risk["customer_share"] = risk["customers"] / risk.groupby(level="month")["customers"].transform("sum")
    got = summary[summary["segment_type"] == "value_risk"].set_index(["month", "segment"]).sort_index()
    risk = risk.sort_index()
    assert got["customers"].tolist() == risk["customers"].tolist()
    assert got["customer_share"].to_numpy() == pytest.approx(risk["customer_share"].to_numpy())


def test_associations_recompute_from_the_billed_holdings(marts, features, billed_services):
    rules = marts.execute("select * from marts.product_associations").df()
    rules["month"] = pd.to_datetime(rules["month"]).dt.strftime("%Y-%m")
    for month, got in rules.groupby("month"):
        active = set(features.loc[(features["month"] == month) & features["is_active"], "sub_id"])
        held = billed_services[(billed_services["month"] == month) & billed_services["sub_id"].isin(active)]
        basket = pd.crosstab(held["sub_id"], held["product_id"]).astype(bool)
        n = len(active)
        expected = []
        for a in basket.columns:
            for b in basket.columns:
                if a != b:
                    both = int((basket[a] & basket[b]).sum())
                    sa, sb = basket[a].sum() / n, basket[b].sum() / n
                    conf = both / basket[a].sum()
                    expected.append((a, b, both / n, conf, conf / sb, sa, sb, both))
        want = pd.DataFrame(expected, columns=list(got.columns[1:])).sort_values(["antecedent", "consequent"])
        got = got.sort_values(["antecedent", "consequent"])
        assert (
            got[["antecedent", "consequent"]].to_numpy().tolist()
            == want[["antecedent", "consequent"]].to_numpy().tolist()
        )
        for col in ["support", "confidence", "lift", "antecedent_support", "consequent_support"]:
            assert got[col].to_numpy() == pytest.approx(want[col].to_numpy()), (month, col)
        assert got["holders"].tolist() == want["holders"].tolist()
        assert got["holders"].sum() > 0

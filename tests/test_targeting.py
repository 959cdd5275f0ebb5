"""Next best offer and campaign target lists on synthetic frames: caps, precedence, suppression, control group,
offers never held and always capable. Every expectation is recomputed here the plain way, from the columns."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import jinja2
import numpy as np
import pandas as pd
import pytest

from telco360.ml.offers import TargetingInputError, build_offers
from telco360.ml.targeting import SUPPRESSION_REASONS, build_targets, control_draw

pytestmark = pytest.mark.unit  # `make test-fast`

DBT = Path(__file__).resolve().parent.parent / "dbt_project"
SEEDS = DBT / "seeds"
MONTH = pd.Timestamp("2026-03-01")
HOLDS = ["crbt", "gprs5", "gprs20", "fetion", "music", "news", "mail139", "d12580", "monternet", "callerid",
         "forward", "vmail"]  # fmt: skip
PROPENSITY_PRODUCTS = ["CRBT", "GPRS5", "FETION", "MUSIC", "NEWS"]
# written out here, independently of the seeds: which column says "holds it", which capability it needs
HOLDING = {"CRBT": ["holds_crbt"], "CRBT_TRIAL": ["holds_crbt"], "GPRS5": ["holds_gprs5", "holds_gprs20"],
           "GPRS20": ["holds_gprs20"], "GPRS_TRIAL": ["holds_gprs5", "holds_gprs20"], "FETION": ["holds_fetion"],
           "MAIL139": ["holds_mail139"], "MUSIC": ["holds_music"], "NEWS": ["holds_news"],
           "D12580": ["holds_d12580"], "MONTERNET": ["holds_monternet"], "CALLERID": ["holds_callerid"],
           "FORWARD": ["holds_forward"], "VMAIL": ["holds_vmail"]}  # fmt: skip
NEEDS = {"GPRS5": "gprs", "GPRS20": "gprs", "GPRS_TRIAL": "gprs", "FETION": "java", "MAIL139": "wap",
         "MUSIC": "music", "NEWS": "mms", "MONTERNET": "wap"}  # fmt: skip
PLANS = {"GOTONE": ["P_GT58", "P_GT88", "P_GT128"], "MZONE": ["P_MZ18", "P_MZ28"], "EASYOWN": ["P_EO0", "P_EO10"]}


def seed(name: str) -> pd.DataFrame:
    return pd.read_csv(SEEDS / f"{name}.csv", dtype={"value": str})


def synthetic(n: int, seed_value: int = 1) -> dict[str, pd.DataFrame]:
    """ml_features of one month plus the model scores and rule candidates the lists read."""
    rng = np.random.default_rng(seed_value)
    brand = rng.choice(["GOTONE", "MZONE", "EASYOWN"], n, p=[0.12, 0.30, 0.58])
    terminal = rng.choice(["smart", "feature", "basic"], n, p=[0.3, 0.45, 0.25])
    smart, feature = terminal == "smart", terminal == "feature"
    f = pd.DataFrame({"month": MONTH, "sub_id": 10_000_000 + rng.permutation(n), "is_active": rng.random(n) < 0.95})
    f["brand"], f["terminal_class"] = brand, terminal
    f["plan_id"] = [PLANS[b][i % len(PLANS[b])] for b, i in zip(brand, rng.integers(0, 6, n), strict=True)]
    f["supports_gprs"] = smart | feature
    f["supports_mms"] = smart | feature
    f["supports_wap"] = smart | feature
    f["supports_java"] = smart | (feature & (rng.random(n) < 0.5))
    f["supports_music"] = smart | (feature & (rng.random(n) < 0.3))
    for name in HOLDS:
        f[f"holds_{name}"] = rng.random(n) < 0.12
    f["days_since_complaint"] = np.where(rng.random(n) < 0.1, rng.integers(0, 200, n), np.nan)
    f["days_since_contact"] = np.where(rng.random(n) < 0.2, rng.integers(0, 120, n), np.nan)
    f["opted_out"] = rng.random(n) < 0.03
    f["revenue"] = rng.gamma(2, 40, n).round(2)
    f["age_years"] = rng.integers(15, 70, n)
    f["sms_out"] = rng.poisson(rng.gamma(1.5, 80, n))
    f["data_mb"] = rng.gamma(0.8, 40, n).round(1)
    f["mou"] = rng.gamma(2, 120, n).round(0)
    f["is_group_member"] = rng.random(n) < 0.13
    f["distinct_contacts_avg"] = rng.gamma(3, 10, n).round(1)
    active = f[f["is_active"]]
    churn = pd.DataFrame({"month": MONTH, "sub_id": active["sub_id"], "churn_probability": rng.beta(1, 20, len(active)),
                          "model_name": "telco360-churn", "model_version": "3"})  # fmt: skip
    propensity = pd.concat(
        [
            pd.DataFrame(
                {
                    "month": MONTH,
                    "sub_id": active["sub_id"],
                    "product_id": p,
                    "score": rng.beta(1, 30, len(active)),
                    "model_name": f"telco360-propensity-{p.lower()}",
                    "model_version": "2",
                }
            )
            for p in PROPENSITY_PRODUCTS
        ],
        ignore_index=True,
    )
    candidates = pd.concat(
        [
            pd.DataFrame({"month": MONTH, "rule_id": rule, "sub_id": f["sub_id"][rng.random(n) < share].to_numpy()})
            for rule, share in [
                ("FETION_CAMPUS", 0.2),
                ("FETION_SMS_HISTORY", 0.3),
                ("FETION_HANDSET_GPRS", 0.2),
                ("CRBT_TRIAL_VOICE", 0.25),
                ("GPRS_TRIAL_GOTONE", 0.1),
                ("GRP_FETION", 0.15),
                ("GRP_VMAIL", 0.15),
            ]
        ],
        ignore_index=True,
    )
    candidates["rule_score"] = rng.random(len(candidates)) * 100
    return {"features": f, "churn": churn, "propensity": propensity, "candidates": candidates}


@pytest.fixture(scope="module")
def data():
    return synthetic(6000)


def targets_of(data, rules=None, policy=None, recent=None, month=MONTH, candidates=None):
    return build_targets(
        data["features"], data["churn"], data["propensity"], data["candidates"] if candidates is None else candidates,
        seed("campaign_rules") if rules is None else rules, seed("campaign_policy") if policy is None else policy,
        seed("product_families"), recent, month, capabilities=seed("product_capabilities"),
        defaults=seed("offer_defaults"),
    )  # fmt: skip


def policy_with(**values) -> pd.DataFrame:
    policy = seed("campaign_policy")
    for name, value in values.items():
        policy.loc[policy["parameter"] == name, "value"] = str(value)
    return policy


def rule(rule_id, product, extraction, cap, priority=1, brand="ALL", model_name=None, family=None, channel="sms"):
    families = dict(zip(seed("product_families")["product_id"], seed("product_families")["family"], strict=True))
    return dict(rule_id=rule_id, rule_name=f"test {rule_id}", product_id=product, brand=brand, extraction=extraction,
                model_name=model_name, monthly_cap=cap, priority=priority, channel=channel,
                family=family or families.get(product))  # fmt: skip


def excluded_plainly(features: pd.DataFrame, product: str | None, policy: dict) -> pd.Series:
    """The first suppression reason of each subscriber for `product`, the plain way (None = eligible)."""
    f = features.set_index("sub_id")
    reason = pd.Series(None, index=f.index, dtype=object)
    holds = f[HOLDING[product]].any(axis=1) if product in HOLDING else f["plan_id"] == product
    need = NEEDS.get(product)
    unsupported = (f["terminal_class"] == "basic") | ~f[f"supports_{need}"] if need else pd.Series(False, f.index)
    for name, hit in [
        ("contacted_recently", f["days_since_contact"] <= policy["recent_contact_days"]),
        ("handset_unsupported", unsupported),
        ("holds_product", holds),
        ("opted_out", f["opted_out"]),
        ("complaint_sensitive", f["days_since_complaint"] <= policy["complaint_days"]),
    ]:  # reversed, so the first reason in the documented order is the one left
        reason[hit.to_numpy()] = name
    return reason


POLICY = {"complaint_days": 30, "recent_contact_days": 30}


def test_library_accounts_for_every_candidate_and_obeys_caps(data):
    targets, suppressions = targets_of(data)
    rules = seed("campaign_rules").set_index("rule_id")
    listed = targets.groupby("rule_id").size().reindex(rules.index, fill_value=0)
    excluded = suppressions.pivot(index="rule_id", columns="reason", values="excluded").reindex(rules.index)
    assert set(suppressions["reason"]) == set(SUPPRESSION_REASONS)
    assert (listed <= rules["monthly_cap"]).all()
    # candidates, counted independently per extraction
    active = data["features"][data["features"]["is_active"]]
    brand_of = active.set_index("sub_id")["brand"]
    for rule_id, r in rules.iterrows():
        if r["extraction"] == "model":
            scores = data["churn"] if r["model_name"] == "telco360-churn" else data["propensity"].query(
                "model_name == @r.model_name")  # fmt: skip
            in_brand = scores["sub_id"].map(brand_of).eq(r["brand"]) | (r["brand"] == "ALL")
            expected = math.ceil(0.2 * int(in_brand.sum()))
        elif r["extraction"] == "default":
            expected = len(set(active["sub_id"]) - set(targets.loc[targets["rule_id"] != rule_id, "sub_id"]))
        else:
            subs = data["candidates"].query("rule_id == @rule_id")["sub_id"]
            expected = int(
                (subs.map(brand_of).eq(r["brand"]) | ((r["brand"] == "ALL") & subs.isin(brand_of.index))).sum()
            )
        assert listed[rule_id] + excluded.loc[rule_id].sum() == expected, rule_id
        if excluded.loc[rule_id, "over_cap"] > 0:  # the cap binds: the list is full
            assert listed[rule_id] == r["monthly_cap"], rule_id
    # no subscriber twice in one family; every active subscriber is on some list or excluded from the default
    assert not targets.duplicated(["sub_id", "family"]).any()
    assert targets["campaign_month"].eq(pd.Timestamp("2026-04-01")).all()
    assert set(targets["precedence"]) == {"model", "experience", "crm_group", "default"}


def test_cap_binds_and_takes_the_best_scores(data):
    rules = pd.DataFrame([rule("VM", "VMAIL", "crm_group", 40), rule("VM_BIG", "CALLERID", "crm_group", 10**6)])
    candidates = data["candidates"].query("rule_id == 'GRP_VMAIL'").copy()
    candidates = pd.concat([candidates.assign(rule_id="VM"), candidates.assign(rule_id="VM_BIG")])
    targets, suppressions = targets_of(data, rules=rules, candidates=candidates)
    reason = excluded_plainly(data["features"], "VMAIL", POLICY)
    active = data["features"].set_index("sub_id")["is_active"]
    pool = candidates.query("rule_id == 'VM'").set_index("sub_id")["rule_score"]
    eligible = pool[reason.reindex(pool.index).isna() & active.reindex(pool.index)]
    assert len(eligible) > 40
    assert set(targets.query("rule_id == 'VM'")["sub_id"]) == set(eligible.nlargest(40).index)
    over = suppressions.query("rule_id == 'VM' and reason == 'over_cap'")["excluded"].item()
    assert over == len(eligible) - 40
    assert suppressions.query("rule_id == 'VM_BIG' and reason == 'over_cap'")["excluded"].item() == 0


def test_model_rule_outranks_experience_rule_of_the_same_family(data):
    rules = pd.DataFrame([
        rule("EXP", "FETION", "experience", 10**6, priority=1),
        rule("MOD", "FETION", "model", 10**6, priority=9, model_name="telco360-propensity-fetion"),
        rule("OTHER_FAMILY", "CRBT_TRIAL", "experience", 10**6),
    ])  # fmt: skip
    pool = data["candidates"].query("rule_id == 'FETION_SMS_HISTORY'")
    candidates = pd.concat([pool.assign(rule_id="EXP"), pool.assign(rule_id="OTHER_FAMILY")])
    targets, suppressions = targets_of(data, rules=rules, candidates=candidates)
    model_listed = set(targets.query("rule_id == 'MOD'")["sub_id"])
    exp_listed = set(targets.query("rule_id == 'EXP'")["sub_id"])
    assert model_listed and exp_listed and not model_listed & exp_listed
    reason = excluded_plainly(data["features"], "FETION", POLICY)
    active = set(data["features"].query("is_active")["sub_id"])
    exp_clean = {s for s in pool["sub_id"] if s in active and pd.isna(reason[s])}
    assert exp_clean & model_listed  # the two rules do compete for these subscribers
    lost = suppressions.query("rule_id == 'EXP' and reason == 'contact_policy'")["excluded"].item()
    assert lost == len(exp_clean & model_listed)
    assert exp_listed == exp_clean - model_listed
    # another family is not blocked by the model rule
    assert suppressions.query("rule_id == 'OTHER_FAMILY' and reason == 'contact_policy'")["excluded"].item() == 0


def test_each_suppression_reason_excludes_the_right_people(data):
    rules = pd.DataFrame([rule("E_FETION", "FETION", "experience", 10**6)])
    pool = data["candidates"].query("rule_id == 'FETION_SMS_HISTORY'").assign(rule_id="E_FETION")
    targets, suppressions = targets_of(data, rules=rules, candidates=pool)
    active = set(data["features"].query("is_active")["sub_id"])
    reason = excluded_plainly(data["features"], "FETION", POLICY)[[s for s in pool["sub_id"] if s in active]]
    expected = reason.value_counts()
    got = suppressions.set_index("reason")["excluded"]
    for name in SUPPRESSION_REASONS[:5]:
        assert got[name] == expected.get(name, 0) and got[name] > 0, name
    assert set(targets["sub_id"]) == set(reason[reason.isna()].index)


def test_platform_lists_of_the_month_before_count_as_recent_contacts(data):
    rules = pd.DataFrame([rule("E_FETION", "FETION", "experience", 10**6)])
    pool = data["candidates"].query("rule_id == 'FETION_SMS_HISTORY'").assign(rule_id="E_FETION")
    first, _ = targets_of(data, rules=rules, candidates=pool)
    previous = first.assign(campaign_month=MONTH)  # as if contacted this month: the new list runs next month
    older = first.assign(campaign_month=MONTH - pd.DateOffset(months=3))
    again, suppressions = targets_of(data, rules=rules, candidates=pool, recent=previous)
    treated = set(first.loc[~first["is_control"], "sub_id"])
    assert set(again["sub_id"]) == set(first.loc[first["is_control"], "sub_id"])
    recent = suppressions.set_index("reason")["excluded"]["contacted_recently"]
    active = set(data["features"].query("is_active")["sub_id"])
    reason = excluded_plainly(data["features"], "FETION", POLICY)[[s for s in pool["sub_id"] if s in active]]
    assert recent == len(treated) + reason.eq("contacted_recently").sum()
    # three months back is not recent, and a rerun of the same month does not suppress itself
    for earlier in (older, first):
        unchanged, _ = targets_of(data, rules=rules, candidates=pool, recent=earlier)
        assert set(unchanged["sub_id"]) == set(first["sub_id"])


def test_control_group_share_reproducible_and_seeded():
    big = synthetic(30000, seed_value=5)
    rules = pd.DataFrame([rule("ALL_CRBT", "CRBT_TRIAL", "experience", 10**6)])
    pool = big["features"][["sub_id"]].assign(month=MONTH, rule_id="ALL_CRBT", rule_score=1.0)
    targets, _ = targets_of(big, rules=rules, candidates=pool)
    n = len(targets)
    share = targets["is_control"].mean()
    assert n > 15000 and abs(share - 0.1) <= 3 * math.sqrt(0.1 * 0.9 / n)
    rerun, _ = targets_of(big, rules=rules, candidates=pool)
    pd.testing.assert_frame_equal(targets, rerun)
    other, _ = targets_of(big, rules=rules, candidates=pool, policy=policy_with(control_seed=7))
    assert (other["is_control"].to_numpy() != targets["is_control"].to_numpy()).mean() > 0.1
    assert abs(other["is_control"].mean() - 0.1) <= 3 * math.sqrt(0.1 * 0.9 / n)
    # a subscriber's draw does not depend on who else is listed
    sample = targets["sub_id"].to_numpy()[:500]
    alone = control_draw(sample, 20260101, MONTH, "ALL_CRBT") < 0.1
    assert (alone == targets["is_control"].to_numpy()[:500]).all()


def test_retention_list_is_the_churn_top_n(data):
    rules = pd.DataFrame([rule("RET", "P_GT88", "model", 50, brand="GOTONE", model_name="telco360-churn")])
    targets, _ = targets_of(data, rules=rules)
    f = data["features"].set_index("sub_id")
    churn = data["churn"].set_index("sub_id")["churn_probability"]
    gotone = churn[f.loc[churn.index, "brand"].eq("GOTONE").to_numpy()]
    pool = gotone.nlargest(math.ceil(0.2 * len(gotone)))
    reason = excluded_plainly(data["features"], "P_GT88", POLICY).reindex(pool.index)
    expected = pool[reason.isna()].nlargest(50)
    assert set(targets["sub_id"]) == set(expected.index)
    assert (targets["product_id"] == "P_GT88").all() and (targets["family"] == "retention").all()


def offers_of(data, associations=None):
    if associations is None:
        associations = pd.DataFrame({"month": [MONTH] * 3, "antecedent": ["CRBT", "NEWS", "CRBT"],
                                     "consequent": ["MUSIC", "D12580", "CALLERID"], "confidence": [0.4, 0.3, 0.5],
                                     "lift": [2.1, 1.6, 0.9]})  # fmt: skip
    return build_offers(
        data["features"], data["propensity"], associations, seed("offer_defaults"), seed("product_capabilities"),
        seed("product_families"), MONTH, rules=seed("campaign_rules"),
    )  # fmt: skip


def test_offers_never_held_always_capable_everyone_ranked(data):
    offers = offers_of(data)
    f = data["features"].set_index("sub_id")
    active = f[f["is_active"]]
    assert set(offers["sub_id"]) == set(active.index)
    rows = active.loc[offers["sub_id"]]
    for product in offers["product_id"].unique():
        who = rows[offers["product_id"].eq(product).to_numpy()]
        if product in HOLDING:
            assert not who[HOLDING[product]].any(axis=1).any(), product
        else:
            assert not (who["plan_id"] == product).any(), product
        if product in NEEDS:
            assert (who[f"supports_{NEEDS[product]}"] & (who["terminal_class"] != "basic")).all(), product
    sizes = offers.groupby("sub_id")["offer_rank"].agg(["min", "max", "size"])
    assert (sizes["min"] == 1).all() and (sizes["max"] == sizes["size"]).all() and (sizes["size"] <= 5).all()
    level = offers["source"].map({"model": 0, "association": 1, "default": 2})
    assert (level.groupby(offers["sub_id"]).diff().dropna() >= 0).all()  # model, then association, then default
    assert not offers.duplicated(["sub_id", "product_id"]).any()
    assert offers.query("source == 'association'")["reason"].str.contains("CALLERID").sum() == 0  # lift <= 1


def test_offers_rank_model_scores_first_and_follow_associations(data):
    offers = offers_of(data)
    f = data["features"].set_index("sub_id")
    p = data["propensity"]
    # the plain way: a scored product is open when not held and the handset can run it
    open_ = []
    for prod, part in p.groupby("product_id"):
        who = f.loc[part["sub_id"]]
        ok = ~who[HOLDING[prod]].any(axis=1)
        if prod in NEEDS:
            ok &= who[f"supports_{NEEDS[prod]}"] & (who["terminal_class"] != "basic")
        open_.append(part[ok.to_numpy()])
    best = pd.concat(open_).sort_values("score", ascending=False).drop_duplicates("sub_id").set_index("sub_id")
    first = offers[offers["offer_rank"] == 1].set_index("sub_id")
    assert (first.loc[best.index, "product_id"] == best["product_id"]).all()
    assert np.allclose(first.loc[best.index, "score"], best["score"])
    assert (first.loc[best.index, "reason"] == best["model_name"] + " v2").all()
    # no propensity at all: the association (CRBT held -> MUSIC) comes before the defaults
    bundle = pd.DataFrame({"month": [MONTH], "antecedent": ["CRBT"], "consequent": ["MUSIC"], "confidence": [0.4],
                           "lift": [2.1]})  # fmt: skip
    plain = offers_of(dict(data, propensity=data["propensity"].iloc[:0]), associations=bundle)
    fans = f[
        f["is_active"] & f["holds_crbt"] & ~f["holds_music"] & f["supports_music"] & (f["terminal_class"] != "basic")
    ]
    top = plain[plain["offer_rank"] == 1].set_index("sub_id").loc[fans.index]
    assert len(fans) > 20 and (top["product_id"] == "MUSIC").all() and (top["source"] == "association").all()
    assert (top["reason"] == "CRBT->MUSIC lift 2.1").all() and np.allclose(top["score"], 0.4)


def test_bad_rule_names_the_file_and_rule(data):
    bad = pd.DataFrame([rule("R1", "FETION", "experience", 10, brand="PEPSI")])
    with pytest.raises(TargetingInputError, match=r"campaign_rules.csv: rule R1: brand 'PEPSI'"):
        targets_of(data, rules=bad)
    wrong_family = pd.DataFrame([rule("R2", "FETION", "experience", 10, family="content")])
    with pytest.raises(TargetingInputError, match=r"rule R2: family 'content'"):
        targets_of(data, rules=wrong_family)


def test_rule_candidates_model_selects_each_rules_condition(data):
    """campaign_rule_candidates.sql (it only uses ref()) run by DuckDB on the synthetic features."""
    sql = jinja2.Template((DBT / "models" / "marts" / "campaign_rule_candidates.sql").read_text()).render(
        ref=lambda name: name
    )
    rules = seed("campaign_rules")
    con = duckdb.connect()
    con.register("ml_features", data["features"])
    con.register("campaign_rules", rules.query("rule_id != 'GRP_FETION'"))  # a rule removed from the seed
    got = con.execute(sql).df()
    f = data["features"][data["features"]["is_active"]]
    expected = {
        "FETION_CAMPUS": (f["brand"].eq("MZONE") & f["age_years"].between(18, 24), f["sms_out"]),
        "FETION_SMS_HISTORY": (
            f["brand"].isin(["MZONE", "GOTONE"]) & (f["sms_out"] >= 100),
            f["sms_out"] + 1e6 * f["brand"].eq("MZONE"),
        ),
        "FETION_HANDSET_GPRS": (f["supports_java"] & (f["data_mb"] >= 50), f["data_mb"]),
        "CRBT_TRIAL_VOICE": (f["mou"] >= 300, f["mou"]),
        "GPRS_TRIAL_GOTONE": (f["brand"].eq("GOTONE") & f["supports_gprs"] & (f["data_mb"] > 0), f["data_mb"]),
        "GRP_VMAIL": (f["is_group_member"], f["revenue"]),
    }
    assert set(got["rule_id"]) == set(expected)
    for rule_id, (condition, score) in expected.items():
        rows = got[got["rule_id"] == rule_id].set_index("sub_id")["rule_score"].sort_index()
        want = score[condition.to_numpy()].set_axis(f["sub_id"][condition.to_numpy()]).sort_index()
        assert len(want) > 10 and rows.index.equals(want.index), rule_id
        assert np.allclose(rows.to_numpy(), want.to_numpy().astype(float)), rule_id
    extraction = dict(zip(rules["rule_id"], rules["extraction"], strict=True))
    assert {extraction[r] for r in got["rule_id"]} == {"experience", "crm_group"}

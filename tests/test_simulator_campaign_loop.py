"""The campaign loop: target lists written by hand run as next month's campaigns, the earlier months are
re-created byte-identical, and the delivered contacts and responses recover each rule's planted uplift."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from telco360.cli import main
from telco360.simulator.generate import GenerateConfig, generate
from telco360.simulator.platform_campaigns import CampaignFileError

pytestmark = pytest.mark.unit  # `make test-fast`

BASE = dict(subscribers=4000, start="2026-01", seed=5, progress=False)
# rule -> (product, precedence, channel); products every handset can use, so every row can respond
RULES = {
    "R_MODEL_CRBT": ("CRBT", "model", "sms"),
    "R_EXP_D12580": ("D12580", "experience", "sms"),
    "R_CRM_RETAIN": ("P_GT88", "crm_group", "outbound"),
    "R_DEF_CALLERID": ("CALLERID", "default", "ussd"),
}


def digests(root: Path, months: tuple[str, ...]) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "_truth" not in p.parts and p.parent.name[:7] in months
    }


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    before = root / "before"
    generate(GenerateConfig(months=2, out=before, **BASE))
    alive = duckdb.execute(f"""
        SELECT sub_id FROM read_csv('{before}/crm_subscriber/2026-02/*.txt', delim='|')
        WHERE status <> 'deactivated' ORDER BY sub_id""").fetchnumpy()["sub_id"]
    rng = np.random.default_rng(0)
    chosen = rng.permutation(alive)[: 900 * len(RULES)].reshape(len(RULES), 900)
    frames = []
    for (rule, (product, precedence, channel)), subs in zip(RULES.items(), chosen, strict=True):
        frames.append(
            pd.DataFrame(
                {
                    "campaign_month": "2026-03",
                    "rule_id": rule,
                    "sub_id": subs,
                    "product_id": product,
                    "channel": channel,
                    "is_control": (rng.random(len(subs)) < 0.5).astype(int),
                    "score": rng.random(len(subs)),
                    "precedence": precedence,
                }
            )
        )
    targets = pd.concat(frames, ignore_index=True)
    targets.to_parquet(root / "targets.parquet", index=False)
    after = root / "after"
    generate(GenerateConfig(months=3, out=after, campaigns_from=root / "targets.parquet", **BASE))
    return before, after, targets, root


def test_earlier_months_are_byte_identical(loop):
    before, after, *_ = loop
    a, b = digests(before, ("2026-01", "2026-02")), digests(after, ("2026-01", "2026-02"))
    assert len(a) > 60
    assert a == b


def test_one_campaign_per_rule_named_after_it(loop):
    _, after, *_ = loop
    rows = duckdb.execute(f"""
        SELECT campaign_name, target_rule, campaign_type, offer_product_id, channel
        FROM read_csv('{after}/campaign/2026-03/*.txt', delim='|') WHERE target_rule LIKE 'rule:%'
        ORDER BY 1""").fetchall()
    expected = {"CRBT": "activation", "D12580": "activation", "P_GT88": "retention", "CALLERID": "activation"}
    assert rows == sorted(
        (f"2026-03 {rule}", f"rule:{rule}", expected[product], product, channel)
        for rule, (product, _, channel) in RULES.items()
    )


def test_delivered_responses_recover_each_rules_planted_uplift(loop):
    _, after, targets, _ = loop
    truth = {r["rule_id"]: r for r in json.loads((after / "_truth" / "platform_campaigns.json").read_text())["rules"]}
    assert set(truth) == set(RULES)
    got = duckdb.execute(f"""
        SELECT substr(c.target_rule, 6) AS rule, k.is_control, count(*) AS n, count(r.sub_id) AS responded
        FROM read_csv('{after}/campaign/2026-03/*.txt', delim='|') c
        JOIN read_csv('{after}/campaign_contact/2026-03/*.txt', delim='|') k USING (campaign_id)
        LEFT JOIN read_csv('{after}/campaign_response/2026-03/*.txt', delim='|') r
          ON r.campaign_id = k.campaign_id AND r.sub_id = k.sub_id
        WHERE c.target_rule LIKE 'rule:%' GROUP BY ALL""").df()
    for rule, g in got.groupby("rule"):
        arms = g.set_index("is_control")
        n_t, n_c = arms.loc[0, "n"], arms.loc[1, "n"]
        assert n_t + n_c == (targets["rule_id"] == rule).sum()
        assert n_c == targets.loc[targets["rule_id"] == rule, "is_control"].sum()
        p_t, p_c = arms.loc[0, "responded"] / n_t, arms.loc[1, "responded"] / n_c
        se = np.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
        assert abs((p_t - p_c) - truth[rule]["true_uplift"]) <= 3 * se, (rule, p_t, p_c, truth[rule])
        assert abs(p_c - truth[rule]["true_control_rate"]) <= 3 * np.sqrt(p_c * (1 - p_c) / n_c) + 1e-9
    # the uplift planted grows with precedence: model > experience > crm_group > default
    ups = [truth[r]["true_uplift"] for r in RULES]
    assert ups == sorted(ups, reverse=True) and ups[-1] > 0


def test_responders_order_the_offered_service(loop):
    _, after, *_ = loop
    missing = duckdb.execute(f"""
        SELECT count(*) FROM read_csv('{after}/campaign/2026-03/*.txt', delim='|') c
        JOIN read_csv('{after}/campaign_response/2026-03/*.txt', delim='|') r USING (campaign_id)
        LEFT JOIN (SELECT DISTINCT sub_id, service_code FROM read_csv('{after}/vas_subscription/2026-03/*.txt',
                   delim='|') WHERE event = 'order') e ON e.sub_id = r.sub_id AND e.service_code = c.offer_product_id
        LEFT JOIN (SELECT DISTINCT sub_id, item_code FROM read_csv('{after}/billing_items/2026-02/*.txt',
                   delim='|')) held ON held.sub_id = r.sub_id AND held.item_code = c.offer_product_id
        WHERE c.target_rule LIKE 'rule:%' AND c.offer_product_id NOT LIKE 'P\\_%' ESCAPE '\\'
          AND e.sub_id IS NULL AND held.sub_id IS NULL""").fetchall()[0][0]
    assert missing == 0


def _bad(root: Path, name: str, change) -> Path:
    df = change(pd.read_parquet(root / "targets.parquet"))
    path = root / name
    df.to_csv(path, index=False) if name.endswith(".csv") else df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize(
    "name, change, message",
    [
        ("no_channel.parquet", lambda d: d.drop(columns="channel"), r"missing column\(s\) channel"),
        ("bad_month.csv", lambda d: d.assign(campaign_month=["2026-3"] + ["2026-03"] * (len(d) - 1)), r"row 1: "),
        ("late_month.csv", lambda d: d.assign(campaign_month="2026-09"), r"row 1: campaign_month 2026-09 is not a"),
        ("dead_sub.parquet", lambda d: d.assign(sub_id=d["sub_id"].where(d.index != 4, 999)), r"row 5: sub_id 999"),
    ],
)
def test_a_bad_campaigns_file_is_a_one_line_error_naming_file_and_row(loop, tmp_path, capsys, name, change, message):
    *_, root = loop
    path = _bad(root, name, change)
    with pytest.raises(CampaignFileError, match=message):
        generate(GenerateConfig(months=3, out=tmp_path / "x", campaigns_from=path, **BASE))
    argv = ["generate", "--subscribers", "4000", "--months", "3", "--seed", "5", "--out", str(tmp_path / "y")]
    assert main([*argv, "--campaigns-from", str(path), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(path) in err and "\n" not in err

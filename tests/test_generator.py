"""The simulator: deterministic, shaped like the contracts, and its planted truth is in the data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from telco360.contracts import load_contracts
from telco360.simulator.generate import GenerateConfig, generate

from .conftest import make_landing


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_byte_identical_files(tmp_path):
    a = make_landing(tmp_path, "a", subscribers=1500, months=1, faults=True)
    b = make_landing(tmp_path, "b", subscribers=1500, months=1, faults=True)
    da, db = tree_digest(a), tree_digest(b)
    assert len(da) > 60  # 31 daily + 14 monthly deliveries, manifests, truth
    assert da == db


def test_another_seed_gives_other_data(tmp_path):
    a = make_landing(tmp_path, "a", subscribers=1500, months=1, seed=1)
    b = make_landing(tmp_path, "b", subscribers=1500, months=1, seed=2)
    pa_, pb = (x / "billing_items" / "2026-01" / "part-00000.txt" for x in (a, b))
    assert pa_.read_bytes() != pb.read_bytes()


def test_every_source_is_delivered_with_the_contract_header_and_a_true_manifest(landing):
    """The manifest's facts are recomputed here from the bytes, not with the writer's own `file_facts`."""
    for name, contract in load_contracts().items():
        folders = sorted((landing / name).iterdir())
        assert len(folders) == (59 if contract.period == "daily" else 2), name  # Jan + Feb 2026
        for folder in folders:
            manifest = json.loads((folder / "manifest.json").read_text())
            assert manifest["source"] == name and manifest["period"] == folder.name
            listed = [f["name"] for f in manifest["files"]]
            assert listed, folder
            # every delivered file is listed, and nothing listed is missing
            assert sorted(listed) == sorted(p.name for p in folder.iterdir() if p.name != "manifest.json"), folder
            for f in manifest["files"]:
                data = (folder / f["name"]).read_bytes()
                lines = data.split(b"\n")
                assert lines[-1] == b"", (folder, f["name"])  # a clean delivery ends with a newline
                assert lines[0].decode(manifest["encoding"]) == "|".join(contract.column_names)
                assert b"" not in lines[1:-1], (folder, f["name"])  # no blank line inflates the count
                assert f["sha256"] == hashlib.sha256(data).hexdigest()
                assert f["bytes"] == len(data)
                assert f["rows"] == len(lines) - 2  # minus the header and the empty tail after the last newline
            assert manifest["row_count"] == sum(f["rows"] for f in manifest["files"])


def test_gbk_delivery_is_the_utf8_delivery_re_encoded(landing, landing_gbk):
    for rel in ("crm_customer/2026-01/part-00000.txt", "group_customer/2026-02/part-00000.txt"):
        gbk = (landing_gbk / rel).read_bytes()
        utf8 = (landing / rel).read_bytes()
        assert gbk != utf8  # Chinese names really are in another encoding
        assert gbk.decode("gbk") == utf8.decode("utf-8")
    assert json.loads((landing_gbk / "crm_customer/2026-01/manifest.json").read_text())["encoding"] == "gbk"


def test_monthly_truth_matches_the_crm_snapshots(landing):
    truth = json.loads((landing / "_truth" / "truth.json").read_text())
    for month, t in truth["monthly"].items():
        churned, active_start = duckdb.execute(f"""
            SELECT count(*) FILTER (status = 'deactivated'),
                   count(*) FILTER (activated_at < DATE '{month}-01')
            FROM read_csv('{landing}/crm_subscriber/{month}/*.txt', delim='|', all_varchar=false)
        """).fetchone()
        assert churned == t["churned"]
        assert active_start == t["subscribers_at_start"]
        assert 0.015 < t["churn_rate"] < 0.06  # calibrated to ~3.3% a month (China Mobile, H1 2009)


def test_billed_revenue_in_truth_equals_the_billing_files(landing):
    truth = json.loads((landing / "_truth" / "truth.json").read_text())
    for month, t in truth["monthly"].items():
        total = duckdb.execute(
            f"SELECT sum(amount) FROM read_csv('{landing}/billing_items/{month}/*.txt', "
            "delim='|', types={'amount': 'DECIMAL(14,2)'})"
        ).fetchone()[0]
        assert float(total) == pytest.approx(t["billed_revenue"], abs=0.005)
        arpu = t["billed_revenue"] / t["subscribers_at_start"]
        assert 60 < arpu < 110  # ~RMB 83 (China Mobile, 2008)


def test_ringback_trials_end_as_the_truth_says(landing):
    truth = json.loads((landing / "_truth" / "truth.json").read_text())
    assert truth["ringback_keep_rate"] == 0.7
    ((month, t),) = truth["ringback_trials"].items()
    ended, kept = duckdb.execute(f"""
        WITH ev AS (SELECT * FROM read_csv('{landing}/vas_subscription/{month}/*.txt', delim='|'))
        SELECT count(*) FILTER (service_code = 'CRBT_TRIAL' AND event = 'cancel'),
               count(*) FILTER (service_code = 'CRBT' AND event = 'order' AND sub_id IN
                   (SELECT sub_id FROM ev WHERE service_code = 'CRBT_TRIAL' AND event = 'cancel'))
        FROM ev""").fetchone()
    assert (ended, kept) == (t["trials_ended"], t["kept"])
    assert 0.5 < kept / ended < 0.9


def test_campaign_truth_matches_contacts_and_responses(landing):
    truth = json.loads((landing / "_truth" / "truth.json").read_text())
    for c in truth["campaigns"]:
        m = c["month"]
        treated, control, resp_t, resp_c = duckdb.execute(f"""
            SELECT count(*) FILTER (is_control = 0), count(*) FILTER (is_control = 1),
                   count(r.sub_id) FILTER (is_control = 0), count(r.sub_id) FILTER (is_control = 1)
            FROM read_csv('{landing}/campaign_contact/{m}/*.txt', delim='|') k
            LEFT JOIN read_csv('{landing}/campaign_response/{m}/*.txt', delim='|') r
              ON r.campaign_id = k.campaign_id AND r.sub_id = k.sub_id
            WHERE k.campaign_id = {c["campaign_id"]}""").fetchone()
        assert (treated, control) == (c["treated"], c["control"])
        assert resp_t / treated == pytest.approx(c["observed_treated_rate"], abs=1e-6)
        assert resp_c / control == pytest.approx(c["observed_control_rate"], abs=1e-6)


def test_generator_rejects_arguments_it_cannot_honour(tmp_path):
    with pytest.raises(ValueError, match="subscribers"):
        generate(GenerateConfig(subscribers=10, months=1, start="2026-01", seed=1, out=tmp_path, progress=False))

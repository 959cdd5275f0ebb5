"""The dbt warehouse on DuckDB recovers the planted truth: revenue to the cent, subscribers, churn, groups."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pytest

from telco360.contracts import load_contracts
from telco360.ingest.loader import Loader
from telco360.ingest.targets import DuckDBTarget
from telco360.simulator import names
from telco360.warehouse import MARTS, build

from .conftest import telco360_home

# the SCD2 histories are incremental too: compared with a full refresh like the marts
HISTORIES = ("int_subscribers__history", "int_customers__history", "int_groups__history")
COMPARED = [("marts_candidate", m) for m in MARTS] + [("intermediate", h) for h in HISTORIES]


def con_of(home):
    return duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)


def test_customer_360_revenue_equals_billed_revenue_to_the_cent(built_home, landing):
    truth = json.loads((landing / "_truth" / "truth.json").read_text())["monthly"]
    con = con_of(built_home)
    mart = dict(
        con.execute("SELECT strftime(month, '%Y-%m'), sum(revenue) FROM marts.customer_360 GROUP BY 1").fetchall()
    )
    billed = dict(con.execute("SELECT bill_month, sum(amount) FROM raw.billing_items GROUP BY 1").fetchall())
    assert set(mart) == set(truth) == set(billed)
    for month in truth:
        assert mart[month] == billed[month]  # Decimal: exact to the cent
        assert float(mart[month]) == pytest.approx(truth[month]["billed_revenue"], abs=0.001)


def test_subscriber_and_churn_counts_equal_the_generators_truth(built_home, landing):
    truth = json.loads((landing / "_truth" / "truth.json").read_text())["monthly"]
    con = con_of(built_home)
    rows = con.execute("""
        SELECT strftime(month, '%Y-%m'), subscribers_at_start, churned, subscribers_at_end, gross_adds
        FROM marts.kpi_monthly WHERE city_code = 'ALL' AND brand = 'ALL'""").fetchall()
    assert len(rows) == len(truth)
    for month, at_start, churned, at_end, adds in rows:
        t = truth[month]
        assert (at_start, churned, adds) == (t["subscribers_at_start"], t["churned"], t["gross_adds"])
        assert at_end == t["subscribers_at_end"]


def test_churned_next_month_matches_the_next_months_churn(built_home):
    con = con_of(built_home)
    jan_next, feb_churned, feb_next = con.execute("""
        SELECT count(*) FILTER (month = DATE '2026-01-01' AND churned_next_month),
               count(*) FILTER (month = DATE '2026-02-01' AND churned_in_month),
               count(*) FILTER (month = DATE '2026-02-01' AND churned_next_month IS NOT NULL)
        FROM marts.customer_360""").fetchone()
    assert jan_next == feb_churned > 0
    assert feb_next == 0  # March is not loaded: unknown, not "did not churn"


def test_group_cleanup_findings_equal_the_planted_counts(built_home, landing):
    truth = json.loads((landing / "_truth" / "group_defects.json").read_text())["monthly"]
    con = con_of(built_home)
    cur = con.execute("""
        SELECT strftime(month, '%Y-%m') AS month,
               count(*) FILTER (finding_no_members) AS groups_no_members,
               count(*) FILTER (finding_few_members) AS groups_few_members,
               sum(vnets_no_members) AS vnets_no_members,
               sum(vnets_few_members) AS vnets_few_members,
               sum(vnets_cross_region) AS vnets_cross_region,
               count(DISTINCT legal_person_hash) FILTER (finding_shared_legal_person)
                   AS legal_persons_with_several_groups,
               sum(identical_member_list_twins) / 2 AS group_pairs_identical_members,
               count(*) FILTER (finding_missing_industry) AS groups_missing_industry,
               count(*) FILTER (finding_no_account_manager) AS groups_no_account_manager,
               sum(products_no_users) AS group_products_no_users,
               sum(products_no_fees) AS group_products_no_fees,
               count(*) FILTER (finding_region_mismatch) AS groups_region_mismatch,
               sum(suspected_fake_members) AS suspected_fake_members,
               count(*) FILTER (finding_high_churn) AS groups_high_churn
        FROM marts.group_customer_value GROUP BY 1 ORDER BY 1""")
    names = [d[0] for d in cur.description]
    found = {r[0]: dict(zip(names[1:], (int(x) for x in r[1:]), strict=True)) for r in cur.fetchall()}
    assert set(found) == set(truth)
    for month, counts in found.items():
        assert counts == {k: truth[month][k] for k in counts}, month


def test_kpi_province_totals_are_the_sum_of_their_parts(built_home):
    con = con_of(built_home)
    rows = con.execute("""
        SELECT strftime(a.month, '%Y-%m'), a.operating_revenue,
               (SELECT sum(operating_revenue) FROM marts.kpi_monthly p
                WHERE p.month = a.month AND p.city_code <> 'ALL' AND p.brand <> 'ALL')
        FROM marts.kpi_monthly a WHERE a.city_code = 'ALL' AND a.brand = 'ALL'""").fetchall()
    assert sorted(r[0] for r in rows) == ["2026-01", "2026-02"]  # one province total per loaded month
    for month, total, parts in rows:
        assert total == parts, month


def raw_crm_churn(con) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(month, city, brand) -> (subscribers at month start, churned in the month), counted from the raw CRM
    snapshot rows themselves, not from any model."""
    rows = con.execute("""
        SELECT regexp_extract(_file, '/(\\d{4}-\\d{2})/', 1) AS month, city_code, brand,
               count(*) FILTER (activated_at < strptime(month || '-01', '%Y-%m-%d')),
               count(*) FILTER (status = 'deactivated' AND status_at >= strptime(month || '-01', '%Y-%m-%d'))
        FROM raw.crm_subscriber GROUP BY ALL""").fetchall()
    return {(m, city, brand): (at_start, churned) for m, city, brand, at_start, churned in rows}


def test_churn_rate_equals_the_generators_truth_and_the_raw_crm_rows(built_home, landing):
    truth = json.loads((landing / "_truth" / "truth.json").read_text())["monthly"]
    con = con_of(built_home)
    province = dict(
        con.execute("""SELECT strftime(month, '%Y-%m'), churn_rate FROM marts.kpi_monthly
                       WHERE city_code = 'ALL' AND brand = 'ALL'""").fetchall()
    )
    assert set(province) == set(truth) and len(truth) == 2
    for month, rate in province.items():
        t = truth[month]
        assert rate == pytest.approx(t["churned"] / t["subscribers_at_start"], rel=1e-12), month
        assert rate == pytest.approx(t["churn_rate"], abs=5e-7), month  # truth.json rounds to 6 places
    # every city x brand cell against the raw CRM snapshot rows
    raw = raw_crm_churn(con)
    cells = con.execute("""SELECT strftime(month, '%Y-%m'), city_code, brand, churn_rate FROM marts.kpi_monthly
                           WHERE city_code <> 'ALL' AND brand <> 'ALL'""").fetchall()
    assert len(cells) == len(raw) > 2 * 14  # 14 cities, each with several brands, in both months
    for month, city, brand, rate in cells:
        at_start, churned = raw[(month, city, brand)]
        if at_start:
            assert rate == pytest.approx(churned / at_start, rel=1e-12), (month, city, brand)
        else:
            assert rate is None, (month, city, brand)  # no base: no rate, never 0 or infinity
    for month, t in truth.items():  # and the raw cells add up to the truth
        assert sum(v[0] for k, v in raw.items() if k[0] == month) == t["subscribers_at_start"]
        assert sum(v[1] for k, v in raw.items() if k[0] == month) == t["churned"]


# Clear personal data, as the simulator writes it (names, ID numbers and MSISDNs never reach staging).
CLEAR_MSISDN = r"1\d{10}"
CLEAR_ID_NUMBER = r"\d{17}[\dX]"
PERSON_NAME = f"[{''.join(names.SURNAMES)}][{''.join(names.GIVEN_M + names.GIVEN_F)}]{{1,2}}"
# An account manager is the operator's employee, named in the group CRM; the contract does not mark the
# column personal (only the contracts' pii columns are). Only the name checks skip it: the simulator draws
# staff and customer names from the same pool, so some managers share a customer's name.
STAFF_NAME_COLUMNS = {"account_manager"}


def test_personal_data_never_reaches_staging_or_marts_in_clear(built_home):
    """Every column of every relation after raw, scanned for the values the contract marks personal and for
    anything shaped like an MSISDN, an ID number or a person's name (the DuckDB twin of the PostgreSQL test)."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{built_home / 'warehouse.duckdb'}' AS w (READ_ONLY)")
    pii = [(s, c.name) for s, contract in load_contracts().items() for c in contract.columns if c.pii]
    assert sorted(pii) == [
        ("crm_customer", "cust_name"),
        ("crm_customer", "id_number"),
        ("crm_subscriber", "msisdn"),
        ("group_customer", "legal_person_id"),
    ]
    # a group customer's CRM name is its company's name, which the group CRM publishes as group_name
    con.execute("""
        CREATE TEMP TABLE clear_values AS
        SELECT 'name' AS kind, cust_name AS v FROM w.raw.crm_customer WHERE cust_type = 'individual'
        UNION SELECT 'id', id_number FROM w.raw.crm_customer
        UNION SELECT 'msisdn', msisdn FROM w.raw.crm_subscriber
        UNION SELECT 'id', legal_person_id FROM w.raw.group_customer""")
    counts = dict(con.execute("SELECT kind, count(*) FROM clear_values GROUP BY 1").fetchall())
    assert counts.keys() == {"name", "id", "msisdn"} and min(counts.values()) > 1000
    columns = con.execute("""
        SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
        WHERE table_catalog = 'w' AND table_schema IN ('staging', 'intermediate', 'marts_candidate', 'marts')
        ORDER BY ALL""").fetchall()
    relations = {(s, t) for s, t, _, _ in columns}
    assert {s for s, _ in relations} == {"staging", "intermediate", "marts_candidate", "marts"}
    assert len([c for c in columns if c[3] == "VARCHAR"]) > 50
    leaks = []
    for schema, table in sorted(relations):
        mine = [(c, typ) for s, t, c, typ in columns if (s, t) == (schema, table)]
        checks = []
        for column, typ in mine:  # every column, as text: an MSISDN may hide in a number
            v = f'CAST("{column}" AS VARCHAR)'
            shaped = [CLEAR_MSISDN, CLEAR_ID_NUMBER]
            kinds = "'id', 'msisdn'"
            if column not in STAFF_NAME_COLUMNS:
                kinds += ", 'name'"
                if typ == "VARCHAR":
                    shaped.append(PERSON_NAME)
            tests = " OR ".join(f"regexp_full_match({v}, '{pattern}')" for pattern in shaped)
            checks.append(f"count(*) FILTER ({tests} OR {v} IN (SELECT v FROM clear_values WHERE kind IN ({kinds})))")
        found = con.execute(f"SELECT {', '.join(checks)} FROM w.{schema}.{table}").fetchone()
        leaks += [(schema, table, column, n) for (column, _), n in zip(mine, found, strict=True) if n]
    assert leaks == []
    # what staging shows instead: a salted hash and a mask
    h, masked = con.execute("SELECT msisdn_hash, msisdn_masked FROM w.staging.stg_crm__subscribers LIMIT 1").fetchone()
    assert len(h) == 64 and re.fullmatch(r"1\d{2}\*{4}\d{4}", masked)


def test_adding_a_month_incrementally_equals_a_full_refresh(landing, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    target = DuckDBTarget(home / "warehouse.duckdb", home / "tmp")
    loader = Loader(target, home / "tmp")
    jan = [p.name for p in sorted((landing / "usage_daily").iterdir()) if p.name.startswith("2026-01")] + ["2026-01"]
    for source in loader.contracts:
        loader.load_source(landing, source, periods=jan)
    target.close()
    with telco360_home(home):
        build("duckdb")
        target = DuckDBTarget(home / "warehouse.duckdb", home / "tmp")
        Loader(target, home / "tmp").load_all(landing)  # February arrives
        target.close()
        build("duckdb")  # incremental: builds February (and refreshes January's next-month facts)
        shutil.copy(home / "warehouse.duckdb", tmp_path / "incremental.duckdb")
        build("duckdb", full_refresh=True)
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'incremental.duckdb'}' AS inc (READ_ONLY)")
    con.execute(f"ATTACH '{home / 'warehouse.duckdb'}' AS full_ (READ_ONLY)")
    for schema, name in COMPARED:
        # _built_through_load_id is lineage: it records which build wrote a row, and differs by design
        cols = ", ".join(
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'inc' "
                "AND table_schema = ? AND table_name = ? AND column_name <> '_built_through_load_id' "
                "ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
        )
        a = con.execute(f"SELECT {cols} FROM inc.{schema}.{name} ORDER BY ALL").fetchall()
        b = con.execute(f"SELECT {cols} FROM full_.{schema}.{name} ORDER BY ALL").fetchall()
        assert_rows_equal(a, b, name)
    # February carried January's versions on: a subscriber whose attributes did not change has one version
    # spanning both months, as in the full refresh, not one per build
    spans = con.execute(
        "SELECT count(*) FROM inc.intermediate.int_subscribers__history "
        "WHERE valid_from = DATE '2026-01-01' AND last_seen_month = DATE '2026-02-01'"
    ).fetchone()[0]
    assert spans > 1000
    months = con.execute("SELECT count(DISTINCT month) FROM inc.marts_candidate.customer_360").fetchone()[0]
    assert months == 2


def marts_snapshot(db) -> dict:
    """Every mart and SCD2 history, row by row, without the lineage column."""
    con = duckdb.connect(str(db), read_only=True)
    out = {}
    for schema, name in COMPARED:
        cols = ", ".join(
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? AND column_name <> '_built_through_load_id' ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
        )
        out[name] = con.execute(f"SELECT {cols} FROM {schema}.{name} ORDER BY ALL").fetchall()
    con.close()
    return out


def test_a_corrected_redelivery_rebuilds_its_month_and_the_months_after(built_home, landing, tmp_path):
    from telco360.simulator.faults import _refresh_manifest

    home = tmp_path / "home"
    shutil.copytree(built_home, home, ignore=shutil.ignore_patterns("dbt"))
    land = tmp_path / "landing"
    shutil.copytree(landing / "billing_items" / "2026-01", land / "billing_items" / "2026-01")
    part = land / "billing_items" / "2026-01" / "part-00000.txt"
    lines = part.read_text().splitlines(keepends=True)
    dropped = lines[1].split("|")[1]  # billing re-sent without one subscriber's lines
    part.write_text("".join(ln for ln in lines if ln.split("|")[1] != dropped))
    _refresh_manifest(part.parent)
    with telco360_home(home):
        target = DuckDBTarget(home / "warehouse.duckdb", home / "tmp")
        (result,) = Loader(target, home / "tmp").load_all(land, sources=["billing_items"])
        target.close()
        assert result.status == "loaded"
        build("duckdb")  # incremental
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        mart, billed = con.execute("""
            SELECT (SELECT sum(revenue) FROM marts_candidate.customer_360 WHERE month = DATE '2026-01-01'),
                   (SELECT sum(amount) FROM raw.billing_items WHERE bill_month = '2026-01')""").fetchone()
        gone = con.execute(
            f"SELECT revenue FROM marts_candidate.customer_360 WHERE month = DATE '2026-01-01' AND sub_id = {dropped}"
        ).fetchall()
        con.close()
        assert mart == billed
        assert gone in ([], [(0,)])  # no stale January revenue for the subscriber the re-delivery dropped
        incremental = marts_snapshot(home / "warehouse.duckdb")
        build("duckdb", full_refresh=True)
        full = marts_snapshot(home / "warehouse.duckdb")
    for name in incremental:  # including February's 3-month trends, which read January
        assert_rows_equal(incremental[name], full[name], name)


def test_a_redelivered_crm_month_rebuilds_the_histories_as_a_full_refresh_would(built_home, landing, tmp_path):
    """CRM re-sends February, the newest month, with one subscriber's plan changed, another subscriber gone and
    a subscriber new in February left out: the SCD2 history built incrementally equals a full refresh, and
    shows the three changes."""
    from telco360.simulator.faults import _refresh_manifest

    home = tmp_path / "home"
    shutil.copytree(built_home, home, ignore=shutil.ignore_patterns("dbt"))
    land = tmp_path / "landing"
    shutil.copytree(landing / "crm_subscriber" / "2026-02", land / "crm_subscriber" / "2026-02")
    part = land / "crm_subscriber" / "2026-02" / "part-00000.txt"
    header, *rows = part.read_text().splitlines(keepends=True)
    names_ = header.rstrip("\n").split("|")
    sub, plan, brand = names_.index("sub_id"), names_.index("plan_id"), names_.index("brand")
    changed, gone = rows[0].split("|"), rows[1].split("|")[sub]
    january = {ln.split("|")[sub] for ln in (landing / "crm_subscriber" / "2026-01" / "part-00000.txt").open()}
    # and a subscriber new in February, re-sent without: in no snapshot any more, gone from the history
    newcomer = next(r for r in rows[2:] if r.split("|")[sub] not in january)
    # another real plan of the same brand (the catalogue and its tests know it)
    changed[plan] = next(
        r.split("|")[plan]
        for r in rows
        if r.split("|")[brand] == changed[brand] and r.split("|")[plan] != changed[plan]
    )
    part.write_text(header + "|".join(changed) + "".join(r for r in rows[2:] if r != newcomer))
    _refresh_manifest(part.parent)
    with telco360_home(home):
        target = DuckDBTarget(home / "warehouse.duckdb", home / "tmp")
        (result,) = Loader(target, home / "tmp").load_all(land, sources=["crm_subscriber"])
        target.close()
        assert result.status == "loaded", result
        build("duckdb")  # incremental
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        versions = con.execute(
            "SELECT valid_from, valid_to, last_seen_month, is_current, plan_id "
            "FROM intermediate.int_subscribers__history WHERE sub_id = ? ORDER BY version",
            [int(changed[sub])],
        ).fetchall()
        departed = con.execute(
            "SELECT last_seen_month, is_current FROM intermediate.int_subscribers__history "
            "WHERE sub_id = ? AND valid_to IS NULL",
            [int(gone)],
        ).fetchall()
        vanished = con.execute(
            "SELECT count(*) FROM intermediate.int_subscribers__history WHERE sub_id = ?",
            [int(newcomer.split("|")[sub])],
        ).fetchone()[0]
        con.close()
        incremental = marts_snapshot(home / "warehouse.duckdb")
        build("duckdb", full_refresh=True)
        full = marts_snapshot(home / "warehouse.duckdb")
    from datetime import date

    jan, feb = date(2026, 1, 1), date(2026, 2, 1)
    assert versions[-1] == (feb, None, feb, True, changed[plan])
    assert versions[-2][1] == feb  # the version before ends where the re-sent plan begins
    assert departed == [(jan, False)]  # no longer in the newest snapshot: not current
    assert vanished == 0
    for name in HISTORIES:
        assert_rows_equal(incremental[name], full[name], name)


def assert_rows_equal(a: list[tuple], b: list[tuple], label: str) -> None:
    """Equal row for row; doubles may differ in the last bit (summation order)."""
    assert len(a) == len(b) > 0, label
    for row_a, row_b in zip(a, b, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if isinstance(x, float):
                assert x == pytest.approx(y, rel=1e-12), (label, row_a, row_b)
            else:
                assert x == y, (label, row_a, row_b)


def test_campaign_effect_recovers_the_planted_control_rate_and_uplift(built_home, landing):
    """Each wave's control success rate and uplift equal the generator's observed rates exactly, and its true
    (planted) rates within 4 standard errors of a binomial proportion, or of a difference of two."""
    truth = {c["campaign_id"]: c for c in json.loads((landing / "_truth" / "truth.json").read_text())["campaigns"]}
    con = con_of(built_home)
    rows = con.execute("""
        SELECT campaign_id, strftime(month, '%Y-%m'), contacted, control_group, success_rate, control_success_rate
        FROM marts.campaign_effect ORDER BY campaign_id""").fetchall()
    assert [r[0] for r in rows] == sorted(truth) and len(rows) == 12  # six waves a month, two months
    z_control, z_uplift = [], []
    for campaign_id, month, treated, control, rate, control_rate in rows:
        t = truth[campaign_id]
        assert (month, treated, control) == (t["month"], t["treated"], t["control"]), campaign_id
        assert rate == pytest.approx(t["observed_treated_rate"], abs=1e-6), campaign_id
        assert control_rate == pytest.approx(t["observed_control_rate"], abs=1e-6), campaign_id
        p_c, p_t = t["true_control_rate"], t["true_control_rate"] + t["true_uplift"]
        se_control = (p_c * (1 - p_c) / control) ** 0.5
        se_uplift = (p_t * (1 - p_t) / treated + p_c * (1 - p_c) / control) ** 0.5
        z_control.append((control_rate - p_c) / se_control)
        z_uplift.append((rate - control_rate - t["true_uplift"]) / se_uplift)
        assert abs(z_control[-1]) < 4 and abs(z_uplift[-1]) < 4, (campaign_id, z_control[-1], z_uplift[-1])
    # the waves are small, so also pooled: the mean of 12 independent z-scores has a standard error of 1/sqrt(12)
    for z in (z_control, z_uplift):
        assert abs(sum(z) / len(z)) < 4 / len(z) ** 0.5


def catalogue_fees(landing, month: str) -> dict[str, str]:
    """product_id -> monthly_fee as delivered in a month's catalogue file."""
    header, *lines = (landing / "product_catalog" / month / "part-00000.txt").read_text().splitlines()
    fee = header.split("|").index("monthly_fee")
    return {line.split("|")[0]: line.split("|")[fee] for line in lines}


def test_each_campaign_is_priced_at_its_own_months_catalogue(built_home, landing, tmp_path):
    """February's catalogue re-delivered with higher fees for every offered product: January's waves keep
    January's fee, February's waves take February's."""
    from decimal import Decimal

    from telco360.simulator.faults import _refresh_manifest

    home = tmp_path / "home"
    shutil.copytree(built_home, home, ignore=shutil.ignore_patterns("dbt"))
    land = tmp_path / "landing"
    shutil.copytree(landing / "product_catalog" / "2026-02", land / "product_catalog" / "2026-02")
    part = land / "product_catalog" / "2026-02" / "part-00000.txt"
    offers = {c["offer"] for c in json.loads((landing / "_truth" / "truth.json").read_text())["campaigns"]}
    header, *lines = part.read_text().splitlines()
    fee = header.split("|").index("monthly_fee")
    raised = []
    for line in lines:
        fields = line.split("|")
        if fields[0] in offers:
            fields[fee] = f"{Decimal(fields[fee]) + 7:.2f}"
        raised.append("|".join(fields))
    part.write_text("\n".join([header, *raised]) + "\n")
    _refresh_manifest(part.parent)
    fees = {"2026-01": catalogue_fees(landing, "2026-01"), "2026-02": catalogue_fees(land, "2026-02")}
    assert len(offers) == 6 and all(fees["2026-01"][o] != fees["2026-02"][o] for o in offers)
    with telco360_home(home):
        target = DuckDBTarget(home / "warehouse.duckdb", home / "tmp")
        (result,) = Loader(target, home / "tmp").load_all(land, sources=["product_catalog"])
        target.close()
        assert result.status == "loaded"
        build("duckdb", select=["campaign_effect"])  # with its unit tests
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rows = con.execute("""
        SELECT strftime(month, '%Y-%m'), offer_product_id, offer_monthly_fee, incremental_responders,
               incremental_revenue
        FROM marts_candidate.campaign_effect""").fetchall()
    assert sorted(r[0] for r in rows) == ["2026-01"] * 6 + ["2026-02"] * 6
    for month, offer, offer_fee, responders, revenue in rows:
        assert offer_fee == Decimal(fees[month][offer]), (month, offer)
        assert float(revenue) == pytest.approx(responders * float(offer_fee), rel=1e-12), (month, offer)

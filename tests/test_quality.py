"""Data quality: the GX suites pass on clean data, find every planted defect at its exact count, gate
publication month by month, and keep a queryable history."""

from __future__ import annotations

import json
import shutil
from datetime import date
from urllib.parse import quote

import duckdb
import pytest

from telco360.db import open_warehouse
from telco360.quality.suites import load_suites
from telco360.simulator.faults import _refresh_manifest
from telco360.warehouse import MARTS, build

from .conftest import build_and_gate, load_duckdb, telco360_home

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def gate(**kw):
    """The quality gate on the current TELCO360_HOME's warehouse, as a job runs it: one handle throughout."""
    from telco360.quality.gate import audit_and_publish

    with open_warehouse("duckdb") as db:
        return audit_and_publish(db, trigger="test", **kw)


def audit(**kw):
    from telco360.quality.audit import run_audit

    with open_warehouse("duckdb") as db:
        return run_audit(db, trigger="test", **kw)


def publish_run(run_id: str):
    from telco360.quality.publish import publish

    with open_warehouse("duckdb") as db:
        return publish(db, run_id)


def through():
    from telco360.quality.publish import published_through

    with open_warehouse("duckdb", read_only=True) as db:
        return published_through(db)


def con_of(home):
    return duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)


def latest_results(home, trigger: str | None = None) -> dict[tuple[str, date], dict]:
    con = con_of(home)
    where = f"WHERE trigger = '{trigger}'" if trigger else ""
    run_id = con.execute(f"SELECT run_id FROM audit.dq_runs {where} ORDER BY started_at DESC LIMIT 1").fetchone()[0]
    cur = con.execute("SELECT * FROM audit.dq_results WHERE run_id = ?", [run_id])
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    con.close()
    return {(r["expectation"], r["data_month"]): r for r in rows}


def test_on_clean_data_every_critical_check_passes_and_the_marts_are_published(built_home):
    results = latest_results(built_home)
    checks = load_suites().checks()
    assert len(checks) > 60
    # every check ran for every month, none errored, none critical failed
    assert set(results) == {(c.name, m) for c in checks for m in (JAN, FEB)}
    assert [k for k, r in results.items() if r["error"]] == []
    assert [k for k, r in results.items() if r["severity"] == "critical" and not r["success"]] == []
    con = con_of(built_home)
    assert con.execute("SELECT passed, failed_critical FROM audit.dq_runs").fetchall() == [(True, 0)]
    assert con.execute("SELECT through_month, months FROM audit.publications").fetchall() == [(FEB, 2)]
    for mart in MARTS:  # published = the audited candidate, row for row, both ways
        published, candidate = con.execute(
            f"SELECT (SELECT count(*) FROM marts.{mart}), (SELECT count(*) FROM marts_candidate.{mart})"
        ).fetchone()
        assert published == candidate > 0, mart
        for a, b in (("marts", "marts_candidate"), ("marts_candidate", "marts")):
            assert con.execute(
                f"SELECT count(*) FROM (SELECT * FROM {a}.{mart} EXCEPT ALL SELECT * FROM {b}.{mart})"
            ).fetchone() == (0,), (mart, a, b)
    # the scorecard: table x dimension x month, from the trail
    card = con.execute(
        "SELECT count(*), count(DISTINCT month), sum(checks), sum(failed_critical) FROM marts.dq_scorecard"
    ).fetchone()
    assert card[1] == 2 and card[2] == len(results) and card[3] == 0
    con.close()
    index = built_home / "data_docs" / "index.html"
    assert index.exists() and "marts.customer_360" in index.read_text()
    # a page per validation (suite x month), each listed on the index (rendered at the end of the run)
    suites = {r["suite"] for r in results.values()}
    pages = list((built_home / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) == 2 * len(suites)
    listed = index.read_text()
    assert all(quote(p.relative_to(built_home / "data_docs").as_posix()) in listed for p in pages)


GROUP_RULES = {  # truth key -> (expectation, entities per planted defect)
    "groups_no_members": ("group_rule_no_members", 1),
    "groups_few_members": ("group_rule_few_members", 1),
    "vnets_no_members": ("group_rule_vnets_no_members", 1),
    "vnets_few_members": ("group_rule_vnets_few_members", 1),
    "vnets_cross_region": ("group_rule_vnets_cross_region", 1),
    "legal_persons_with_several_groups": ("group_rule_shared_legal_person", 1),
    "group_pairs_identical_members": ("group_rule_identical_member_lists", 2),  # both groups of a pair
    "groups_missing_industry": ("group_rule_missing_industry", 1),
    "groups_no_account_manager": ("group_rule_no_account_manager", 1),
    "group_products_no_users": ("group_rule_products_no_users", 1),
    "group_products_no_fees": ("group_rule_products_no_fees", 1),
    "groups_region_mismatch": ("group_rule_region_mismatch", 1),
    "suspected_fake_members": ("group_rule_suspected_fake_members", 1),
    "groups_high_churn": ("group_rule_high_churn", 1),
}


def test_group_cleanup_rules_are_warnings_with_the_planted_counts_and_examples(built_home, landing):
    truth = json.loads((landing / "_truth" / "group_defects.json").read_text())["monthly"]
    results = latest_results(built_home)
    assert len(GROUP_RULES) == 14 and len(truth) == 2
    for month, counts in truth.items():
        m = date.fromisoformat(month + "-01")
        for key, (name, per_defect) in GROUP_RULES.items():
            r = results[(name, m)]
            assert r["severity"] == "warning" and r["dimension"] == "business_rules"
            assert r["unexpected_count"] == counts[key] * per_defect, (name, month)
            assert r["success"] is (counts[key] == 0)
            sample = json.loads(r["offending_sample"])
            assert len(sample) == min(counts[key] * per_defect, 10), (name, month)  # samples stop at 10
            assert all(("group_id" in s or "legal_person_hash" in s) for s in sample)


def assert_gx_equals_plain_sql(home) -> set[tuple[str, date]]:
    """GX's count (or observed value) of every check = the same check in plain SQL; returns the failures."""
    from telco360.db import Warehouse
    from telco360.quality.plain import plain_counts

    results = latest_results(home)
    with telco360_home(home), Warehouse("duckdb", read_only=True) as db:
        plain = plain_counts(db, load_suites(), ("raw", "staging", "marts"), [JAN, FEB])
    assert set(plain) == set(results)
    for key, value in plain.items():
        r = results[key]
        got = r["unexpected_count"] if r["unexpected_count"] is not None else float(r["observed_value"])
        assert got == pytest.approx(value, rel=1e-9), key
    return {key for key, r in results.items() if not r["success"]}


def planted_group_findings(landing) -> set[tuple[str, date]]:
    """(group rule, month) for every rule the generator planted at least one defect for."""
    truth = json.loads((landing / "_truth" / "group_defects.json").read_text())["monthly"]
    return {
        (name, date.fromisoformat(month + "-01"))
        for month, counts in truth.items()
        for key, (name, _) in GROUP_RULES.items()
        if counts[key] > 0
    }


def test_great_expectations_counts_equal_plain_sql(built_home, landing):
    planted = planted_group_findings(landing)
    assert len(planted) > 2 * 10  # most rules planted in both months
    # on clean data the only failures are the planted group findings
    assert assert_gx_equals_plain_sql(built_home) == planted


def data_lines(path) -> list[str]:
    """A delivered file's data lines (after the header; a last line without a newline counts)."""
    lines = path.read_bytes().decode().split("\n")
    return lines[1:-1] if lines[-1] == "" else lines[1:]


def warnings_left_by_quarantined_rows(landing, faults) -> dict[tuple[str, date], int]:
    """The warnings the planted row faults leave behind, which faults.json's `audit` maps do not list,
    worked out from the truth and the delivered bytes: a delivery that lost more than 1% of its rows, and
    usage of a subscriber whose CRM row was quarantined."""
    out: dict[tuple[str, date], int] = {}
    row_faults = [f for f in faults if f["level"] == "row"]
    quarantined: dict[str, int] = {}  # delivery folder -> rows quarantined
    for f in row_faults:
        folder = f["file"].rsplit("/", 1)[0]
        quarantined[folder] = quarantined.get(folder, 0) + f["count"]
    for folder, n in quarantined.items():
        rows_read = sum(len(data_lines(p)) for p in (landing / folder).glob("part-*.txt"))
        if n > 0.01 * rows_read:
            key = ("quarantine_share_below_1pct", date.fromisoformat(folder.split("/")[1][:7] + "-01"))
            out[key] = out.get(key, 0) + 1
    rejected = {f"{f['source']}/{f['period']}" for f in faults if f["level"] == "delivery"}
    quarantined_lines = {(f["file"], n) for f in row_faults for n in f["lines"]}
    for f in (f for f in row_faults if f["source"] == "crm_subscriber"):
        crm = (landing / f["file"]).read_text().split("\n")
        lost = {crm[n - 1].split("|")[0] for n in f["lines"]}
        month = f["period"][:7]
        used = set()
        for part in sorted((landing / "usage_daily").glob(f"{month}-*/part-*.txt")):
            rel = str(part.relative_to(landing))
            if rel.rsplit("/", 1)[0] in rejected:
                continue
            for n, line in enumerate(data_lines(part), start=2):  # line 1 is the header
                sub_id = line.split("|")[1] if "|" in line else None
                if sub_id in lost and (rel, n) not in quarantined_lines:
                    used.add(sub_id)
        key = ("usage_subscriber_in_crm", date.fromisoformat(month + "-01"))
        out[key] = out.get(key, 0) + len(used)
    return {k: n for k, n in out.items() if n}


def test_every_planted_fault_that_reaches_the_warehouse_is_flagged_with_its_exact_count(
    landing_faults, warehouse_faults, tmp_path, capsys
):

    faults = json.loads((landing_faults / "_truth" / "faults.json").read_text())["faults"]
    expected: dict[tuple[str, date], int] = {}
    for f in faults:
        month = date.fromisoformat(f["period"][:7] + "-01")
        for name, n in f["audit"].items():
            expected[(name, month)] = expected.get((name, month), 0) + n
    left_behind = warnings_left_by_quarantined_rows(landing_faults, faults)
    assert left_behind.keys() == {("quarantine_share_below_1pct", JAN), ("usage_subscriber_in_crm", JAN)}
    expected.update(left_behind)
    assert {f["level"] for f in faults} == {"row", "delivery", "warehouse"} and len(expected) >= 10
    home = tmp_path / "home"
    result = build_and_gate(warehouse_faults, home)
    assert result.blocked and not result.published
    results = latest_results(home)
    severity = {c.name: c.severity for c in load_suites().checks()}
    for key, n in expected.items():
        r = results[key]
        assert (r["success"], r["unexpected_count"]) == (False, n), key
        assert r["offending_sample"], key
    # and no critical check fails that no planted fault explains
    failed_critical = {k for k, r in results.items() if r["severity"] == "critical" and not r["success"]}
    assert failed_critical == {k for k in expected if severity[k[0]] == "critical"}
    # GX counts what plain SQL counts, and every failure is a planted fault or a planted group finding
    assert assert_gx_equals_plain_sql(home) == set(expected) | planted_group_findings(landing_faults)
    con = con_of(home)
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' AND table_name = 'customer_360'"
    ).fetchone() == (0,)
    assert con.execute("SELECT verdict, expected = expectations FROM audit.dq_runs").fetchall() == [
        ("critical_failures", True)
    ]
    con.close()
    # what `telco360 quality` shows people afterwards: the reason, and that nothing is published
    from telco360.cli import main

    with telco360_home(home):
        assert main(["quality"]) == 0
    out = capsys.readouterr().out
    assert f"gate: FAILED (critical checks failed: {len(failed_critical)})\n" in out, out
    assert out.rstrip().endswith("published marts: none yet") and "PASSED" not in out


def _copy_month(landing, land, month: str) -> None:
    for source in landing.iterdir():
        if source.name.startswith("_"):
            continue
        for period in source.iterdir():
            if period.name.startswith(month):
                shutil.copytree(period, land / source.name / period.name)


def quality_screen() -> str:
    """What `telco360 quality` prints for the current TELCO360_HOME."""
    from telco360.quality.report import last_run_report

    with open_warehouse("duckdb", read_only=True) as db:
        return last_run_report(db)


def test_a_critical_failure_in_month_m_keeps_the_marts_at_m_minus_1_until_a_fixed_rerun(landing, tmp_path):
    home, land = tmp_path / "home", tmp_path / "landing"
    home.mkdir()

    def published_months():
        con = con_of(home)
        months = [r[0] for r in con.execute("SELECT DISTINCT month FROM marts.kpi_monthly ORDER BY 1").fetchall()]
        con.close()
        return months

    with telco360_home(home):
        _copy_month(landing, land, "2026-01")
        load_duckdb(land, home / "warehouse.duckdb")
        build("duckdb")
        assert gate().published["through_month"] == "2026-01"
        # February arrives with 3 subscribers' bills under ids no CRM snapshot has
        _copy_month(landing, land, "2026-02")
        part = land / "billing_items" / "2026-02" / "part-00000.txt"
        clean = part.read_bytes()
        lines = clean.decode().splitlines(keepends=True)
        subs = sorted({ln.split("|")[1] for ln in lines[1:]})[:3]
        part.write_text(
            "".join(
                ln.replace(f"|{ln.split('|')[1]}|", "|990000001|", 1) if ln.split("|")[1] in subs else ln
                for ln in lines
            )
        )
        _refresh_manifest(part.parent)
        load_duckdb(land, home / "warehouse.duckdb")
        build("duckdb")
        failed = gate()
        assert failed.blocked and "billed_subscriber_in_crm" in failed.blocked
        # February and the month before it (February's CRM refreshes January's churned_next_month)
        assert failed.run.months == [JAN, FEB]
        assert through() == "2026-01" and published_months() == [JAN]
        screen = quality_screen()
        with open_warehouse("duckdb", read_only=True) as db:
            n = db.one(
                "SELECT count(*) FROM audit.dq_results WHERE run_id = ? AND severity = 'critical' AND NOT success",
                (failed.run.run_id,),
            )
        assert n >= 1 and f"gate: FAILED (critical checks failed: {n})\n" in screen, screen
        assert screen.endswith("published marts: through 2026-01")
        con = con_of(home)
        assert con.execute("SELECT count(DISTINCT month) FROM marts_candidate.kpi_monthly").fetchone() == (2,)
        con.close()
        # billing re-sends February correctly
        part.write_bytes(clean)
        _refresh_manifest(part.parent)
        load_duckdb(land, home / "warehouse.duckdb")
        build("duckdb")
        # a partial audit cannot publish: not every layer, or not every changed month
        from telco360.quality.publish import PublicationBlocked

        partial = audit(layers=("marts",), months=[JAN, FEB])
        with pytest.raises(PublicationBlocked, match="did not check raw, staging"):
            publish_run(partial.run_id)
        partial = audit(months=[FEB])
        with pytest.raises(PublicationBlocked, match="did not check 2026-01"):
            publish_run(partial.run_id)
        empty = audit(months=[])
        assert not empty.passed
        screen = quality_screen()
        assert "gate: FAILED (nothing to audit: no month was selected)\n" in screen, screen
        assert screen.endswith("published marts: through 2026-01")
        with pytest.raises(PublicationBlocked, match="did not pass"):
            publish_run(empty.run_id)
        fixed = gate()
        assert fixed.published and fixed.published["through_month"] == "2026-02"
        screen = quality_screen()
        assert "gate: PASSED; marts published through 2026-02\n" in screen and "FAILED" not in screen, screen
        assert published_months() == [JAN, FEB]
        # nothing changed since: nothing to audit, nothing to publish
        again = gate()
        assert (again.run, again.published, again.blocked) == (None, None, None) and "nothing changed" in again.note
        # a candidate rebuilt after its audit is not published on that audit
        con = duckdb.connect(str(home / "warehouse.duckdb"))
        con.execute("UPDATE marts_candidate.customer_360 SET _built_through_load_id = _built_through_load_id + 1")
        con.close()
        with pytest.raises(PublicationBlocked, match="rebuilt since audit run"):
            publish_run(fixed.run.run_id)
    # the trail: when it started failing, when it was fixed, and the scorecard of the latest run
    con = con_of(home)
    history = con.execute("""
        SELECT success, unexpected_count FROM audit.dq_results
        WHERE expectation = 'billed_subscriber_in_crm' AND data_month = DATE '2026-02-01'
        ORDER BY run_started_at""").fetchall()
    # three bad subscriber ids were all set to one id; the partial runs checked February too
    assert history == [(False, 1), (True, 0), (True, 0)]
    runs = con.execute("SELECT passed, verdict FROM audit.dq_runs ORDER BY started_at").fetchall()
    assert runs == [
        (True, "passed"),
        (False, "critical_failures"),
        (True, "passed"),  # the partial runs passed what they checked; publish() refused them
        (True, "passed"),
        (False, "nothing_to_audit"),
        (True, "passed"),
    ]
    assert con.execute("SELECT count(*) FROM audit.publications").fetchone() == (2,)
    assert con.execute(
        "SELECT sum(failed_critical) FROM marts.dq_scorecard WHERE month = DATE '2026-02-01'"
    ).fetchone() == (0,)
    con.close()


def test_the_kpi_share_check_catches_the_decks_printed_33_1_percent(tmp_path):
    """docs/kpis.md: the source prints a new-business share of 33.1% where its parts give 39.3 / 121.9 = 32.2%."""
    from telco360.quality.suites import Suites

    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA marts_candidate")
    con.execute("""
        CREATE TABLE marts_candidate.kpi_monthly AS
        SELECT DATE '2008-12-01' AS month, city_code, 'ALL' AS brand,
               121.90::DECIMAL(18, 2) AS operating_revenue, 39.30::DECIMAL(18, 2) AS new_business_revenue,
               31.90::DECIMAL(18, 2) AS data_vas_revenue, 4.51::DECIMAL(18, 2) AS campaign_revenue,
               0.97::DOUBLE AS campaign_effective_revenue, 100 AS subscribers_at_start, 3 AS churned,
               0.03::DOUBLE AS churn_rate, printed::DECIMAL(18, 1) AS new_business_share_pct,
               29.3::DECIMAL(18, 1) AS effective_new_business_share_pct, 14.1::DECIMAL(18, 1) AS data_vas_discount_pct,
               11.5::DECIMAL(18, 1) AS new_business_discount_pct
        FROM (VALUES ('AS_PRINTED', 33.1), ('RECOMPUTED', 32.2)) AS t(city_code, printed)""")
    con.close()
    suites = load_suites()
    kpi = next(a for a in suites.assets["marts"] if a.name == "kpi_monthly")
    kpi.checks = [c for c in kpi.checks if c.name == "kpi_shares_recompute_from_parts"]
    only = Suites(assets={"marts": [kpi]}, volume_bands={})
    with telco360_home(home):
        run = audit(layers=("marts",), months=[date(2008, 12, 1)], suites=only)
    (r,) = run.results
    assert (r["success"], r["unexpected_count"], r["severity"]) == (False, 1, "critical")
    assert [s["city_code"] for s in json.loads(r["offending_sample"])] == ["AS_PRINTED"]
    assert not run.passed


def _run(**kw):
    from telco360.quality.audit import AuditRun

    check = {"severity": "critical", "success": True, "expectation": "c", "table_name": "t", "error": None}
    args = dict(run_id="r1", target="duckdb", layers=["marts"], months=[JAN], started_at=None, seconds=1.0)
    return AuditRun(**{**args, "results": [dict(check)] * 3, "expected": 3, **kw})


@pytest.mark.parametrize(
    "run, gate_line",
    [
        (dict(), "gate: PASSED"),
        (dict(expected=5), "gate: FAILED (the run was incomplete: 3 of 5 checks ran)"),
        (
            dict(error="OperationalError: disk I/O error\nmore"),
            "gate: FAILED (an error: OperationalError: disk I/O error)",
        ),
        (dict(months=[], results=[], expected=0), "gate: FAILED (nothing to audit: no month was selected)"),
    ],
)
def test_the_gate_line_says_why(run, gate_line):
    from telco360.quality.audit import summary

    lines = summary(_run(**run)).splitlines()
    assert [ln for ln in lines if ln.startswith("gate: ")] == [gate_line]


def test_a_trail_written_before_the_rename_is_still_read(tmp_path):
    """Rows written as `dev` (before TELCO360_WAREHOUSE) count for the duckdb warehouse; none are rewritten."""
    from telco360.quality.publish import published_through
    from telco360.quality.report import load_run
    from telco360.quality.trail import ensure_trail

    home = tmp_path / "home"
    home.mkdir()
    duckdb.connect(str(home / "warehouse.duckdb")).close()
    with telco360_home(home), open_warehouse("duckdb") as db:
        ensure_trail(db)
        db.execute(
            "INSERT INTO audit.publications (run_id, target, published_at, through_month, months, tables) "
            "VALUES ('old', 'dev', TIMESTAMP '2026-03-01 06:00:00', DATE '2026-02-01', 2, 'kpi_monthly')"
        )
        db.execute(  # a run recorded before audit.dq_runs had a verdict
            "INSERT INTO audit.dq_runs (run_id, target, trigger, layers, months, started_at, finished_at, "
            "expectations, failed_critical, failed_warning, errors, passed) VALUES ('old', 'dev', 'cli', "
            "'raw,staging,marts', '2026-01,2026-02', TIMESTAMP '2026-03-01 05:00:00', "
            "TIMESTAMP '2026-03-01 05:01:00', 0, 0, 0, 0, true)"
        )
        assert published_through(db) == "2026-02"
        run = load_run(db)
        assert (run.target, run.verdict, run.passed) == ("duckdb", "passed", True)
        assert db.all("SELECT DISTINCT target FROM audit.publications") == [("dev",)]


def test_data_docs_pages_load_nothing_from_the_internet(built_home):
    """GX writes CDN addresses into its pages; after the audit they point at the site's own copies (the
    browser proof, offline: tests/e2e/test_data_docs.py)."""
    from telco360.quality.docs_assets import EXTERNAL_LOAD, VENDOR, localize

    assert VENDOR.is_dir(), "run `make install`: it fetches the Data Docs' web assets"
    site = built_home / "data_docs"
    pages = list(site.rglob("*.html"))
    assert len(pages) > 10
    assert [p for p in pages if EXTERNAL_LOAD.search(p.read_text())] == []
    assert (site / "static" / "vendor" / "jquery@3.7.1" / "dist" / "jquery.min.js").is_file()
    # idempotent: a second pass changes nothing and finds nothing left
    before = {p: p.read_bytes() for p in pages}
    assert localize(site) == []
    assert {p: p.read_bytes() for p in pages} == before

"""GX Data Docs opened from the file, as people do, on a machine with no network: the validation list is
drawn (GX's index draws it with jQuery and bootstrap-table, which it would load from CDNs), the latest run is
listed first, and the faulted month's failed critical check can be found and read."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

ROWS = "#Validation-Results tr.clickable-row"  # the other tab lists the expectation suites
BILLING_CHECK = "every billed subscriber is in the month's CRM snapshot"  # billed_subscriber_in_crm


def test_the_validation_list_renders_offline_latest_run_first(demo, offline, shots):
    page = offline.page
    page.goto((demo.home / "data_docs" / "index.html").as_uri())
    rows = page.locator(ROWS)
    rows.first.wait_for(timeout=15_000)
    # newest first (the table sorts by run time): the faulted month's run; both runs are there
    assert demo.faulted_run_id in rows.first.inner_text()
    assert rows.count() >= 10
    page.get_by_role("searchbox", name="Search").first.press_sequentially(demo.clean_run_id)
    page.wait_for_function(
        f"id => [...document.querySelectorAll('{ROWS}')].every(r => r.innerText.includes(id))",
        arg=demo.clean_run_id,
    )
    assert rows.count() > 0
    page.get_by_role("button", name="Clear Filters").click()
    page.wait_for_function(f"id => document.querySelector('{ROWS}').innerText.includes(id)", arg=demo.faulted_run_id)
    page.screenshot(path=str(shots / "data-docs-index.png"))
    assert offline.left_the_machine == []
    assert offline.console_errors == []


def test_the_faulted_months_failed_critical_check_is_visible(demo, offline, shots):
    assert "billed_subscriber_in_crm" in demo.failed_critical
    page = offline.page
    page.goto((demo.home / "data_docs" / "index.html").as_uri())
    page.locator(ROWS).first.wait_for(timeout=15_000)
    # a person filters the list to the failed validations of the latest run, then opens the billing one
    page.locator("select.bootstrap-table-filter-control-validation_success").select_option("Failed")
    page.get_by_role("searchbox", name="Search").first.press_sequentially(f"{demo.faulted_run_id} staging 2026-04")
    row = page.locator(ROWS, has_text="stg_billing__items")
    row.wait_for(timeout=10_000)
    assert row.count() == 1
    assert row.locator("i.ge-failed-icon").count() == 1
    row.click()
    page.wait_for_url("**/validations/staging/stg_billing__items/**")
    assert re.search(r"Status:\s+Failed", page.locator("body").inner_text())
    unsuccessful = page.locator("table tr", has_text="Unsuccessful Expectations")
    assert unsuccessful.locator("td").last.inner_text().strip() == "1"
    failed = page.locator("tr", has_text=BILLING_CHECK)
    assert failed.locator("i.text-danger").count() == 1
    # the three bad bills were re-keyed to one subscriber id no CRM snapshot has: one offending id
    assert failed.locator("td").last.inner_text().strip() == "1"
    page.screenshot(path=str(shots / "data-docs-failed-check.png"))
    assert offline.left_the_machine == []
    assert offline.console_errors == []

"""GX Data Docs, opened from the file as people do, with no network."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_probe(demo, offline, shots):
    page = offline.page
    page.goto((demo.home / "data_docs" / "index.html").as_uri())
    page.wait_for_timeout(2000)
    print(offline.left_the_machine, offline.console_errors)
    page.screenshot(path=str(shots / "probe.png"))
    print(demo)

"""The people's tools in a real browser: one small demo operator built once per session, real servers on
127.0.0.1, Debian's headless Chromium driven by Playwright, and no network (every request that is not for
this machine is aborted and recorded, and each test asserts that none was made).

Screenshots go to the session folder, or to $TELCO360_SCREENSHOTS (`make screenshots`: docs/screenshots).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from ..conftest import build_and_gate, load_duckdb, make_landing, telco360_home

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DEMO = dict(subscribers=2000, months=4, start="2026-01", seed=7)  # 3 clean months, then a faulted 4th
CLEAN_MONTHS = ("2026-01", "2026-02", "2026-03")
FAULTED_MONTH = "2026-04"
BAD_SUB_ID = "990000001"  # billed, but in no CRM snapshot: the critical check billed_subscriber_in_crm fails
VIEWPORT = {"width": 1280, "height": 800}


@dataclass
class Demo:
    home: Path
    landing: Path
    clean_run_id: str
    faulted_run_id: str
    failed_critical: list[str]
    churn_champion: str
    dbt_target: Path


def _copy_month(source_landing: Path, land: Path, month: str) -> None:
    for source in source_landing.iterdir():
        if source.name.startswith("_"):
            continue
        for period in source.iterdir():
            if period.name.startswith(month):
                shutil.copytree(period, land / source.name / period.name)


def _plant_unknown_subscribers(land: Path, month: str) -> None:
    """Billing delivers the month with 3 subscribers' bills under an id no CRM snapshot has (as in
    tests/test_quality.py): a critical check fails and the gate keeps the month out of the published marts."""
    from telco360.simulator.faults import _refresh_manifest

    part = land / "billing_items" / month / "part-00000.txt"
    lines = part.read_text().splitlines(keepends=True)
    subs = sorted({ln.split("|")[1] for ln in lines[1:]})[:3]
    part.write_text(
        "".join(
            ln.replace(f"|{ln.split('|')[1]}|", f"|{BAD_SUB_ID}|", 1) if ln.split("|")[1] in subs else ln
            for ln in lines
        )
    )
    _refresh_manifest(part.parent)


@pytest.fixture(scope="session")
def demo(data_root) -> Demo:
    """A 2,000-subscriber operator: three clean months loaded, built, audited and published, the churn model
    trained (MLflow under the home), dbt docs generated; then a fourth month whose billing is faulted, loaded,
    built and audited: the gate fails and Data Docs show it. Built once per session (~3.5 min).

    TELCO360_E2E_DEMO=<an earlier session's e2e_home> reuses that home instead (for working on the tests)."""
    reuse = os.environ.get("TELCO360_E2E_DEMO")
    if reuse:
        saved = json.loads((Path(reuse) / "e2e_demo.json").read_text())
        return Demo(**{k: Path(v) if k in ("home", "landing", "dbt_target") else v for k, v in saved.items()})
    return _build_demo(data_root)


def _build_demo(data_root: Path) -> Demo:
    from telco360.db import open_warehouse
    from telco360.ml.config import CHAMPION, CHURN_MODEL
    from telco360.ml.jobs import train_all
    from telco360.ml.registry import promote
    from telco360.ml.tracking import client
    from telco360.quality.gate import audit_and_publish
    from telco360.warehouse import build, dbt_env, run_dbt

    started = time.monotonic()
    full = make_landing(data_root, "landing_e2e", **DEMO)
    land = data_root / "landing_e2e_delivered"
    for month in CLEAN_MONTHS:
        _copy_month(full, land, month)
    raw = data_root / "e2e_raw"
    raw.mkdir()
    load_duckdb(land, raw / "warehouse.duckdb")
    home = data_root / "e2e_home"
    clean = build_and_gate(raw / "warehouse.duckdb", home)
    assert clean.published, clean.text()
    with telco360_home(home):
        with open_warehouse("duckdb", read_only=True) as db:
            train_all(db, "churn", full / "_truth", progress=lambda line: None)
        aliases = client().get_registered_model(CHURN_MODEL).aliases
        if CHAMPION not in aliases:
            # 2,000 subscribers make a weak model that the promotion floor keeps as challenger; people promote
            # by hand with `telco360 models promote`, which is what this does
            promote(CHURN_MODEL, aliases["challenger"])
        champion = client().get_registered_model(CHURN_MODEL).aliases[CHAMPION]
        ok, _, output = run_dbt(["docs", "generate", "--quiet"], "duckdb")
        assert ok, output[-3000:]
        dbt_target = Path(dbt_env("duckdb")["DBT_TARGET_PATH"])
        # the faulted month arrives
        _copy_month(full, land, FAULTED_MONTH)
        _plant_unknown_subscribers(land, FAULTED_MONTH)
        load_duckdb(land, home / "warehouse.duckdb")
        build("duckdb")
        with open_warehouse("duckdb") as db:
            faulted = audit_and_publish(db, trigger="e2e")
        assert faulted.blocked and not faulted.published, faulted.text()
        failed = sorted({r["expectation"] for r in faulted.run.failed("critical")})
    print(f"\ne2e demo home built in {time.monotonic() - started:.0f}s: {home}")
    demo = Demo(home, land, clean.run.run_id, faulted.run.run_id, failed, str(champion), dbt_target)
    (home / "e2e_demo.json").write_text(json.dumps(dataclasses.asdict(demo), default=str))
    return demo


# --- servers ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(cmd: list[str], url: str, env: dict | None = None, log: Path | None = None, timeout: float = 120):
    """Start a server in its own process group, wait until `url` answers, yield the process, stop it."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                text = log.read_text(errors="replace")[-3000:] if log else ""
                raise RuntimeError(f"{cmd[:3]} exited with {proc.returncode}: {text}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not answer in {timeout}s") from None
                time.sleep(0.5)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)  # the group this fixture started (make and its child)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        if log:
            out.close()


def make_env(home: Path) -> dict:
    """The environment `make` gets for a server of the demo home (make exports the rest itself)."""
    env = {"TELCO360_HOME": str(home), "MAKEFLAGS": "", "MFLAGS": ""}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


@pytest.fixture(scope="session")
def mlflow_url(demo, tmp_path_factory):
    """`make mlflow` on the demo home's tracking store (the command people run), on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("mlflow") / "server.log"
    env = {**make_env(demo.home), "MLFLOW_PORT": str(port)}
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with server(["make", "-s", "mlflow"], f"http://127.0.0.1:{port}/health", env, log, timeout=180) as proc:
        yield f"http://127.0.0.1:{port}", proc


@pytest.fixture(scope="session")
def dbt_docs_url(demo, tmp_path_factory):
    """`make docs-serve` on the demo home's dbt docs, on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("dbt_docs") / "server.log"
    env = {**make_env(demo.home), "DOCS_PORT": str(port)}
    with server(["make", "-s", "docs-serve"], f"http://127.0.0.1:{port}/index.html", env, log) as proc:
        yield f"http://127.0.0.1:{port}", proc


# --- the browser --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: apt-get install -y chromium (.ci/run does)"
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    b = playwright.chromium.launch(executable_path=CHROMIUM)
    yield b
    b.close()


def is_local(url: str) -> bool:
    u = urlparse(url)
    if u.scheme in ("file", "data", "blob", "about"):
        return True
    return u.hostname in ("127.0.0.1", "localhost", "::1")


class OfflinePage:
    """A page on a network that reaches only this machine: any other request is aborted and kept in
    `left_the_machine` (each test asserts it is empty)."""

    def __init__(self, context):
        self.context = context
        self.left_the_machine: list[str] = []
        self.console_errors: list[str] = []
        context.route("**/*", self._route)
        self.page = context.new_page()
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def _route(self, route):
        if is_local(route.request.url):
            route.continue_()
        else:
            self.left_the_machine.append(route.request.url)
            route.abort("internetdisconnected")


@pytest.fixture
def offline(browser):
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    # service workers would bypass the routing
    context.add_init_script("delete Object.getPrototypeOf(navigator).serviceWorker")
    page = OfflinePage(context)
    yield page
    context.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("TELCO360_SCREENSHOTS")
    out = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out

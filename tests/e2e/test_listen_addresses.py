"""The MLflow and docs servers people start (`make mlflow`, `make docs-serve`) listen on 127.0.0.1 only: an
intranet neighbour cannot reach them. Read from the kernel's socket table (psutil) for the whole process tree."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from .conftest import ROOT, free_port

pytestmark = pytest.mark.e2e


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket of a process and its descendants."""
    root = psutil.Process(pid)
    found = set()
    for proc in [root, *root.children(recursive=True)]:
        try:
            found |= {
                (c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN
            }
        except psutil.NoSuchProcess:
            continue
    return found


def test_mlflow_listens_on_loopback_only(mlflow_url):
    url, proc = mlflow_url
    addresses = listening(proc.pid)
    assert addresses, "the MLflow server listens nowhere"
    assert {ip for ip, _ in addresses} == {"127.0.0.1"}, addresses
    assert int(url.rsplit(":", 1)[1]) in {port for _, port in addresses}


def test_dbt_docs_server_listens_on_loopback_only(dbt_docs_url):
    url, proc = dbt_docs_url
    addresses = listening(proc.pid)
    assert addresses == {("127.0.0.1", int(url.rsplit(":", 1)[1]))}, addresses


def test_the_check_sees_a_server_open_to_the_network():
    """The check can fail: Python's http.server with no --bind listens on every interface."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port)], cwd=ROOT / "docs", stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (addresses := listening(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert addresses and {ip for ip, _ in addresses} <= {"0.0.0.0", "::"}, addresses
    finally:
        proc.terminate()
        proc.wait(timeout=10)

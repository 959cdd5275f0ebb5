"""No credential is committed: every file git tracks is scanned for keys, tokens, passwords in URLs and
assignments, and for the state files that hold them (Airflow's config and passwords, the PostgreSQL env file,
the demo's PII salt). Secrets come only by reference: the environment or an Airflow connection."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # `make test-fast`

ROOT = Path(__file__).resolve().parent.parent

PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:(?P<value>[^\s/@'\"]+)@"),
    "credential assigned": re.compile(
        r"(?i)\b(?:password|passwd|pwd|secret|secret_key|jwt_secret|fernet_key|token|api[_-]?key|access[_-]?key)"
        r"\s*[:=]\s*['\"](?P<value>[^'\"\s]{8,})['\"]"
    ),
}
# a value that only names where the secret comes from is a reference, not a secret
REFERENCE = re.compile(r"env_var|\{\{|\{\w+\}|\$|os\.environ|getenv|<[a-z_ ]+>|\*\*\*|\.\.\.|example|placeholder", re.I)
# state files that hold secrets: generated under TELCO360_HOME, never committed
STATE_FILES = re.compile(
    r"(^|/)(airflow\.cfg|passwords\.json|simple_auth_manager_passwords\.json\.generated|pii_salt|\.env|env)$|"
    r"(^|/)var/|\.(?:db|duckdb|pem|key|p12)$"
)


def scan_text(text: str) -> list[tuple[int, str]]:
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS.items():
            for m in pattern.finditer(line):
                value = m.groupdict().get("value")
                if value is not None and REFERENCE.search(value):
                    continue
                found.append((lineno, kind))
    return found


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f]


def test_the_scanner_finds_what_it_looks_for():
    # built at run time, so that the repository itself holds none of them
    planted = [
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        "key = '" + "AKIA" + "Q" * 16 + "'",
        "dsn = 'postgresql://telco360:" + "s3cretvalue" + "@127.0.0.1/telco360'",
        "password: '" + "hunter2hunter2" + "'",
        "AIRFLOW_TOKEN = 'gh" + "p_" + "a" * 36 + "'",
    ]
    for line in planted:
        assert scan_text(line), line
    for reference in (
        "password: \"{{ env_var('TELCO360_PG_PASSWORD') }}\"",
        "dsn = f'postgresql://{user}:{password}@{host}/db'",
        "password = os.environ['X_PASSWORD_123']",
    ):
        assert scan_text(reference) == [], reference


def test_no_credential_is_committed():
    files = tracked_files()
    assert len(files) > 100 and "Makefile" in files
    findings = []
    for name in files:
        assert not STATE_FILES.search(name), f"{name}: a state file that holds secrets is tracked"
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary (images)
            continue
        findings += [(name, line, kind) for line, kind in scan_text(data.decode("utf-8", "replace"))]
    assert findings == []


def test_state_that_holds_secrets_is_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "var/pg/env", "var/airflow/passwords.json", "var/secrets/pii_salt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert ignored == ["var/pg/env", "var/airflow/passwords.json", "var/secrets/pii_salt"]

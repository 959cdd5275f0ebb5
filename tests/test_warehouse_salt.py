"""The PII salt: no warehouse hashes personal data with a salt known from the repository. The postgres
warehouse (and dbt run by anything other than `telco360 build` on the demo) refuses to build without
TELCO360_PII_SALT; the embedded demo generates a random one once, keeps it under TELCO360_HOME and reuses it."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb

from telco360.warehouse import DBT_PROJECT, build, dbt_env

from .conftest import telco360_home

TELCO360 = str(Path(sys.executable).with_name("telco360"))
OLD_CONSTANT = "telco360-dev-salt"  # what macros/pii.sql fell back to


def test_postgres_build_without_a_salt_is_a_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TELCO360_PII_SALT"}
    env |= {
        "TELCO360_HOME": str(tmp_path),
        "TELCO360_PG_DSN": env.get("TELCO360_PG_DSN", "postgresql://x@127.0.0.1:1/x"),
    }
    proc = subprocess.run(
        [TELCO360, "build", "--warehouse", "postgres"], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: the postgres warehouse needs TELCO360_PII_SALT"), line


def test_dbt_itself_refuses_to_hash_without_a_salt(tmp_path):
    """What Cosmos runs in Airflow: dbt on its own, with no `telco360 build` to hand it a salt."""
    env = {k: v for k, v in os.environ.items() if k != "TELCO360_PII_SALT"}
    env |= {
        "TELCO360_HOME": str(tmp_path),
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run(
        [dbt, "compile", "--select", "stg_crm__subscribers", "--project-dir", str(DBT_PROJECT), "--target", "duckdb"],
        cwd=DBT_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "TELCO360_PII_SALT is not set" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-2000:]


def test_the_demo_salt_is_random_kept_private_and_reused(warehouse, tmp_path, monkeypatch):
    monkeypatch.delenv("TELCO360_PII_SALT")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(warehouse, home / "warehouse.duckdb")

    def hashes() -> list[tuple[str, str]]:
        build("duckdb", select=["stg_crm__subscribers"])
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        rows = con.execute("SELECT snapshot_month, sub_id, msisdn_hash FROM staging.stg_crm__subscribers ORDER BY 1, 2")
        rows = rows.fetchall()
        con.close()
        return rows

    with telco360_home(home):
        first = hashes()
        salt_file = home / "secrets" / "pii_salt"
        salt = salt_file.read_text().strip()
        assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(salt_file.parent.stat().st_mode) == 0o700
        assert len(salt) == 64 and salt != OLD_CONSTANT
        second = hashes()
        assert dbt_env("duckdb")["TELCO360_PII_SALT"] == salt  # the same file, not a new salt
    assert len(first) > 1000 and second == first
    # every hash is sha256(salt || msisdn) with the generated salt (computed here with hashlib), none with the
    # old constant
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    msisdns = [m for (m,) in con.execute("SELECT msisdn FROM raw.crm_subscriber WHERE msisdn IS NOT NULL").fetchall()]
    con.close()
    got = {h for _, _, h in first if h is not None}
    assert len(msisdns) > 1000
    assert got == {hashlib.sha256((salt + m).encode()).hexdigest() for m in msisdns}
    assert not got & {hashlib.sha256((OLD_CONSTANT + m).encode()).hexdigest() for m in msisdns}
    # another home gets another salt
    other = tmp_path / "other"
    other.mkdir()
    with telco360_home(other):
        assert dbt_env("duckdb")["TELCO360_PII_SALT"] != salt

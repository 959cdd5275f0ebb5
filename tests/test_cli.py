"""The `telco360` command: clear errors, and the verbs people use."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from telco360.cli import main

TELCO360 = str(Path(sys.executable).with_name("telco360"))


def test_contracts_render_every_source(capsys):
    from telco360.contracts import load_contracts

    assert main(["contracts"]) == 0
    out = capsys.readouterr().out
    for source in load_contracts():
        assert f"## `{source}`" in out


def test_generate_refuses_a_too_small_operator(tmp_path, capsys):
    assert main(["generate", "--subscribers", "10", "--months", "1", "--out", str(tmp_path), "-q"]) == 2
    assert "at least 1500" in capsys.readouterr().err


def test_ingest_then_status(landing, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    assert main(["ingest", "--landing", str(landing), "--source", "complaint", "-q"]) == 0
    assert "loaded 2" in capsys.readouterr().out
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "raw.complaint" in out and "raw.usage_daily" in out


def test_cli_starts_without_heavy_imports():
    code = (
        "import sys; from telco360.cli import build_parser; build_parser(); "
        "print([m for m in ('duckdb', 'airflow', 'numpy', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("verb", ["ingest", "status", "marts", "quality", "audit"])
def test_postgres_warehouse_without_dsn_is_a_clear_error(verb, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("TELCO360_PG_DSN", raising=False)
    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    extra = ["--landing", str(tmp_path)] if verb == "ingest" else []
    assert main([verb, "--warehouse", "postgres", *extra]) == 1
    assert (
        capsys.readouterr().err.strip() == "error: the postgres warehouse needs TELCO360_PG_DSN (`source var/pg/env`)"
    )


def run_cli(args: list[str], env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """The real command, as people run it."""
    return subprocess.run([TELCO360, *args], env={**os.environ, **(env or {})}, capture_output=True, text=True, **kw)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--landing", "{tmp}/nowhere"], "error: landing folder {tmp}/nowhere does not exist or is not a folder"),
        (["--period", "2026-13"], "error: --period '2026-13' is not a real month YYYY-MM or day YYYY-MM-DD"),
        (["--period", "2026-02-30"], "error: --period '2026-02-30' is not a real month YYYY-MM or day YYYY-MM-DD"),
        (
            ["--period", "２０２６-０１"],
            "error: --period '２０２６-０１' is not a real month YYYY-MM or day YYYY-MM-DD",
        ),
        (["--source", "nonsense"], "error: unknown source 'nonsense': the sources are "),
    ],
)
def test_bad_ingest_arguments_are_one_line_errors(args, expected, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    landing = [] if "--landing" in args else ["--landing", str(tmp_path)]
    proc = run_cli(["ingest", *landing, *args], env={"TELCO360_HOME": str(tmp_path / "home")})
    assert proc.returncode == 2
    assert one_line_error(proc).startswith(expected.replace("{tmp}", str(tmp_path)))
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()  # refused before opening anything


def test_generate_into_an_unwritable_place_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_cli(["generate", "--subscribers", "1500", "--months", "1", "--out", str(blocker / "landing"), "-q"])
    assert proc.returncode == 1
    assert one_line_error(proc).startswith(f"error: cannot write the landing folder {blocker / 'landing'}: ")


def test_ingest_fails_and_names_each_rejected_delivery_after_loading_the_others(landing, tmp_path):
    land = tmp_path / "landing"
    periods = sorted(p.name for p in (landing / "complaint").iterdir())
    assert len(periods) == 2
    for period in periods:
        shutil.copytree(landing / "complaint" / period, land / "complaint" / period)
    bad = next((land / "complaint" / periods[1]).glob("part-*"))
    bad.write_bytes(bad.read_bytes() + b"x")  # no longer the sha256 the manifest declares
    proc = run_cli(["ingest", "--landing", str(land), "--source", "complaint", "-q"], {"TELCO360_HOME": str(tmp_path)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        one_line_error(proc)
        == f"error: 1 deliveries rejected (audit.load_manifest): complaint/{periods[1]} [manifest_checksum]"
    )
    assert "deliveries: loaded 1, rejected 1" in proc.stdout
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT period, status FROM audit.load_manifest ORDER BY period").fetchall() == [
        (periods[0], "loaded"),
        (periods[1], "rejected"),
    ]
    con.close()


def test_status_while_a_load_holds_the_warehouse_says_so(warehouse, tmp_path):
    shutil.copy(warehouse, tmp_path / "warehouse.duckdb")
    holder = subprocess.Popen(  # a loader: the writable DuckDB connection a load keeps for its whole run
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from telco360.ingest.targets import DuckDBTarget\n"
            f"t = DuckDBTarget(Path({str(tmp_path / 'warehouse.duckdb')!r}), Path({str(tmp_path / 'tmp')!r}))\n"
            "print('holding', flush=True); sys.stdin.readline(); t.close()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        proc = run_cli(["status"], {"TELCO360_HOME": str(tmp_path)}, timeout=60)
        assert proc.returncode == 1
        line = one_line_error(proc)
        assert (
            f"the warehouse {tmp_path / 'warehouse.duckdb'} is in use by another process (process {holder.pid})" in line
        )
        assert "a load, build or audit is running; wait for it to finish" in line
    finally:
        holder.communicate("\n", timeout=60)
    proc = run_cli(["status"], {"TELCO360_HOME": str(tmp_path)}, timeout=60)  # and once it is done
    assert proc.returncode == 0 and "raw.complaint" in proc.stdout, proc.stderr


@pytest.mark.parametrize("old", ["TELCO360_TARGET", "TELCO360_DBT_TARGET"])
def test_a_retired_warehouse_variable_set_alone_is_refused(old, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TELCO360_WAREHOUSE"}
    proc = subprocess.run(
        [TELCO360, "status"],
        env={**env, old: "postgres", "TELCO360_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert one_line_error(proc) == (
        f"error: {old} is no longer read: set TELCO360_WAREHOUSE=duckdb or TELCO360_WAREHOUSE=postgres instead"
    )


def test_the_warehouse_setting_names_the_warehouse_for_every_verb(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TELCO360_WAREHOUSE", "postgres")
    monkeypatch.delenv("TELCO360_PG_DSN", raising=False)
    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    for verb in (["status"], ["quality"], ["ingest", "--landing", str(tmp_path)]):
        assert main(verb) == 1
        assert "postgres warehouse needs TELCO360_PG_DSN" in capsys.readouterr().err
    monkeypatch.setenv("TELCO360_WAREHOUSE", "sqlite")
    assert main(["status"]) == 1
    assert "unknown warehouse 'sqlite'" in capsys.readouterr().err


def test_quality_after_a_passing_published_run_says_passed_and_the_published_month(built_home, monkeypatch, capsys):
    monkeypatch.setenv("TELCO360_HOME", str(built_home))
    assert main(["quality"]) == 0
    out = capsys.readouterr().out
    assert "gate: PASSED; marts published through 2026-02\n" in out, out
    assert "FAILED" not in out and "published marts:" not in out


def test_committed_contract_reference_is_up_to_date():
    from telco360.contracts import contracts_markdown

    committed = (Path(__file__).resolve().parent.parent / "docs" / "contracts.md").read_text(encoding="utf-8")
    assert committed.strip() == contracts_markdown().strip(), "run: telco360 contracts > docs/contracts.md"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["audit", "--month", "2026-13"], "--month '2026-13' is not a real month YYYY-MM"),
        (["audit", "--month", "2026-01-05"], "--month '2026-01-05' is not a real month YYYY-MM"),
        (["build", "--rebuild-from", "2026-13"], "--rebuild-from '2026-13' is not a real month YYYY-MM"),
    ],
)
def test_month_options_are_judged_like_periods_and_named(args, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"error: {expected}\n"


def test_docs_on_postgres_without_its_secrets_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    monkeypatch.setenv("TELCO360_PG_DSN", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("TELCO360_PII_SALT", raising=False)
    assert main(["docs", "--warehouse", "postgres"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the postgres warehouse needs TELCO360_PII_SALT"), err


def test_a_failing_job_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    """Whatever goes wrong inside a job: one line naming the verb and the cause, exit 1 (the traceback with -v)."""
    import telco360.reporting

    def broken(db):
        raise KeyError("something inside")

    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
    monkeypatch.setattr(telco360.reporting, "status_report", broken)
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert err == "error: status failed: KeyError: 'something inside' (-v shows the traceback)\n", err
    with pytest.raises(KeyError):
        main(["-v", "status"])


def test_the_demo_salt_is_created_once_whole_and_only_read_at_dag_parse_time(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from telco360.warehouse import BuildFailed, demo_pii_salt

    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    with pytest.raises(BuildFailed, match="make airflow-init"):
        demo_pii_salt(create=False)
    assert not (tmp_path / "secrets" / "pii_salt").exists()
    with ThreadPoolExecutor(8) as pool:  # concurrent first builds agree on one salt
        salts = set(pool.map(lambda _: demo_pii_salt(), range(16)))
    assert len(salts) == 1 and len(salts.pop()) == 64
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["pii_salt"]  # nothing left aside
    (tmp_path / "secrets" / "pii_salt").write_text("")
    with pytest.raises(BuildFailed, match="is empty"):
        demo_pii_salt()

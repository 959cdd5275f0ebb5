"""The `telco360` command: clear errors, and the verbs people use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from telco360.cli import main


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


@pytest.mark.parametrize("args", [["ingest", "--target", "postgres"]])
def test_postgres_target_without_dsn_is_a_clear_error(args, monkeypatch, tmp_path):
    monkeypatch.delenv("TELCO360_PG_DSN", raising=False)
    monkeypatch.setenv("TELCO360_HOME", str(tmp_path))
    with pytest.raises(SystemExit, match="TELCO360_PG_DSN"):
        main([*args, "--landing", str(Path(tmp_path))])


def test_committed_contract_reference_is_up_to_date():
    from telco360.contracts import contracts_markdown

    committed = (Path(__file__).resolve().parent.parent / "docs" / "contracts.md").read_text(encoding="utf-8")
    assert committed.strip() == contracts_markdown().strip(), "run: telco360 contracts > docs/contracts.md"

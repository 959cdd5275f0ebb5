"""TELCO360_INGEST_SCHEDULE: a cron expression passes to Airflow as it is; `<n>s|m|h` is an interval."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest

from telco360.config import ingest_schedule

pytestmark = pytest.mark.unit


def test_intervals_cron_and_the_default():
    assert ingest_schedule("20s") == timedelta(seconds=20)
    assert ingest_schedule(" 5m ") == timedelta(minutes=5)
    assert ingest_schedule("2h") == timedelta(hours=2)
    assert ingest_schedule("* * * * *") == "* * * * *"
    assert ingest_schedule("@daily") == "@daily"
    assert ingest_schedule("") == ingest_schedule("   ") == "@hourly"
    with pytest.raises(ValueError, match=r"TELCO360_INGEST_SCHEDULE='5s': polls must be at least 10 s apart"):
        ingest_schedule("5s")


def test_any_text_is_an_interval_only_when_it_reads_as_one():
    """Property, over random texts of digits, units, cron characters and others (seeded): the result is the
    interval the text spells, or the stripped text itself, or a ValueError for an interval under 10 s;
    nothing else, and never a crash of another kind."""
    rng = np.random.default_rng(20261207)
    alphabet = list("0123456789smhd *@/,-x\t\u00e9")
    for _ in range(3000):
        text = "".join(rng.choice(alphabet, rng.integers(0, 9)))
        m = re.fullmatch(r"(\d{1,7})([smh])", text.strip())
        try:
            got = ingest_schedule(text)
        except ValueError:
            assert m and int(m[1]) * {"s": 1, "m": 60, "h": 3600}[m[2]] < 10, text
            continue
        if m:
            assert got == timedelta(seconds=int(m[1]) * {"s": 1, "m": 60, "h": 3600}[m[2]]), text
        else:
            assert got == (text.strip() or "@hourly"), text


def test_the_ingest_dag_polls_at_the_interval_set():
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        "from telco360.config import PROJECT_ROOT\n"
        "bag = DagBag(dag_folder=str(PROJECT_ROOT / 'dags' / 'ingest_extracts.py'))\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "t = bag.dags['ingest_extracts'].timetable\n"
        "print(type(t).__name__, t.delta)\n"
    )
    env = {**os.environ, "TELCO360_INGEST_SCHEDULE": "20s"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "DeltaTriggerTimetable 0:00:20", done.stdout

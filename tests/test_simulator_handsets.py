"""The handset library: the committed seed is the simulator's catalogue, and the population's TACs use it."""

from __future__ import annotations

import duckdb

from telco360.simulator import handsets
from telco360.simulator import params as P


def test_committed_seed_is_the_catalogue():
    assert handsets.SEED_PATH.read_text(encoding="utf-8") == handsets.seed_csv()


def test_catalogue_is_a_2008_handset_mix():
    assert 40 <= len(P.HANDSETS) <= 80
    tacs = [h[2] for h in P.HANDSETS]
    assert len(set(tacs)) == len(tacs) and all(len(t) == 8 and t.isdigit() for t in tacs)
    share = sum(h[8] for h in P.HANDSETS)

    def share_of(pred):
        return sum(h[8] for h in P.HANDSETS if pred(h)) / share

    assert 0.10 <= share_of(lambda h: not h[3]) <= 0.30  # basic phones: no GPRS
    assert share_of(lambda h: not h[5]) >= 0.40  # many phones without Java
    assert share_of(lambda h: h[6]) <= 0.30  # music phones are few


def test_population_tacs_come_from_the_seed_but_a_few(landing):
    seed = handsets.SEED_PATH
    total, unknown, bad = duckdb.execute(f"""
        SELECT count(*), count(*) FILTER (h.tac IS NULL),
               count(*) FILTER (NOT regexp_full_match(s.imei_tac, '[0-9]{{8}}'))
        FROM read_csv('{landing}/crm_subscriber/2026-02/*.txt', delim='|', types={{'imei_tac': 'VARCHAR'}}) s
        LEFT JOIN read_csv('{seed}', types={{'tac': 'VARCHAR'}}) h ON h.tac = s.imei_tac""").fetchall()[0]
    assert total > 1500 and bad == 0
    assert 0.005 <= unknown / total <= 0.03

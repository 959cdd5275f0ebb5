"""Marketing opt-out: a stable ~3% of subscribers, never contacted by the operator's campaigns."""

from __future__ import annotations

import duckdb


def test_opted_out_subscribers_are_few_stable_and_never_contacted(landing):
    con = duckdb.connect()
    con.execute(f"""CREATE VIEW subs AS SELECT * FROM read_csv('{landing}/crm_subscriber/*/*.txt', delim='|');
        CREATE VIEW contacts AS SELECT * FROM read_csv('{landing}/campaign_contact/*/*.txt', delim='|')""")
    share, flips = con.execute("""
        SELECT avg(marketing_opt_out), (SELECT count(*) FROM (SELECT sub_id FROM subs GROUP BY sub_id
            HAVING count(DISTINCT marketing_opt_out) > 1)) FROM subs""").fetchall()[0]
    assert 0.02 <= share <= 0.04
    assert flips == 0
    contacted, opted_out = con.execute("""
        SELECT count(*), count(*) FILTER (s.marketing_opt_out = 1) FROM contacts c
        JOIN (SELECT DISTINCT sub_id, marketing_opt_out FROM subs) s USING (sub_id)""").fetchall()[0]
    assert contacted > 500
    assert opted_out == 0

"""The group-customer cleanup defects (docs/marts.md) are planted at exactly the counts in _truth.

These queries read raw.* (as loaded); the warehouse issue computes the same findings in dbt.
"""

from __future__ import annotations

import json

import duckdb

FINDINGS_SQL = """
WITH g AS (SELECT * FROM raw.group_customer WHERE _load_id = (SELECT load_id FROM audit.load_manifest
           WHERE source = 'group_customer' AND period = $month AND is_current)),
m_all AS (SELECT * FROM raw.group_member WHERE _load_id = (SELECT load_id FROM audit.load_manifest
           WHERE source = 'group_member' AND period = $month AND is_current)),
m AS (SELECT * FROM m_all WHERE left_at IS NULL),
p AS (SELECT * FROM raw.group_product WHERE _load_id = (SELECT load_id FROM audit.load_manifest
           WHERE source = 'group_product' AND period = $month AND is_current)),
s AS (SELECT * FROM raw.crm_subscriber WHERE _load_id = (SELECT load_id FROM audit.load_manifest
           WHERE source = 'crm_subscriber' AND period = $month AND is_current)),
usage AS (SELECT sub_id, sum(voice_min_out + sms_out + data_mb) AS used FROM raw.usage_daily
          WHERE strftime(day, '%Y-%m') = $month GROUP BY sub_id),
sizes AS (SELECT g.group_id, count(m.sub_id) AS n FROM g LEFT JOIN m USING (group_id) GROUP BY g.group_id),
vnets AS (SELECT DISTINCT vnet_id FROM p WHERE vnet_id IS NOT NULL),
vsizes AS (SELECT v.vnet_id, count(m.sub_id) AS n, count(DISTINCT s.city_code) AS cities
           FROM vnets v LEFT JOIN m USING (vnet_id) LEFT JOIN s USING (sub_id) GROUP BY v.vnet_id),
lists AS (SELECT group_id, string_agg(sub_id::VARCHAR, ',' ORDER BY sub_id) AS members FROM m GROUP BY group_id),
member_city AS (SELECT m.group_id, mode(s.city_code) AS city FROM m JOIN s USING (sub_id) GROUP BY m.group_id),
at_start AS (SELECT group_id, count(*) AS n,
                    count(*) FILTER (left_at IS NOT NULL) AS left_n FROM m_all GROUP BY group_id)
SELECT
  (SELECT count(*) FROM sizes WHERE n = 0) AS groups_no_members,
  (SELECT count(*) FROM sizes WHERE n BETWEEN 1 AND $few) AS groups_few_members,
  (SELECT count(*) FROM vsizes WHERE n = 0) AS vnets_no_members,
  (SELECT count(*) FROM vsizes WHERE n BETWEEN 1 AND $few) AS vnets_few_members,
  (SELECT count(*) FROM vsizes WHERE cities > 1) AS vnets_cross_region,
  (SELECT count(*) FROM (SELECT legal_person_id FROM g GROUP BY 1 HAVING count(*) > 1))
      AS legal_persons_with_several_groups,
  (SELECT coalesce(sum(k * (k - 1) / 2), 0) FROM (SELECT count(*) AS k FROM lists GROUP BY members))
      AS group_pairs_identical_members,
  (SELECT count(*) FROM g WHERE industry IS NULL) AS groups_missing_industry,
  (SELECT count(*) FROM g WHERE account_manager IS NULL) AS groups_no_account_manager,
  (SELECT count(*) FROM p WHERE licensed_users = 0) AS group_products_no_users,
  (SELECT count(*) FROM p WHERE monthly_fee = 0) AS group_products_no_fees,
  (SELECT count(*) FROM g JOIN member_city c USING (group_id) WHERE c.city <> g.city_code)
      AS groups_region_mismatch,
  (SELECT count(*) FROM m LEFT JOIN usage USING (sub_id) WHERE coalesce(used, 0) = 0) AS suspected_fake_members,
  (SELECT count(*) FROM at_start WHERE n >= $min_members AND left_n >= $share * n) AS groups_high_churn
"""


def test_every_planted_group_defect_is_in_the_raw_data_at_its_exact_count(landing, warehouse):
    truth = json.loads((landing / "_truth" / "group_defects.json").read_text())
    rules = truth["rules"]
    con = duckdb.connect(str(warehouse), read_only=True)
    for month, expected in truth["monthly"].items():
        cur = con.execute(
            FINDINGS_SQL,
            {
                "month": month,
                "few": rules["few_members_max"],
                "share": rules["high_churn_share"],
                "min_members": rules["high_churn_min_members"],
            },
        )
        found = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
        want = {k: v for k, v in expected.items() if k in found}
        assert len(want) == 14
        assert found == want, month
        assert all(v >= 1 for v in want.values())

"""`telco360 models report`: the champions against the oracle, and what the campaign loop produced."""

from __future__ import annotations

from telco360.db import Warehouse
from telco360.ml import config as C

AUC_BAR = 0.02  # the champion's ROC AUC within this of the oracle's, on the same rows
LIFT_BAR = 0.90  # and at least this share of the oracle's top-decile lift


def champion_lines() -> list[str]:
    from telco360.ml.registry import champion_version
    from telco360.ml.tracking import client

    c = client()
    out = []
    names = [C.CHURN_MODEL] + [C.propensity_model_name(p) for p in C.PROPENSITY_PRODUCTS]
    for name in names:
        mv = champion_version(name)
        if mv is None:
            out.append(f"  {name:30} no champion")
            continue
        m = c.get_run(mv.run_id).data.metrics
        auc, lift = m.get("test_roc_auc"), m.get("test_top_decile_lift")
        line = f"  {name:30} v{mv.version:<3} test AUC {auc:.3f}, lift {lift:.2f}"
        if "test_rows" in m and "test_positive_rate" in m:  # how much a test month this size can tell
            line += f" ({round(m['test_rows'] * m['test_positive_rate']):,} positives in {m['test_rows']:,.0f} rows)"
        if "oracle_roc_auc" in m:
            gap, ratio = m["oracle_roc_auc"] - auc, lift / m["oracle_top_decile_lift"]
            ok = gap <= AUC_BAR and ratio >= LIFT_BAR
            line += (
                f" | oracle AUC {m['oracle_roc_auc']:.3f} (gap {gap:+.3f}), lift {m['oracle_top_decile_lift']:.2f} "
                f"({ratio:.0%} reached) {'meets' if ok else 'MISSES'} the bar (gap <= {AUC_BAR}, >= {LIFT_BAR:.0%})"
            )
        out.append(line)
    return out


def target_lines(db: Warehouse) -> list[str]:
    if not db.relation_exists("marts", "campaign_targets"):
        return ["  no published target lists yet (telco360 score)"]
    month = db.one("SELECT max(month) FROM marts.campaign_targets")
    rows = db.all(
        "SELECT rule_id, precedence, count(*), sum(CASE WHEN is_control THEN 1 ELSE 0 END) "
        "FROM marts.campaign_targets WHERE month = ? GROUP BY rule_id, precedence ORDER BY 3 DESC",
        (month,),
    )
    total = sum(r[2] for r in rows)
    out = [
        f"  target lists of {month:%Y-%m} (for campaigns in the next month): {total:,} subscribers in {len(rows)} rules"
    ]
    out += [f"    {r[0]:28} {r[1]:10} {r[2]:>8,} listed, {r[3]:>7,} held out as control" for r in rows[:12]]
    if db.relation_exists("marts", "campaign_suppressions"):
        sup = db.all(
            "SELECT reason, sum(excluded) FROM marts.campaign_suppressions WHERE month = ? GROUP BY reason "
            "ORDER BY 2 DESC",
            (month,),
        )
        out.append("    excluded: " + ", ".join(f"{r} {int(n):,}" for r, n in sup))
    return out


def report(db: Warehouse) -> str:
    lines = ["models (champions, against the simulator's oracle on the same test rows):"]
    lines += champion_lines()
    lines += ["", "campaign loop:", *target_lines(db)]
    lines += [
        "",
        "where to look: make mlflow (runs side by side, plots, the registry); marts.churn_scores, "
        "marts.propensity_scores, marts.customer_segments, marts.customer_offers, marts.campaign_targets",
    ]
    return "\n".join(lines)

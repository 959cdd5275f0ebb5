"""Planted service holdings, bundles and propensities (issue 9 §4).

Three pieces of planted truth live here:
- which services a subscriber holds at start (penetration x brand bias, gated by the handset, with the
  bundles of params.BUNDLES raising the co-holding of their consequent);
- who orders each of the five modelled products (params.PROPENSITY) in month t+1, from month t's data;
- which subscribers can use a service at all (params.PRODUCT_NEEDS, the handset library).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from telco360.simulator import params as P
from telco360.simulator.handsets import capability
from telco360.simulator.steady_state import calibrate_intercept

BRAND_BIAS = {"MZONE": 1.4, "GOTONE": 1.2, "EASYOWN": 0.7}  # data-heavy brands hold more services
BUNDLE_OF = {b: (a, f) for a, b, f in P.BUNDLES}  # consequent -> (antecedent, planted factor)
TRIAL_OF = {"CRBT": "CRBT_TRIAL", "GPRS5": "GPRS_TRIAL"}


def capable(s: dict, idx: np.ndarray, product: str) -> np.ndarray:
    """Can these subscribers use the product at all (handset, and data use for GPRS packages)?"""
    need = P.PRODUCT_NEEDS.get(product, "none")
    ok = np.ones(len(idx), bool) if need == "none" else capability(s["handset"][idx], need)
    if product.startswith("GPRS"):
        ok &= s["data_user"][idx]
    return ok


def bundle_keep(s: dict, idx: np.ndarray, product: str, col: dict) -> np.ndarray:
    """How much less often either service of a bundle is cancelled while the other is held too (the
    bundle's discount keeps both): the planted factor, else 1. Without it the co-holding the orders plant
    would wash out as the holders of either turn over (ringback's turn over fast, through its trials)."""
    keep = np.ones(len(idx))
    for ante, cons, factor in P.BUNDLES:
        other = cons if product == ante else ante if product == cons else None
        if other is not None:
            keep = np.where(s["hold"][idx, col[other]], factor, keep)
    return keep


def initial_holdings(rng, s: dict, idx: np.ndarray, products: list, scale: float, brand_codes: list) -> None:
    """Holdings of new (or starting) subscribers: penetration x brand bias x bundle factor, where capable."""
    bias = np.array([BRAND_BIAS[b] for b in brand_codes])[s["brand"][idx]]
    col = {v[0]: j for j, v in enumerate(products)}
    # antecedents are drawn before their consequents
    order = sorted(range(len(products)), key=lambda j: products[j][0] in BUNDLE_OF)
    for j in order:
        pid, pen = products[j][0], products[j][8]
        if pen <= 0:
            continue
        ok = capable(s, idx, pid)
        # penetration is of all subscribers: those whose handset can use the service hold it more often
        p = pen * bias * scale / max(ok.mean(), 0.05)
        if pid in BUNDLE_OF:
            ante, factor = BUNDLE_OF[pid]
            held = s["hold"][idx, col[ante]]
            # the factor raises the consequent among holders; dividing keeps its overall penetration
            p = p * np.where(held, factor, 1.0) / (1 + (factor - 1) * held.mean())
        s["hold"][idx, j] = ok & (rng.random(len(idx)) < np.minimum(p, 0.95))
    s["hold"][idx, col["GPRS20"]] &= ~s["hold"][idx, col["GPRS5"]]


def drivers(s: dict, cust: dict, idx: np.ndarray, tot: dict, pos: np.ndarray, month_end, brand_codes, col):
    """The drivers of params.PROPENSITY for subscribers idx, from month t's totals (tot rows `pos`)."""
    brand = np.array(brand_codes)[s["brand"][idx]]
    age = (month_end - cust["birth"][s["cust"][idx]]).astype("timedelta64[D]").astype(float) / 365.25
    tenure = (month_end - s["activated"][idx]).astype("timedelta64[D]").astype(float) / 365.25
    out = {
        "log_data_mb": np.log1p(tot["data"][pos]),
        "log_sms": np.log1p(tot["sms"][pos]),
        "log_contacts": np.log1p(tot["dc"][pos] / np.maximum(tot["days"][pos], 1)),
        "mzone": (brand == "MZONE").astype(float),
        "gotone": (brand == "GOTONE").astype(float),
        "young": (age < 30).astype(float),
        "older": (age >= 40).astype(float),
        "tenure_years": np.minimum(tenure, 10.0),
    }
    for pid, j in col.items():
        out[f"holds_{pid}"] = s["hold"][idx, j].astype(float)
    return out


class PropensityPlanter:
    """Month t: who may order P in t+1 and with which probability; month t+1: the draws, as orders."""

    def __init__(self):
        self.intercepts: dict[str, float] = {}
        self.pending: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # product -> (subs, p) for next month
        self.pending_month: str | None = None
        self.truth_rows: list[pa.Table] = []

    def logit_terms(self, product: str, d: dict) -> np.ndarray:
        spec = P.PROPENSITY[product]
        z = sum(w * d[k] for k, w in spec["weights"].items())
        if product in BUNDLE_OF:
            ante, factor = BUNDLE_OF[product]
            z = z + math.log(factor) * d[f"holds_{ante}"]
        return np.asarray(z, float)

    def plan(self, s, cust, idx, tot, month_end, period: str, brand_codes, col) -> None:
        """At the end of month `period`: p_order for every subscriber alive into next month, per product."""
        stay = np.isnat(s["deact"][idx])
        subs, pos = idx[stay], np.flatnonzero(stay)
        d = drivers(s, cust, subs, tot, pos, month_end, brand_codes, col)
        self.pending, self.pending_month = {}, period
        for product in P.PROPENSITY:
            eligible = ~s["hold"][subs, col[product]]
            if product in TRIAL_OF:  # a running trial decides by its own keep rate, not by propensity
                eligible &= ~s["hold"][subs, col[TRIAL_OF[product]]]
            ok = capable(s, subs, product) if product != "GPRS5" else capability(s["handset"][subs], "gprs")
            z = self.logit_terms(product, {k: v[eligible] for k, v in d.items()})
            ok = ok[eligible]
            if product not in self.intercepts:  # once: the first month's capable non-holders average the target
                self.intercepts[product] = calibrate_intercept(z[ok], P.PROPENSITY[product]["target"])
            p = np.where(ok, 1.0 / (1.0 + np.exp(-(self.intercepts[product] + z))), 0.0)
            self.pending[product] = (subs[eligible], p)

    def draw(self, rng) -> dict[str, np.ndarray]:
        """Next month: the planted draws. Returns product -> subscribers who order it (organically)."""
        orders = {}
        for product, (subs, p) in self.pending.items():
            ordered = rng.random(len(subs)) < p
            orders[product] = subs[ordered]
            self.truth_rows.append(
                pa.table(
                    {
                        "month": pa.array([self.pending_month] * len(subs), pa.string()),
                        "sub_id": subs,  # simulator index; the caller adds the id offset
                        "product_id": pa.array([product] * len(subs), pa.string()),
                        "p_order": np.round(p, 6),
                        "ordered": ordered,
                    }
                )
            )
        self.pending = {}
        return orders

    def truth_table(self, sub_id0: int) -> pa.Table:
        schema = pa.schema(
            [
                ("month", pa.string()),
                ("sub_id", pa.int64()),
                ("product_id", pa.string()),
                ("p_order", pa.float64()),
                ("ordered", pa.bool_()),
            ]
        )
        if not self.truth_rows:
            return schema.empty_table()
        t = pa.concat_tables(self.truth_rows)
        return t.set_column(1, "sub_id", pa.array(t["sub_id"].to_numpy() + sub_id0, pa.int64()))

    def truth_doc(self) -> dict:
        return {
            "products": {
                p: {
                    "needs": P.PRODUCT_NEEDS[p],
                    "intercept": round(self.intercepts.get(p, float("nan")), 6),
                    "weights": P.PROPENSITY[p]["weights"],
                    "target_order_rate": P.PROPENSITY[p]["target"],
                    **(
                        {"bundle": {"antecedent": BUNDLE_OF[p][0], "logit_add": round(math.log(BUNDLE_OF[p][1]), 6)}}
                        if p in BUNDLE_OF
                        else {}
                    ),
                }
                for p in P.PROPENSITY
            },
            "drivers_file": "propensity_truth.parquet",
            "definition": "p_order: probability that a subscriber not holding the product (nor its trial package) "
            "at the end of `month`, and not deactivated in it, orders it in the next month; ordered: the planted "
            "draw (campaign responses and trial keeps are further orders, outside this model). A handset without "
            "the product's capability has p_order 0.",
        }

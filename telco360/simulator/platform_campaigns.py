"""The campaign loop (issue 9 §5): the platform's target lists run as the simulator's campaigns.

`telco360 generate ... --campaigns-from FILE` reads a parquet or csv file with the columns of CAMPAIGN_COLUMNS
(one row per subscriber and rule; is_control = 1 rows are the held-out control). In each campaign_month the
simulator runs one campaign per rule_id: every row becomes a contact row, control rows are recorded and not
contacted, and subscribers respond with probability control_rate (params.PLATFORM_CONTROL_RATE, by the
offer's campaign type), plus the rule's planted uplift (params.PLATFORM_UPLIFT, by precedence) if treated.
A handset that cannot use the offered service never responds. Generation is deterministic per seed and the
loop only draws from its own random stream, so the months before the first campaign month are byte-identical
to a run without the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from telco360.simulator import params as P

CAMPAIGN_COLUMNS = ["campaign_month", "rule_id", "sub_id", "product_id", "channel", "is_control", "score", "precedence"]
CHANNELS = ("sms", "outbound", "hall", "10086", "ussd", "wap_push")  # the campaign contract's channel enum
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


class CampaignFileError(ValueError):
    """A campaigns file the simulator cannot run; the message names the file and the row."""


def campaign_type(product_id: str) -> str:
    if product_id.startswith("P_"):
        return "retention"
    if product_id.endswith("_TRIAL"):
        return "trial_package"
    if product_id.startswith("GPRS"):
        return "data_product"
    return "activation"


def load_campaign_file(path: Path, periods: list[str], products: set[str]):
    """The file's rows, checked against everything known before simulating (columns, months, values)."""
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        elif path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype={"campaign_month": str, "rule_id": str, "product_id": str, "channel": str})
        else:
            raise CampaignFileError(f"{path}: a campaigns file is .parquet or .csv")
    except (OSError, ValueError) as exc:
        if isinstance(exc, CampaignFileError):
            raise
        raise CampaignFileError(f"{path}: cannot read it: {exc}") from None
    missing = [c for c in CAMPAIGN_COLUMNS if c not in df.columns]
    if missing:
        raise CampaignFileError(f"{path}: missing column(s) {', '.join(missing)} (need {', '.join(CAMPAIGN_COLUMNS)})")
    df = df[CAMPAIGN_COLUMNS].reset_index(drop=True)

    def fail(i: int, msg: str):
        raise CampaignFileError(f"{path}: row {i + 1}: {msg}")

    for col in ("campaign_month", "rule_id", "product_id", "channel", "precedence", "sub_id", "is_control"):
        nulls = np.flatnonzero(df[col].isna().to_numpy())
        if len(nulls):
            fail(int(nulls[0]), f"{col} is empty")
    months = df["campaign_month"].astype(str)
    for i, text in enumerate(months):
        if not MONTH.fullmatch(text):
            fail(i, f"campaign_month {text!r} is not a month YYYY-MM")
        if text not in periods:
            fail(i, f"campaign_month {text} is not a simulated month ({periods[0]}..{periods[-1]})")
    checks = [
        ("product_id", lambda v: v in products, "is not a product of the catalogue"),
        ("channel", lambda v: v in CHANNELS, f"is not a campaign channel ({', '.join(CHANNELS)})"),
        ("precedence", lambda v: v in P.PLATFORM_UPLIFT, f"is not one of {', '.join(P.PLATFORM_UPLIFT)}"),
        ("is_control", lambda v: str(v) in ("0", "1", "True", "False", "0.0", "1.0"), "is not 0 or 1"),
    ]
    for col, ok, msg in checks:
        for i, v in enumerate(df[col]):
            if not ok(v):
                fail(i, f"{col} {v!r} {msg}")
    sub = pd.to_numeric(df["sub_id"], errors="coerce")
    bad = np.flatnonzero((sub.isna() | (sub != sub.round())).to_numpy())
    if len(bad):
        fail(int(bad[0]), f"sub_id {df['sub_id'].iloc[bad[0]]!r} is not a subscriber id")
    df["sub_id"] = sub.astype("int64")
    df["is_control"] = df["is_control"].astype(str).isin(["1", "True", "1.0"]).astype(np.int8)
    df["campaign_month"], df["rule_id"] = months, df["rule_id"].astype(str)
    dup = np.flatnonzero(df.duplicated(["campaign_month", "rule_id", "sub_id"]).to_numpy())
    if len(dup):
        fail(int(dup[0]), f"sub_id {df['sub_id'].iloc[dup[0]]} is listed twice for rule {df['rule_id'].iloc[dup[0]]}")
    for (month, rule), g in df.groupby(["campaign_month", "rule_id"], sort=False):
        for col in ("product_id", "precedence"):
            if g[col].nunique() > 1:
                fail(int(g.index[(g[col] != g[col].iloc[0]).to_numpy()][0]), f"rule {rule} in {month} has two {col}s")
    df["row"] = np.arange(len(df))
    return df


def _rate(responded: np.ndarray, mask: np.ndarray) -> float | None:
    return round(float(responded[mask].mean()), 6) if mask.any() else None


class PlatformCampaigns:
    """Runs the file's campaigns month by month; collects their truth for _truth/platform_campaigns.json."""

    def __init__(self, path: Path, rows):
        self.path, self.rows = Path(path), rows
        self.truth: list[dict] = []

    def run(self, sim, m: int, period: str, ms, days: int, camp_rows, contacts, responses, out) -> None:
        from telco360.simulator.generate import DAY, SUB_ID0, _timestamps
        from telco360.simulator.handsets import capability

        rows = self.rows[self.rows["campaign_month"] == period]
        if rows.empty:
            return
        s, rng = sim.s, sim._rng("platform", m)
        idx = rows["sub_id"].to_numpy() - SUB_ID0
        known = (idx >= 0) & (idx < sim.n)
        alive = known.copy()
        alive[known] = s["alive"][idx[known]] & (s["activated"][idx[known]] < ms)
        if not alive.all():
            first = rows.iloc[int(np.flatnonzero(~alive)[0])]
            raise CampaignFileError(
                f"{self.path}: row {int(first['row']) + 1}: sub_id {int(first['sub_id'])} is not an active "
                f"subscriber at the start of {period}"
            )
        for rule in sorted(rows["rule_id"].unique()):
            r = rows[rows["rule_id"] == rule]
            subs = r["sub_id"].to_numpy() - SUB_ID0
            product, precedence = str(r["product_id"].iloc[0]), str(r["precedence"].iloc[0])
            ctype = campaign_type(product)
            is_control = r["is_control"].to_numpy().astype(bool)
            ctrl_rate, uplift = P.PLATFORM_CONTROL_RATE[ctype], P.PLATFORM_UPLIFT[precedence]
            need = P.PRODUCT_NEEDS.get(product, "none")  # plans need nothing
            can = capability(s["handset"][subs], need) if need != "none" else np.ones(len(subs), bool)
            p = np.where(can, np.where(is_control, ctrl_rate, ctrl_rate + uplift), 0.0)
            responded = rng.random(len(subs)) < p
            n = len(subs)
            cid = sim.next_ids["campaign"]
            sim.next_ids["campaign"] += 1
            channel = str(r["channel"].mode().iloc[0])
            treated = int((~is_control).sum())
            cost = round(treated * P.PLATFORM_COST_PER_CONTACT[channel] * 100)
            start = ms + int(rng.integers(0, 3)) * DAY
            end = min(start + 20 * DAY, ms + (days - 1) * DAY)
            values = [cid, f"{period} {rule}", ctype, product, None, channel, start, end, cost, f"rule:{rule}"]
            for key, val in zip(camp_rows, values, strict=True):
                camp_rows[key].append(val)
            contact_ts = _timestamps(rng, start, 3, n)
            contacts["contact_id"].append(np.arange(sim.next_ids["contact"], sim.next_ids["contact"] + n))
            sim.next_ids["contact"] += n
            contacts["campaign_id"].append(np.full(n, cid))
            contacts["sub_id"].append(SUB_ID0 + subs)
            contacts["channel"].append(r["channel"].to_numpy().astype(object))
            contacts["ts"].append(contact_ts)
            contacts["is_control"].append(is_control.astype(np.int8))
            resp_ts = contact_ts + rng.integers(3600, 10 * 86400, n).astype("timedelta64[s]")
            resp_ts = np.minimum(resp_ts, (ms + days * DAY).astype("datetime64[s]") - np.timedelta64(1, "s"))
            k = np.flatnonzero(responded)
            responses["response_id"].append(np.arange(sim.next_ids["response"], sim.next_ids["response"] + len(k)))
            sim.next_ids["response"] += len(k)
            responses["campaign_id"].append(np.full(len(k), cid))
            responses["sub_id"].append(SUB_ID0 + subs[k])
            responses["ts"].append(resp_ts[k])
            responses["ordered_product_id"].append(np.full(len(k), product, object))
            out["resp_sub"].append(subs[k])
            out["resp_product"].append(np.full(len(k), product, object))
            out["resp_campaign"].append(np.full(len(k), cid))
            out["resp_ts"].append(resp_ts[k])
            if ctype == "retention":  # accepting a retention offer lowers disengagement, hence churn
                s["r"][subs[k]] *= P.RETENTION_EFFECT

            self.truth.append(
                {
                    "rule_id": rule,
                    "campaign_month": period,
                    "campaign_id": cid,
                    "campaign_name": f"{period} {rule}",
                    "product_id": product,
                    "campaign_type": ctype,
                    "precedence": precedence,
                    "targeted": n,
                    "control": int(is_control.sum()),
                    "treated": treated,
                    "handset_unsupported": int((~can).sum()),
                    "opted_out_listed": int(s["opt_out"][subs].sum()),  # the list should have suppressed them
                    "true_control_rate": ctrl_rate,
                    "true_uplift": uplift,
                    "observed_treated_rate": _rate(responded, ~is_control),
                    "observed_control_rate": _rate(responded, is_control),
                    "cost": cost / 100,
                }
            )

    def truth_doc(self) -> dict:
        return {
            "file": str(self.path),
            "uplift_by_precedence": P.PLATFORM_UPLIFT,
            "control_rate_by_campaign_type": P.PLATFORM_CONTROL_RATE,
            "cost_per_contact_by_channel": P.PLATFORM_COST_PER_CONTACT,
            "rules": self.truth,
        }

"""A seeded, vectorised simulator of a provincial mobile operator's source extracts.

It keeps the state of every subscriber month by month (usage, spend, disengagement, arrears,
VAS holdings, group membership), writes each source the way its interface delivers it, and
records the planted truth (churn probabilities and drivers, campaign uplift, ringback keep rate,
group-customer defects) under `_truth/` for the tests and models to recover.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from telco360.contracts import load_contracts
from telco360.simulator import params as P
from telco360.simulator import steady_state
from telco360.simulator.handsets import capability, draw_handsets
from telco360.simulator.names import NameMaker
from telco360.simulator.platform_campaigns import PlatformCampaigns, load_campaign_file
from telco360.simulator.propensity import PropensityPlanter, bundle_keep, capable, initial_holdings
from telco360.simulator.writer import DeliveryWriter

DAY = np.timedelta64(1, "D")
BRAND_CODES = list(P.BRANDS)
CITY_CODES = [c[0] for c in P.CITIES]
CITY_NAMES = [c[1] for c in P.CITIES]
VAS_ALL = P.VAS + P.TRIALS
VAS_IDX = {v[0]: i for i, v in enumerate(VAS_ALL)}
PLANS = [(brand, pid, name, fee) for brand, b in P.BRANDS.items() for pid, name, fee in b["plans"]]
PLAN_IDX = {p[1]: i for i, p in enumerate(PLANS)}
MSISDN_MULT = 387_420_489  # odd, not a multiple of 5: an affine permutation of [0, 1e9)
SUB_ID0, CUST_ID0, ACCOUNT_ID0, GROUP_ID0, VNET_ID0 = 10_000_000, 20_000_000, 30_000_000, 50_000, 700_000


@dataclass(frozen=True)
class GenerateConfig:
    subscribers: int
    months: int
    start: str  # YYYY-MM
    seed: int
    out: Path
    encoding: str = "utf-8"
    faults: bool = False
    rows_per_part: int = P.ROWS_PER_PART
    progress: bool = True
    campaigns_from: Path | None = None  # the platform's target lists, run as campaigns (platform_campaigns.py)

    def __post_init__(self):
        if self.subscribers < 1500:
            raise ValueError("--subscribers must be at least 1500 (group customers need members)")
        if self.months < 1:
            raise ValueError("--months must be at least 1")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Simulator:
    def __init__(self, cfg: GenerateConfig):
        self.cfg = cfg
        self.contracts = load_contracts()
        self.writer = DeliveryWriter(cfg.out, cfg.encoding, cfg.rows_per_part)
        self.month_starts = np.arange(np.datetime64(cfg.start, "M"), np.datetime64(cfg.start, "M") + cfg.months).astype(
            "datetime64[D]"
        )
        self.names = NameMaker(self._rng("names"))
        self.truth_dir = Path(cfg.out) / "_truth"
        self.truth: dict = {"monthly": {}, "campaigns": [], "ringback": {}, "gprs_trial": {}}
        self.churn_rows: list[pa.Table] = []
        self.planter = PropensityPlanter()
        self.platform = None
        if cfg.campaigns_from is not None:  # checked whole before anything is written
            periods = [str(ms.astype("datetime64[M]")) for ms in self.month_starts]
            products = set(VAS_IDX) | {p[1] for p in PLANS}
            rows = load_campaign_file(cfg.campaigns_from, periods, products)
            self.platform = PlatformCampaigns(cfg.campaigns_from, rows)
        self.next_ids = {"txn": 1, "event": 1, "campaign": 1, "contact": 1, "response": 1, "ticket": 1}

    # -- randomness: one independent stream per component, so outputs don't shift together --
    def _rng(self, component: str, month: int = -1) -> np.random.Generator:
        key = [self.cfg.seed, month + 1] + [ord(ch) for ch in component]
        return np.random.default_rng(key)

    # ================================================================ population
    def build_population(self) -> None:
        rng = self._rng("population")
        n0 = self.cfg.subscribers
        expected_adds = n0 * (P.CHURN_TARGET * 1.4 + P.NET_GROWTH_PER_MONTH) * self.cfg.months
        self.capacity = int(n0 + expected_adds * 1.5 + 1000)
        cap = self.capacity
        self.n = 0
        s = self.s = {
            "brand": np.zeros(cap, np.int8),
            "postpaid": np.zeros(cap, bool),
            "plan": np.zeros(cap, np.int16),
            "city": np.zeros(cap, np.int8),
            "cust": np.zeros(cap, np.int64),
            "activated": np.zeros(cap, "datetime64[D]"),
            "act_type": np.zeros(cap, np.int8),
            "channel": np.zeros(cap, np.int32),
            "tac": np.zeros(cap, np.int64),
            "handset": np.zeros(cap, np.int16),
            "data_user": np.zeros(cap, bool),
            "opt_out": np.zeros(cap, bool),
            "contract_end": np.full(cap, np.datetime64("NaT"), "datetime64[D]"),
            "mou": np.zeros(cap),
            "sms": np.zeros(cap),
            "data": np.zeros(cap),
            "offnet": np.zeros(cap),
            "roamer": np.zeros(cap, bool),
            "contacts": np.zeros(cap),
            "r": np.zeros(cap),
            "alive": np.zeros(cap, bool),
            "deact": np.full(cap, np.datetime64("NaT"), "datetime64[D]"),
            "reason": np.zeros(cap, np.int8),
            "arrears": np.zeros(cap, np.int64),
            "bill_prev": np.zeros(cap, np.int64),
            "complained": np.zeros(cap, bool),
            "hold": np.zeros((cap, len(VAS_ALL)), bool),
            "group": np.full(cap, -1, np.int32),
            "protected": np.zeros(cap, bool),
            "fake": np.zeros(cap, bool),
            "suspended": np.zeros(cap, bool),
            # the last month of the subscriber's latest trial (trials last 1..TRIAL_MAX_MONTHS months)
            "trial_crbt": np.full(cap, -99, np.int16),
            "trial_gprs": np.full(cap, -99, np.int16),
            "disc": np.zeros(cap),
        }
        self.build_channels()
        self.cust = {"n": 0}
        first = self.month_starts[0]
        self._add_subscribers(rng, n0, first - DAY, np.zeros(n0, np.int8))
        # month 1 starts from the stationary state of what the churn model reads (steady_state.py)
        offset = np.array([P.BRANDS[b]["churn_offset"] for b in BRAND_CODES])[s["brand"][:n0]]
        r, complained, short, tenure_days = steady_state.warm_up(self._rng("warm-up"), s["postpaid"][:n0], offset)
        s["r"][:n0], s["complained"][:n0] = r, complained
        s["activated"][:n0] = first - tenure_days * DAY
        c = self.cust
        c["created"][: c["n"]] = self.month_starts[0]
        np.minimum.at(c["created"], s["cust"][:n0], s["activated"][:n0])
        # holdings at start follow each service's penetration, more for data-heavy brands, bundles planted
        initial_holdings(rng, s, np.arange(n0), VAS_ALL, 1.0, BRAND_CODES)
        self._trials_in_progress(rng, n0)
        postpaid = s["postpaid"][:n0]
        s["bill_prev"][:n0] = np.where(postpaid, (rng.gamma(4, 30, n0) * 100).astype(np.int64), 0)
        s["arrears"][:n0] = np.where(short, s["bill_prev"][:n0] // 2, 0)
        self.build_groups()

    def _trials_in_progress(self, rng, n0: int) -> None:
        """Month 1 starts with the trials the campaigns of the months before left running (stationary share)."""
        s = self.s
        for ctype, offer, _, share, ctrl_share, ctrl_rate, uplift, *_ in P.CAMPAIGNS:
            if ctype != "trial_package":
                continue
            starts = share * (ctrl_share * ctrl_rate + (1 - ctrl_share) * (ctrl_rate + uplift))
            # x the mean remaining length, less the share the campaigns cannot reach again (cool-down)
            running = starts * (P.TRIAL_MAX_MONTHS + 1) / 2 * 0.7
            field, full = ("trial_crbt", "CRBT") if offer == "CRBT_TRIAL" else ("trial_gprs", "GPRS5")
            pool = np.flatnonzero(~s["hold"][:n0, VAS_IDX[full]])
            if offer == "GPRS_TRIAL":  # the same pool as the campaign's: GoTone, GPRS handset, no package
                pool = pool[(s["brand"][pool] == 0) & capability(s["handset"][pool], "gprs")]
                pool = pool[~s["hold"][pool, VAS_IDX["GPRS20"]]]
            chosen = rng.choice(pool, min(len(pool), round(running * n0)), replace=False)
            s["hold"][chosen, VAS_IDX[offer]] = True
            s[field][chosen] = rng.integers(0, P.TRIAL_MAX_MONTHS, len(chosen))
            if offer == "GPRS_TRIAL":
                self._start_data_use(rng, chosen[~s["data_user"][chosen]])

    def _add_subscribers(self, rng, k: int, activated, act_type) -> np.ndarray:
        s, i0 = self.s, self.n
        if i0 + k > self.capacity:
            raise RuntimeError("subscriber capacity exceeded")
        idx = np.arange(i0, i0 + k)
        self.n += k
        brand_p = [b["share"] for b in P.BRANDS.values()]
        brand = rng.choice(len(BRAND_CODES), k, p=brand_p).astype(np.int8)
        s["brand"][idx] = brand
        s["city"][idx] = rng.choice(
            len(CITY_CODES), k, p=np.array([c[2] for c in P.CITIES]) / sum(c[2] for c in P.CITIES)
        )
        s["activated"][idx] = activated
        s["act_type"][idx] = act_type
        s["alive"][idx] = True
        mult_level = rng.lognormal(0, 0.55, k)
        for b, code in enumerate(BRAND_CODES):
            m = brand == b
            cnt = int(m.sum())
            if not cnt:
                continue
            bp = P.BRANDS[code]
            s["postpaid"][idx[m]] = rng.random(cnt) < bp["postpaid"]
            plan_ids = [PLAN_IDX[p[0]] for p in bp["plans"]]
            s["plan"][idx[m]] = rng.choice(plan_ids, cnt, p=bp["plan_weights"])
            s["mou"][idx[m]] = bp["mou_out"] * mult_level[m]
            s["sms"][idx[m]] = bp["sms"] * rng.lognormal(0, 0.7, cnt)
            s["data"][idx[m]] = bp["data_mb"] * rng.lognormal(0, 0.9, cnt)
            has_contract = s["postpaid"][idx[m]] & (rng.random(cnt) < bp["contract_share"])
            start = np.maximum(np.asarray(activated, "datetime64[D]"), self.month_starts[0])
            start = start[m] if np.ndim(start) else start
            ends = start + rng.integers(0, P.CONTRACT_MONTHS * 30, cnt) * DAY
            s["contract_end"][idx[m]] = np.where(has_contract, ends, np.datetime64("NaT"))
            s["disc"][idx[m]] = np.where(has_contract, 0.10, 0.0)
        # richer plans go with heavier use
        fee = np.array([p[3] for p in PLANS])[s["plan"][idx]]
        s["mou"][idx] *= (1 + fee / 300) * P.MOU_SCALE
        s["offnet"][idx] = rng.beta(*P.OFFNET_BASE_BETA, k)
        s["roamer"][idx] = rng.random(k) < P.ROAMER_SHARE
        s["contacts"][idx] = 8 + rng.gamma(3, 8, k)
        s["handset"][idx], s["tac"][idx] = draw_handsets(rng, k)
        s["opt_out"][idx] = rng.random(k) < P.MARKETING_OPT_OUT_SHARE  # refused marketing contact, for good
        # only data users on a GPRS handset use mobile data at all (GPRS users were a minority in 2008)
        user_share = np.array([P.DATA_USER_SHARE[b] for b in BRAND_CODES])[brand]
        s["data_user"][idx] = capability(s["handset"][idx], "gprs") & (rng.random(k) < user_share)
        s["data"][idx] *= s["data_user"][idx]
        city = s["city"][idx]
        s["channel"][idx] = self._pick_channel(rng, city)
        # customers: most subscribers are their own customer, some are a second line
        is_extra = (rng.random(k) < P.SUBS_PER_CUSTOMER_EXTRA) & (self.cust["n"] > 0)
        new_cust = int((~is_extra).sum())
        cust_idx = self._add_customers(
            rng, new_cust, city[~is_extra], activated if np.ndim(activated) == 0 else np.asarray(activated)[~is_extra]
        )
        cust = np.empty(k, np.int64)
        cust[~is_extra] = cust_idx
        cust[is_extra] = rng.integers(0, max(self.cust["n"], 1), int(is_extra.sum()))
        s["cust"][idx] = cust
        return idx

    def _add_customers(self, rng, k, city, since) -> np.ndarray:
        c = self.cust
        if c["n"] == 0:
            cap = self.capacity
            c.update(
                city=np.zeros(cap, np.int8),
                county=np.zeros(cap, np.int8),
                gender=np.zeros(cap, np.int8),
                birth=np.zeros(cap, "datetime64[D]"),
                created=np.zeros(cap, "datetime64[D]"),
                star=np.zeros(cap, np.int8),
                name=np.empty(cap, object),
                idno=np.empty(cap, object),
            )
        i0 = c["n"]
        idx = np.arange(i0, i0 + k)
        c["n"] += k
        c["city"][idx] = city
        c["county"][idx] = rng.integers(1, P.COUNTIES_PER_CITY + 1, k)
        gender = rng.integers(0, 2, k)
        c["gender"][idx] = gender
        age_days = (rng.uniform(18, 70, k) * 365.25).astype(int)
        birth = self.month_starts[0] - age_days * DAY
        c["birth"][idx] = birth
        c["created"][idx] = np.asarray(since, "datetime64[D]")  # never clamped by the run length: months stay identical
        c["star"][idx] = np.minimum(rng.poisson(1.5, k), 7)
        c["name"][idx] = self.names.person_names(k, gender)
        c["idno"][idx] = self.names.id_numbers(rng, city, birth, gender)
        return idx

    def build_channels(self) -> None:
        rng = self._rng("channels")
        rows = []
        cid = 1
        for ci, (code, cname, _) in enumerate(P.CITIES):
            for ctype, count in P.OUTLETS_PER_CITY.items():
                for j in range(count):
                    area = "urban" if ctype == "own_hall" or j % 3 == 0 else ("county" if j % 3 == 1 else "rural")
                    label = {"own_hall": "营业厅", "franchise": "合作营业厅", "social_outlet": "社会代理网点"}[ctype]
                    rows.append((cid, f"{cname}{label}{j + 1:02d}", ctype, code, area, ci))
                    cid += 1
        self.electronic_ids = []
        for name in P.ELECTRONIC_CHANNELS:
            rows.append((cid, name, "electronic", None, "online", -1))
            self.electronic_ids.append(cid)
            cid += 1
        self.channels = rows
        opened = self.month_starts[0] - rng.integers(200, 4000, len(rows)) * DAY
        self.channel_opened = opened
        self.city_channels = [np.array([r[0] for r in rows if r[5] == ci]) for ci in range(len(P.CITIES))]

    def _pick_channel(self, rng, city) -> np.ndarray:
        out = np.empty(len(city), np.int32)
        online = rng.random(len(city)) < 0.15
        out[online] = rng.choice(self.electronic_ids, int(online.sum()))
        for ci in range(len(P.CITIES)):
            m = (~online) & (city == ci)
            out[m] = rng.choice(self.city_channels[ci], int(m.sum()))
        return out

    # ================================================================ groups + planted defects
    def build_groups(self) -> None:
        rng = self._rng("groups")
        s, n0 = self.s, self.n
        n_groups = max(50, n0 // P.SUBS_PER_GROUP)
        k = max(1, round(P.GROUP_DEFECT_SHARE * n_groups))
        kinds = [
            "no_members",
            "few_members",
            "vnet_no_members",
            "vnet_few_members",
            "vnet_cross_region",
            "legal_person_multi",
            "identical_members",
            "missing_industry",
            "no_account_manager",
            "product_no_users",
            "product_no_fees",
            "region_mismatch",
            "fake_members",
        ]
        order = rng.permutation(n_groups)
        planted: dict[str, np.ndarray] = {}
        pos = 0
        for i, kind in enumerate(kinds):
            count = k + i % 3  # counts differ between rules, so no rule passes by coincidence
            planted[kind] = order[pos : pos + count]
            pos += count
        # identical member lists come in pairs: the copies are extra groups
        self.n_normal_groups = n_groups
        g_city = rng.choice(
            len(CITY_CODES), n_groups, p=np.array([c[2] for c in P.CITIES]) / sum(c[2] for c in P.CITIES)
        )
        # small demo operators get smaller groups, so members stay a minority of subscribers
        median = max(P.GROUP_MEMBERS_MIN, min(P.GROUP_MEMBERS_MEDIAN, 0.4 * n0 / n_groups))
        members_per_group = np.maximum(P.GROUP_MEMBERS_MIN, rng.lognormal(math.log(median), 0.5, n_groups).astype(int))
        members_per_group = np.minimum(members_per_group, 400)
        members_per_group[planted["no_members"]] = 0
        members_per_group[planted["few_members"]] = P.GROUP_RULES["few_members_max"]
        # candidate members: subscribers of each city, shuffled, without fake-usage ones
        by_city = [rng.permutation(np.flatnonzero(s["city"][:n0] == ci)) for ci in range(len(CITY_CODES))]
        taken = [0] * len(CITY_CODES)
        member_lists: list[np.ndarray] = []
        mismatch = set(planted["region_mismatch"].tolist())
        n_cities = len(CITY_CODES)
        for g in range(n_groups):
            # region-mismatch groups: members all live in another city than the group's
            shift = 1 if g in mismatch else 0
            ci = int((g_city[g] + shift) % n_cities)
            cnt = int(members_per_group[g])
            if taken[ci] + cnt + 10 > len(by_city[ci]):  # city too small: move the group
                ci = int(np.argmax([len(by_city[c]) - taken[c] for c in range(n_cities)]))
                g_city[g] = (ci - shift) % n_cities
            if taken[ci] + cnt > len(by_city[ci]):
                raise ValueError("too few subscribers for the group customers; use more --subscribers")
            member_lists.append(by_city[ci][taken[ci] : taken[ci] + cnt])
            taken[ci] += cnt
        # identical member lists: a copy group per planted group, same members
        copies = []
        for g in planted["identical_members"]:
            copies.append(int(g))
        n_all = n_groups + len(copies)
        self.g = g = {
            "id": GROUP_ID0 + np.arange(n_all),
            "city": np.concatenate([g_city, g_city[copies]]),
            "industry": np.empty(n_all, object),
            "manager": np.empty(n_all, object),
            "legal": np.empty(n_all, object),
            "name": np.empty(n_all, object),
            "employees": np.zeros(n_all, np.int64),
            "created": np.zeros(n_all, "datetime64[D]"),
            "credit": np.empty(n_all, object),
        }
        g["industry"][:] = np.array(P.INDUSTRIES, object)[rng.integers(0, len(P.INDUSTRIES), n_all)]
        g["industry"][planted["missing_industry"]] = None
        managers = self.names.person_names(max(10, n_all // 25), rng.integers(0, 2, max(10, n_all // 25)))
        g["manager"][:] = np.array(managers, object)[rng.integers(0, len(managers), n_all)]
        g["manager"][planted["no_account_manager"]] = None
        g["legal"][:] = self.names.id_numbers(
            rng, g["city"], self.month_starts[0] - rng.integers(9000, 25000, n_all) * DAY, rng.integers(0, 2, n_all)
        )
        _make_unique(
            g["legal"],
            lambda k: self.names.id_numbers(
                rng,
                rng.integers(0, len(CITY_CODES), k),
                self.month_starts[0] - rng.integers(9000, 25000, k) * DAY,
                rng.integers(0, 2, k),
            ),
        )
        lp = planted["legal_person_multi"]
        # each planted legal person also heads a second, otherwise normal group
        partners = np.setdiff1d(order[pos:], [], assume_unique=True)[: len(lp)]
        pos += len(lp)
        g["legal"][partners] = g["legal"][lp]
        g["name"][:] = self.names.company_names(rng, g["city"], g["industry"])
        g["credit"][:] = self.names.credit_codes(rng, n_all)
        g["employees"][:] = (
            np.maximum(
                members_per_group[np.r_[np.arange(n_groups), copies]] * 2, rng.lognormal(4, 1, n_all).astype(np.int64)
            )
            + 1
        )
        g["created"][:] = self.month_starts[0] - rng.integers(100, 5000, n_all) * DAY
        # memberships
        member_group, member_sub, member_vnet, member_role = [], [], [], []
        vnet_next = VNET_ID0
        g_vnet = np.full(n_all, -1, np.int64)
        products = []  # (group_idx, product_id, vnet_id, fee_cents, users)
        protected = []
        for gi in range(n_groups):
            subs = member_lists[gi]
            vnet_members = np.zeros(len(subs), np.int64) - 1
            if gi not in set(planted["no_members"]) | set(planted["few_members"]):
                g_vnet[gi] = vnet_next
                vnet_next += 1
                in_vnet = rng.random(len(subs)) < P.VNET_MEMBER_SHARE
                in_vnet[:5] = True
                vnet_members[in_vnet] = g_vnet[gi]
                products.append((gi, "GRP_VPMN", g_vnet[gi], int(rng.integers(50, 300)) * 100, int(in_vnet.sum())))
                for pid, _, _, (lo, hi), share in P.GROUP_PRODUCTS[1:]:
                    if rng.random() < share:
                        products.append((gi, pid, -1, int(rng.integers(lo, hi)) * 100, int(rng.integers(5, 50))))
            else:
                protected.extend(subs.tolist())
            member_group += [gi] * len(subs)
            member_sub += subs.tolist()
            member_vnet += vnet_members.tolist()
            member_role += ["key_person"] + ["member"] * (len(subs) - 1) if len(subs) else []
        member_group = np.array(member_group)
        member_sub = np.array(member_sub)
        member_vnet = np.array(member_vnet)
        # V-net with no members: a second V-net product nobody is in
        for gi in planted["vnet_no_members"]:
            products.append((int(gi), "GRP_VPMN", vnet_next, 8000, 10))
            vnet_next += 1
        # V-net with few members: two members move from the main V-net to a second one
        for gi in planted["vnet_few_members"]:
            rows = np.flatnonzero((member_group == gi) & (member_vnet == g_vnet[gi]))[
                : P.GROUP_RULES["few_members_max"]
            ]
            member_vnet[rows] = vnet_next
            protected.extend(member_sub[rows].tolist())
            products.append((int(gi), "GRP_VPMN", vnet_next, 6000, len(rows)))
            vnet_next += 1
        # cross-region V-net: two V-net members from another city
        extra_g, extra_s, extra_v = [], [], []
        for gi in planted["vnet_cross_region"]:
            other = int((g_city[gi] + 3) % len(CITY_CODES))
            subs = by_city[other][taken[other] : taken[other] + 2]
            taken[other] += 2
            extra_g += [int(gi)] * len(subs)
            extra_s += subs.tolist()
            extra_v += [g_vnet[gi]] * len(subs)
            protected.extend(subs.tolist())
        # suspected fake members: members that never use the service
        for gi in planted["fake_members"]:
            ci = int(g_city[gi])
            subs = by_city[ci][taken[ci] : taken[ci] + 1]
            taken[ci] += 1
            extra_g += [int(gi)] * len(subs)
            extra_s += subs.tolist()
            extra_v += [g_vnet[gi]] * len(subs)
            s["fake"][subs] = True
            protected.extend(subs.tolist())
        member_group = np.concatenate([member_group, extra_g]).astype(np.int64)
        member_sub = np.concatenate([member_sub, extra_s]).astype(np.int64)
        member_vnet = np.concatenate([member_vnet, extra_v]).astype(np.int64)
        member_role += ["member"] * len(extra_g)
        # products without users or without fees
        for kind, field in (("product_no_users", "users"), ("product_no_fees", "fee")):
            for gi in planted[kind]:
                fee, users = (0, 20) if field == "fee" else (30000, 0)
                products.append((int(gi), "GRP_SMS", -1, fee, users))
        # identical member lists: copy groups (no V-net) with the same members
        for j, gi in enumerate(copies):
            cg = n_groups + j
            rows = np.flatnonzero(member_group == gi)
            member_group = np.concatenate([member_group, np.full(len(rows), cg)])
            member_sub = np.concatenate([member_sub, member_sub[rows]])
            member_vnet = np.concatenate([member_vnet, np.full(len(rows), -1)])
            member_role += ["member"] * len(rows)
            protected.extend(member_sub[rows].tolist())
            products.append((cg, "GRP_SMS", -1, 20000, 30))
        s["protected"][np.array(protected, np.int64)] = True
        self.members = {
            "group": member_group,
            "sub": member_sub,
            "vnet": member_vnet,
            "role": np.array(member_role, object),
            "joined": np.maximum(
                s["activated"][member_sub], self.month_starts[0] - rng.integers(30, 1500, len(member_sub)) * DAY
            ),
            "left": np.full(len(member_sub), np.datetime64("NaT"), "datetime64[D]"),
        }
        first_membership = np.unique(member_sub, return_index=True)
        s["group"][first_membership[0]] = member_group[first_membership[1]]
        self.group_products = products
        self.planted = planted
        self.copies = np.array(copies, np.int64)
        self.n_groups_all = n_all
        self.g_vnet = g_vnet
        self.high_churn_used: set[int] = set()
        eligible = np.setdiff1d(np.arange(n_groups), np.concatenate([*planted.values(), partners]))
        self.normal_groups = eligible
        self.group_defects_static = {
            "groups_no_members": len(planted["no_members"]),
            "groups_few_members": len(planted["few_members"]),
            "vnets_no_members": len(planted["vnet_no_members"]),
            "vnets_few_members": len(planted["vnet_few_members"]),
            "vnets_cross_region": len(planted["vnet_cross_region"]),
            "legal_persons_with_several_groups": len(lp),
            "group_pairs_identical_members": len(copies),
            "groups_missing_industry": len(planted["missing_industry"]),
            "groups_no_account_manager": len(planted["no_account_manager"]),
            "group_products_no_users": len(planted["product_no_users"]),
            "group_products_no_fees": len(planted["product_no_fees"]),
            "groups_region_mismatch": len(planted["region_mismatch"]),
            "suspected_fake_members": len(planted["fake_members"]),
        }

    # ================================================================ monthly simulation
    def run(self) -> dict:
        from tqdm import tqdm

        self.build_population()
        total_steps = sum(int(self._days_in(m)) + 1 for m in range(self.cfg.months))
        with tqdm(total=total_steps, desc="generate", unit="step", disable=not self.cfg.progress) as bar:
            for m in range(self.cfg.months):
                self.simulate_month(m, bar)
        self.write_truth()
        self.writer.close()
        return self.truth

    def _days_in(self, m: int) -> int:
        ms = self.month_starts[m]
        return int(((ms.astype("datetime64[M]") + 1).astype("datetime64[D]") - ms) / DAY)

    def simulate_month(self, m: int, bar) -> None:
        s = self.s
        rng = self._rng("month", m)
        ms = self.month_starts[m]
        days = self._days_in(m)
        me = ms + (days - 1) * DAY
        period = str(ms.astype("datetime64[M]"))
        created_at = str(me + DAY) + "T02:00:00"

        n_start_alive = int(s["alive"][: self.n].sum())
        start_idx = np.flatnonzero(s["alive"][: self.n])
        # ---- churn this month (drivers observed up to last month) ----
        p, drivers = self.churn_probability(start_idx, ms, me, m)
        churn = rng.random(len(start_idx)) < p
        churn = self.apply_group_churn_rules(rng, start_idx, churn, m)
        churners = start_idx[churn]
        deact_day = ms + rng.integers(0, days, len(churners)) * DAY
        reason = np.where(
            (s["arrears"][churners] > 0) & (rng.random(len(churners)) < 0.6),
            2,
            np.where(rng.random(len(churners)) < P.PORT_OUT_SHARE, 1, 0),
        )
        s["deact"][churners] = deact_day
        s["reason"][churners] = reason
        self.churn_rows.append(
            pa.table(
                {
                    "month": pa.array([period] * len(start_idx)),
                    "sub_id": SUB_ID0 + start_idx,
                    "p_churn": np.round(p, 6),
                    **{f"driver_{k}": np.round(v, 6).astype(float) for k, v in drivers.items()},
                    "churned": churn,
                }
            )
        )
        # ---- new activations: replace churners plus growth ----
        gross = len(churners) + round(n_start_alive * P.NET_GROWTH_PER_MONTH)
        act_day = ms + rng.integers(0, days, gross) * DAY
        act_type = (rng.random(gross) < P.PORT_IN_SHARE).astype(np.int8)
        new_idx = self._add_subscribers(rng, gross, act_day, act_type)
        initial_holdings(rng, s, new_idx, VAS_ALL, 0.5, BRAND_CODES)
        s["r"][new_idx] = np.maximum(0.0, rng.normal(P.R_INIT_MEAN, P.R_INIT_SD, gross))
        # ---- disengagement evolves; it shows in this month's usage ----
        idx = np.concatenate([start_idx, new_idx])
        r = s["r"][idx]
        r = np.maximum(0.0, P.R_DECAY * r + rng.normal(0, P.R_NOISE, len(idx)))
        r += np.where(rng.random(len(idx)) < P.R_DRIFT_SHARE, P.R_DRIFT_SHOCK, 0.0)
        s["r"][idx] = r
        # active window within the month
        first = np.maximum(s["activated"][idx], ms)
        last = np.where(np.isnat(s["deact"][idx]), me, np.minimum(s["deact"][idx], me))
        # ---- campaigns (contacts early in the month, responses within it) ----
        camp = self.run_campaigns(rng, m, idx, ms, days, period, created_at)
        # ---- usage, day by day ----
        totals = self.write_usage(m, idx, first, last, bar)
        # ---- VAS events, billing, recharge, complaints ----
        events = self.vas_events(rng, m, idx, first, last, ms, days, camp)
        bill = self.write_billing(rng, m, idx, first, last, days, totals, camp, period, created_at)
        self.write_recharge(rng, idx, bill, ms, days, period, created_at)
        self.write_complaints(rng, idx, first, last, ms, days, period, created_at)
        self._emit("vas_subscription", period, events, created_at)
        # postpaid subscribers in arrears at month end may be suspended
        s["suspended"][idx] = (s["arrears"][idx] > 0) & s["postpaid"][idx] & (rng.random(len(idx)) < 0.5)
        # ---- snapshots at month end ----
        self.write_snapshots(rng, m, idx, ms, me, period, created_at)
        if m + 1 < self.cfg.months:  # who orders what next month, from this month's data
            self.planter.plan(s, self.cust, idx, totals, me, period, BRAND_CODES, {p: VAS_IDX[p] for p in VAS_IDX})
        # contracts ending this month: most who stay sign a new one (the contract-end driver stays stationary)
        ce = s["contract_end"][idx]
        renew = idx[(ce >= ms) & (ce <= me) & np.isnat(s["deact"][idx])]
        renew = renew[rng.random(len(renew)) < P.CONTRACT_RENEW_SHARE]
        s["contract_end"][renew] += P.CONTRACT_MONTHS * 30 * DAY
        s["alive"][churners] = False
        self.truth["monthly"][period] = {
            "subscribers_at_start": n_start_alive,
            "churned": len(churners),
            "churned_port_out": int((reason == 1).sum()),
            "churned_nonpayment": int((reason == 2).sum()),
            "gross_adds": gross,
            "port_in": int(act_type.sum()),
            "subscribers_at_end": int(s["alive"][: self.n].sum()),
            "churn_rate": round(len(churners) / n_start_alive, 6),
            "mean_true_churn_probability": round(float(p.mean()), 6),
            "billed_revenue": bill["total_cents"] / 100,
            "billing_rows": bill["rows"],
        }
        bar.update(1)

    def churn_probability(self, idx, ms, me, m):
        s = self.s
        tenure_days = (ms - s["activated"][idx]) / DAY
        ce = s["contract_end"][idx]
        drivers = {
            "disengagement": s["r"][idx],
            "complaint": s["complained"][idx].astype(float),
            "contract_end": ((ce >= ms) & (ce <= me)).astype(float),
            "low_tenure": (tenure_days < 183).astype(float),
            "arrears": (s["arrears"][idx] > 0).astype(float),
        }
        z = sum(P.CHURN_WEIGHTS[k] * v for k, v in drivers.items())
        z = z + np.array([P.BRANDS[b]["churn_offset"] for b in BRAND_CODES])[s["brand"][idx]]
        factor = np.where(s["group"][idx] >= 0, P.GROUP_MEMBER_CHURN_FACTOR, 1.0)
        factor = np.where(s["protected"][idx] | s["fake"][idx], 0.0, factor)
        if m == 0:  # one intercept for all months: the first month (stationary, steady_state.py) averages the target
            self.intercept = steady_state.calibrate_intercept(z, P.CHURN_TARGET, factor)
        p = factor * sigmoid(self.intercept + z)
        return p, drivers

    def apply_group_churn_rules(self, rng, idx, churn, m):
        """Plant exactly k high-churn groups this month; keep every other group below the rule."""
        s, mem = self.s, self.members
        churn_sub = np.zeros(self.n, bool)
        churn_sub[idx[churn]] = True
        k = max(1, round(P.GROUP_DEFECT_SHARE * self.n_normal_groups)) + 1
        current = np.isnat(mem["left"])
        candidates = [g for g in self.normal_groups.tolist() if g not in self.high_churn_used]
        sizes = np.bincount(mem["group"][current], minlength=self.n_groups_all)
        candidates = [g for g in candidates if sizes[g] >= 15]
        chosen = rng.choice(candidates, min(k, len(candidates)), replace=False) if candidates else []
        self.high_churn_used.update(int(g) for g in chosen)
        share = P.GROUP_RULES["high_churn_share"]
        for g in range(self.n_groups_all):
            rows = np.flatnonzero((mem["group"] == g) & current)
            if len(rows) == 0:
                continue
            subs = mem["sub"][rows]
            if g in chosen:
                go = math.ceil(0.4 * len(subs))
                churn_sub[subs] = False
                churn_sub[rng.choice(subs[~s["protected"][subs]], go, replace=False)] = True
            else:
                # never reach the high-churn share, and keep at least 5 current members
                allowed = min(math.ceil(share * len(subs)) - 1, max(len(subs) - 5, 0))
                hit = subs[churn_sub[subs]]
                if len(hit) > allowed:
                    churn_sub[hit[allowed:]] = False
        self.truth.setdefault("group_high_churn", {})[str(self.month_starts[m].astype("datetime64[M]"))] = sorted(
            int(self.g["id"][g]) for g in chosen
        )
        return churn_sub[idx]

    # ---------------------------------------------------------------- usage
    def write_usage(self, m, idx, first, last, bar):
        s = self.s
        ms = self.month_starts[m]
        days = self._days_in(m)
        contract = self.contracts["usage_daily"]
        rng_day = self._rng("usage-days", m)
        decay = np.exp(-P.USAGE_DECAY_PER_R * s["r"][idx])
        fake = s["fake"][idx]
        scale = np.where(fake, 0.0, decay)
        mou_d = s["mou"][idx] * scale / days
        sms_d = s["sms"][idx] * scale / days
        data_d = s["data"][idx] * scale / days
        offnet = np.clip(s["offnet"][idx] + P.OFFNET_PER_R * s["r"][idx], 0, 0.95)
        roam_d = np.where(s["roamer"][idx], 40.0 / days, 0.0) * scale
        contacts = s["contacts"][idx]
        first_i = ((first - ms) / DAY).astype(int)
        last_i = ((last - ms) / DAY).astype(int)
        sure_day = first_i + (rng_day.random(len(idx)) * (last_i - first_i + 1)).astype(int)
        cell_codes = np.char.add(
            np.array(CITY_CODES)[s["city"][idx]].astype(str), np.char.zfill(((idx * 7919) % 4000).astype(str), 5)
        )
        tot = {k: np.zeros(len(idx)) for k in ("mou_out", "mou_in", "sms", "mms", "data", "roam", "dc", "days")}
        for d in range(days):
            rng = self._rng("usage", m * 100 + d)
            on = (first_i <= d) & (last_i >= d)
            sel = np.flatnonzero(on)
            weekend = ((ms + d * DAY).astype("datetime64[D]").astype(int) + 3) % 7 >= 5
            wk = 0.8 if weekend else 1.08
            mo = rng.poisson(mou_d[sel] * wk)
            mo = np.where((sure_day[sel] == d) & ~fake[sel], np.maximum(mo, 1), mo)
            mo = np.minimum(mo, 1440)
            mi = np.minimum(rng.poisson(mou_d[sel] * P.MOU_IN_RATIO * wk), 1440)
            calls = np.minimum(rng.poisson(mo / 2.4), 5000)
            calls = np.where(mo > 0, np.maximum(calls, 1), 0)
            share = np.where(
                calls > 0, np.clip(rng.binomial(np.maximum(calls, 1), offnet[sel]) / np.maximum(calls, 1), 0, 1), 0.0
            )
            roam = np.minimum(rng.poisson(roam_d[sel]), 1440)
            sms = np.minimum(rng.poisson(sms_d[sel] * wk), 20000)
            mms = np.minimum(rng.poisson(sms_d[sel] * 0.01), 5000)
            data = np.round(rng.gamma(0.8, np.maximum(data_d[sel], 1e-9) / 0.8), 3)
            data = np.where(data_d[sel] > 0, np.minimum(data, 200000), 0.0)
            dc = np.minimum(rng.poisson(np.minimum(contacts[sel], calls + 1) * 0.6), 5000)
            cols = {
                "day": np.full(len(sel), ms + d * DAY),
                "sub_id": SUB_ID0 + idx[sel],
                "voice_min_out": mo,
                "voice_min_in": mi,
                "calls_out": calls,
                "offnet_call_share": np.round(share, 4),
                "roam_min": roam,
                "sms_out": sms,
                "mms_out": mms,
                "data_mb": data,
                "distinct_contacts": dc,
                "cell_home": cell_codes[sel],
            }
            day_period = str(ms + d * DAY)
            self.writer.write(contract, day_period, cols, str(ms + (d + 1) * DAY) + "T03:00:00")
            for key, val in (
                ("mou_out", mo),
                ("mou_in", mi),
                ("sms", sms),
                ("mms", mms),
                ("data", data),
                ("roam", roam),
                ("dc", dc),
                ("days", 1),
            ):
                tot[key][sel] += val
            bar.update(1)
        return tot

    # ---------------------------------------------------------------- campaigns
    def run_campaigns(self, rng, m, idx, ms, days, period, created_at):
        s = self.s
        out = {"resp_sub": [], "resp_product": [], "resp_campaign": [], "resp_ts": []}
        camp_rows = {k: [] for k in self.contracts["campaign"].column_names}
        contacts = {k: [] for k in self.contracts["campaign_contact"].column_names}
        responses = {k: [] for k in self.contracts["campaign_response"].column_names}
        alive_early = idx[(s["activated"][idx] < ms) & (np.isnat(s["deact"][idx]) | (s["deact"][idx] > ms + 5 * DAY))]
        alive_early = alive_early[~s["opt_out"][alive_early]]  # opted-out subscribers are never contacted
        spend_proxy = s["mou"][alive_early] * np.exp(-P.USAGE_DECAY_PER_R * s["r"][alive_early])
        for ctype, offer, name, share, ctrl_share, ctrl_rate, uplift, cost_per, channel in P.CAMPAIGNS:
            brand = None
            if offer == "CRBT_TRIAL":
                pool = alive_early[
                    ~s["hold"][alive_early, VAS_IDX["CRBT"]] & (s["trial_crbt"][alive_early] < m - P.TRIAL_COOLDOWN)
                ]
            elif offer == "GPRS_TRIAL":
                brand = "GOTONE"
                pool = alive_early[
                    (s["brand"][alive_early] == 0)
                    & capability(s["handset"][alive_early], "gprs")
                    & ~s["hold"][alive_early, VAS_IDX["GPRS5"]]
                    & ~s["hold"][alive_early, VAS_IDX["GPRS20"]]
                    & (s["trial_gprs"][alive_early] < m - P.TRIAL_COOLDOWN)
                ]
            elif offer == "GPRS5":
                pool = alive_early[(s["data"][alive_early] > 20) & ~s["hold"][alive_early, VAS_IDX["GPRS5"]]]
            elif ctype == "care":
                pool = alive_early[spend_proxy >= np.quantile(spend_proxy, 0.85)]
            elif ctype == "retention":
                # the marketing team's risk list: visibly falling usage
                pool = alive_early[s["r"][alive_early] > np.quantile(s["r"][alive_early], 0.9)]
            else:  # activation of low users
                pool = alive_early[spend_proxy <= np.quantile(spend_proxy, 0.2)]
            n_target = min(len(pool), round(share * len(alive_early)))
            if n_target < 10:
                continue
            targets = np.sort(rng.choice(pool, n_target, replace=False))
            is_control = rng.random(n_target) < ctrl_share
            if not is_control.any() or is_control.all():  # a small campaign still has both arms
                is_control[:] = False
                is_control[rng.integers(0, n_target)] = True
            responded = rng.random(n_target) < np.where(is_control, ctrl_rate, ctrl_rate + uplift)
            cid = self.next_ids["campaign"]
            self.next_ids["campaign"] += 1
            start = ms + int(rng.integers(0, 5)) * DAY
            end = min(start + 20 * DAY, ms + (days - 1) * DAY)
            contact_ts = _timestamps(rng, start, 3, n_target)
            resp_ts = contact_ts + rng.integers(3600, 10 * 86400, n_target).astype("timedelta64[s]")
            resp_ts = np.minimum(resp_ts, (ms + days * DAY).astype("datetime64[s]") - np.timedelta64(1, "s"))
            treated = int((~is_control).sum())
            cost = round(treated * cost_per * 100)
            for key, val in zip(
                camp_rows,
                [cid, f"{period} {name}", ctype, offer, brand, channel, start, end, cost, f"{ctype}:{offer}"],
                strict=True,
            ):
                camp_rows[key].append(val)
            cids = np.arange(self.next_ids["contact"], self.next_ids["contact"] + n_target)
            self.next_ids["contact"] += n_target
            contacts["contact_id"].append(cids)
            contacts["campaign_id"].append(np.full(n_target, cid))
            contacts["sub_id"].append(SUB_ID0 + targets)
            contacts["channel"].append(np.full(n_target, channel, object))
            contacts["ts"].append(contact_ts)
            contacts["is_control"].append(is_control.astype(np.int8))
            r_idx = np.flatnonzero(responded)
            rid = np.arange(self.next_ids["response"], self.next_ids["response"] + len(r_idx))
            self.next_ids["response"] += len(r_idx)
            responses["response_id"].append(rid)
            responses["campaign_id"].append(np.full(len(r_idx), cid))
            responses["sub_id"].append(SUB_ID0 + targets[r_idx])
            responses["ts"].append(resp_ts[r_idx])
            responses["ordered_product_id"].append(np.full(len(r_idx), offer, object))
            out["resp_sub"].append(targets[r_idx])
            out["resp_product"].append(np.full(len(r_idx), offer, object))
            out["resp_campaign"].append(np.full(len(r_idx), cid))
            out["resp_ts"].append(resp_ts[r_idx])
            if ctype == "retention":
                s["r"][targets[r_idx]] *= P.RETENTION_EFFECT
            self.truth["campaigns"].append(
                {
                    "campaign_id": cid,
                    "month": period,
                    "type": ctype,
                    "offer": offer,
                    "targeted": n_target,
                    "control": int(is_control.sum()),
                    "treated": treated,
                    "true_control_rate": ctrl_rate,
                    "true_uplift": uplift,
                    "true_lift": round((ctrl_rate + uplift) / ctrl_rate, 4),
                    "observed_treated_rate": round(float(responded[~is_control].mean()), 6) if treated else None,
                    "observed_control_rate": round(float(responded[is_control].mean()), 6)
                    if is_control.any()
                    else None,
                    "cost": cost / 100,
                }
            )
        if self.platform is not None:  # the platform's target lists for this month, one campaign per rule
            self.platform.run(self, m, period, ms, days, camp_rows, contacts, responses, out)
        self._emit("campaign", period, camp_rows, created_at)
        self._emit("campaign_contact", period, _concat(contacts), created_at)
        self._emit("campaign_response", period, _concat(responses), created_at)
        return {k: np.concatenate(v) if v else np.array([]) for k, v in out.items()}

    # ---------------------------------------------------------------- VAS orders/cancels
    def vas_events(self, rng, m, idx, first, last, ms, days, camp):
        s = self.s
        ev = {"sub": [], "code": [], "event": [], "ts": [], "trial": []}
        period = str(ms.astype("datetime64[M]"))
        stay = np.isnat(s["deact"][idx])

        def add(subs, code, event, trial, when=None):
            if len(subs) == 0:
                return
            ev["sub"].append(subs)
            ev["code"].append(np.full(len(subs), code, object))
            ev["event"].append(np.full(len(subs), event, object))
            ev["ts"].append(when if when is not None else _timestamps(rng, ms, days, len(subs)))
            ev["trial"].append(np.full(len(subs), trial, np.int8))

        # trials started last month end now: keep (order the full service) or cancel
        for trial, full, keep_rate, key in (
            ("CRBT_TRIAL", "CRBT", P.RINGBACK_KEEP_RATE, "ringback"),
            ("GPRS_TRIAL", "GPRS5", P.GPRS_TRIAL_KEEP_RATE, "gprs_trial"),
        ):
            field = "trial_crbt" if trial == "CRBT_TRIAL" else "trial_gprs"
            ending = idx[(s[field][idx] == m - 1) & s["alive"][idx]]
            ending = ending[np.isnat(s["deact"][ending])]
            # exactly the keep rate's share keeps (chosen at random): the planted rate, without sampling noise
            keep = np.zeros(len(ending), bool)
            keep[rng.permutation(len(ending))[: round(keep_rate * len(ending))]] = True
            when = (ms + DAY).astype("datetime64[s]") + rng.integers(0, 86400, len(ending)).astype("timedelta64[s]")
            add(ending, trial, "cancel", 1, when)
            add(ending[keep], full, "order", 0, when[keep] + np.timedelta64(60, "s"))
            s["hold"][ending, VAS_IDX[trial]] = False
            s["hold"][ending[keep], VAS_IDX[full]] = True
            if len(ending):
                self.truth[key][period] = {
                    "trials_ended": len(ending),
                    "kept": int(keep.sum()),
                    "keep_rate_parameter": keep_rate,
                }
        # campaign responses: orders of the offered product
        if len(camp["resp_sub"]):
            subs = camp["resp_sub"].astype(np.int64)
            for prod in np.unique(camp["resp_product"]):
                if prod not in VAS_IDX:
                    continue  # plan offers (retention) are recorded as responses only
                sel = camp["resp_product"] == prod
                j = VAS_IDX[prod]
                new = ~s["hold"][subs[sel], j]
                new[np.setdiff1d(np.arange(len(new)), np.unique(subs[sel], return_index=True)[1])] = False
                chosen = subs[sel][new]  # one order per subscriber, if two campaigns offered the same product
                add(chosen, prod, "order", int(prod.endswith("_TRIAL")), camp["resp_ts"][sel][new])
                s["hold"][chosen, j] = True
                if prod in ("CRBT_TRIAL", "GPRS_TRIAL"):
                    field = "trial_crbt" if prod == "CRBT_TRIAL" else "trial_gprs"
                    s[field][chosen] = m + rng.integers(0, P.TRIAL_MAX_MONTHS, len(chosen))
        # organic orders and cancels: the five modelled products follow the planted propensities of last
        # month (propensity.py), the others a flat rate; nobody orders what the handset cannot use
        planted = self.planter.draw(rng)
        window = np.zeros(self.n, np.int64)
        window[idx] = ((last - first) / DAY).astype(int) + 1
        for j, v in enumerate(P.VAS):
            holders = s["hold"][idx, j]
            if v[0] in planted:
                new = planted[v[0]][~s["hold"][planted[v[0]], j]]
                start = np.maximum(s["activated"][new], ms)
                when = (start + (rng.random(len(new)) * window[new]).astype(int) * DAY).astype("datetime64[s]")
                when = when + rng.integers(0, 86400, len(new)).astype("timedelta64[s]")
                add(new, v[0], "order", 0, when)
                s["hold"][new, j] = True
                new = new[:0]
            else:
                order_p = P.VAS_MONTHLY_ORDER_RATE * v[8] / 0.1
                new = idx[~holders & stay & (rng.random(len(idx)) < order_p) & capable(s, idx, v[0])]
            cancel_rate = P.VAS_CANCEL_RATE.get(v[0], P.VAS_MONTHLY_CANCEL_RATE) * (1 + s["r"][idx])
            cancel_rate = cancel_rate / bundle_keep(s, idx, v[0], VAS_IDX)
            cancel = idx[holders & (rng.random(len(idx)) < cancel_rate)]
            add(new, v[0], "order", 0)
            add(cancel, v[0], "cancel", 0)
            s["hold"][new, j] = True
            s["hold"][cancel, j] = False
        # a GPRS package (or trial) makes its holder a data user from next month on
        packs = [VAS_IDX[c] for c in P.GPRS_PACK_MB]
        has_pack = s["hold"][idx][:, packs].any(axis=1)
        self._start_data_use(rng, idx[has_pack & ~s["data_user"][idx]])
        # and some data users without a package stop using data (keeps the GPRS user share stationary)
        stop = idx[~has_pack & s["data_user"][idx] & (rng.random(len(idx)) < P.DATA_USER_STOP_RATE)]
        s["data_user"][stop] = False
        s["data"][stop] = 0.0
        sp_of = {v[0]: v[7] for v in VAS_ALL}
        subs = np.concatenate(ev["sub"]) if ev["sub"] else np.array([], np.int64)
        codes = np.concatenate(ev["code"]) if ev["code"] else np.array([], object)
        ts = np.concatenate(ev["ts"]) if ev["ts"] else np.array([], "datetime64[s]")
        order = np.lexsort((subs, ts))
        n = len(subs)
        ids = np.arange(self.next_ids["event"], self.next_ids["event"] + n)
        self.next_ids["event"] += n
        return {
            "event_id": ids,
            "sub_id": SUB_ID0 + subs[order],
            "service_code": codes[order],
            "sp_code": np.array([sp_of.get(c) for c in codes[order]], object),
            "event": np.concatenate(ev["event"])[order] if n else np.array([], object),
            "ts": ts[order],
            "channel_id": self.s["channel"][subs[order]],
            "is_trial": np.concatenate(ev["trial"])[order] if n else np.array([], np.int8),
        }

    def _start_data_use(self, rng, subs) -> None:
        s = self.s
        s["data_user"][subs] = True
        median = np.array([P.BRANDS[b]["data_mb"] for b in BRAND_CODES])[s["brand"][subs]]
        s["data"][subs] = median * rng.lognormal(0, 0.9, len(subs))

    # ---------------------------------------------------------------- billing
    def write_billing(self, rng, m, idx, first, last, days, tot, camp, period, created_at):
        s = self.s
        active_days = ((last - first) / DAY).astype(int) + 1
        prorate = active_days / days
        brand = s["brand"][idx]
        voice_rate = np.array([P.BRANDS[b]["voice_rate"] for b in BRAND_CODES])[brand]
        plan_fee = np.array([p[3] for p in PLANS])[s["plan"][idx]]
        plan_id = np.array([p[1] for p in PLANS], object)[s["plan"][idx]]
        pack_mb = np.zeros(len(idx))
        for code, mb in P.GPRS_PACK_MB.items():
            pack_mb += s["hold"][idx, VAS_IDX[code]] * mb
        items: list[tuple] = []  # (positions, item_code, product_id, category, gross_cents, discount_cents, campaign)

        def cents(x):
            return np.round(np.asarray(x) * 100).astype(np.int64)

        fee_c = cents(plan_fee * prorate)
        disc_c = cents(plan_fee * prorate * s["disc"][idx])
        items.append((np.arange(len(idx)), "PLAN_FEE", plan_id, "monthly_fee", fee_c, disc_c, None))
        items.append((np.arange(len(idx)), "VOICE_LOCAL", None, "voice", cents(tot["mou_out"] * voice_rate), 0, None))
        items.append((np.arange(len(idx)), "VOICE_ROAM", None, "voice", cents(tot["roam"] * P.ROAM_RATE), 0, None))
        items.append((np.arange(len(idx)), "SMS_P2P", None, "sms", cents(tot["sms"] * P.SMS_PRICE), 0, None))
        items.append((np.arange(len(idx)), "MMS", None, "mms", cents(tot["mms"] * P.MMS_PRICE), 0, None))
        items.append(
            (
                np.arange(len(idx)),
                "GPRS_FLOW",
                None,
                "gprs",
                cents(np.maximum(tot["data"] - pack_mb, 0) * P.GPRS_PRICE_PER_MB),
                0,
                None,
            )
        )
        trial_campaign = {}
        if len(camp["resp_sub"]):
            for prod in ("CRBT_TRIAL", "GPRS_TRIAL"):
                sel = camp["resp_product"] == prod
                trial_campaign[prod] = dict(
                    zip(
                        camp["resp_sub"][sel].astype(np.int64).tolist(),
                        camp["resp_campaign"][sel].tolist(),
                        strict=True,
                    )
                )
        for j, v in enumerate(VAS_ALL):
            held = s["hold"][idx, j]
            pos = np.flatnonzero(held)
            if not len(pos):
                continue
            camp_ids = None
            if v[0] in trial_campaign:
                camp_ids = np.array([trial_campaign[v[0]].get(int(x)) for x in idx[pos]], object)
            items.append((pos, v[0], v[0], v[3], np.full(len(pos), v[4] * 100, np.int64), 0, camp_ids))
        in_vnet = np.flatnonzero(np.isin(idx, self.members["sub"][self.members["vnet"] >= 0]))
        items.append(
            (
                in_vnet,
                "GRP_VNET_MEMBER",
                "GRP_VPMN",
                "group_vnet",
                np.full(len(in_vnet), int(P.VNET_MEMBER_FEE * 100), np.int64),
                0,
                None,
            )
        )
        cols = {k: [] for k in self.contracts["billing_items"].column_names}
        spend = np.zeros(len(idx), np.int64)
        for pos, code, prod, cat, gross, disc, cmp in items:
            gross = np.asarray(gross)
            disc = np.full(len(pos), disc, np.int64) if np.ndim(disc) == 0 else np.asarray(disc)
            keep = gross > 0
            pos, gross, disc = pos[keep], gross[keep], disc[keep]
            amount = gross - disc
            spend[pos] += amount
            k = len(pos)
            cols["bill_month"].append(np.full(k, period, object))
            cols["sub_id"].append(SUB_ID0 + idx[pos])
            cols["account_id"].append(ACCOUNT_ID0 + idx[pos])
            cols["item_code"].append(np.full(k, code, object))
            cols["product_id"].append(prod[pos] if isinstance(prod, np.ndarray) else np.full(k, prod, object))
            cols["revenue_category"].append(np.full(k, cat, object))
            cols["amount"].append(amount)
            cols["discount"].append(disc)
            cols["campaign_id"].append(cmp[keep] if cmp is not None else np.full(k, None, object))
        cols = {k: np.concatenate(v) for k, v in cols.items()}
        order = np.lexsort((cols["item_code"].astype(str), cols["sub_id"]))
        cols = {k: v[order] for k, v in cols.items()}
        cols["campaign_id"] = pa.array(cols["campaign_id"].tolist(), pa.int64())
        self._emit("billing_items", period, cols, created_at)
        return {"spend": spend, "total_cents": int(spend.sum()), "rows": len(order)}

    # ---------------------------------------------------------------- recharge / payment
    def write_recharge(self, rng, idx, bill, ms, days, period, created_at):
        s = self.s
        pre = ~s["postpaid"][idx]
        spend = bill["spend"]
        # prepaid: top-ups roughly covering the month's spend, in round amounts
        pre_pos = np.flatnonzero(pre & (spend > 0))
        n_top = np.clip(np.ceil(spend[pre_pos] / 5000), 1, 6).astype(int)
        rep = np.repeat(pre_pos, n_top)
        each = np.repeat(np.ceil(spend[pre_pos] / n_top / 1000) * 1000, n_top).astype(np.int64)
        top_ts = _timestamps(rng, ms, days, len(rep))
        top_channel = rng.choice(
            ["card", "hall", "web", "wap", "agent", "self_service"], len(rep), p=[0.45, 0.2, 0.12, 0.08, 0.1, 0.05]
        )
        # postpaid: pay last month's bill plus arrears; some pay part or nothing (risk-driven)
        post_pos = np.flatnonzero(~pre)
        owed = s["bill_prev"][idx[post_pos]] + s["arrears"][idx[post_pos]]
        p_short = P.ARREARS_BASE + P.ARREARS_PER_R * s["r"][idx[post_pos]]
        short = rng.random(len(post_pos)) < p_short
        paid = np.where(short, (owed * rng.choice([0.0, 0.5], len(post_pos))).astype(np.int64), owed)
        arrears_after = owed - paid
        pays = paid > 0
        s["arrears"][idx[post_pos]] = arrears_after
        s["bill_prev"][idx[post_pos]] = spend[post_pos]
        pay_ts = _timestamps(rng, ms, min(days, 20), int(pays.sum()))
        pay_channel = rng.choice(["bank", "hall", "web", "self_service"], int(pays.sum()), p=[0.5, 0.25, 0.2, 0.05])
        subs = np.concatenate([idx[rep], idx[post_pos[pays]]])
        ts = np.concatenate([top_ts, pay_ts])
        order = np.lexsort((subs, ts))
        n = len(subs)
        cols = {
            "txn_id": np.arange(self.next_ids["txn"], self.next_ids["txn"] + n),
            "sub_id": SUB_ID0 + subs[order],
            "ts": ts[order],
            "amount": np.concatenate([each, paid[pays]])[order],
            "channel": np.concatenate([top_channel, pay_channel]).astype(object)[order],
            "txn_type": np.array(["topup"] * len(rep) + ["payment"] * int(pays.sum()), object)[order],
            "arrears_after": np.concatenate([np.zeros(len(rep), np.int64), arrears_after[pays]])[order],
        }
        self.next_ids["txn"] += n
        self._emit("recharge_payment", period, cols, created_at)

    # ---------------------------------------------------------------- complaints
    def write_complaints(self, rng, idx, first, last, ms, days, period, created_at):
        s = self.s
        lam = (P.COMPLAINT_BASE + P.COMPLAINT_PER_R * s["r"][idx]) * (((last - first) / DAY) + 1) / days
        k = rng.poisson(lam)
        s["complained"][idx] = k > 0
        rep = np.repeat(np.arange(len(idx)), k)
        n = len(rep)
        lo = ((first[rep] - ms) / DAY).astype(int)
        hi = ((last[rep] - ms) / DAY).astype(int)
        day = lo + (rng.random(n) * (hi - lo + 1)).astype(int)
        ts = (ms + day * DAY).astype("datetime64[s]") + rng.integers(0, 86400, n).astype("timedelta64[s]")
        resolved = rng.random(n) < 0.9
        res_ts = ts + rng.integers(1800, 72 * 3600, n).astype("timedelta64[s]")
        order = np.lexsort((idx[rep], ts))
        category = rng.choice(P.COMPLAINT_CATEGORIES, n, p=P.COMPLAINT_CATEGORY_WEIGHTS).astype(object)
        product = np.where(category == "sp_charges", "MONTERNET", None).astype(object)
        cols = {
            "ticket_id": np.arange(self.next_ids["ticket"], self.next_ids["ticket"] + n),
            "sub_id": SUB_ID0 + idx[rep][order],
            "ts": ts[order],
            "category": category[order],
            "product_id": product[order],
            "channel": rng.choice(P.COMPLAINT_CHANNELS, n, p=P.COMPLAINT_CHANNEL_WEIGHTS).astype(object)[order],
            "resolved_at": np.where(resolved, res_ts, np.datetime64("NaT"))[order],
        }
        self.next_ids["ticket"] += n
        self._emit("complaint", period, cols, created_at)

    # ---------------------------------------------------------------- month-end snapshots
    def write_snapshots(self, rng, m, idx, ms, me, period, created_at):
        s, c, g, mem = self.s, self.cust, self.g, self.members
        deact = s["deact"][idx]
        churned = ~np.isnat(deact)
        status = np.where(churned, "deactivated", np.where(s["suspended"][idx], "suspended", "active")).astype(object)
        status_at = np.where(churned, deact, np.where(s["suspended"][idx], me, s["activated"][idx]))
        reason = np.where(churned, np.array(["voluntary", "port_out", "nonpayment"], object)[s["reason"][idx]], None)
        msisdn = (13_800_000_000 + (MSISDN_MULT * idx + 12_345) % 1_000_000_000).astype(str).astype(object)
        self._emit(
            "crm_subscriber",
            period,
            {
                "sub_id": SUB_ID0 + idx,
                "msisdn": msisdn,
                "cust_id": CUST_ID0 + s["cust"][idx],
                "account_id": ACCOUNT_ID0 + idx,
                "brand": np.array(BRAND_CODES, object)[s["brand"][idx]],
                "payment_type": np.where(s["postpaid"][idx], "postpaid", "prepaid").astype(object),
                "plan_id": np.array([p[1] for p in PLANS], object)[s["plan"][idx]],
                "city_code": np.array(CITY_CODES, object)[s["city"][idx]],
                "activated_at": s["activated"][idx],
                "activation_type": np.array(["new", "port_in"], object)[s["act_type"][idx]],
                "status": status,
                "status_at": status_at,
                "deactivation_reason": reason,
                "channel_id": s["channel"][idx],
                "imei_tac": np.char.zfill(s["tac"][idx].astype(str), 8).astype(object),
                "contract_end": s["contract_end"][idx],
                "marketing_opt_out": s["opt_out"][idx].astype(np.int8),
            },
            created_at,
        )
        custs = np.unique(s["cust"][idx])
        n_g = self.n_groups_all
        self._emit(
            "crm_customer",
            period,
            {
                "cust_id": np.concatenate([CUST_ID0 + custs, 90_000_000 + np.arange(n_g)]),
                "cust_name": np.concatenate([c["name"][custs], g["name"]]),
                "id_number": np.concatenate([c["idno"][custs], g["credit"]]),
                "gender": np.concatenate(
                    [np.array(["M", "F"], object)[c["gender"][custs]], np.full(n_g, None, object)]
                ),
                "birth_date": np.concatenate([c["birth"][custs], np.full(n_g, np.datetime64("NaT"), "datetime64[D]")]),
                "city_code": np.array(CITY_CODES, object)[np.concatenate([c["city"][custs], g["city"]])],
                "county_code": np.concatenate(
                    [
                        np.char.add(
                            np.array(CITY_CODES)[c["city"][custs]], np.char.zfill(c["county"][custs].astype(str), 2)
                        ).astype(object),
                        np.char.add(np.array(CITY_CODES)[g["city"]], "01").astype(object),
                    ]
                ),
                "cust_type": np.array(["individual"] * len(custs) + ["group"] * n_g, object),
                "star_level": np.concatenate([c["star"][custs], np.full(n_g, 5, np.int8)]),
                "created_at": np.concatenate([c["created"][custs], g["created"]]),
            },
            created_at,
        )
        cat = [(p[1], p[2], "plan", p[0], p[3] * 100, "monthly_fee", 0, 0) for p in PLANS]
        cat += [
            (v[0], v[1], v[2], "GOTONE" if v[0] == "GPRS_TRIAL" else None, v[4] * 100, v[3], v[5], v[6])
            for v in VAS_ALL
        ]
        cat += [(gp[0], gp[1], "group", None, gp[3][0] * 100, gp[2], 1, 1) for gp in P.GROUP_PRODUCTS]
        cat += [
            ("VOICE_LOCAL", "语音通话", "usage", None, 0, "voice", 0, 0),
            ("VOICE_ROAM", "漫游通话", "usage", None, 0, "voice", 0, 0),
            ("SMS_P2P", "点对点短信", "usage", None, 0, "sms", 1, 1),
            ("MMS", "彩信", "usage", None, 0, "mms", 1, 1),
            ("GPRS_FLOW", "GPRS流量", "usage", None, 0, "gprs", 1, 1),
        ]
        stages = ["launch", "growth", "mature", "decline"]
        self._emit(
            "product_catalog",
            period,
            {
                "product_id": [r[0] for r in cat],
                "product_name": [r[1] for r in cat],
                "product_type": [r[2] for r in cat],
                "brand": pa.array([r[3] for r in cat], pa.string()),
                "monthly_fee": np.array([r[4] for r in cat], np.int64),
                "revenue_category": [r[5] for r in cat],
                "is_new_business": [r[6] for r in cat],
                "is_data_vas": [r[7] for r in cat],
                "lifecycle_stage": [stages[(i * 7) % 4] if r[2] != "trial" else "launch" for i, r in enumerate(cat)],
                "launched_at": np.full(len(cat), np.datetime64("2003-03-01"), "datetime64[D]"),
            },
            created_at,
        )
        ch = self.channels
        self._emit(
            "channel",
            period,
            {
                "channel_id": [r[0] for r in ch],
                "channel_name": [r[1] for r in ch],
                "channel_type": [r[2] for r in ch],
                "city_code": pa.array([r[3] for r in ch], pa.string()),
                "area_type": [r[4] for r in ch],
                "opened_at": self.channel_opened,
            },
            created_at,
        )
        self._emit(
            "group_customer",
            period,
            {
                "group_id": g["id"],
                "group_name": g["name"],
                "legal_person_id": g["legal"],
                "industry": pa.array(g["industry"].tolist(), pa.string()),
                "city_code": np.array(CITY_CODES, object)[g["city"]],
                "account_manager": pa.array(g["manager"].tolist(), pa.string()),
                "employees": g["employees"],
                "created_at": g["created"],
            },
            created_at,
        )
        # members who churned this month leave their groups on the deactivation day
        left_now = np.isnat(mem["left"]) & ~np.isnat(s["deact"][mem["sub"]])
        mem["left"][left_now] = s["deact"][mem["sub"][left_now]]
        show = np.isnat(mem["left"]) | (mem["left"] >= ms)
        order = np.lexsort((mem["sub"][show], mem["group"][show]))
        self._emit(
            "group_member",
            period,
            {
                "group_id": g["id"][mem["group"][show]][order],
                "sub_id": SUB_ID0 + mem["sub"][show][order],
                "vnet_id": pa.array(
                    np.where(mem["vnet"][show] >= 0, mem["vnet"][show], -1)[order],
                    pa.int64(),
                    mask=(mem["vnet"][show] < 0)[order],
                ),
                "member_role": mem["role"][show][order],
                "joined_at": mem["joined"][show][order],
                "left_at": mem["left"][show][order],
            },
            created_at,
        )
        gp = self.group_products
        self._emit(
            "group_product",
            period,
            {
                "group_product_id": np.arange(1, len(gp) + 1),
                "group_id": g["id"][[p[0] for p in gp]],
                "product_id": [p[1] for p in gp],
                "vnet_id": pa.array([p[2] if p[2] >= 0 else None for p in gp], pa.int64()),
                "monthly_fee": np.array([p[3] for p in gp], np.int64),
                "licensed_users": [p[4] for p in gp],
                "start_date": g["created"][[p[0] for p in gp]] + 30 * DAY,
                "end_date": np.full(len(gp), np.datetime64("NaT"), "datetime64[D]"),
            },
            created_at,
        )
        self.truth.setdefault("group_defects_monthly", {})[period] = {
            **self.group_defects_static,
            "groups_high_churn": len(self.truth["group_high_churn"][period]),
            "high_churn_group_ids": self.truth["group_high_churn"][period],
        }

    # ---------------------------------------------------------------- output helpers
    def _emit(self, source: str, period: str, cols: dict, created_at: str) -> None:
        self.writer.write(self.contracts[source], period, cols, created_at)

    def write_truth(self) -> None:
        t = self.truth_dir
        t.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(self.churn_rows), t / "churn_truth.parquet")
        pq.write_table(self.planter.truth_table(SUB_ID0), t / "propensity_truth.parquet")
        doc = {
            "generator": {
                "subscribers": self.cfg.subscribers,
                "months": self.cfg.months,
                "start": self.cfg.start,
                "seed": self.cfg.seed,
                "encoding": self.cfg.encoding,
            },
            "churn_model": {
                "intercept": round(self.intercept, 6),
                "weights": P.CHURN_WEIGHTS,
                "brand_offsets": {b: P.BRANDS[b]["churn_offset"] for b in BRAND_CODES},
                "group_member_factor": P.GROUP_MEMBER_CHURN_FACTOR,
                "drivers_file": "churn_truth.parquet",
            },
            "monthly": self.truth["monthly"],
            "ringback_keep_rate": P.RINGBACK_KEEP_RATE,
            "ringback_trials": self.truth["ringback"],
            "gprs_trials": self.truth["gprs_trial"],
            "campaigns": self.truth["campaigns"],
            "propensity": self.planter.truth_doc(),
            "bundles": [{"antecedent": a, "consequent": b, "planted_factor": f} for a, b, f in P.BUNDLES],
            "marketing_opt_out_share": P.MARKETING_OPT_OUT_SHARE,
        }
        _dump(t / "truth.json", doc)
        if self.platform is not None:
            _dump(t / "platform_campaigns.json", self.platform.truth_doc())
        _dump(
            t / "group_defects.json",
            {
                "rules": P.GROUP_RULES,
                "definitions": GROUP_DEFECT_DEFINITIONS,
                "monthly": self.truth["group_defects_monthly"],
            },
        )


GROUP_DEFECT_DEFINITIONS = {
    "groups_no_members": "groups with no current member (left_at empty)",
    "groups_few_members": "groups with 1..few_members_max current members",
    "vnets_no_members": "V-nets (group_product vnet_id) with no current member",
    "vnets_few_members": "V-nets with 1..few_members_max current members",
    "vnets_cross_region": "V-nets whose current members live in more than one city",
    "legal_persons_with_several_groups": "legal_person_id heading more than one group",
    "group_pairs_identical_members": "pairs of groups with identical current member lists",
    "groups_missing_industry": "groups without an industry",
    "groups_no_account_manager": "groups without an account manager",
    "group_products_no_users": "group product instances with zero licensed users",
    "group_products_no_fees": "group product instances with a zero monthly fee",
    "groups_region_mismatch": "groups whose city differs from the city of most of their members",
    "suspected_fake_members": "current members with no outgoing voice, SMS or data all month",
    "groups_high_churn": ">= high_churn_share of the members at month start left in the month "
    "(groups with >= high_churn_min_members members)",
}


def _dump(path: Path, doc) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(x):
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    raise TypeError(type(x))


def _make_unique(values: np.ndarray, redraw) -> None:
    """Redraw entries until all are distinct (random identity numbers can collide by chance)."""
    while True:
        _, first = np.unique(values.astype(str), return_index=True)
        dup = np.setdiff1d(np.arange(len(values)), first)
        if not len(dup):
            return
        values[dup] = redraw(len(dup))


def _timestamps(rng, start, days: int, n: int) -> np.ndarray:
    base = np.datetime64(start, "s")
    return base + rng.integers(0, max(days, 1) * 86400, n).astype("timedelta64[s]")


def _concat(cols: dict) -> dict:
    out = {}
    for k, v in cols.items():
        out[k] = np.concatenate(v) if v else np.array([], object)
    return out


def generate(cfg: GenerateConfig) -> dict:
    """Generate every source for cfg.months months; returns the truth summary."""
    sim = Simulator(cfg)
    truth = sim.run()
    if cfg.faults:
        from telco360.simulator.faults import plant_faults

        plant_faults(Path(cfg.out), seed=cfg.seed)
    return {"rows": sim.writer.rows_written, "truth": truth}

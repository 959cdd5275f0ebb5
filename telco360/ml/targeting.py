"""Campaign target lists (IDM; docs/models.md): who each rule of the library contacts next month, and who it leaves out.

Pure functions over pandas frames: the caller reads the features, scores, rule candidates and seeds from the
warehouse and writes campaign_targets and campaign_suppressions back.

The steps, per rule in precedence order (model > experience > crm_group > default, then priority):
1. extraction: model rules take the top `model_top_share` of their model's scores in the rule's brand;
   experience and CRM-group rules take their rows of campaign_rule_candidates; the default rule takes every
   active subscriber no earlier rule has listed, with the first offer_defaults product they can take;
2. suppression, first reason wins so each excluded candidate is counted once: complaint_sensitive, opted_out,
   holds_product, handset_unsupported, contacted_recently;
3. contact policy: a subscriber already listed by earlier rules in the rule's family as often as the policy
   allows is left out (contact_policy);
4. the monthly cap: the best-scored candidates (over_cap for the rest);
5. a random control group, drawn per subscriber from a hash of (control_seed, month, rule_id, sub_id), so the
   same inputs give the same group and a subscriber's draw does not depend on who else is listed.
Per rule: candidates = listed (control included) + the excluded of every reason.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd

from telco360.ml.offers import (
    TargetingInputError,
    active_population,
    as_month,
    capable_matrix,
    default_groups,
    flags,
    held_matrix,
    product_reference,
    rows_of_month,
    rule_order,
)

BRANDS = ("GOTONE", "MZONE", "EASYOWN", "ALL")
CHURN_MODEL_SCORE = "churn_probability"
SUPPRESSION_REASONS = (
    "complaint_sensitive",
    "opted_out",
    "holds_product",
    "handset_unsupported",
    "contacted_recently",
    "contact_policy",
    "over_cap",
)
POLICY_PARAMETERS = (
    "control_share",
    "control_seed",
    "complaint_days",
    "recent_contact_days",
    "max_contacts_per_family_per_month",
)
TARGET_COLUMNS = [
    "month",
    "campaign_month",
    "rule_id",
    "sub_id",
    "product_id",
    "family",
    "channel",
    "score",
    "reason",
    "precedence",
    "is_control",
]


def read_policy(policy: pd.DataFrame) -> dict[str, float]:
    values = dict(zip(policy["parameter"], pd.to_numeric(policy["value"]), strict=True))
    missing = [name for name in POLICY_PARAMETERS if name not in values]
    if missing:
        raise TargetingInputError(f"campaign_policy.csv lacks {', '.join(missing)}")
    values.setdefault("model_top_share", 1.0)
    if not 0 <= values["control_share"] < 1 or not 0 < values["model_top_share"] <= 1:
        raise TargetingInputError("campaign_policy.csv: control_share must lie in [0, 1), model_top_share in (0, 1]")
    return values


def checked_rules(rules: pd.DataFrame, ref) -> pd.DataFrame:
    """The rule library in precedence order, every rule checked against the product reference."""
    if rules["rule_id"].duplicated().any():
        raise TargetingInputError(
            f"campaign_rules.csv: rule {rules['rule_id'][rules['rule_id'].duplicated()].iloc[0]} appears twice"
        )
    ordered = rule_order(rules)
    for rule in ordered.itertuples(index=False):
        where = f"campaign_rules.csv: rule {rule.rule_id}"
        if rule.brand not in BRANDS:
            raise TargetingInputError(f"{where}: brand {rule.brand!r} is not one of {', '.join(BRANDS)}")
        cap = pd.to_numeric(rule.monthly_cap, errors="coerce")
        if pd.isna(cap) or cap < 0 or not float(cap).is_integer():
            raise TargetingInputError(f"{where}: monthly_cap {rule.monthly_cap!r} is not a whole number >= 0")
        if rule.extraction == "model" and not isinstance(rule.model_name, str):
            raise TargetingInputError(f"{where}: a model rule needs a model_name")
        if rule.extraction != "default":
            ref.check(rule.product_id, where)
            if ref.family[rule.product_id] != rule.family:
                raise TargetingInputError(
                    f"{where}: family {rule.family!r} but product_families.csv puts "
                    f"{rule.product_id} in {ref.family[rule.product_id]!r}"
                )
    return ordered


def control_draw(sub_ids: np.ndarray, control_seed: int, month: pd.Timestamp, rule_id: str) -> np.ndarray:
    """A uniform [0, 1) number per subscriber from (control_seed, month, rule_id, sub_id): splitmix64's mixer."""
    salt = hashlib.blake2b(f"{control_seed}|{month:%Y-%m}|{rule_id}".encode(), digest_size=8).digest()
    z = sub_ids.astype(np.uint64) ^ np.uint64(int.from_bytes(salt, "little"))
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def recently_listed(pop: pd.DataFrame, recent_contacts: pd.DataFrame | None, campaign_month, days: float):
    """Subscribers the platform's own earlier lists contacted within `days` of the new campaign month's start."""
    recent = np.zeros(len(pop), dtype=bool)
    if recent_contacts is None or recent_contacts.empty:
        return recent
    earlier = pd.to_datetime(recent_contacts["campaign_month"])
    # an earlier list is contacted during its campaign month, so its last contact is that month's last day
    last_contact = earlier + pd.offsets.MonthEnd(0)
    keep = (earlier < campaign_month) & ((campaign_month - last_contact).dt.days <= days)
    if "is_control" in recent_contacts.columns:
        keep &= ~flags(recent_contacts["is_control"])  # the control group was not contacted
    rows = pd.Index(pop["sub_id"]).get_indexer(recent_contacts["sub_id"][keep.to_numpy()])
    recent[rows[rows >= 0]] = True
    return recent


def model_scores(churn_scores: pd.DataFrame, propensity: pd.DataFrame, month: pd.Timestamp) -> pd.DataFrame:
    """One long frame of the month's model scores: model_name, model_version, sub_id, score."""
    churn = rows_of_month(churn_scores, month).rename(columns={CHURN_MODEL_SCORE: "score"})
    columns = ["model_name", "model_version", "sub_id", "score"]
    return pd.concat([churn[columns], rows_of_month(propensity, month)[columns]], ignore_index=True)


def build_targets(
    features: pd.DataFrame,
    churn_scores: pd.DataFrame,
    propensity: pd.DataFrame,
    candidates: pd.DataFrame,
    rules: pd.DataFrame,
    policy: pd.DataFrame,
    families: pd.DataFrame,
    recent_contacts: pd.DataFrame | None,
    month,
    *,
    capabilities: pd.DataFrame,
    defaults: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """campaign_targets and campaign_suppressions of features month `month` (the lists run in month + 1)."""
    month = as_month(month)
    campaign_month = month + pd.offsets.MonthBegin(1)
    ref = product_reference(capabilities, families)
    params = read_policy(policy)
    ordered = checked_rules(rules, ref)
    pop = active_population(features, month)
    n = len(pop)
    sub_ids = pop["sub_id"].to_numpy(dtype=np.int64)
    position = pd.Index(sub_ids)
    brand = pop["brand"].to_numpy(dtype=object)
    revenue = pd.to_numeric(pop["revenue"]).fillna(0).to_numpy(dtype=float)

    # the suppression reasons that depend on the subscriber only, in the order they are counted
    complaint_age = pd.to_numeric(pop["days_since_complaint"]).to_numpy(dtype=float, na_value=np.nan)
    contact_age = pd.to_numeric(pop["days_since_contact"]).to_numpy(dtype=float, na_value=np.nan)
    contacted = (contact_age <= params["recent_contact_days"]) | recently_listed(
        pop, recent_contacts, campaign_month, params["recent_contact_days"]
    )
    person_reasons = {
        "complaint_sensitive": complaint_age <= params["complaint_days"],
        "opted_out": flags(pop["opted_out"]),
    }

    rule_products = sorted(set(ordered["product_id"].dropna()) | set(defaults["product_id"]))
    for product in rule_products:
        ref.check(product, "campaign rules and offer defaults")
    col = {product: j for j, product in enumerate(rule_products)}
    held = held_matrix(pop, ref, rule_products)
    capable = capable_matrix(pop, ref, rule_products)
    family_names = sorted({ref.family[p] for p in rule_products})
    family_col = {name: f for f, name in enumerate(family_names)}
    product_family = np.array([family_col[ref.family[p]] for p in rule_products])
    contacts_in_family = np.zeros((n, len(family_names)), dtype=np.int32)
    listed_any = np.zeros(n, dtype=bool)
    scores = model_scores(churn_scores, propensity, month)
    by_model = scores.groupby("model_name").indices
    rule_rows = rows_of_month(candidates, month)
    by_rule = rule_rows.groupby("rule_id").indices
    products = np.array(rule_products, dtype=object)

    target_parts: list[pd.DataFrame] = []
    counts: list[dict] = []
    for rule in ordered.itertuples(index=False):
        in_brand = np.ones(n, dtype=bool) if rule.brand == "ALL" else brand == rule.brand
        reason_text: np.ndarray | str
        if rule.extraction == "model":
            part = scores.iloc[by_model.get(rule.model_name, [])]
            rows = position.get_indexer(part["sub_id"])
            ok = rows >= 0
            rows, score = rows[ok], part["score"].to_numpy(dtype=float)[ok]
            ok = in_brand[rows]
            rows, score = rows[ok], score[ok]
            if len(np.unique(rows)) != len(rows):
                raise TargetingInputError(f"scores of {rule.model_name}: a subscriber scored twice in {month:%Y-%m}")
            top = _best_first(rows, score, sub_ids)[: math.ceil(params["model_top_share"] * len(rows))]
            rows, score = rows[top], score[top]
            versions = part["model_version"].unique()
            reason_text = f"{rule.model_name} v{versions[0]}" if len(versions) == 1 else str(rule.model_name)
            product = np.full(len(rows), col[rule.product_id])
        elif rule.extraction in ("experience", "crm_group"):
            part = rule_rows.iloc[by_rule.get(rule.rule_id, [])]
            rows = position.get_indexer(part["sub_id"])
            ok = rows >= 0
            rows, score = rows[ok], part["rule_score"].to_numpy(dtype=float, na_value=0.0)[ok]
            if len(np.unique(rows)) != len(rows):
                raise TargetingInputError(f"campaign_rule_candidates: rule {rule.rule_id} lists a subscriber twice")
            ok = in_brand[rows]
            rows, score = rows[ok], score[ok]
            reason_text = str(rule.rule_name)
            product = np.full(len(rows), col[rule.product_id])
        else:  # default: everyone no earlier rule listed, with their first available default product
            rows = np.flatnonzero(in_brand & ~listed_any)
            score = revenue[rows]
            product, reason_text = _default_choice(pop, defaults, held, capable, col, rows)

        count = {"candidates": len(rows)}
        keep = np.ones(len(rows), dtype=bool)
        # a default candidate with no product left (product -1) is excluded for the reason _default_choice gave
        none_left = product < 0
        product_safe = np.maximum(product, 0)
        holds = np.where(none_left, reason_text == "holds_product", held[rows, product_safe])
        unsupported = np.where(none_left, reason_text == "handset", ~capable[rows, product_safe])
        stages = [
            ("complaint_sensitive", person_reasons["complaint_sensitive"][rows]),
            ("opted_out", person_reasons["opted_out"][rows]),
            ("holds_product", holds),
            ("handset_unsupported", unsupported),
            ("contacted_recently", contacted[rows]),
        ]
        for name, excluded in stages:
            count[name] = int((keep & excluded).sum())
            keep &= ~excluded
        family = product_family[product_safe]
        crowded = contacts_in_family[rows, family] >= params["max_contacts_per_family_per_month"]
        count["contact_policy"] = int((keep & crowded).sum())
        keep &= ~crowded
        eligible = np.flatnonzero(keep)
        best = eligible[_best_first(rows[eligible], score[eligible], sub_ids)]
        chosen = np.sort(best[: int(rule.monthly_cap)])
        count["over_cap"] = len(eligible) - len(chosen)
        counts.append({"rule_id": rule.rule_id, **count})

        listed = rows[chosen]
        contacts_in_family[listed, family[chosen]] += 1
        listed_any[listed] = True
        draw = control_draw(sub_ids[listed], int(params["control_seed"]), month, rule.rule_id)
        target_parts.append(
            pd.DataFrame(
                {
                    "rule_id": rule.rule_id,
                    "sub_id": sub_ids[listed],
                    "product_id": products[product[chosen]],
                    "family": np.array(family_names, dtype=object)[family[chosen]],
                    "channel": rule.channel,
                    "score": score[chosen],
                    "reason": reason_text[chosen] if isinstance(reason_text, np.ndarray) else reason_text,
                    "precedence": rule.extraction,
                    "is_control": draw < params["control_share"],
                }
            )
        )

    targets = pd.concat(target_parts, ignore_index=True)
    targets.insert(0, "month", month.to_datetime64())
    targets.insert(1, "campaign_month", campaign_month.to_datetime64())
    return targets[TARGET_COLUMNS], _suppression_rows(counts, month)


def _best_first(rows: np.ndarray, score: np.ndarray, sub_ids: np.ndarray) -> np.ndarray:
    """Positions ordered by score, highest first (ties by sub_id, so the order is reproducible)."""
    return np.lexsort((sub_ids[rows], -score))


def _default_choice(pop, defaults, held, capable, col, rows):
    """The default rule's product per subscriber: the first offer_defaults product they neither hold nor lack the
    handset for. -1 where there is none; the reason then tells why (holds_product, or handset if none fits)."""
    choice = np.full(len(pop), -1, dtype=np.int64)
    some_capable = np.zeros(len(pop), dtype=bool)
    reason = np.empty(len(pop), dtype=object)
    for (brand, terminal), group, ranked in default_groups(defaults, pop):
        reason[group] = f"default {brand} {terminal}"
        for product in ranked:
            j = col[product]
            some_capable[group] |= capable[group, j]
            free = group[(choice[group] < 0) & ~held[group, j] & capable[group, j]]
            choice[free] = j
    reason[(choice < 0) & some_capable] = "holds_product"
    reason[(choice < 0) & ~some_capable] = "handset"
    return choice[rows], reason[rows]


def _suppression_rows(counts: list[dict], month: pd.Timestamp) -> pd.DataFrame:
    frame = pd.DataFrame(counts).melt(
        id_vars="rule_id", value_vars=list(SUPPRESSION_REASONS), var_name="reason", value_name="excluded"
    )
    frame.insert(0, "month", month.to_datetime64())
    return frame.sort_values(["rule_id", "reason"], kind="stable").reset_index(drop=True)

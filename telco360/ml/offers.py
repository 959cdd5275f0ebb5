"""Next best offer: ranked offers for every active subscriber, and the product reference that both
the offers and the campaign target lists read (what a product needs of the handset, its family, how holding it
shows in the features).

Pure functions over pandas frames: the caller reads the warehouse and writes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CAPABILITIES = ("gprs", "mms", "java", "music", "wap", "none")
# precedence of the extractions, first wins (docs/models.md); the offers' channel follows the same order
EXTRACTIONS = ("model", "experience", "crm_group", "default")
OFFER_SOURCES = ("model", "association", "default")
MAX_OFFERS = 5
PLAN_HOLDING = "plan_id"  # held_if token: the product is a plan, held when it is the subscriber's plan_id


class TargetingInputError(ValueError):
    """A seed or input frame the offers or target lists cannot use; the message names the file, row and rule."""


@dataclass(frozen=True)
class ProductReference:
    needs: dict[str, str]  # product -> handset capability it needs (or none)
    family: dict[str, str]  # product -> contact-policy family
    held_if: dict[str, tuple[str, ...]]  # product -> feature columns any of which means "already holds it"

    def check(self, product: str, where: str) -> None:
        if product not in self.needs or product not in self.family:
            raise TargetingInputError(
                f"{where}: product {product!r} is not in product_capabilities.csv and product_families.csv"
            )


def product_reference(capabilities: pd.DataFrame, families: pd.DataFrame) -> ProductReference:
    needs: dict[str, str] = {}
    for line, (product, need) in enumerate(
        zip(capabilities["product_id"], capabilities["needs_capability"], strict=True), 2
    ):
        if need not in CAPABILITIES:
            raise TargetingInputError(
                f"product_capabilities.csv line {line}: needs_capability {need!r} of {product} "
                f"is not one of {', '.join(CAPABILITIES)}"
            )
        needs[str(product)] = str(need)
    family: dict[str, str] = {}
    held_if: dict[str, tuple[str, ...]] = {}
    for line, row in enumerate(families.itertuples(index=False), 2):
        if not isinstance(row.held_if, str) or not row.held_if.split():
            raise TargetingInputError(f"product_families.csv line {line}: {row.product_id} has no held_if")
        family[str(row.product_id)] = str(row.family)
        held_if[str(row.product_id)] = tuple(row.held_if.split())
    return ProductReference(needs, family, held_if)


def as_month(month) -> pd.Timestamp:
    stamp = pd.Timestamp(month)
    if stamp != stamp.normalize() or stamp.day != 1:
        raise TargetingInputError(f"month {month!r} is not the first day of a month")
    return stamp


def rows_of_month(frame: pd.DataFrame, month: pd.Timestamp) -> pd.DataFrame:
    """The frame's rows of `month` (all rows when it has no month column)."""
    if "month" not in frame.columns:
        return frame
    return frame[pd.to_datetime(frame["month"]).to_numpy() == month.to_datetime64()]


def active_population(features: pd.DataFrame, month: pd.Timestamp) -> pd.DataFrame:
    """The scoring population: the month's active subscribers, one row each, in sub_id order."""
    rows = rows_of_month(features, month)
    pop = rows[flags(rows["is_active"])].sort_values("sub_id", kind="stable").reset_index(drop=True)
    if pop["sub_id"].duplicated().any():
        raise TargetingInputError(f"ml_features: a subscriber appears twice in {month:%Y-%m}")
    return pop


def flags(column: pd.Series) -> np.ndarray:
    """A boolean column as a numpy mask, unknown (null) counted as false."""
    return column.fillna(False).to_numpy(dtype=bool)


def terminal_classes(pop: pd.DataFrame) -> np.ndarray:
    # a handset missing from the capability seed is a basic phone
    return pop["terminal_class"].fillna("basic").to_numpy(dtype=object)


def held_matrix(pop: pd.DataFrame, ref: ProductReference, products: list[str]) -> np.ndarray:
    """n subscribers x products: true where the subscriber already holds the product."""
    held = np.zeros((len(pop), len(products)), dtype=bool)
    plans = pop["plan_id"].to_numpy(dtype=object)
    for j, product in enumerate(products):
        for token in ref.held_if[product]:
            if token == PLAN_HOLDING:
                held[:, j] |= plans == product
            elif token in pop.columns:
                held[:, j] |= flags(pop[token])
            else:
                raise TargetingInputError(
                    f"product_families.csv: held_if of {product} names {token!r}, which is not a column of ml_features"
                )
    return held


def capable_matrix(pop: pd.DataFrame, ref: ProductReference, products: list[str]) -> np.ndarray:
    """n subscribers x products: true where the handset supports the product (basic phones: only needs none)."""
    smart_or_feature = terminal_classes(pop) != "basic"
    capable = np.ones((len(pop), len(products)), dtype=bool)
    for j, product in enumerate(products):
        need = ref.needs[product]
        if need != "none":
            capable[:, j] = flags(pop[f"supports_{need}"]) & smart_or_feature
    return capable


def rule_order(rules: pd.DataFrame) -> pd.DataFrame:
    """The rule library in precedence order: extraction (model > experience > crm_group > default), priority."""
    rank = rules["extraction"].map({name: i for i, name in enumerate(EXTRACTIONS)})
    bad = rank.isna()
    if bad.any():
        row = rules[bad].iloc[0]
        raise TargetingInputError(
            f"campaign_rules.csv: rule {row['rule_id']}: extraction {row['extraction']!r} is "
            f"not one of {', '.join(EXTRACTIONS)}"
        )
    return rules.assign(_rank=rank).sort_values(["_rank", "priority", "rule_id"], kind="stable").drop(columns="_rank")


def best_channels(rules: pd.DataFrame) -> tuple[dict[str, str], str]:
    """Each product's channel: that of its first rule in precedence order; other products use the default rule's."""
    ordered = rule_order(rules)
    per_product = ordered.dropna(subset=["product_id"]).drop_duplicates("product_id")
    defaults = ordered[ordered["extraction"] == "default"]
    if defaults.empty:
        raise TargetingInputError("campaign_rules.csv: no rule with extraction default (the channel of last resort)")
    return dict(zip(per_product["product_id"], per_product["channel"], strict=True)), str(defaults["channel"].iloc[0])


def default_groups(defaults: pd.DataFrame, pop: pd.DataFrame):
    """Per (brand, terminal_class) present in the population: its rows and the default products in rank order."""
    brand = pop["brand"].to_numpy(dtype=object)
    terminal = terminal_classes(pop)
    ranked = defaults.sort_values(["brand", "terminal_class", "default_rank"], kind="stable")
    groups = {key: list(part["product_id"]) for key, part in ranked.groupby(["brand", "terminal_class"], sort=False)}
    for key in pd.MultiIndex.from_arrays([brand, terminal]).unique():
        if key not in groups:
            raise TargetingInputError(f"offer_defaults.csv has no default for brand {key[0]} terminal class {key[1]}")
        rows = np.flatnonzero((brand == key[0]) & (terminal == key[1]))
        yield key, rows, groups[key]


def build_offers(
    features: pd.DataFrame,
    propensity: pd.DataFrame,
    associations: pd.DataFrame,
    defaults: pd.DataFrame,
    capabilities: pd.DataFrame,
    families: pd.DataFrame,
    month,
    *,
    rules: pd.DataFrame,
    max_offers: int = MAX_OFFERS,
) -> pd.DataFrame:
    """customer_offers of `month`: for each active subscriber up to `max_offers` ranked offers.

    Levels, best first: the propensity models' scores, then association rules (A held -> B, score = confidence,
    lift > 1 only), then the brand x terminal-class defaults. Never a product already held, never one the
    handset cannot use. One offer per product family (the best of the family): the contact policy allows one
    contact per family a month, so each offer on the list is one that could be sent.
    """
    month = as_month(month)
    ref = product_reference(capabilities, families)
    pop = active_population(features, month)
    model_rows = rows_of_month(propensity, month)
    assoc = rows_of_month(associations, month)
    assoc = assoc[assoc["lift"] > 1]
    products = sorted(set(model_rows["product_id"]) | set(assoc["consequent"]) | set(defaults["product_id"]))
    for product in products:
        ref.check(product, "customer offers")
    col = {product: j for j, product in enumerate(products)}
    n, width = len(pop), len(products)
    available = ~held_matrix(pop, ref, products) & capable_matrix(pop, ref, products)

    # one sort key per cell, lower is better: level x 1000 minus the within-level score (scores and confidences
    # lie in [0, 1], default ranks are small, so the levels never overlap); inf = not offered
    key = np.full((n, width), np.inf)
    level = np.zeros((n, width), dtype=np.int8)
    score = np.zeros((n, width))
    reason = np.full((n, width), -1, dtype=np.int32)
    reasons: list[str] = []

    def offer(rows: np.ndarray, j: int, source: int, within, value, text: str) -> None:
        cell_key = source * 1000.0 - np.broadcast_to(np.asarray(within, dtype=float), rows.shape)
        value = np.broadcast_to(np.asarray(value, dtype=float), rows.shape)
        better = available[rows, j] & (cell_key < key[rows, j])
        rows = rows[better]
        key[rows, j] = cell_key[better]
        level[rows, j] = source
        score[rows, j] = value[better]
        reason[rows, j] = len(reasons)
        reasons.append(text)

    position = pd.Index(pop["sub_id"])
    for (product, model, version), part in model_rows.groupby(["product_id", "model_name", "model_version"]):
        if part["sub_id"].duplicated().any():
            raise TargetingInputError(f"propensity_scores: {product} scored twice for a subscriber in {month:%Y-%m}")
        rows = position.get_indexer(part["sub_id"])
        known = rows >= 0
        values = part["score"].to_numpy(dtype=float)[known]
        offer(rows[known], col[product], 0, values, values, f"{model} v{version}")

    holders: dict[str, np.ndarray] = {}
    for rule in assoc.itertuples(index=False):
        if rule.antecedent not in holders:
            ref.check(rule.antecedent, "product_associations")
            holders[rule.antecedent] = np.flatnonzero(held_matrix(pop, ref, [rule.antecedent])[:, 0])
        text = f"{rule.antecedent}->{rule.consequent} lift {rule.lift:.1f}"
        offer(holders[rule.antecedent], col[rule.consequent], 1, rule.confidence, float(rule.confidence), text)

    for (brand, terminal), rows, ranked in default_groups(defaults, pop):
        for rank, product in enumerate(ranked, 1):
            offer(rows, col[product], 2, -float(rank), 0.0, f"default {brand} {terminal}")

    # the best product of each family, then the families ranked by that product's key
    family_names = sorted({ref.family[p] for p in products})
    family_key = np.full((n, len(family_names)), np.inf)
    family_pick = np.zeros((n, len(family_names)), dtype=np.int64)
    for f, name in enumerate(family_names):
        members = np.array([j for j, p in enumerate(products) if ref.family[p] == name])
        best = members[np.argmin(key[:, members], axis=1)]
        family_pick[:, f] = best
        family_key[:, f] = key[np.arange(n), best]
    family_order = np.argsort(family_key, axis=1, kind="stable")[:, :max_offers]
    picked_key = np.take_along_axis(family_key, family_order, axis=1)
    picked = np.take_along_axis(family_pick, family_order, axis=1)
    offered = np.isfinite(picked_key)
    if not offered[:, 0].all():
        row = pop.iloc[int(np.flatnonzero(~offered[:, 0])[0])]
        raise TargetingInputError(
            f"offer_defaults.csv: no offer left for subscriber {row['sub_id']} (brand "
            f"{row['brand']}, terminal class {row['terminal_class']}): give every brand and "
            "terminal class defaults it cannot all hold (e.g. two plans)"
        )

    rows, rank = np.nonzero(offered)
    product_col = picked[rows, rank]
    channels, fallback = best_channels(rules)
    product_names = np.array(products, dtype=object)
    return pd.DataFrame(
        {
            "month": np.full(len(rows), month.to_datetime64()),
            "sub_id": pop["sub_id"].to_numpy()[rows],
            "offer_rank": rank + 1,
            "product_id": product_names[product_col],
            "score": score[rows, product_col],
            "source": np.array(OFFER_SOURCES, dtype=object)[level[rows, product_col]],
            "reason": np.array(reasons, dtype=object)[reason[rows, product_col]],
            "channel": np.array([channels.get(p, fallback) for p in products], dtype=object)[product_col],
        }
    )

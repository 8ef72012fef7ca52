"""Protected groups and the comparisons every check family reports on: an unprivileged group against the
privileged (reference) group of a protected attribute, per value of the attribute, and intersections of two.

Shared below the check families (fairness, robustness, explainability and plug-ins), so that every family labels
groups the same way and no family imports another.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from trustaudit.context import AuditContext

__all__ = ["Comparison", "build_comparisons", "cached_comparisons", "group_labels", "text_codes"]


@dataclass(frozen=True)
class Comparison:
    """An unprivileged group compared with a privileged (reference) group."""

    attribute: str  # "sex", or "sex*race" for an intersection
    group: str  # label of the unprivileged group
    reference: str  # label of the privileged group
    codes: np.ndarray  # int8 per row: 1 privileged, 0 unprivileged, -1 neither
    kind: str  # "binary" | "value" | "intersection"

    @property
    def subject(self) -> str:
        return f"{self.attribute}: {self.group} vs {self.reference}"


def group_labels(attr: Any) -> tuple[str, str]:
    """(privileged, unprivileged) display labels of a protected attribute (e.g. "age >= 25", "age < 25")."""
    spec = attr.spec
    thr = spec.threshold()
    if thr is not None:  # "age >= 25" / "age < 25"; a range: "age >= 25 and < 60" / "age < 25 or >= 60"
        return f"{attr.name} {thr}", f"{attr.name} {thr.negated_text()}"
    assert isinstance(spec.privileged, list)
    priv = "|".join(str(v) for v in spec.privileged)
    if spec.unprivileged is not None:
        unpriv = "|".join(str(v) for v in spec.unprivileged)
    else:
        others = sorted({str(v) for v in attr.values[attr.valid & ~attr.privileged].unique()})
        unpriv = others[0] if len(others) == 1 else f"not {priv}"
    return priv, unpriv


def build_comparisons(ctx: AuditContext, intersections: bool, per_value: bool, max_values: int) -> list[Comparison]:
    comps: list[Comparison] = []
    labels: dict[str, tuple[str, str]] = {}
    for name, attr in ctx.protected.items():
        priv_l, unpriv_l = group_labels(attr)
        labels[name] = (priv_l, unpriv_l)
        codes = np.where(attr.valid, attr.privileged.astype(np.int8), -1).astype(np.int8)
        comps.append(Comparison(name, unpriv_l, priv_l, codes, "binary"))
        if per_value and not attr.is_threshold:
            value_codes, texts = text_codes(attr.values)
            present = np.unique(value_codes[attr.valid & ~attr.privileged])
            unpriv_values = sorted({texts[i] for i in present if i >= 0})
            if 1 < len(unpriv_values) <= max_values:
                for value in unpriv_values:
                    is_value = np.isin(value_codes, [i for i, t in enumerate(texts) if t == value])
                    vcodes = np.where(attr.privileged, 1, np.where(is_value, 0, -1)).astype(np.int8)
                    comps.append(Comparison(name, value, priv_l, vcodes, "value"))
    if intersections:
        names = list(ctx.protected)
        for a, b in itertools.combinations(names, 2):
            pa, pb = ctx.protected[a], ctx.protected[b]
            valid = pa.valid & pb.valid
            ref = pa.privileged & pb.privileged & valid
            ref_label = f"{labels[a][0]} & {labels[b][0]}"
            for a_priv, b_priv in ((True, False), (False, True), (False, False)):
                sel = valid & (pa.privileged == a_priv) & (pb.privileged == b_priv)
                label = f"{labels[a][0 if a_priv else 1]} & {labels[b][0 if b_priv else 1]}"
                codes = np.where(ref, 1, np.where(sel, 0, -1)).astype(np.int8)
                comps.append(Comparison(f"{a}*{b}", label, ref_label, codes, "intersection"))
    return comps


def text_codes(values: Any) -> tuple[np.ndarray, list[str]]:
    """Each row's value as text, factorised: (code per row, -1 for missing; text of each code).

    Equivalent to mapping ``str`` over every row, but ``str`` runs once per distinct value (a Python call per row
    took seconds on a million rows). Object columns keep the per-row mapping, since distinct objects such as
    ``True`` and ``1`` hash alike but print differently.
    """
    import pandas as pd

    if values.dtype == object:
        values = values.map(lambda v: None if v is None or v != v else str(v))
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes), [str(u) for u in uniques]


def cached_comparisons(ctx: AuditContext, intersections: bool, per_value: bool, max_values: int) -> list[Comparison]:
    """:func:`build_comparisons`, computed once per audit and shared by the fairness checks."""
    key = f"groups.comparisons:{intersections}:{per_value}:{max_values}"
    if key not in ctx.cache:
        ctx.cache[key] = build_comparisons(ctx, intersections, per_value, max_values)
    comps: list[Comparison] = ctx.cache[key]
    return comps



"""Deterministic rules over a findings document: T category, stage group, IVC segments, calls.

Every cut-off is read from ``resources/knowledge/thresholds.json`` (cited there), not typed here.
``None`` is unknown throughout: a rule that lacks an input says so instead of guessing.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..resources import load_json
from .findings import Findings

_T = load_json("knowledge", "thresholds.json")

T_CATEGORIES: tuple[str, ...] = tuple(c["id"] for c in _T["t_category"]["categories"])
STAGE_GROUPS: tuple[str, ...] = tuple(_T["stage_groups"]["order"])
GRADES: tuple[int, ...] = (1, 2, 3)
ENHANCEMENT_CALLS = ("enhancing", "equivocal", "not_enhancing")
THROMBUS_CALLS: Mapping[str, str] = _T["thrombus"]["calls"]

#: the inputs a stage group needs, named as the findings document names them
STAGE_INPUTS = ("greatest_dimension_mm", "lymph_node_metastases", "distant_metastases", "grade")


def t_category(greatest_dimension_mm: float | None) -> str | None:
    """AJCC 8th retroperitoneum T from the greatest dimension; the boundary belongs to the lower T."""
    if greatest_dimension_mm is None:
        return None
    for cat in _T["t_category"]["categories"]:
        if cat["max_mm"] is None or greatest_dimension_mm <= cat["max_mm"]:
            return str(cat["id"])
    raise AssertionError("thresholds.json: the last T category must be open-ended")  # pragma: no cover


def _group_of(t: str, n: str, m: str, g: int) -> str:
    for rule in _T["stage_groups"]["rules"]:
        if (
            t in rule.get("T", (t,))
            and n in rule.get("N", (n,))
            and m in rule.get("M", (m,))
            and g in rule.get("G", (g,))
        ):
            return str(rule["group"])
    raise AssertionError(f"thresholds.json: no stage group for {t} {n} {m} G{g}")  # pragma: no cover


@dataclass(frozen=True)
class Stage:
    """A stage group (or ``None``), what is missing for it, and every group still possible."""

    group: str | None
    missing: tuple[str, ...]
    possible: tuple[str, ...]


@lru_cache(maxsize=512)
def stage(t: str | None, n1: bool | None, m1: bool | None, grade: int | None) -> Stage:
    """Stage group from T, N (``lymph_node_metastases``), M (``distant_metastases``) and grade.

    Unknown inputs are enumerated over their possible values: ``possible`` lists every group
    consistent with what is known (in AJCC order) and ``missing`` names each unknown input whose
    value could change the group (``STAGE_INPUTS`` names). With one possible group the group is
    known whatever else is unknown (M1 -> IV; N1 M0 -> IIIB).
    """
    domains: dict[str, tuple[Any, ...]] = {
        "greatest_dimension_mm": (t,) if t is not None else T_CATEGORIES,
        "lymph_node_metastases": ("N1" if n1 else "N0",) if n1 is not None else ("N0", "N1"),
        "distant_metastases": ("M1" if m1 else "M0",) if m1 is not None else ("M0", "M1"),
        "grade": (grade,) if grade is not None else GRADES,
    }
    names = STAGE_INPUTS
    combos = list(itertools.product(*(domains[k] for k in names)))
    result = {c: _group_of(*c) for c in combos}
    groups = set(result.values())
    possible = tuple(g for g in STAGE_GROUPS if g in groups)
    if len(possible) == 1:
        return Stage(possible[0], (), possible)
    missing = []
    for idx, name in enumerate(names):
        if len(domains[name]) == 1:
            continue
        # does changing this input alone (others fixed at any possible value) change the group?
        matters = any(
            result[c] != result[c[:idx] + (alt,) + c[idx + 1:]]
            for c in combos
            for alt in domains[name]
            if alt != c[idx]
        )
        if matters:
            missing.append(name)
    return Stage(None, tuple(missing), possible)


def ivc_segments(
    renal_vein_z_mm: float | None,
    hepatic_vein_z_mm: float | None,
    tumor_z_mm: Iterable[float] | None,
) -> list[int] | None:
    """IVC segments (1 infrarenal, 2 renal-to-hepatic, 3 suprahepatic) the tumour involves.

    ``None`` when a landmark or the tumour extent is unknown. A segment is involved when the tumour
    extends into it by a positive length: a tumour end exactly at a landmark level does not involve
    the segment beyond (touching is not crossing). A zero-length tumour exactly on a landmark level
    involves both adjacent segments. (thresholds.json ``ivc_segments.boundary_rule``)
    """
    if renal_vein_z_mm is None or hepatic_vein_z_mm is None or tumor_z_mm is None:
        return None
    low, high = (float(v) for v in tumor_z_mm)
    r, h = float(renal_vein_z_mm), float(hepatic_vein_z_mm)
    if low == high:  # a point: the segment containing it, both at a boundary
        z = low
        segs = []
        if z <= r:
            segs.append(1)
        if r <= z <= h:
            segs.append(2)
        if z >= h:
            segs.append(3)
        return segs
    segs = []
    if low < r:
        segs.append(1)
    if high > r and low < h:
        segs.append(2)
    if high > h:
        segs.append(3)
    return segs


def _call(value: float | None, table: Mapping[str, Any]) -> str | None:
    if value is None:
        return None
    if value >= table["enhancing_min"]:
        return "enhancing"
    if value >= table["equivocal_min"]:
        return "equivocal"
    return "not_enhancing"


def enhancement_call_ct(delta_hu: float | None) -> str | None:
    """CT: >= 20 HU enhancing, 10 to < 20 HU equivocal, < 10 HU not enhancing (thresholds.json)."""
    return _call(delta_hu, _T["ct_enhancement"])


def enhancement_call_mr(percent: float | None) -> str | None:
    """MR relative enhancement: >= 15 % enhancing (Bosniak 2019), 10 to < 15 % equivocal (judgement)."""
    return _call(percent, _T["mr_enhancement"])


def enhancement_call(delta_hu: float | None = None, percent: float | None = None) -> str | None:
    """The call from the CT delta when given (absolute scale), else from the MR percentage."""
    if delta_hu is not None:
        return enhancement_call_ct(delta_hu)
    return enhancement_call_mr(percent)


def thrombus_call(thrombus_delta_hu: float | None) -> str | None:
    """Intraluminal defect: enhancing -> ``tumor_thrombus``, not enhancing -> ``bland_thrombus``,
    equivocal -> ``indeterminate``; ``None`` when no delta was measured."""
    call = enhancement_call_ct(thrombus_delta_hu)
    return None if call is None else THROMBUS_CALLS[call]


@dataclass(frozen=True)
class RuleResults:
    t_category: str | None
    stage: Stage
    ivc_segments: list[int] | None
    enhancement_call: str | None
    thrombus_call: str | None


def apply_rules(f: Findings) -> RuleResults:
    """All rules over a :class:`~workstation.reasoning.findings.Findings`."""
    t = t_category(f.greatest_dimension_mm)
    st = stage(t, f.findings.get("lymph_node_metastases"), f.findings.get("distant_metastases"), f.grade)
    ivc = f.ivc
    segs = None if ivc is None else ivc_segments(ivc.renal_vein_z_mm, ivc.hepatic_vein_z_mm, ivc.tumor_z_mm)
    return RuleResults(
        t_category=t,
        stage=st,
        ivc_segments=segs,
        enhancement_call=enhancement_call(f.enhancement_delta_hu, f.enhancement_percent),
        thrombus_call=thrombus_call(f.thrombus_delta_hu),
    )

"""Transparent naive-Bayes ranking of the 13 differentials, and :func:`assess`.

Log-odds of each differential = log prior + the sum of log likelihood ratios of the *known*
findings (an unknown finding adds exactly nothing), softmax-normalised to probabilities summing to 1.
Ties are broken by the spec's differential order, so the result is deterministic. For every
differential the findings that raised and lowered it are listed by the size of their effect, in
words (``"macroscopic fat present — strongly favours Liposarcoma (LR 7.1)"``).

:func:`assess` returns an :class:`Assessment`; ``Assessment.to_dict()`` is exactly the
``workstation assess --json`` document of shared/spec/cli.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from .findings import FIELD_SPECS, Findings
from .knowledge import KnowledgeBase, load_knowledge
from .rules import RuleResults, Stage, apply_rules


@dataclass(frozen=True)
class Evidence:
    """One known piece of evidence as the model uses it."""

    finding: str          # the document's name: a checklist id or a field ("age_years", ...)
    value: Any            # the value in the document
    feature: str          # the knowledge-base feature (checklist id, derived id or categorical field)
    key: Any              # True/False for a binary feature, the category for a categorical one
    phrase: str           # how a radiologist says it
    derived_from: str | None = None


@dataclass(frozen=True)
class Reason:
    finding: str
    value: Any
    log_lr: float
    text: str
    source: str
    derived_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "finding": self.finding,
            "value": self.value,
            "log_lr": round(self.log_lr, 4),
            "lr": round(math.exp(self.log_lr), 3),
            "text": self.text,
            "source": self.source,
        }
        if self.derived_from:
            d["derived_from"] = self.derived_from
        return d


@dataclass(frozen=True)
class Differential:
    id: str
    label: str
    probability: float
    log_odds: float
    raised_by: tuple[Reason, ...]
    lowered_by: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "probability": self.probability,
            "raised_by": [r.to_dict() for r in self.raised_by],
            "lowered_by": [r.to_dict() for r in self.lowered_by],
        }


@dataclass(frozen=True)
class Assessment:
    t_category: str | None
    stage: Stage
    ivc_segments: list[int] | None
    enhancement_call: str | None
    thrombus_call: str | None
    differentials: tuple[Differential, ...]

    @property
    def stage_group(self) -> str | None:
        return self.stage.group

    def to_dict(self) -> dict[str, Any]:
        return {
            "t_category": self.t_category,
            "stage_group": self.stage.group,
            "stage_missing": list(self.stage.missing),
            "stage_possible": list(self.stage.possible),
            "ivc_segments": None if self.ivc_segments is None else list(self.ivc_segments),
            "enhancement_call": self.enhancement_call,
            "thrombus_call": self.thrombus_call,
            "differentials": [d.to_dict() for d in self.differentials],
        }


def _age_band(age: float, kb: KnowledgeBase) -> Mapping[str, Any]:
    for b in kb.model["age_bands"]:
        if b["max"] is None or age < b["max"]:
            return b
    return kb.model["age_bands"][-1]  # pragma: no cover


def _size_band(mm: float, kb: KnowledgeBase) -> Mapping[str, Any]:
    for b in kb.model["size_bands"]:
        if b["max_mm"] is None or mm <= b["max_mm"]:
            return b
    return kb.model["size_bands"][-1]  # pragma: no cover


def _ivc_level(segs: list[int]) -> str:
    if 3 in segs:
        return "suprahepatic"
    if 2 in segs:
        return "renal_level"
    return "infrarenal_only"


def _fmt(x: float) -> str:
    return f"{x:+g}"


def gather_evidence(f: Findings, r: RuleResults, kb: KnowledgeBase) -> list[Evidence]:
    """Every known finding of the document as model evidence (unknowns are simply absent)."""
    ev: list[Evidence] = []
    for fid, v in f.findings.items():
        ev.append(Evidence(fid, v, fid, v, kb.phrases[fid]["yes" if v else "no"]))
    if f.age_years is not None:
        b = _age_band(f.age_years, kb)
        ev.append(Evidence("age_years", f.age_years, "age_band", b["id"], f"age {f.age_years:g} ({b['label']})"))
    if f.sex in ("female", "male"):
        ev.append(Evidence("sex", f.sex, "sex", f.sex, f.sex))
    if f.greatest_dimension_mm is not None:
        b = _size_band(f.greatest_dimension_mm, kb)
        ev.append(Evidence("greatest_dimension_mm", f.greatest_dimension_mm, "size_band", b["id"],
                           f"greatest dimension {f.greatest_dimension_mm:g} mm ({b['label']})"))
    if f.grade is not None:
        ev.append(Evidence("grade", f.grade, "fnclcc_grade_given", True, f"FNCLCC grade {f.grade} from biopsy (a sarcoma)"))
    for field in ("enhancement_pattern", "growth_pattern"):
        v = getattr(f, field)
        if v is not None:
            label = FIELD_SPECS[field]["labels"][v].lower()
            phrase = f"enhancement {label}" if field == "enhancement_pattern" else f"{label} growth"
            ev.append(Evidence(field, v, field, v, phrase))
    if r.enhancement_call is not None:
        measured = (f"{_fmt(f.enhancement_delta_hu)} HU" if f.enhancement_delta_hu is not None
                    else f"{_fmt(f.enhancement_percent)} %")
        src = "enhancement_delta_hu" if f.enhancement_delta_hu is not None else "enhancement_percent"
        words = {"enhancing": "solid tissue enhances", "equivocal": "enhancement equivocal",
                 "not_enhancing": "no enhancement"}[r.enhancement_call]
        ev.append(Evidence("enhancement_call", r.enhancement_call, "enhancement_call", r.enhancement_call,
                           f"{words} ({measured})", derived_from=src))
    if r.thrombus_call is not None:
        words = {"tumor_thrombus": "enhancing filling defect (tumour thrombus)",
                 "bland_thrombus": "non-enhancing filling defect (bland thrombus)",
                 "indeterminate": "filling defect of equivocal enhancement"}[r.thrombus_call]
        ev.append(Evidence("thrombus_call", r.thrombus_call, "thrombus_call", r.thrombus_call,
                           f"{words} ({_fmt(f.thrombus_delta_hu)} HU)", derived_from="thrombus_delta_hu"))
    if r.ivc_segments:
        segs = r.ivc_segments
        where = ", ".join(str(s) for s in segs)
        ev.append(Evidence("ivc_segments", list(segs), "ivc_level", _ivc_level(segs),
                           f"IVC tumour in segment{'s' if len(segs) > 1 else ''} {where}", derived_from="ivc"))
        if "intravascular_component" not in f.findings:
            ev.append(Evidence("intravascular_component", True, "intravascular_component", True,
                               "intraluminal IVC tumour on the segment map", derived_from="ivc.tumor_z_mm"))
    return ev


def _wording(lr: float, kb: KnowledgeBase) -> str:
    for w in kb.model["wording"]:
        if lr >= w["min_lr"]:
            return w["text"]
    return kb.model["wording"][-1]["text"]  # pragma: no cover


def _log_lr(e: Evidence, i: int, kb: KnowledgeBase) -> float:
    if e.feature in kb.binary:
        pos, neg = kb.binary[e.feature]
        return (pos if e.key else neg)[i]
    return kb.categorical[e.feature][e.key][i]


def rank(evidence: list[Evidence], kb: KnowledgeBase | None = None) -> tuple[Differential, ...]:
    """Posterior over the differentials, best first (ties in the spec's order)."""
    kb = kb or load_knowledge()
    n = len(kb.ids)
    logits = list(kb.log_priors)
    contrib: list[list[tuple[float, Evidence]]] = [[] for _ in range(n)]
    for e in evidence:
        if e.feature in kb.binary:
            pos, neg = kb.binary[e.feature]
            row = pos if e.key else neg
        else:
            row = kb.categorical[e.feature][e.key]
        for i in range(n):
            x = row[i]
            logits[i] += x
            contrib[i].append((x, e))
    top = max(logits)
    w = [math.exp(x - top) for x in logits]
    tot = math.fsum(w)
    probs = [x / tot for x in w]
    thr = kb.model["report_min_abs_log_lr"]
    out = []
    for i, dx in enumerate(kb.ids):
        label = kb.labels[dx]
        reasons = []
        for x, e in contrib[i]:
            if abs(x) < thr:
                continue
            lr = math.exp(x)
            entry = kb.entries[(e.feature, dx)]
            text = f"{e.phrase} — {_wording(lr, kb)} {kb.text_labels[dx]} (LR {lr:.2g})"
            source = entry.source if not entry.default else f"baseline rate (defaults.json, {entry.basis})"
            reasons.append(Reason(e.finding, e.value, x, text, source, e.derived_from))
        reasons.sort(key=lambda r: (-abs(r.log_lr), r.finding))
        out.append(Differential(
            dx, label, probs[i], logits[i],
            tuple(r for r in reasons if r.log_lr > 0),
            tuple(r for r in reasons if r.log_lr < 0),
        ))
    order = {dx: i for i, dx in enumerate(kb.ids)}
    out.sort(key=lambda d: (-d.log_odds, order[d.id]))
    return tuple(out)


def assess(findings: Findings | Mapping[str, Any]) -> Assessment:
    """Rules and ranked differential for one findings document (validated if given as a dict)."""
    f = findings if isinstance(findings, Findings) else Findings.from_dict(findings)
    kb = load_knowledge()
    r = apply_rules(f)
    diffs = rank(gather_evidence(f, r, kb), kb)
    return Assessment(r.t_category, r.stage, r.ivc_segments, r.enhancement_call, r.thrombus_call, diffs)

"""Transparent ranking of the 13 differentials and an explicit "other", and :func:`assess`.

Log-odds of each differential = log prior + the tempered sum of log likelihood ratios of the
*known* findings (an unknown finding adds exactly nothing), with correlated findings pooled in the
evidence groups of ``resources/knowledge/model.json`` so that one piece of evidence counts once, and
staging items (N1, M1) left out; "other" keeps its own prior mass. The softmax is smoothed toward
uniform so no entry reads 0 % or 100 %. Ties are broken by the spec's differential order, so the
result is deterministic. For every differential the findings that raised and lowered it are listed
by the size of their effect, in words (``"macroscopic fat present — strongly favours liposarcoma
(LR 7.1)"``); each entry has a word with its number ("most likely", "possible", ...).

:func:`assess` returns an :class:`Assessment`; ``Assessment.to_dict()`` is exactly the
``workstation assess --json`` document (docs/findings.md; cli.md plus cli-v2 ``staging``,
``recommendations`` and ``ivc_extent``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .findings import FIELD_SPECS, Findings
from .ivc import cranial_reach, ivc_extent
from .knowledge import OTHER_ID, KnowledgeBase, load_knowledge
from .recommendations import Context, Recommendation, recommend
from .rules import RuleResults, Stage, apply_rules
from .staging import Staging, clinical_staging


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
    weight: float = 1.0          # share of this log LR that counts after pooling its group
    group: str | None = None     # evidence group (model.json), None when it counts on its own

    def to_dict(self) -> dict[str, Any]:
        d = {
            "finding": self.finding,
            "value": self.value,
            "log_lr": round(self.log_lr, 4),
            "lr": round(math.exp(self.log_lr), 3),
            "text": self.text,
            "source": self.source,
            "weight": round(self.weight, 4),
            "group": self.group,
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
    likelihood_word: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "probability": self.probability,
            "likelihood_word": self.likelihood_word,
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
    staging: Staging | None = None
    recommendations: tuple[Recommendation, ...] = ()
    ivc_extent: dict[str, Any] | None = None

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
            "staging": None if self.staging is None else self.staging.to_dict(),
            "recommendations": [r.to_dict() for r in self.recommendations],
            "ivc_extent": self.ivc_extent,
        }


def _age_band(age: float, kb: KnowledgeBase) -> Mapping[str, Any]:
    for b in kb.model["age_bands"]:
        if b["max"] is None or age < b["max"]:
            return dict(b)
    return dict(kb.model["age_bands"][-1])  # pragma: no cover


def _size_band(mm: float, kb: KnowledgeBase) -> Mapping[str, Any]:
    for b in kb.model["size_bands"]:
        if b["max_mm"] is None or mm <= b["max_mm"]:
            return dict(b)
    return dict(kb.model["size_bands"][-1])  # pragma: no cover


def _ivc_level(segs: list[int]) -> str:
    if 3 in segs:
        return "suprahepatic"
    if 2 in segs:
        return "renal_level"
    return "infrarenal_only"


def _fmt(x: float | None) -> str:
    return "?" if x is None else f"{x:+g}"


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
    if f.histology is not None:
        key = f.histology if f.histology in kb.ids else OTHER_ID
        label = FIELD_SPECS["histology"]["labels"][f.histology]
        ev.append(Evidence("histology", f.histology, "histology", key, f"histology: {label}"))
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
            return str(w["text"])
    return str(kb.model["wording"][-1]["text"])  # pragma: no cover


def _log_lr(e: Evidence, i: int, kb: KnowledgeBase) -> float:
    if e.feature in kb.binary:
        pos, neg = kb.binary[e.feature]
        return (pos if e.key else neg)[i]
    return kb.categorical[e.feature][e.key][i]


@dataclass(frozen=True)
class ModelParams:
    """The global parameters of model.json ``parameters`` (fitted by benchmarks/calibration.py)."""

    other_prior: float
    evidence_weight: float
    group_damping: float
    smoothing: float
    #: True only to reproduce the old naive Bayes in the calibration benchmark (N1/M1 counted)
    staging_as_evidence: bool = False

    @classmethod
    def from_kb(cls, kb: KnowledgeBase) -> ModelParams:
        p = kb.model["parameters"]
        return cls(float(p["other_prior"]), float(p["evidence_weight"]), float(p["group_damping"]),
                   float(p["smoothing"]))


def _row(e: Evidence, kb: KnowledgeBase) -> tuple[float, ...]:
    if e.feature == "histology":
        lr = math.log(float(kb.model["histology"]["lr"]))
        return tuple(lr if dx == e.key else 0.0 for dx in kb.ids)
    if e.feature in kb.binary:
        pos, neg = kb.binary[e.feature]
        return pos if e.key else neg
    return kb.categorical[e.feature][e.key]


def _pool(xs: list[float], damping: float) -> list[float]:
    """Weights for a group's log LRs: 1, damping, damping^2 ... by decreasing size, for those for
    and those against the diagnosis separately (one never hides the other)."""
    w = [0.0] * len(xs)
    for sign in (1, -1):
        same = sorted((k for k in range(len(xs)) if xs[k] * sign > 0), key=lambda k: -abs(xs[k]))
        for rank_, k in enumerate(same):
            w[k] = damping ** rank_
    return w


def likelihood_word(p: float, is_top: bool, kb: KnowledgeBase) -> str:
    """"most likely" / "possible" / "less likely" / "unlikely" (model.json ``likelihood_words``)."""
    words = kb.model["likelihood_words"]
    if is_top and p >= float(words["most_likely"]["min_p"]):
        return str(words["most_likely"]["word"])
    for band in words["bands"]:
        if p >= float(band["min_p"]):
            return str(band["word"])
    return str(words["bands"][-1]["word"])  # pragma: no cover


def rank(evidence: list[Evidence], kb: KnowledgeBase | None = None,
         params: ModelParams | None = None, explain: bool = True) -> tuple[Differential, ...]:
    """Posterior over the differentials and "other", best first (ties in the spec's order).

    Evidence in one group of model.json is pooled (strongest full, next ones damped); staging items
    weigh nothing; the summed evidence is tempered by ``evidence_weight``; "other" keeps its prior
    with LR 1; the result is smoothed toward uniform so nothing reads 0 % or 100 %.
    ``explain=False`` skips the reasons (calibration runs the model thousands of times).
    """
    kb = kb or load_knowledge()
    prm = params or ModelParams.from_kb(kb)
    n = len(kb.ids)
    ev = [e for e in evidence if prm.staging_as_evidence or e.feature not in kb.staging_only]
    rows = [_row(e, kb) for e in ev]
    groups: dict[str, list[int]] = {}
    for j, e in enumerate(ev):
        groups.setdefault(kb.group_of.get(e.feature, f"_{j}"), []).append(j)
    weights = [[1.0] * len(ev) for _ in range(n)]
    for members in groups.values():
        if len(members) < 2:
            continue
        for i in range(n):
            for j, w in zip(members, _pool([rows[j][i] for j in members], prm.group_damping), strict=False):
                weights[i][j] = w
    log_other_free = math.log1p(-prm.other_prior)
    logits = [log_other_free + lp + prm.evidence_weight * math.fsum(weights[i][j] * rows[j][i] for j in range(len(ev)))
              for i, lp in enumerate(kb.log_priors)]
    logits.append(math.log(prm.other_prior) if prm.other_prior > 0 else -math.inf)
    top = max(logits)
    w_ = [math.exp(x - top) for x in logits]
    tot = math.fsum(w_)
    k = len(logits)
    probs = [(1 - prm.smoothing) * x / tot + prm.smoothing / k for x in w_]
    thr = kb.model["report_min_abs_log_lr"]
    out = []
    for i, dx in enumerate(kb.ids):
        reasons = []
        for j, e in enumerate(ev if explain else ()):
            x = rows[j][i]
            if abs(x) < thr:
                continue
            lr = math.exp(x)
            if e.feature == "histology":
                text = f"{e.phrase} — strongly favours {kb.text_labels[dx]} (LR {lr:.2g})"
                source = kb.model["histology"]["about"].split(":")[0]
            else:
                entry = kb.entries[(e.feature, dx)]
                text = f"{e.phrase} — {_wording(lr, kb)} {kb.text_labels[dx]} (LR {lr:.2g})"
                source = entry.source if not entry.default else f"baseline rate (defaults.json, {entry.basis})"
            reasons.append(Reason(e.finding, e.value, x, text, source, e.derived_from,
                                  weights[i][j], kb.group_of.get(e.feature)))
        reasons.sort(key=lambda r: (-abs(r.log_lr), r.finding))
        out.append(Differential(
            dx, kb.labels[dx], probs[i], logits[i],
            tuple(r for r in reasons if r.log_lr > 0),
            tuple(r for r in reasons if r.log_lr < 0),
        ))
    other = kb.model["other"]
    out.append(Differential(OTHER_ID, other["label"], probs[n], logits[n], (), ()))
    order = {dx: i for i, dx in enumerate((*kb.ids, OTHER_ID))}
    out.sort(key=lambda d: (-d.log_odds, order[d.id]))
    return tuple(
        Differential(d.id, d.label, d.probability, d.log_odds, d.raised_by, d.lowered_by,
                     likelihood_word(d.probability, i == 0, kb))
        for i, d in enumerate(out)
    )


def _extent_words(extent: Mapping[str, Any] | None) -> str:
    """How a recommendation's reason names the IVC extent: the thrombus level where one is given
    (renal or adrenal primary), otherwise the IVC segments."""
    if extent is None:
        return ""
    if extent.get("level") is not None:
        return f"thrombus level {extent['level']}"
    segs = extent.get("segments") or []
    if segs:
        return f"IVC segment{'s' if len(segs) > 1 else ''} {' and '.join(map(str, segs))}"
    return "extent mapped, landmarks incomplete" if extent.get("mapped") else "extent not mapped"


def assess(findings: Findings | Mapping[str, Any], params: ModelParams | None = None) -> Assessment:
    """Rules, ranked differential, staging applicability, recommendations and IVC extent for one
    findings document (validated if given as a dict). ``params`` overrides model.json's fitted
    parameters (calibration only)."""
    f = findings if isinstance(findings, Findings) else Findings.from_dict(findings)
    kb = load_knowledge()
    r = apply_rules(f)
    diffs = rank(gather_evidence(f, r, kb), kb, params)
    ranked = [(d.id, d.label, d.probability) for d in diffs]
    extent = ivc_extent(f, r, diffs[0].id)
    staging = clinical_staging(f, r, ranked, kb, extent)
    tumour = extent is not None and extent["kind"] == "tumour"
    ctx = Context(f, {d.id: d.probability for d in diffs}, diffs[0].id, kb.sarcoma_ids, tumour,
                  None if extent is None else extent["level"], cranial_reach(f)[0] if tumour else None,
                  _extent_words(extent), None if extent is None else str(extent["kind"]))
    labels = {**kb.labels, OTHER_ID: kb.model["other"]["label"]}
    recs = recommend(ctx, labels)
    return Assessment(r.t_category, r.stage, r.ivc_segments, r.enhancement_call, r.thrombus_call, diffs,
                      staging, recs, extent)

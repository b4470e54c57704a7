"""Recommendations from ``resources/recommendations.json`` (issue 10, cli-v2 ``recommendations``).

The rules are data with their sources; this module only evaluates their conditions against the
findings and the ranked differential and fills the reason's placeholders. The first rule of an id
whose conditions hold is used; the list is sorted by urgency (then file order), most urgent first.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..resources import load_json
from .findings import Findings, known_about_the_mass

_DOC: Mapping[str, Any] = load_json("recommendations.json")


@dataclass(frozen=True)
class Recommendation:
    id: str
    text: str
    reason: str
    source: str
    urgency: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "reason": self.reason, "source": self.source,
                "urgency": self.urgency}


@dataclass(frozen=True)
class Context:
    """What the conditions look at."""

    f: Findings
    probs: Mapping[str, float]        # differential id (and "other") -> probability
    top: str                          # id of the top-ranked entry
    sarcoma_ids: frozenset[str]
    intravascular: bool
    level: str | None                 # thrombus level as reported (renal/adrenal primary only)
    reach: str | None = None          # how far cranially the tumour reaches (ivc.cranial_reach), any origin
    extent: str = ""                  # "thrombus level III" / "segments 2 and 3" / "extent not mapped"
    ivc_kind: str | None = None       # ivc_extent.kind: "tumour", "bland_thrombus" or None (nothing in the IVC)


def _p(ids: Sequence[str], c: Context) -> float:
    total = 0.0
    for i in ids:
        if i == "sarcoma":
            total += sum(c.probs.get(s, 0.0) for s in c.sarcoma_ids)
        else:
            total += c.probs.get(i, 0.0)
    return total


def _known(path: str, f: Findings) -> bool:
    head, _, key = path.partition(".")
    if head == "ivc" and key:
        return f.ivc is not None and getattr(f.ivc, key, None) is not None
    if head == "findings" and key:
        return key in f.findings
    return getattr(f, head, None) is not None


def _tissue_in(ids: Sequence[str], c: Context) -> bool:
    """With a tissue diagnosis, a probability or 'leads' condition asks the histology instead."""
    h = c.f.histology
    return h in ids or ("sarcoma" in ids and (h in c.sarcoma_ids or h == "other_sarcoma"))


def holds(cond: Mapping[str, Any], c: Context) -> bool:
    """One condition of recommendations.json. Once ``histology`` is known, the imaging probabilities
    no longer trigger advice for other diagnoses: ``p_at_least`` and ``leads`` hold only for it."""
    f = c.f
    if "all" in cond:
        return all(holds(x, c) for x in cond["all"])
    if "not" in cond:
        return not holds(cond["not"], c)
    if "p_at_least" in cond:
        if f.histology is not None:
            return _tissue_in(cond["p_at_least"]["ids"], c)
        return _p(cond["p_at_least"]["ids"], c) >= float(cond["p_at_least"]["p"])
    if "leads" in cond:
        return _tissue_in(cond["leads"], c) if f.histology is not None else c.top in cond["leads"]
    if "finding" in cond:
        return f.findings.get(cond["finding"]) is cond["is"]
    if "field" in cond:
        return bool(getattr(f, cond["field"]) == cond["is"])
    if "known" in cond:
        return _known(cond["known"], f)
    if "known_not" in cond:
        return not _known(cond["known_not"], f)
    if "histology_in" in cond:
        return f.histology in cond["histology_in"]
    if "age_below" in cond:
        return f.age_years is not None and f.age_years < float(cond["age_below"])
    if "intravascular" in cond:
        return c.intravascular is bool(cond["intravascular"])
    if "level_in" in cond:
        return c.level in cond["level_in"]
    if "reach_in" in cond:
        return c.reach in cond["reach_in"]
    if "ivc_kind" in cond:
        return c.ivc_kind == str(cond["ivc_kind"])
    raise ValueError(f"recommendations.json: unknown condition {sorted(cond)}")


def _applies(rule: Mapping[str, Any], c: Context) -> bool:
    if not all(holds(x, c) for x in rule.get("when", ())):
        return False
    any_of = rule.get("when_any")
    if any_of and not any(holds(x, c) for x in any_of):
        return False
    return not any(holds(x, c) for x in rule.get("unless", ()))


class _Fill(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _mid(label: str) -> str:
    """A label inside a sentence: lower-case first letter unless it is a name (Castleman)."""
    if not label or label.split()[0] in ("Castleman",):
        return label
    return label[0].lower() + label[1:]


def _histology_words(histology: str | None, labels: Mapping[str, str]) -> str:
    """`` (leiomyosarcoma)``: the tissue diagnosis named in a reason; empty without one."""
    if histology is None:
        return ""
    if histology == "other_sarcoma":
        return " (other sarcoma type)"
    return f" ({_mid(labels.get(histology, histology))})"


def _pct(p: float) -> str:
    return f"{p * 100:.0f} %" if p >= 0.01 else "<1 %"


def recommend(c: Context, labels: Mapping[str, str]) -> tuple[Recommendation, ...]:
    """Every recommendation whose rule holds, most urgent first (one per id); none until something
    about the mass is recorded (recommendations.json ``min_known``)."""
    if known_about_the_mass(c.f) < int(_DOC["min_known"]):
        return ()
    fill = _Fill({f"{k}_pct": _pct(v) for k, v in c.probs.items()})
    fill["sarcoma_pct"] = _pct(_p(["sarcoma"], c))
    fill["top_label"] = _mid(labels.get(c.top, c.top))
    fill["top_pct"] = _pct(c.probs.get(c.top, 0.0))
    fill["level"] = c.level or "not known"
    fill["extent"] = c.extent or "extent not mapped"
    fill["markers"] = "; tumour markers raised" if c.f.findings.get("elevated_tumor_markers") else ""
    fill["histology_words"] = _histology_words(c.f.histology, labels)
    seen: set[str] = set()
    out: list[tuple[int, int, Recommendation]] = []
    for k, rule in enumerate(_DOC["rules"]):
        if rule["id"] in seen or not _applies(rule, c):
            continue
        seen.add(rule["id"])
        rec = Recommendation(rule["id"], rule["text"], rule["reason"].format_map(fill), rule["source"],
                             int(rule["urgency"]))
        out.append((rec.urgency, k, rec))
    out.sort(key=lambda x: (x[0], x[1]))
    return tuple(r for _, _, r in out)

"""Whether AJCC soft-tissue sarcoma staging applies, and clinical (cTNM) labels (issue 10).

AJCC 8th retroperitoneal sarcoma staging is for sarcomas. It applies when the document's
``histology`` names a sarcoma (a sarcoma differential or ``other_sarcoma``), or, before a tissue
diagnosis, when a sarcoma leads the ranked differential. Otherwise ``applies`` is false, the note says
why, and only a clearly conditional ``"if sarcoma: cT3"`` is offered — never a stage as a fact.
Staging from imaging is clinical staging: labels carry the ``c`` prefix (cT, cN, cM).

The T category comes from the unrounded size (:func:`rules.t_category`); :func:`size_text` prints the
size with enough decimals that the printed number falls in the same category.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..resources import load_json
from .findings import Findings, known_about_the_mass
from .kidney import kidney_t
from .knowledge import OTHER_ID, KnowledgeBase
from .rules import RuleResults, t_category

_THR = load_json("knowledge", "thresholds.json")
_SIZE = _THR["size_text"]
_SARCOMA_PLAUSIBLE = float(_THR["staging_applicability"]["sarcoma_plausible_p"])


def size_text(mm: float | None) -> str | None:
    """``"10.04 cm"`` for 100.4 mm: one decimal in cm, more only when rounding would change T."""
    if mm is None:
        return None
    t = t_category(mm)
    for dec in range(1, int(_SIZE["max_decimals"]) + 1):
        cm = round(mm / 10, dec)
        if t_category(cm * 10) == t:
            return f"{cm:.{dec}f} cm"
    return f"{mm / 10:.{_SIZE['max_decimals']}f} cm"


@dataclass(frozen=True)
class Staging:
    applies: bool
    basis: str
    note: str
    t: str | None              # "cT3"
    n: str | None              # "cN0" / "cN1" / None (unknown)
    m: str | None              # "cM0" / "cM1" / None (unknown)
    label: str | None          # "cT3 cN0 cM0" when staging applies
    conditional: str | None    # "if sarcoma: cT3" when it does not
    stage_group: str | None
    stage_possible: tuple[str, ...]
    size_mm: float | None
    size_text: str | None
    #: conditional clinical kidney T (AJCC 8th, kidney) when a renal primary leads; see kidney.py
    kidney: Mapping[str, Any] | None = None
    #: the sarcoma differentials together reach thresholds.json ``sarcoma_plausible_p``
    sarcoma_plausible: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "applies": self.applies, "basis": self.basis, "note": self.note,
            "t": self.t, "n": self.n, "m": self.m, "label": self.label,
            "conditional": self.conditional, "stage_group": self.stage_group,
            "stage_possible": list(self.stage_possible),
            "size_mm": self.size_mm, "size_text": self.size_text,
            "kidney": None if self.kidney is None else dict(self.kidney),
            "sarcoma_plausible": self.sarcoma_plausible,
        }


def _nm(value: bool | None, letter: str) -> str | None:
    return None if value is None else f"c{letter}{1 if value else 0}"


def _label(t: str | None, n: str | None, m: str | None) -> str:
    parts = [t or "cT unknown (no size)", n or "cNX", m or "cM not assessed"]
    return " ".join(parts)


def _decide(f: Findings, ranked: Sequence[tuple[str, str, float]], kb: KnowledgeBase) -> tuple[bool, str, str]:
    """(applies, basis, note) from histology, else from the leading differential."""
    if f.histology is not None:
        if f.histology in kb.sarcoma_ids or f.histology == "other_sarcoma":
            if f.resected is True:
                return True, "histology", (
                    "Tissue diagnosis is a sarcoma, resected; its AJCC stage is the one assigned at diagnosis "
                    "(pathological staging of the specimen); this follow-up study is not restaged.")
            return True, "histology", "Tissue diagnosis is a sarcoma; AJCC soft-tissue sarcoma staging applies."
        name = kb.labels.get(f.histology, "a non-sarcoma diagnosis")
        return False, "histology", f"Histology: {name}; AJCC soft-tissue sarcoma staging does not apply."
    if not ranked or known_about_the_mass(f) == 0:
        return False, "no findings", "Nothing recorded about the mass yet; AJCC soft-tissue sarcoma staging not assessed."
    top_id, top_label, p = ranked[0]
    if top_id in kb.sarcoma_ids:
        return True, "leading differential", (
            f"{top_label} leads the differential ({p * 100:.0f} %); clinical staging, to be confirmed by histology.")
    what = "no named diagnosis" if top_id == OTHER_ID else top_label
    what = what[0].upper() + what[1:]
    sarcoma_p = _sarcoma_p(ranked, kb)
    if sarcoma_p >= _SARCOMA_PLAUSIBLE:
        return False, "leading differential", (
            f"{what} leads ({p * 100:.0f} %), but a sarcoma remains possible ({sarcoma_p * 100:.0f} %): "
            "AJCC soft-tissue sarcoma staging does not apply unless histology shows a sarcoma.")
    return False, "leading differential", f"{what} leads; AJCC soft-tissue sarcoma staging does not apply."


def _sarcoma_p(ranked: Sequence[tuple[str, str, float]], kb: KnowledgeBase) -> float:
    """The summed probability of the sarcoma differentials."""
    return sum(q for i, _, q in ranked if i in kb.sarcoma_ids)


def clinical_staging(f: Findings, r: RuleResults, ranked: Sequence[tuple[str, str, float]],
                     kb: KnowledgeBase, extent: Mapping[str, Any] | None = None) -> Staging:
    """Staging applicability and labels; ``ranked`` is [(id, label, probability)] best first;
    ``extent`` is the assessment's ``ivc_extent`` (for the kidney T category of a renal primary)."""
    applies, basis, note = _decide(f, ranked, kb)
    kidney = kidney_t(f, extent, ranked[0][0] if ranked else None)
    plausible = _sarcoma_p(ranked, kb) >= _SARCOMA_PLAUSIBLE
    t = None if r.t_category is None else f"c{r.t_category}"
    n = _nm(f.findings.get("lymph_node_metastases"), "N")
    m = _nm(f.findings.get("distant_metastases"), "M")
    if applies:
        return Staging(True, basis, note, t, n, m, _label(t, n, m), None, r.stage.group, r.stage.possible,
                       f.greatest_dimension_mm, size_text(f.greatest_dimension_mm), kidney, plausible)
    cond = None if t is None else f"if sarcoma: {t}"
    return Staging(False, basis, note, t, n, m, None, cond, None, (), f.greatest_dimension_mm,
                   size_text(f.greatest_dimension_mm), kidney, plausible)

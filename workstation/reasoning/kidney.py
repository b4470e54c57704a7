"""Conditional clinical kidney T category for a renal primary with venous extension (issue 10).

AJCC soft-tissue sarcoma staging does not apply to a renal cell carcinoma, but the surgeon plans
with the kidney T category, which the venous extension sets: T3a renal vein (or perinephric / sinus
fat), T3b IVC below the diaphragm, T3c IVC above the diaphragm or invading the IVC wall, T4 beyond
Gerota's fascia (AJCC 8th ed., kidney; rule data and citation in
``resources/knowledge/thresholds.json`` ``kidney_t``). The leading renal/adrenal differential does
not say kidney or adrenal, so the category is given as "if renal cell carcinoma: cT3b", clinical
(imaging) staging. Every category still possible is listed, with what is missing to narrow it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..resources import load_json
from .findings import Findings
from .ivc import near_diaphragm

_KID: Mapping[str, Any] = load_json("knowledge", "thresholds.json")["kidney_t"]
_ORDER: tuple[str, ...] = tuple(_KID["order"])


def applies(f: Findings, top: str | None) -> str | None:
    """``"histology"`` / ``"leading differential"`` when a renal primary is the diagnosis, else None
    (also None after resection: a follow-up study is not restaged)."""
    if f.resected is True:
        return None
    ids = tuple(_KID["applies_to_ids"])
    if f.histology is not None:
        return "histology" if f.histology in ids else None
    return "leading differential" if top in ids else None


def _venous(f: Findings, extent: Mapping[str, Any] | None) -> tuple[set[str], list[str], str]:
    """(categories the venous extension allows, missing keys, what the extension shows)."""
    if extent is None or extent.get("kind") != "tumour":
        shown = ("no tumour thrombus recorded" if extent is None
                 else "the filling defect does not enhance (bland thrombus, not tumour)")
        excluded = extent is not None or (f.findings.get("intravascular_component") is False
                                          or f.growth_pattern == "extravascular")
        possible = {"cT1", "cT2", "cT3a"} if excluded else {"cT1", "cT2", "cT3a", "cT3b", "cT3c"}
        return possible, ([] if excluded else ["venous_extension"]) + ["size_confined"], shown
    if f.findings.get("intracardiac_extension"):
        return {"cT3c"}, [], "tumour thrombus extends into the right atrium"
    ivc = f.ivc
    if ivc is None or ivc.tumor_z_mm is None or ivc.renal_vein_z_mm is None:
        return {"cT3a", "cT3b", "cT3c"}, ["ivc_map"], "tumour thrombus, extent not mapped"
    top, r = ivc.tumor_z_mm[1], ivc.renal_vein_z_mm
    h, a = ivc.hepatic_vein_z_mm, ivc.right_atrium_z_mm
    if a is not None and top > a:
        return {"cT3c"}, [], "tumour thrombus above the cavo-atrial junction (above the diaphragm)"
    if top <= r:
        return {"cT3a"}, [], "tumour thrombus in the renal vein, not above the renal-vein inflow"
    if near_diaphragm(f):
        return ({"cT3b", "cT3c"}, ["diaphragm"],
                "tumour thrombus in the IVC ending within 2 cm below the cavo-atrial junction, "
                "its relation to the diaphragm not shown")
    if a is not None or f.findings.get("intracardiac_extension") is False or (h is not None and top < h):
        return {"cT3b"}, [], "tumour thrombus in the IVC below the diaphragm"
    missing = ["right_atrium"] if h is not None else ["hepatic_vein", "right_atrium"]
    return {"cT3b", "cT3c"}, missing, "tumour thrombus in the IVC, its relation to the diaphragm not marked"


def _wall(f: Findings, possible: set[str], missing: list[str]) -> tuple[set[str], str | None]:
    """IVC wall invasion turns an IVC thrombus (T3b) into T3c."""
    if "cT3b" not in possible:
        return possible, None
    wall = f.findings.get(str(_KID["wall_invasion_finding"]))
    if wall is True:
        return (possible - {"cT3b"}) | {"cT3c"}, "invasion of the IVC wall recorded"
    if wall is None:
        missing.append("wall_invasion")
        return possible | {"cT3c"}, None
    return possible, "no invasion of the IVC wall"


def _gerota(f: Findings, possible: set[str], missing: list[str]) -> tuple[set[str], str | None]:
    """Spread beyond Gerota's fascia (organ invasion) is T4, whatever the veins show."""
    beyond = f.findings.get(str(_KID["beyond_gerota_finding"]))
    if beyond is True:
        missing.clear()
        return {"cT4"}, "adjacent organs invaded, beyond Gerota's fascia"
    if beyond is None:
        missing.append("beyond_gerota")
        return possible | {"cT4"}, None
    return possible, "no organ invasion"


def kidney_t(f: Findings, extent: Mapping[str, Any] | None, top: str | None) -> dict[str, Any] | None:
    """The ``staging.kidney`` object, or None when no renal primary leads (nor histology names one)."""
    why_applies = applies(f, top)
    if why_applies is None:
        return None
    possible, missing, shown = _venous(f, extent)
    possible, wall = _wall(f, possible, missing)
    possible, gerota = _gerota(f, possible, missing)
    cats = [c for c in _ORDER if c in possible]
    t = cats[0] if len(cats) == 1 else None
    what = str(_KID["applies_if"])
    if t is not None:
        label = f"if {what}: {t}"
    else:
        label = f"if {what}: at least {cats[0]} ({' or '.join(cats)} possible)"
    facts = [x for x in (shown, wall, gerota) if x]
    meaning = f"; {t}: {_KID['categories'][t]}" if t in _KID["categories"] else ""
    return {
        "applies_if": what,
        "applies_basis": why_applies,
        "classification": _KID["name"],
        "t": t,
        "t_possible": cats,
        "t_at_least": cats[0],
        "label": label,
        "basis": f"{_KID['name']}: {'; '.join(facts)}{meaning}",
        "facts": facts,
        "missing": list(dict.fromkeys(missing)),
        "missing_text": [str(_KID["missing_words"][m]) for m in dict.fromkeys(missing)],
        "note": _KID["adrenal_note"],
        "source": _KID["source"],
    }

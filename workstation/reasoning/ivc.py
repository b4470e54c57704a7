"""IVC extent of an intravascular tumour in surgical terms (issue 10, cli-v2 ``ivc_extent``).

From the ``ivc`` landmarks (patient z, LPS, +z toward the head) the tumour's cranial and caudal ends
are given in mm relative to the renal-vein inflow, the hepatic-vein confluence and the cavo-atrial
junction (``right_atrium_z_mm``): positive = cranial to the landmark. The tumour-thrombus level is the
one IVC-thrombus surgery plans with (Neves and Zincke, the "Mayo" levels 0-IV); its definitions and
citation are data in ``resources/knowledge/thresholds.json`` (``ivc_thrombus_level``).

``ivc_extent`` is ``None`` when nothing says there is an intravascular tumour.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..resources import load_json
from .findings import Findings
from .rules import RuleResults

_LEVELS: Mapping[str, Any] = load_json("knowledge", "thresholds.json")["ivc_thrombus_level"]


def has_intravascular_tumour(f: Findings, r: RuleResults) -> bool:
    """Anything in the document that says tumour grows inside a vessel lumen."""
    if f.ivc is not None and f.ivc.tumor_z_mm is not None:
        return True
    if f.growth_pattern in ("mixed", "intravascular"):
        return True
    if f.findings.get("intravascular_component") or f.findings.get("intracardiac_extension"):
        return True
    return r.thrombus_call == "tumor_thrombus"


def _kind(f: Findings, r: RuleResults) -> str:
    """"tumour", or "bland_thrombus" when the only intraluminal thing is a non-enhancing defect."""
    other_signs = (f.growth_pattern in ("mixed", "intravascular")
                   or bool(f.findings.get("intravascular_component"))
                   or bool(f.findings.get("intracardiac_extension")))
    if r.thrombus_call == "bland_thrombus" and not other_signs:
        return "bland_thrombus"
    return "tumour"


def _rel(z: float, landmark: float | None) -> float | None:
    return None if landmark is None else round(z - landmark, 1)


def thrombus_level(f: Findings) -> tuple[str | None, str]:
    """(level id or None, why) from the tumour's cranial end and the landmarks known."""
    ivc = f.ivc
    intracardiac = f.findings.get("intracardiac_extension")
    if intracardiac:
        return "IV", "the tumour reaches the right atrium (checklist)"
    if ivc is None or ivc.tumor_z_mm is None:
        return None, "tumour extent in the IVC not mapped"
    top = ivc.tumor_z_mm[1]
    r, h, a = ivc.renal_vein_z_mm, ivc.hepatic_vein_z_mm, ivc.right_atrium_z_mm
    if a is not None and top > a:
        return "IV", "cranial end above the cavo-atrial junction"
    if h is not None and top >= h:
        if a is None and intracardiac is None:
            return "III", "cranial end at or above the hepatic veins; right-atrium level not given, level IV not excluded"
        return "III", "cranial end at or above the hepatic veins, below the right atrium"
    if r is None:
        return None, "renal-vein level not given"
    if top <= r:
        return "0", "cranial end not above the renal-vein inflow"
    if top - r <= float(_LEVELS["level_I_max_mm"]):
        return "I", f"cranial end within {_LEVELS['level_I_max_mm'] / 10:g} cm above the renal veins"
    if h is None:
        return None, "cranial end more than 2 cm above the renal veins; hepatic-vein level not given (II or III)"
    return "II", "cranial end above the renal veins, below the hepatic veins"


def ivc_extent(f: Findings, r: RuleResults) -> dict[str, Any] | None:
    """The ``ivc_extent`` object of ``assess --json`` (``None``: no intravascular tumour)."""
    if not has_intravascular_tumour(f, r):
        return None
    ivc = f.ivc
    kind = _kind(f, r)
    level, why = thrombus_level(f)
    if kind == "bland_thrombus":
        level, why = None, "the filling defect does not enhance (bland thrombus); tumour-thrombus levels do not apply"
    out: dict[str, Any] = {
        "kind": kind,
        "mapped": bool(ivc is not None and ivc.tumor_z_mm is not None),
        "segments": None if r.ivc_segments is None else list(r.ivc_segments),
        "cranial_z_mm": None, "caudal_z_mm": None, "length_mm": None,
        "cranial_end": {}, "caudal_end": {},
        "level": level,
        "level_label": None if level is None else _LEVELS["levels"][level],
        "level_basis": why,
        "classification": _LEVELS["name"],
        "classification_source": _LEVELS["source"],
        "sign_convention": "mm from the landmark, positive = cranial to it (toward the head)",
    }
    if ivc is not None and ivc.tumor_z_mm is not None:
        low, high = ivc.tumor_z_mm
        out["cranial_z_mm"], out["caudal_z_mm"] = high, low
        out["length_mm"] = round(high - low, 1)
        for key, z in (("cranial_end", high), ("caudal_end", low)):
            out[key] = {
                "from_renal_veins_mm": _rel(z, ivc.renal_vein_z_mm),
                "from_hepatic_veins_mm": _rel(z, ivc.hepatic_vein_z_mm),
                "from_right_atrium_mm": _rel(z, ivc.right_atrium_z_mm),
            }
    out["text"] = describe(out)
    return out


def _where(mm: float | None, name: str) -> str | None:
    if mm is None:
        return None
    if abs(mm) < 0.05:
        return f"at the {name}"
    return f"{abs(mm) / 10:.1f} cm {'above' if mm > 0 else 'below'} the {name}"


def describe(e: Mapping[str, Any]) -> str:
    """One sentence of the extent in surgical terms (no likelihoods, no empty fields)."""
    parts: list[str] = []
    what = ("Non-enhancing filling defect (bland thrombus)" if e.get("kind") == "bland_thrombus"
            else "Intraluminal tumour")
    if e["mapped"]:
        parts.append(f"{what} over {e['length_mm'] / 10:.1f} cm of the IVC")
        for key, word in (("cranial_end", "cranial end"), ("caudal_end", "caudal end")):
            rel = e[key]
            bits = [b for b in (_where(rel["from_renal_veins_mm"], "renal veins"),
                                _where(rel["from_hepatic_veins_mm"], "hepatic veins"),
                                _where(rel["from_right_atrium_mm"], "cavo-atrial junction")) if b]
            if bits:
                parts.append(f"{word} {', '.join(bits)}")
        if e["segments"]:
            segs = e["segments"]
            parts.append(f"segment{'s' if len(segs) > 1 else ''} {', '.join(map(str, segs))}")
    else:
        parts.append(f"{what}; its extent in the IVC is not mapped")
    if e["level"] is not None:
        parts.append(f"thrombus level {e['level']} ({e['level_label']})")
    return "; ".join(parts) + "."

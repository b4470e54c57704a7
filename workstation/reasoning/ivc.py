"""IVC extent of an intravascular tumour in surgical terms (issue 10, cli-v2 ``ivc_extent``).

From the ``ivc`` landmarks (patient z, LPS, +z toward the head) the tumour's cranial and caudal ends
are given in mm relative to the renal-vein inflow, the hepatic-vein confluence and the cavo-atrial
junction (``right_atrium_z_mm``): positive = cranial to the landmark.

Which surgical description fits depends on where the intraluminal tumour comes from
(``resources/knowledge/thresholds.json``, ``ivc_thrombus_level.applies_to``):

* tumour thrombus from a **renal or adrenal primary** (histology, or without histology the leading
  differential): the Neves-Zincke ("Mayo") level 0-IV that thrombectomy is planned with, with the
  side of the primary;
* a **primary IVC leiomyosarcoma**, or any other intravascular tumour: the IVC segments it involves
  (infrarenal, suprarenal-infrahepatic, suprahepatic including intracardiac extension; the article's
  Imaging Features) and its extent in cm from the landmarks, no thrombus level;
* a **bland thrombus**: its extent, no level.

:func:`cranial_reach` is the landmark geometry alone (the Neves-Zincke scale, whatever the origin);
recommendations and the kidney T category read it, the report gives it as a level only for a renal
or adrenal primary. ``ivc_extent`` is ``None`` when nothing says there is an intravascular tumour.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..resources import load_json
from .findings import Findings
from .rules import RuleResults

_THR: Mapping[str, Any] = load_json("knowledge", "thresholds.json")
_LEVELS: Mapping[str, Any] = _THR["ivc_thrombus_level"]
_SEGMENTS: Mapping[str, Any] = _THR["ivc_segments"]

#: ``ivc_extent.origin`` values
RENAL_ADRENAL = "renal_adrenal_primary"
LEIOMYOSARCOMA = "leiomyosarcoma"


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


def origin(f: Findings, top: str | None) -> tuple[str, str]:
    """(origin, basis) of the intravascular tumour: ``renal_adrenal_primary``, ``leiomyosarcoma``,
    ``other`` (a tissue diagnosis outside both) or ``undetermined``; basis ``histology`` or
    ``leading differential``. Tissue decides when it is known."""
    renal = tuple(_LEVELS["applies_to_ids"])
    if f.histology is not None:
        if f.histology in renal:
            return RENAL_ADRENAL, "histology"
        return (LEIOMYOSARCOMA if f.histology == "leiomyosarcoma" else "other"), "histology"
    if top in renal:
        return RENAL_ADRENAL, "leading differential"
    if top == "leiomyosarcoma":
        return LEIOMYOSARCOMA, "leading differential"
    return "undetermined", "leading differential"


def _rel(z: float, landmark: float | None) -> float | None:
    return None if landmark is None else round(z - landmark, 1)


def cranial_reach(f: Findings) -> tuple[str | None, str]:
    """(level id or None, why): how far cranially the tumour reaches on the Neves-Zincke scale of
    landmarks, from the tumour's cranial end and the landmarks known (geometry only)."""
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
    if a is not None and near_diaphragm(f):
        return "III", (f"cranial end {(a - top) / 10:.1f} cm below the cavo-atrial junction, where the short "
                       "intrathoracic IVC runs; the diaphragm is not marked, level IV not excluded")
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


def near_diaphragm(f: Findings) -> bool:
    """The cranial end lies less than ``supradiaphragmatic_ivc_mm`` below a marked cavo-atrial junction and
    not below the hepatic veins: it may be in the short intrathoracic IVC (above the diaphragm)."""
    ivc = f.ivc
    if ivc is None or ivc.tumor_z_mm is None or ivc.right_atrium_z_mm is None:
        return False
    top, a, h = ivc.tumor_z_mm[1], ivc.right_atrium_z_mm, ivc.hepatic_vein_z_mm
    if top > a or (h is not None and top < h):
        return False
    return a - top < float(_LEVELS["supradiaphragmatic_ivc_mm"])


def iv_not_excluded(f: Findings) -> bool:
    """Level III by the landmarks, but level IV (above the diaphragm) is not excluded."""
    level, why = cranial_reach(f)
    return level == "III" and "level IV not excluded" in why


#: the geometric reach under its older name (kept for callers of version 2)
thrombus_level = cranial_reach


def _level(kind: str, where: str, basis: str, f: Findings) -> tuple[str | None, str]:
    """The thrombus level reported: only for tumour thrombus from a renal or adrenal primary."""
    if kind == "bland_thrombus":
        return None, "the filling defect does not enhance (bland thrombus); tumour-thrombus levels do not apply"
    if where != RENAL_ADRENAL:
        what = {LEIOMYOSARCOMA: "an IVC leiomyosarcoma", "other": "this histology"}.get(
            where, "an intravascular tumour not shown to come from a renal or adrenal primary")
        return None, (f"Neves-Zincke levels grade tumour thrombus from a renal or adrenal primary; for {what} "
                      "the IVC segments and the distances from the landmarks describe the surgical anatomy")
    level, why = cranial_reach(f)
    side = f.side if f.side in ("left", "right") else None
    primary = f"{side} renal or adrenal primary" if side else _unsided_primary(f.side)
    return level, f"tumour thrombus from a {primary} ({basis}); {why}"


def _level_label(level: str | None, f: Findings) -> str | None:
    """The level's meaning; level III says so when level IV is not excluded (no 'below the diaphragm'
    stated as a fact that the landmarks do not show)."""
    if level is None:
        return None
    if level == "III" and iv_not_excluded(f):
        return str(_LEVELS["level_III_or_IV_label"])
    return str(_LEVELS["levels"][level])


def _unsided_primary(side: str | None) -> str:
    """A renal or adrenal primary whose side is not left or right: not recorded, or recorded as
    midline / bilateral (a kidney or adrenal is one side: the reader confirms which)."""
    if side is None:
        return "renal or adrenal primary (side not recorded)"
    return f"renal or adrenal primary (side recorded as {side}: confirm which kidney or adrenal)"


def segment_names(segments: Sequence[int] | None, f: Findings) -> list[str]:
    """The surgical names of the IVC segments involved; segment 3 says whether the tumour reaches
    the right atrium (above the cavo-atrial junction, or the checklist's intracardiac extension)."""
    names: Mapping[str, str] = _SEGMENTS["surgical_names"]
    out = [str(names[str(s)]) for s in segments or ()]
    if segments and 3 in segments:
        reach, _ = cranial_reach(f)
        ra_known = f.ivc is not None and f.ivc.right_atrium_z_mm is not None
        if reach == "IV":
            out[-1] += " with extension into the right atrium"
        elif near_diaphragm(f):
            out[-1] += ", ending just below the cavo-atrial junction (possibly above the diaphragm)"
        elif ra_known or f.findings.get("intracardiac_extension") is False:
            out[-1] += ", below the cavo-atrial junction"
        else:
            out[-1] += " (extension into the right atrium not assessed)"
    elif f.findings.get("intracardiac_extension"):
        out.append(str(names["3"]) + " with extension into the right atrium")
    return out


def ivc_extent(f: Findings, r: RuleResults, top: str | None = None) -> dict[str, Any] | None:
    """The ``ivc_extent`` object of ``assess --json`` (``None``: no intravascular tumour).
    ``top``: the id leading the differential (the tumour's origin when histology is not known)."""
    if not has_intravascular_tumour(f, r):
        return None
    ivc = f.ivc
    kind = _kind(f, r)
    where, basis = origin(f, top)
    level, why = _level(kind, where, basis, f)
    scheme = _LEVELS if level is not None or where == RENAL_ADRENAL else _LEVELS["segments_classification"]
    segs = None if r.ivc_segments is None else list(r.ivc_segments)
    out: dict[str, Any] = {
        "kind": kind,
        "origin": None if kind == "bland_thrombus" else where,
        "origin_basis": None if kind == "bland_thrombus" else basis,
        "side": f.side,
        "mapped": bool(ivc is not None and ivc.tumor_z_mm is not None),
        "segments": segs,
        "segment_names": segment_names(segs, f),
        "cranial_z_mm": None, "caudal_z_mm": None, "length_mm": None,
        "cranial_end": {}, "caudal_end": {},
        "level": level,
        "level_label": _level_label(level, f),
        "level_basis": why,
        "classification": scheme["name"],
        "classification_source": scheme["source"],
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


def _segments_phrase(e: Mapping[str, Any]) -> str | None:
    segs = e.get("segments") or []
    names = e.get("segment_names") or []
    if not segs:
        return f"reaches the {names[0]}" if names else None
    head = f"segment{'s' if len(segs) > 1 else ''} {', '.join(map(str, segs))}"
    return f"{head} ({'; '.join(names)})" if names else head


def _primary_phrase(e: Mapping[str, Any]) -> str:
    side = e.get("side")
    if side in ("left", "right"):
        return f"from a {side} renal or adrenal primary"
    return "from a renal or adrenal primary" if side is None else f"from a {_unsided_primary(side)}"


def describe(e: Mapping[str, Any]) -> str:
    """One sentence of the extent in surgical terms (no likelihoods, no empty fields)."""
    parts: list[str] = []
    what = ("Non-enhancing filling defect (bland thrombus)" if e.get("kind") == "bland_thrombus"
            else "Intraluminal tumour")
    renal_vein_only = e.get("level") == "0"
    if e["mapped"] and renal_vein_only:
        parts.append(f"Tumour thrombus over {e['length_mm'] / 10:.1f} cm in the renal vein, not reaching above "
                     "the renal-vein inflow into the IVC")
    elif e["mapped"]:
        parts.append(f"{what} over {e['length_mm'] / 10:.1f} cm of the IVC")
        for key, word in (("cranial_end", "cranial end"), ("caudal_end", "caudal end")):
            rel = e[key]
            bits = [b for b in (_where(rel["from_renal_veins_mm"], "renal veins"),
                                _where(rel["from_hepatic_veins_mm"], "hepatic veins"),
                                _where(rel["from_right_atrium_mm"], "cavo-atrial junction")) if b]
            if bits:
                parts.append(f"{word} {', '.join(bits)}")
    else:
        parts.append(f"{what}; its extent in the IVC is not mapped")
    seg = None if renal_vein_only else _segments_phrase(e)
    if seg:
        parts.append(seg)
    if e["level"] is not None:
        parts.append(f"tumour thrombus {_primary_phrase(e)}, Neves-Zincke level {e['level']} ({e['level_label']})")
    return "; ".join(parts) + "."

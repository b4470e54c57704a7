"""Plain-text report a radiologist can paste into dictation (no markdown, ~78 columns).

Sections: TECHNIQUE, FINDINGS, IMPRESSION, RECOMMENDATION. Wording, the follow-up schedule and
the phase keywords are data in ``resources/report.json``; checklist labels come from
``resources/checklist.json``. The report never names the patient.
"""
from __future__ import annotations

import math
import re
import textwrap
from typing import Any, Iterable, Mapping, Sequence

from ..phase import classify
from ..resources import load_json
from ..volume import Volume
from .sr import EnhancementFigures, LesionFigures


def _cfg() -> dict[str, Any]:
    return load_json("report.json")


def _labels() -> tuple[dict[str, str], dict[str, list[str]]]:
    ck = load_json("checklist.json")
    labels = {it["id"]: it["label"] for g in ck["groups"] for it in g["items"]}
    groups = {g["id"]: [it["id"] for it in g["items"]] for g in ck["groups"]}
    return labels, groups


def _fmt(v: float, nd: int = 0) -> str:
    s = f"{v:.{nd}f}"
    return "0" if s in ("-0", "-0.0") else s


def _cm(mm: float) -> str:
    return f"{mm / 10:.1f} cm"


def _source(findings: Mapping[str, Any], path: str) -> str | None:
    src = (findings.get("x_sources") or {}).get(path)
    if src is None:
        return None
    if isinstance(src, str):
        return src
    return ", ".join(f"{k} {v}" for k, v in src.items())


class _Writer:
    def __init__(self, width: int) -> None:
        self.width = width
        self.lines: list[str] = []

    def heading(self, text: str) -> None:
        if self.lines:
            self.lines.append("")
        self.lines.append(text)

    def para(self, text: str, indent: str = "", first: str | None = None) -> None:
        first = indent if first is None else first
        # a number stays on the line of its unit (no-break space while wrapping)
        text = _UNITS.sub("\u00a0\\1", " ".join(text.split()))
        lines = textwrap.wrap(text, width=self.width, initial_indent=first, subsequent_indent=indent,
                              break_on_hyphens=False, break_long_words=False) or [first.rstrip()]
        self.lines.extend(line.replace("\u00a0", " ") for line in lines)

    def item(self, label: str, text: str) -> None:
        self.para(text, indent="  ", first=f"{label}: " if label else "")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def phase_of(description: str, contrast_agent: Any = None) -> str | None:
    """Contrast phase of a series (the one core classifier, :func:`workstation.phase.classify`)."""
    return classify(description, contrast_agent)


def _join(words: Sequence[str], conj: str = "and") -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conj} " + words[-1]


def _lower(label: str) -> str:
    """'Necrosis' -> 'necrosis', but 'B symptoms', 'IgG4-related', 'N1' keep their capitals."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


_UNITS = re.compile(r"(?<=\d) (HU|mm|ml|cm|%|years|images)\b")


def _checklist_sentence(findings: Mapping[str, Any], ids: Iterable[str], labels: Mapping[str, str]) -> str | None:
    answers = findings.get("findings") or {}
    present = [_lower(labels.get(i, i)) for i in ids if answers.get(i) is True]
    absent = [_lower(labels.get(i, i)) for i in ids if answers.get(i) is False]
    parts = []
    if present:
        s = _join(present)
        parts.append(s[0].upper() + s[1:] + ".")
    if absent:
        parts.append("No " + _join(absent, "or") + ".")
    return " ".join(parts) if parts else None


def _reason(r: Mapping[str, Any]) -> str:
    """'necrosis present (LR 1.5)' from a ranking reason (its text up to the dash, and its LR)."""
    text = str(r.get("text") or r.get("finding") or "")
    text = re.split(r"\s+[\u2014\u2013-]{1,2}\s+", text, maxsplit=1)[0]
    lr = r.get("log_lr")
    if isinstance(lr, (int, float)):
        text += f" (LR {math.exp(lr):.2g})"
    return text


def build_report(findings: Mapping[str, Any], assessment: Mapping[str, Any], volume: Volume | None = None,
                 lesion: LesionFigures | None = None, enhancement: EnhancementFigures | None = None,
                 formal_gx_group: str | None = None, pre_volume: Volume | None = None) -> str:
    cfg = _cfg()
    labels, groups = _labels()
    w = _Writer(int(cfg.get("width", 78)))
    h = cfg["headings"]
    w.lines.append(cfg["title"])

    # -- TECHNIQUE ------------------------------------------------------------------------
    w.heading(h["technique"])
    for role, vol in (("Series measured", volume), ("Pre-contrast series", pre_volume)):
        if vol is None:
            continue
        meta = vol.meta or {}
        bits = [vol.modality or "unknown modality"]
        if vol.description:
            bits.append(f'"{vol.description}"')
        ph = phase_of(vol.description or "", meta.get("contrast_agent"))
        bits.append(f"{ph} phase" if ph else "phase not stated in the header")
        st = meta.get("slice_thickness_mm")
        if st:
            bits.append(f"slice thickness {_fmt(float(st), 1)} mm")
        bits.append(f"slice spacing {_fmt(vol.spacing_mm[0], 1)} mm, {vol.shape[0]} images")
        w.item(role, ", ".join(bits) + ".")
    if enhancement is not None and (enhancement.pre_mean is not None or enhancement.delta_hu is not None):
        r = f" ({_fmt(enhancement.radius_mm)} mm radius)" if enhancement.radius_mm else ""
        w.item("Enhancement", f"spherical ROI{r} on pre- and post-contrast images at the same patient point "
                              "after local registration.")
    if volume is None:
        w.para("Series not available to the export.")

    # -- FINDINGS -------------------------------------------------------------------------
    w.heading(h["findings"])
    gd = findings.get("greatest_dimension_mm")
    if lesion is not None and lesion.greatest_dimension_mm is not None and gd is None:
        gd = lesion.greatest_dimension_mm
    if gd is not None:
        src = _source(findings, "greatest_dimension_mm") or (
            "3D segmentation, largest distance between two lesion points" if lesion and lesion.endpoints else
            "findings document")
        text = f"Greatest dimension {_cm(gd)} ({_fmt(gd)} mm; source: {src})."
        if lesion is not None:
            dims = [(lesion.axial_long_mm, "axial long axis"), (lesion.axial_short_mm, "axial short axis"),
                    (lesion.craniocaudal_mm, "craniocaudal")]
            known = [(v, n) for v, n in dims if v is not None]
            if known:
                text += " Three dimensions " + " x ".join(_fmt(v) for v, _ in known) + " mm (" + \
                    ", ".join(n for _, n in known) + "; 3D segmentation)."
            if lesion.volume_ml is not None:
                text += f" Volume {_fmt(lesion.volume_ml)} ml (3D segmentation)."
            if lesion.mean_hu is not None and volume is not None and volume.unit == "HU":
                text += f" Mean attenuation {_fmt(lesion.mean_hu)} HU."
            if lesion.endpoints is not None:
                a, b = lesion.endpoints
                text += (" End points (LPS mm) " + "/".join(_fmt(x, 1) for x in a) + " to "
                         + "/".join(_fmt(x, 1) for x in b) + ".")
        w.item("Mass", text)
    else:
        w.item("Mass", "size not measured.")
    comp_ids = [i for i in groups.get(cfg["composition_group"], []) if i not in cfg["margin_ids"]]
    for label, ids in (("Composition", comp_ids), ("Margins", cfg["margin_ids"])):
        s = _checklist_sentence(findings, ids, labels)
        if s:
            w.item(label, s)
    rel_ids = [i for i in groups.get(cfg["relations_group"], []) if i not in cfg["ivc_ids"]]
    s = _checklist_sentence(findings, rel_ids, labels)
    if s:
        w.item("Location and relations", s)

    # IVC
    ivc_bits = []
    gp = findings.get("growth_pattern")
    if gp:
        ivc_bits.append(f"Growth pattern {cfg['growth_pattern_words'].get(gp, gp)}.")
    segs = assessment.get("ivc_segments")
    if segs:
        words = [cfg["ivc_segment_words"].get(str(s), f"segment {s}") for s in segs]
        ivc_bits.append("Intraluminal tumour involves IVC " + _join(words) + ".")
        ivc = findings.get("ivc") or {}
        if ivc.get("tumor_z_mm"):
            lo, hi = ivc["tumor_z_mm"]
            ivc_bits.append(f"Tumour extent z {_fmt(lo, 1)} to {_fmt(hi, 1)} mm"
                            + (f", renal-vein inflow z {_fmt(ivc['renal_vein_z_mm'], 1)} mm"
                               if ivc.get("renal_vein_z_mm") is not None else "")
                            + (f", hepatic-vein confluence z {_fmt(ivc['hepatic_vein_z_mm'], 1)} mm"
                               if ivc.get("hepatic_vein_z_mm") is not None else "") + ".")
    elif segs == []:
        ivc_bits.append("No intraluminal IVC tumour on the marked levels.")
    s = _checklist_sentence(findings, cfg["ivc_ids"], labels)
    if s:
        ivc_bits.append(s)
    if ivc_bits:
        w.item("IVC and vessels", " ".join(ivc_bits))

    # enhancement
    call = assessment.get("enhancement_call")
    enh_text = []
    delta = findings.get("enhancement_delta_hu")
    if enhancement is not None and enhancement.delta_hu is not None and delta is None:
        delta = enhancement.delta_hu
    if enhancement is not None and enhancement.pre_mean is not None and enhancement.post_mean is not None:
        enh_text.append(f"Solid component {_fmt(enhancement.pre_mean)} HU before and "
                        f"{_fmt(enhancement.post_mean)} HU after contrast")
    if delta is not None:
        if enh_text:
            enh_text.append(f"delta {_fmt(delta)} HU")
        else:
            enh_text.append(f"Solid component {_fmt(delta)} HU higher after contrast")
    pct = findings.get("enhancement_percent")
    if pct is not None:
        enh_text.append(f"MR relative enhancement {_fmt(pct)} %")
    line = ", ".join(enh_text)
    if call:
        line = (line + ": " if line else "") + cfg["enhancement_call_words"].get(call, call)
    if findings.get("enhancement_pattern"):
        line += f"; pattern {findings['enhancement_pattern'].replace('_', ' ')}"
    src = _source(findings, "enhancement_delta_hu")
    if src:
        line += f" (source: {src})"
    if line:
        w.item("Enhancement", line + ".")
    tc = assessment.get("thrombus_call")
    if tc:
        td = findings.get("thrombus_delta_hu")
        w.item("Thrombus", cfg["thrombus_call_words"].get(tc, tc)
               + (f" (defect enhancement {_fmt(td)} HU)" if td is not None else "") + ".")
    for label, gid in (("Spread", cfg["spread_group"]), ("Clinical", cfg["clinical_group"])):
        s = _checklist_sentence(findings, groups.get(gid, []), labels)
        if s:
            w.item(label, s)
    demo = []
    if findings.get("age_years") is not None:
        demo.append(f"age {_fmt(findings['age_years'])} years")
    if findings.get("sex"):
        demo.append(findings["sex"])
    if findings.get("grade"):
        demo.append(f"FNCLCC grade {findings['grade']} on biopsy")
    if demo:
        w.item("Patient factors", ", ".join(demo) + ".")

    # -- IMPRESSION -----------------------------------------------------------------------
    w.heading(h["impression"])
    n = 1
    t = assessment.get("t_category")
    if t:
        w.para(f"T category {t} (greatest dimension {_fmt(gd)} mm, "
               f"{cfg['t_category_words'].get(t, '')}; AJCC 8th, retroperitoneum).", indent="   ",
               first=f"{n}. ")
    else:
        w.para("T category unknown: greatest dimension not measured.", indent="   ", first=f"{n}. ")
    n += 1
    sg = assessment.get("stage_group")
    if sg:
        w.para(f"Stage group {sg}.", indent="   ", first=f"{n}. ")
    else:
        missing = [m.replace("_", " ") for m in assessment.get("stage_missing") or []]
        possible = assessment.get("stage_possible") or []
        txt = "Stage group not determined"
        if missing:
            txt += f"; missing: {_join(missing)}"
        if possible:
            txt += f". Possible groups: {_join(list(possible)).replace(' and ', ' or ')}"
        txt += "."
        if formal_gx_group and findings.get("grade") is None:
            txt += " " + cfg["gx_note"]["text"].format(group=formal_gx_group)
        w.para(txt, indent="   ", first=f"{n}. ")
    n += 1
    diffs = list(assessment.get("differentials") or [])[: int(cfg["differential_top"])]
    if diffs:
        w.para("Differential diagnosis, most likely first:", indent="   ", first=f"{n}. ")
        for k, d in enumerate(diffs, 1):
            prob = 100 * float(d.get("probability", 0))
            txt = f"{d.get('label', d.get('id'))} " + (f"{round(prob)} %" if prob >= 0.5 else "<1 %")
            if k <= int(cfg["differential_reasons_for"]):
                per = int(cfg["reasons_per_entry"])
                up = [_reason(r) for r in (d.get("raised_by") or [])[:per]]
                down = [_reason(r) for r in (d.get("lowered_by") or [])[:per]]
                if up:
                    txt += "; for: " + "; ".join(up)
                if down:
                    txt += "; against: " + "; ".join(down)
            w.para(txt + ".", indent="      ", first=f"   {chr(ord('a') + k - 1)}. ")

    # -- RECOMMENDATION -------------------------------------------------------------------
    w.heading(h["recommendation"])
    fu = cfg["follow_up"]
    w.para(fu["heading"])
    for it in fu["items"]:
        w.para(it, indent="    ", first="  - ")
    w.lines.append("")
    w.para(cfg["disclaimer"])
    return w.text()

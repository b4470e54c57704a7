"""Plain-text report a radiologist can paste into dictation (no markdown, ~78 columns).

Sections: TECHNIQUE, FINDINGS (prose, one paragraph per subject, nothing printed for what is not
known), IMPRESSION (surgical anatomy first: side, compartment, origin, relations, IVC extent; then
staging where it applies; then the differential as words with numbers) and RECOMMENDATION (the
core's cited recommendations, most urgent first). The dictation text carries no likelihood ratios
(the panel keeps the "why"), no probability of 0 or 100 %, and never states a sarcoma stage for a
mass that staging does not apply to. Wording is data in ``resources/report.json``; checklist labels
come from ``resources/checklist.json``. The report never names the patient.

Every section is a small function ``(ctx, writer) -> None`` over a :class:`_Ctx`, so each can be
read (and tested) on its own; :func:`build_report` only runs them in order.
"""
from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..phase import classify
from ..reasoning.rules import t_category
from ..reasoning.staging import size_text
from ..resources import load_json
from ..volume import Volume
from .sr import EnhancementFigures, LesionFigures

__all__ = ["build_report", "phase_of", "percent_text", "size_text_of"]


def _cfg() -> dict[str, Any]:
    cfg: dict[str, Any] = load_json("report.json")
    return cfg


def _labels() -> tuple[dict[str, str], dict[str, list[str]]]:
    ck = load_json("checklist.json")
    labels = {it["id"]: it["label"] for g in ck["groups"] for it in g["items"]}
    groups = {g["id"]: [it["id"] for it in g["items"]] for g in ck["groups"]}
    return labels, groups


def _fmt(v: float, nd: int = 0) -> str:
    s = f"{v:.{nd}f}"
    return "0" if s in ("-0", "-0.0") else s


def _source(findings: Mapping[str, Any], path: str) -> str | None:
    src = (findings.get("x_sources") or {}).get(path)
    if src is None:
        return None
    if isinstance(src, str):
        return src
    if isinstance(src.get("text"), str):
        return str(src["text"])
    return ", ".join(f"{k} {v}" for k, v in src.items())


_UNITS = re.compile(r"(?<=\d) ((?:HU|mm|ml|cm|years|images)\b|%)")


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

    def numbered(self, texts: Sequence[str]) -> None:
        for n, text in enumerate(texts, 1):
            self.para(text, indent="   ", first=f"{n}. ")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


# -- small wording helpers ------------------------------------------------------------------------
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


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def percent_text(p: float) -> str:
    """A probability as a percentage that is never 0 or 100 (``<1 %``, ``>99 %``)."""
    b = _cfg()["percent_bounds"]
    pct = 100.0 * float(p)
    if pct < b["low"]:
        return f"<{b['low']} %"
    if pct > b["high"]:
        return f">{b['high']} %"
    return f"{round(pct)} %"


def size_text_of(mm: float, assessment: Mapping[str, Any] | None = None) -> str:
    """``"10.04 cm (100.4 mm)"``: the size the T category was computed from, never rounded across a
    category boundary (the core's ``staging.size_text`` when given, else the core's rule)."""
    st = (assessment or {}).get("staging") or {}
    cm = st.get("size_text") if st.get("size_mm") == mm else None
    return f"{cm or size_text(mm)} ({_mm_text(mm)} mm)"


def _mm_text(mm: float) -> str:
    """mm to 0.1 mm (more only when rounding would cross a T boundary), no trailing zeros."""
    text = ""
    for nd in range(1, 5):
        text = _fmt(mm, nd).rstrip("0").rstrip(".")
        if t_category(float(text)) == t_category(mm):
            break
    return text


# -- context ---------------------------------------------------------------------------------------
@dataclass
class _Ctx:
    findings: Mapping[str, Any]
    assessment: Mapping[str, Any]
    volume: Volume | None
    pre_volume: Volume | None
    lesion: LesionFigures | None
    enhancement: EnhancementFigures | None
    formal_gx_group: str | None
    cfg: dict[str, Any] = field(default_factory=_cfg)
    labels: dict[str, str] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels, self.groups = _labels()

    @property
    def answers(self) -> Mapping[str, Any]:
        return self.findings.get("findings") or {}

    def yes(self, fid: str) -> bool:
        return self.answers.get(fid) is True

    def no(self, fid: str) -> bool:
        return self.answers.get(fid) is False

    def label(self, fid: str) -> str:
        return _lower(self.labels.get(fid, fid.replace("_", " ")))

    def greatest(self) -> float | None:
        gd = self.findings.get("greatest_dimension_mm")
        if gd is None and self.lesion is not None:
            gd = self.lesion.greatest_dimension_mm
        return None if gd is None else float(gd)

    def staging(self) -> Mapping[str, Any] | None:
        st = self.assessment.get("staging")
        return st if isinstance(st, Mapping) else None

    def intravascular(self) -> bool:
        return bool(self.assessment.get("ivc_extent") or self.yes("intravascular_component")
                    or self.findings.get("growth_pattern") in ("mixed", "intravascular"))


def _checklist_sentence(ctx: _Ctx, ids: Iterable[str]) -> str | None:
    ids = list(ids)
    present = [ctx.label(i) for i in ids if ctx.yes(i)]
    absent_words = ctx.cfg.get("absent_phrases", {})
    absent = [str(absent_words.get(i, ctx.label(i))) for i in ids if ctx.no(i)]
    parts = []
    if present:
        parts.append(_sentence(_join(present)))
    if absent:
        parts.append("No " + _join(absent, "or") + ".")
    return " ".join(parts) if parts else None


# -- TECHNIQUE -------------------------------------------------------------------------------------
def _series_line(vol: Volume) -> str:
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
    return ", ".join(bits) + "."


def _technique(ctx: _Ctx, w: _Writer) -> None:
    w.heading(ctx.cfg["headings"]["technique"])
    for role, vol in (("Series measured", ctx.volume), ("Pre-contrast series", ctx.pre_volume)):
        if vol is not None:
            w.item(role, _series_line(vol))
    e = ctx.enhancement
    if e is not None and (e.pre_mean is not None or e.delta_hu is not None):
        r = f" ({_fmt(e.radius_mm, 1).rstrip('0').rstrip('.')} mm radius)" if e.radius_mm else ""
        w.item("Enhancement", f"spherical ROI{r} on pre- and post-contrast images at the same patient "
                              "point after local registration.")
    if ctx.volume is None:
        w.para("Series not available to the export.")


# -- FINDINGS --------------------------------------------------------------------------------------
def _where_words(ctx: _Ctx) -> list[str]:
    phrases = ctx.cfg["compartment_phrases"]
    return [str(phrases[i]) for i in phrases if i != "source" and ctx.yes(i)]


def _mass_dimensions(lesion: LesionFigures) -> list[str]:
    out = []
    dims = [(lesion.axial_long_mm, "axial long axis"), (lesion.axial_short_mm, "axial short axis"),
            (lesion.craniocaudal_mm, "craniocaudal")]
    known = [(v, n) for v, n in dims if v is not None]
    if known:
        out.append("It measures " + " x ".join(_fmt(v) for v, _ in known) + " mm ("
                   + ", ".join(n for _, n in known) + "; 3D segmentation).")
    if lesion.volume_ml is not None:
        out.append(f"Volume {_fmt(lesion.volume_ml)} ml.")
    return out


def _mass_paragraph(ctx: _Ctx) -> str | None:
    gd = ctx.greatest()
    side = ctx.cfg["side_words"].get(ctx.findings.get("side") or "", "")
    where = _where_words(ctx)
    head = ("A " + (f"{side} " if side else "") + "retroperitoneal mass"
            + (" " + _join(where) if where else ""))
    if ctx.findings.get("resected") is True:
        return _resected_mass(ctx, side, gd)
    if gd is None:
        return head + "; its size was not measured."
    src = _source(ctx.findings, "greatest_dimension_mm") or (
        "3D segmentation" if ctx.lesion and ctx.lesion.endpoints else "findings document")
    parts = [f"{head}, {size_text_of(gd, ctx.assessment)} in greatest dimension (source: {src})."]
    lesion = ctx.lesion
    if lesion is not None:
        parts += _mass_dimensions(lesion)
        if lesion.mean_hu is not None and ctx.volume is not None and ctx.volume.unit == "HU":
            parts.append(f"Mean attenuation {_fmt(lesion.mean_hu)} HU.")
    return " ".join(parts)


def _resected_mass(ctx: _Ctx, side: str, gd: float | None) -> str:
    """Follow-up after resection: the resected tumour is history, a measured mass is new."""
    words = ctx.cfg["resected_words"]
    what = _tissue_words(ctx) or words["tumour"]
    text: str = str(words["history"]).format(side=f"{side} " if side else "", what=what)
    if gd is None:
        return text + " " + str(words["no_mass"])
    return text + " " + str(words["mass"]).format(size=size_text_of(gd, ctx.assessment))


def _tissue_words(ctx: _Ctx) -> str | None:
    h = ctx.findings.get("histology")
    if not h:
        return None
    return str(ctx.cfg["histology_words"].get(h) or _differential_label(ctx, h))


def _composition_paragraph(ctx: _Ctx) -> str | None:
    margins = list(ctx.cfg["margin_ids"])
    comp = [i for i in ctx.groups.get(ctx.cfg["composition_group"], []) if i not in margins]
    parts = [s for s in (_checklist_sentence(ctx, comp), _checklist_sentence(ctx, margins)) if s]
    return " ".join(parts) or None


def _enhancement_numbers(ctx: _Ctx) -> str:
    e, f = ctx.enhancement, ctx.findings
    delta = f.get("enhancement_delta_hu")
    if delta is None and e is not None:
        delta = e.delta_hu
    if e is not None and e.pre_mean is not None and e.post_mean is not None:
        text = f"The solid component measures {_fmt(e.pre_mean)} HU before and {_fmt(e.post_mean)} HU after contrast"
        return text + (f", delta {_fmt(delta)} HU" if delta is not None else "")
    if delta is not None:
        return f"The solid component is {_fmt(delta)} HU higher after contrast"
    if f.get("enhancement_percent") is not None:
        return f"MR relative enhancement of the solid component {_fmt(f['enhancement_percent'])} %"
    return ""


def _enhancement_paragraph(ctx: _Ctx) -> str | None:
    line = _enhancement_numbers(ctx)
    call = ctx.assessment.get("enhancement_call")
    if call:
        line = (line + ": " if line else "") + ctx.cfg["enhancement_call_words"].get(call, call)
    pattern = ctx.findings.get("enhancement_pattern")
    pattern_words = ctx.cfg["enhancement_pattern_words"].get(pattern, pattern.replace("_", " ")) if pattern else ""
    if pattern_words:
        line += ("; " if line else "") + pattern_words
    src = _source(ctx.findings, "enhancement_delta_hu")
    if line and src:
        line += f" (source: {src})"
    return _sentence(line) if line else None


def _relation_phrases(ctx: _Ctx, ids: Sequence[str]) -> list[str]:
    rp = ctx.cfg["relation_phrases"]
    vessels = rp["vessels_ivc"] if ctx.intravascular() else rp["vessels_any"]
    out = []
    for fid in ids:
        if ctx.yes(fid) and fid in rp["yes"]:
            out.append(rp["yes"][fid].format(vessels=vessels))
        elif ctx.no(fid) and fid in rp["no"]:
            out.append(rp["no"][fid])
    return out


def _origin_phrases(ctx: _Ctx) -> list[str]:
    op = ctx.cfg["origin_phrases"]
    out = [str(op["yes"][i]) for i in op["yes"] if ctx.yes(i)]
    out += [str(op["no"][i]) for i in op["no"] if ctx.no(i)]
    return out


def _phrased_ids(ctx: _Ctx) -> set[str]:
    """Checklist ids the report words itself (compartment, origin, relations, vessels)."""
    cfg = ctx.cfg
    rp, op = cfg["relation_phrases"], cfg["origin_phrases"]
    return (set(cfg["relation_ids_for_vessels"]) | set(cfg["compartment_phrases"]) | set(op["yes"])
            | set(op["no"]) | set(rp["yes"]) | set(rp["no"]))


def _relations_paragraph(ctx: _Ctx) -> str | None:
    rp = ctx.cfg["relation_phrases"]
    vessel = set(ctx.cfg["relation_ids_for_vessels"])
    phrased = [i for i in {**rp["yes"], **rp["no"]} if i not in vessel]
    phrases = _origin_phrases(ctx) + _relation_phrases(ctx, phrased)
    covered = _phrased_ids(ctx)
    rest = [i for i in ctx.groups.get(ctx.cfg["relations_group"], []) if i not in covered]
    parts = [_sentence("The mass " + _join(phrases)) if phrases else None, _checklist_sentence(ctx, rest)]
    return " ".join(p for p in parts if p) or None


def _vessels_paragraph(ctx: _Ctx) -> str | None:
    cfg = ctx.cfg
    bits: list[str] = []
    gp = ctx.findings.get("growth_pattern")
    if gp:
        bits.append(f"Growth pattern {cfg['growth_pattern_words'].get(gp, gp)}.")
    ext = ctx.assessment.get("ivc_extent")
    if isinstance(ext, Mapping) and ext.get("text"):
        bits.append(str(ext["text"]))        # names the segments itself
    else:
        bits += _segments_sentence(ctx)
    vessel_phrases = _relation_phrases(ctx, [i for i in cfg["relation_ids_for_vessels"]
                                             if i in cfg["relation_phrases"]["yes"]])
    if vessel_phrases:
        bits.append(_sentence("The mass " + _join(vessel_phrases)))
    others = [i for i in cfg["relation_ids_for_vessels"] if i not in cfg["relation_phrases"]["yes"]
              and i not in cfg["origin_phrases"]["yes"]]
    s = _checklist_sentence(ctx, others)
    if s:
        bits.append(s)
    tc = ctx.assessment.get("thrombus_call")
    if tc:
        td = ctx.findings.get("thrombus_delta_hu")
        bits.append(_sentence(cfg["thrombus_call_words"].get(tc, tc)
                              + (f" (defect enhancement {_fmt(td)} HU)" if td is not None else "")))
    return " ".join(bits) or None


def _bland(ctx: _Ctx) -> bool:
    """The only intraluminal finding is a non-enhancing defect (the core's ``ivc_extent.kind``)."""
    ext = ctx.assessment.get("ivc_extent")
    return isinstance(ext, Mapping) and ext.get("kind") == "bland_thrombus"


def _segments_sentence(ctx: _Ctx) -> list[str]:
    segs = ctx.assessment.get("ivc_segments")
    if segs:
        words = [ctx.cfg["ivc_segment_words"].get(str(s), f"segment {s}") for s in segs]
        lead = ctx.cfg["ivc_segments_lead"]["bland_thrombus" if _bland(ctx) else "tumour"]
        return [str(lead) + " " + _join(words) + "."]
    if segs == []:
        return ["No intraluminal IVC tumour on the marked levels."]
    return []


def _spread_paragraph(ctx: _Ctx) -> str | None:
    ids = [i for i in ctx.groups.get(ctx.cfg["spread_group"], []) if i != "hydronephrosis"]
    return _checklist_sentence(ctx, ids)


def _clinical_paragraph(ctx: _Ctx) -> str | None:
    f = ctx.findings
    demo = []
    if f.get("age_years") is not None:
        demo.append(f"age {_fmt(f['age_years'])} years")
    if f.get("sex"):
        demo.append(str(f["sex"]))
    if f.get("histology"):
        demo.append(f"histology {_differential_label(ctx, f['histology'])}")
    if f.get("grade"):
        demo.append(f"FNCLCC grade {f['grade']} on biopsy")
    if f.get("resected") is True:
        demo.append("the mass has been resected")
    parts = [_sentence(", ".join(demo)) if demo else None,
             _checklist_sentence(ctx, ctx.groups.get(ctx.cfg["clinical_group"], []))]
    return " ".join(p for p in parts if p) or None


def _differential_label(ctx: _Ctx, dx: str) -> str:
    for d in ctx.assessment.get("differentials") or []:
        if d.get("id") == dx:
            return _lower(str(d.get("label", dx)))
    return dx.replace("_", " ")


_PARAGRAPHS: tuple[tuple[str, Callable[[_Ctx], str | None]], ...] = (
    ("mass", _mass_paragraph), ("composition", _composition_paragraph),
    ("enhancement", _enhancement_paragraph), ("relations", _relations_paragraph),
    ("vessels", _vessels_paragraph), ("spread", _spread_paragraph), ("clinical", _clinical_paragraph),
)


def _findings(ctx: _Ctx, w: _Writer) -> None:
    w.heading(ctx.cfg["headings"]["findings"])
    for key, make in _PARAGRAPHS:
        text = make(ctx)
        if text:
            w.item(ctx.cfg["finding_labels"][key], text)


# -- IMPRESSION ------------------------------------------------------------------------------------
def _anatomy_impression(ctx: _Ctx) -> str:
    side = ctx.cfg["side_words"].get(ctx.findings.get("side") or "", "")
    gd = ctx.greatest()
    if ctx.findings.get("resected") is True:
        return _resected_mass(ctx, side, gd)
    head = (f"{side} " if side else "") + "retroperitoneal mass"
    if gd is not None:
        head += f", {size_text_of(gd, ctx.assessment)}"
    where = _where_words(ctx)
    if where:
        head += ", " + _join(where)
    rp = ctx.cfg["relation_phrases"]
    rel = _origin_phrases(ctx) + _relation_phrases(ctx, list({**rp["yes"], **rp["no"]}))
    return _sentence(head + ("; it " + _join(rel) if rel else ""))


def _ivc_impression(ctx: _Ctx) -> str | None:
    ext = ctx.assessment.get("ivc_extent")
    if not isinstance(ext, Mapping):
        segs = _segments_sentence(ctx)
        return segs[0] if segs and ctx.assessment.get("ivc_segments") else None
    words = ctx.cfg["ivc_impression"]
    pre = "bland_" if _bland(ctx) else ""
    parts = _extent_parts(ext, words, pre)
    if not ext.get("mapped") and ext.get("segment_names"):
        parts.append(_join([str(n) for n in ext["segment_names"]]))
    if ext.get("level") is not None:
        side = ext.get("side") or ""
        primary = words["primary_words"].get(side) or words["primary_words"][""]
        parts.append(words["level_primary"].format(primary=primary, level=ext["level"],
                                                   label=ext.get("level_label") or ""))
    return _sentence("; ".join(parts))


def _extent_parts(ext: Mapping[str, Any], words: Mapping[str, Any], pre: str) -> list[str]:
    """The lead and the ends; a renal primary's level-0 thrombus is named in the renal vein, not the IVC."""
    if not ext.get("mapped"):
        return [str(words[pre + "unmapped"])]
    if ext.get("level") == "0" and words.get("renal_vein_lead"):
        return _mapped_parts({**ext, "segments": [], "segment_names": []}, words["renal_vein_lead"])
    return _mapped_parts(ext, words[pre + "lead"])


def _mapped_parts(ext: Mapping[str, Any], lead: str) -> list[str]:
    segs = ext.get("segments") or []
    names = ext.get("segment_names") or []
    parts = [str(lead) + (_named_segments(segs, names) if names else _segments_words(segs))]
    cranial = _ends_words(ext.get("cranial_end") or {})
    if cranial:
        parts.append("cranial end " + cranial)
    caudal = (ext.get("caudal_end") or {}).get("from_renal_veins_mm")
    if caudal is not None:
        parts.append("caudal end " + _rel_words(caudal, "renal veins"))
    return parts


def _named_segments(segs: Sequence[int], names: Sequence[str]) -> str:
    """`` (segment 2, suprarenal-infrahepatic IVC)``: the segments with their surgical names."""
    if not segs:
        return " (" + _join([str(n) for n in names]) + ")"
    head = f"segment{'s' if len(segs) > 1 else ''} {_join([str(s) for s in segs])}"
    return f" ({head}: {'; '.join(str(n) for n in names)})"


def _segments_words(segs: Sequence[int]) -> str:
    if not segs:
        return ""
    return f" (segment{'s' if len(segs) > 1 else ''} {_join([str(s) for s in segs])})"


def _rel_words(mm: float, name: str) -> str:
    if abs(mm) < 0.05:
        return f"at the {name}"
    return f"{abs(mm) / 10:.1f} cm {'above' if mm > 0 else 'below'} the {name}"


def _ends_words(end: Mapping[str, Any]) -> str:
    names = (("from_renal_veins_mm", "renal veins"), ("from_hepatic_veins_mm", "hepatic veins"),
             ("from_right_atrium_mm", "cavo-atrial junction"))
    return ", ".join(_rel_words(float(end[k]), n) for k, n in names if end.get(k) is not None)


def _t_words(ctx: _Ctx, t: str) -> str:
    return str(ctx.cfg["t_category_words"].get(t.lstrip("c"), ""))


def _staging_impression(ctx: _Ctx) -> str | None:
    st = ctx.staging()
    if st is None:
        return _legacy_staging(ctx)
    words = ctx.cfg["staging_words"]
    if ctx.findings.get("resected") is True:
        return _sentence(str(st.get("note") or words["not_applies"]))
    if not st.get("applies"):
        text = _sentence(str(st.get("note") or words["not_applies"]))
        kidney = _kidney_staging(ctx, st.get("kidney"))
        if (st.get("conditional") and _top_id(ctx) not in words["no_conditional_when_leads"]
                and not ctx.findings.get("histology") and (kidney is None or st.get("sarcoma_plausible"))):
            text += f" Only if histology shows a sarcoma: {str(st['conditional']).split(':', 1)[-1].strip()}."
        return _sentence(text) + (f" {kidney}" if kidney else "")
    return _applied_staging(ctx, st)


def _kidney_staging(ctx: _Ctx, k: Any) -> str | None:
    """The conditional clinical kidney T of a renal primary (core ``staging.kidney``), what is
    missing to narrow it, and the adrenal alternative."""
    if not isinstance(k, Mapping) or not k.get("t_possible"):
        return None
    w = ctx.cfg["kidney_staging_words"]
    lead = str(w["lead"]).format(classification=k.get("classification", ""), applies_if=k.get("applies_if", ""))
    facts = "; ".join(str(x) for x in k.get("facts") or ())
    if k.get("t"):
        text = str(w["known"]).format(lead=lead, t=k["t"], facts=facts)
    else:
        text = str(w["open"]).format(lead=lead, at_least=k.get("t_at_least"),
                                     possible=_join([str(c) for c in k["t_possible"]], "or"), facts=facts)
    if k.get("missing_text"):
        text += " " + str(w["missing"]).format(missing=_join([str(m) for m in k["missing_text"]]))
    if k.get("note"):
        text += " " + _sentence(str(k["note"]))
    return text


def _top_id(ctx: _Ctx) -> str | None:
    diffs = ctx.assessment.get("differentials") or []
    return str(diffs[0].get("id")) if diffs else None


def _applied_staging(ctx: _Ctx, st: Mapping[str, Any]) -> str:
    words = ctx.cfg["staging_words"]
    t = st.get("t")
    label = st.get("label") or " ".join(x for x in (t, st.get("n"), st.get("m")) if x)
    text = f"{words['applies']}: {label}"
    gd = ctx.greatest()
    if t and gd is not None:
        text += f" ({size_text_of(gd, ctx.assessment).split(' (')[0]}, {_t_words(ctx, t)})"
    text += ". " + _stage_group_text(ctx, st.get("stage_group"), st.get("stage_possible") or [])
    if st.get("note"):
        text += " " + _sentence(str(st["note"]))
    return text


def _stage_group_text(ctx: _Ctx, group: str | None, possible: Sequence[str]) -> str:
    if group:
        return f"Stage group {group}."
    mw = ctx.cfg["stage_missing_words"]
    missing = [str(mw.get(m, m.replace("_", " "))) for m in ctx.assessment.get("stage_missing") or []]
    txt = "Stage group not determined"
    if missing:
        txt += f"; missing: {_join(missing)}"
    if possible:
        txt += f". Possible groups: {_join(list(possible), 'or')}"
    txt += "."
    if ctx.formal_gx_group and ctx.findings.get("grade") is None:
        txt += " " + ctx.cfg["gx_note"]["text"].format(group=ctx.formal_gx_group)
    return txt


def _legacy_staging(ctx: _Ctx) -> str | None:
    """An assessment without ``staging`` (older core): a T category only if a sarcoma leads."""
    diffs = ctx.assessment.get("differentials") or []
    t = ctx.assessment.get("t_category")
    if not t or not diffs or "sarcoma" not in str(diffs[0].get("id", "")):
        return None
    return _applied_staging(ctx, {"t": f"c{t}", "stage_group": ctx.assessment.get("stage_group"),
                                  "stage_possible": ctx.assessment.get("stage_possible") or []})


def _word_of(ctx: _Ctx, rank: int, d: Mapping[str, Any]) -> str:
    if d.get("likelihood_word"):
        return str(d["likelihood_word"])
    p = float(d.get("probability", 0.0))
    for band in ctx.cfg["probability_words"]["bands"]:
        if p >= band["min_p"] and (rank == 0 or not band.get("top_only")):
            return str(band["word"])
    return "unlikely"


def _differential_impression(ctx: _Ctx) -> str | None:
    diffs = list(ctx.assessment.get("differentials") or [])[: int(ctx.cfg["differential_top"])]
    if not diffs:
        return None
    dw = ctx.cfg["differential_words"]
    tissue = _tissue_words(ctx)
    if tissue:
        return str(dw["tissue"]).format(what=tissue)
    if (ctx.staging() or {}).get("basis") == "no findings":
        return str(dw["nothing_recorded"])
    grouped: dict[str, list[str]] = {}
    for k, d in enumerate(diffs):
        entry = f"{d.get('label', d.get('id'))} ({percent_text(float(d.get('probability', 0)))})"
        grouped.setdefault(_word_of(ctx, k, d), []).append(entry)
    parts = [f"{word}: {', '.join(entries)}" for word, entries in grouped.items()]
    return "Differential diagnosis. " + _sentence("; ".join(parts))


def _impression(ctx: _Ctx, w: _Writer) -> None:
    w.heading(ctx.cfg["headings"]["impression"])
    urgent = ctx.cfg["urgent_findings"]
    items: list[str | None] = [str(urgent[i]) for i in urgent if i != "source" and ctx.yes(i)]
    items += [_anatomy_impression(ctx), _ivc_impression(ctx), _staging_impression(ctx),
              _differential_impression(ctx)]
    w.numbered([i for i in items if i])


# -- RECOMMENDATION --------------------------------------------------------------------------------
def _recommendation(ctx: _Ctx, w: _Writer) -> None:
    w.heading(ctx.cfg["headings"]["recommendation"])
    recs = ctx.assessment.get("recommendations")
    if recs is None:
        _legacy_follow_up(ctx, w)
        return
    if not recs:
        w.para(ctx.cfg["no_recommendation"])
        return
    word = ctx.cfg["recommendation_source_word"]
    for n, r in enumerate(recs, 1):
        text = str(r.get("text", "")).strip()
        if r.get("reason"):
            text += f" {_sentence(str(r['reason']))}"
        if r.get("source"):
            text += f" ({word}: {r['source']})"
        w.para(text, indent="   ", first=f"{n}. ")


def _legacy_follow_up(ctx: _Ctx, w: _Writer) -> None:
    """No recommendations from the core: the sarcoma schedule only after a resection."""
    if ctx.findings.get("resected") is not True:
        w.para(ctx.cfg["no_recommendation"])
        return
    fu = ctx.cfg["follow_up"]
    w.para(fu["heading"])
    for it in fu["items"]:
        w.para(it, indent="    ", first="  - ")


# -- the report ------------------------------------------------------------------------------------
_SECTIONS: tuple[Callable[[_Ctx, _Writer], None], ...] = (_technique, _findings, _impression, _recommendation)


def build_report(findings: Mapping[str, Any], assessment: Mapping[str, Any], volume: Volume | None = None,
                 lesion: LesionFigures | None = None, enhancement: EnhancementFigures | None = None,
                 formal_gx_group: str | None = None, pre_volume: Volume | None = None) -> str:
    """The report text for a findings document and its ``assess`` dict (see the module doc)."""
    ctx = _Ctx(findings, assessment, volume, pre_volume, lesion, enhancement, formal_gx_group)
    w = _Writer(int(ctx.cfg.get("width", 78)))
    w.lines.append(ctx.cfg["title"])
    for section in _SECTIONS:
        section(ctx, w)
    w.lines.append("")
    w.para(ctx.cfg["disclaimer"])
    return w.text()

"""Export of one reviewed study: ``findings.json``, ``report.txt`` and ``report-sr.dcm``.

:func:`export_study` builds all three in memory first (so a failure while building touches no
file), then writes them with :func:`workstation.atomic.atomic_write_many`: every temporary file is
written and fsync-ed before any is renamed into place, so each final name holds either its previous
version or the new one, never a partial file.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..atomic import atomic_write_many
from ..errors import InputError
from ..measure.model import Measurement
from ..volume import Volume
from .deid import Deidentifier
from .report import build_report
from .sr import EnhancementFigures, LesionFigures, build_sr, evidence_of, read_sr, sr_bytes

__all__ = ["export_study", "render_report", "assess_dict", "read_sr", "FILES"]

log = logging.getLogger(__name__)

#: file names written into the output folder (cli.md)
FILES = {"findings": "findings.json", "report": "report.txt", "sr": "report-sr.dcm"}


def _validated(findings: Any) -> dict[str, Any]:
    """The findings document as a validated plain dict (FindingsError names the field)."""
    from ..reasoning.findings import Findings

    if isinstance(findings, Findings):
        return findings.to_dict()
    return Findings.from_dict(findings).to_dict()


def assess_dict(findings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``assess --json`` document for a findings dict."""
    from ..reasoning.findings import Findings

    f = Findings.from_dict(findings)
    try:
        from ..reasoning.ranking import assess
    except ImportError:  # ranking not installed: the rule results alone, no differential
        from ..reasoning.rules import apply_rules

        log.warning("export: workstation.reasoning.ranking is not available; report has no differential")
        r = apply_rules(f)
        return {"t_category": r.t_category, "stage_group": r.stage.group,
                "stage_missing": list(r.stage.missing), "stage_possible": list(r.stage.possible),
                "ivc_segments": r.ivc_segments, "enhancement_call": r.enhancement_call,
                "thrombus_call": r.thrombus_call, "differentials": []}
    return assess(f).to_dict()


def _formal_gx_group(findings: Mapping[str, Any], assessment: Mapping[str, Any]) -> str | None:
    """AJCC files an unknown grade with G1: the group that gives, when only the grade is missing."""
    if findings.get("grade") is not None or assessment.get("stage_group"):
        return None
    from ..reasoning.rules import stage

    ans = findings.get("findings") or {}
    st = stage(assessment.get("t_category"), ans.get("lymph_node_metastases"), ans.get("distant_metastases"), 1)
    return st.group


def render_report(findings: Mapping[str, Any], volume: Volume | None = None, lesion: Any = None,
                  enhancement: Any = None, *, pre_volume: Volume | None = None) -> str:
    """The plain-text dictation report for a findings document (what ``report.txt`` holds).

    ``findings`` is validated first (FindingsError names the field); ``lesion`` / ``enhancement``
    as for :func:`export_study`.
    """
    doc = _validated(findings)
    assessment = assess_dict(doc)
    return build_report(doc, assessment, volume, LesionFigures.from_any(lesion),
                        EnhancementFigures.from_any(enhancement),
                        formal_gx_group=_formal_gx_group(doc, assessment), pre_volume=pre_volume)


def _phi_of(volume: Volume) -> list[str]:
    meta = volume.meta or {}
    out = [meta.get("patient_name"), meta.get("patient_id"), meta.get("patient_birth_date")]
    for h in meta.get("headers") or ():
        out += [h.get("PatientName"), h.get("PatientID"), h.get("PatientBirthDate")]
    return [str(v) for v in out if v]


def export_study(findings: Any, volume: Volume, out_dir: str | os.PathLike,
                 measurements: Iterable[Measurement] = (), lesion: Any = None, enhancement: Any = None,
                 deidentify: bool = False, *, pre_volume: Volume | None = None,
                 salt: str | None = None) -> dict[str, Path]:
    """Write ``findings.json``, ``report.txt`` and ``report-sr.dcm`` into ``out_dir``.

    ``findings``: an rp-findings/1 dict (or ``Findings``); validated, FindingsError names the field.
    ``volume``: the series measured (its ``meta['headers']`` are the SR's evidence).
    ``measurements``: calipers, ellipses, landmarks (and a Lesion3D) to put into the SR.
    ``lesion``: a LesionResult / Lesion3D / dict with the 3D figures; ``enhancement``: an
    EnhancementResult / dict with pre and post means and the delta.
    ``deidentify``: PS3.15 basic profile, names/IDs/birth dates removed, UIDs remapped consistently
    (``salt`` fixes the mapping; default: a fresh random salt per export).
    Returns ``{"findings": path, "report": path, "sr": path}``.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    doc = _validated(findings)
    measurements = list(measurements)
    lesion_fig = LesionFigures.from_any(lesion)
    enh_fig = EnhancementFigures.from_any(enhancement)

    evidence = evidence_of(volume)
    for_uid = volume.meta.get("frame_of_reference_uid") or getattr(evidence[0], "FrameOfReferenceUID", None)
    if deidentify:
        deid = Deidentifier(salt if salt is not None else secrets.token_hex(16), phi=_phi_of(volume))
        evidence = [deid.dataset(h) for h in evidence]
        for_uid = deid.uid(for_uid) if for_uid else for_uid
        doc = deid.scrub_findings(doc)
        measurements = [Measurement.from_dict(json.loads(deid.scrub_text(json.dumps(m.to_dict()))))
                        for m in measurements]
    assessment = assess_dict(doc)

    report = render_report(doc, volume, lesion_fig, enh_fig, pre_volume=pre_volume)
    sr = build_sr(doc, volume, measurements, lesion_fig, enh_fig, assessment,
                  evidence=evidence, frame_of_reference_uid=for_uid)
    if deidentify:
        report = deid.scrub_text(report)
        deid.mark(sr)
    payload = {
        out / FILES["findings"]: (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode("utf-8"),
        out / FILES["report"]: report.encode("utf-8"),
        out / FILES["sr"]: sr_bytes(sr),
    }
    atomic_write_many(payload)
    return {k: out / v for k, v in FILES.items()}

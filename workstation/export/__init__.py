"""Export of one reviewed study as a set: ``findings.json``, ``report.txt``, ``report-sr.dcm``,
``lesion-seg.dcm`` (when a lesion was grown) and ``manifest.json``.

:func:`export_study` builds every file in memory first (so a failure while building touches no
file), then commits them together with :func:`workstation.atomic.commit_set`: written into a
staging folder inside the target, moved into place, committed by ``manifest.json`` (names, sizes,
sha256, the study key, the export time). A kill at any point leaves the previous set or the new one
once the next export (or :func:`read_export`) has cleaned up; no temporary file survives that. A
folder holding another study's export is refused (:class:`ExportConflict`) unless ``force``.

De-identification (``deidentify=True``): one :class:`~workstation.export.deid.Deidentifier` per
export learns the source headers' identifying values; the SR and SEG builders get the original
headers, and every DICOM object they return goes through
:func:`~workstation.export.deid.deidentify_dataset` with that one salted UID map; the findings
document and the report are scrubbed with the same map, and checked afterwards.
"""
from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from .. import __version__
from ..atomic import MANIFEST, SetConflict, commit_set, read_set
from ..errors import WorkstationError
from ..measure.model import Measurement
from ..volume import Volume
from .deid import Deidentifier, deidentify_dataset, without_label
from .report import build_report
from .seg import SEG_FILE, export_seg, seg_bytes
from .sr import EnhancementFigures, LesionFigures, build_sr, evidence_of, read_sr, sr_bytes

__all__ = ["export_study", "render_report", "assess_dict", "read_sr", "read_export", "FILES",
           "ExportConflict", "study_key"]

log = logging.getLogger(__name__)

#: file names written into the output folder (cli.md; cli-v2.md adds the SEG); the set's
#: ``manifest.json`` is returned under ``"manifest"``
FILES = {"findings": "findings.json", "report": "report.txt", "sr": "report-sr.dcm", "seg": SEG_FILE}


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


def _secret() -> bytes:
    """This installation's key for study keys (owner-only file in the state folder), so that a
    manifest's study key cannot be matched to a study UID elsewhere; a per-process key when the
    state folder cannot be written (a folder from another run then counts as another study).
    Cached per state folder: another folder (``WORKSTATION_STATE_DIR``) has its own key."""
    from ..logs import state_root

    root = state_root()
    key = _SECRETS.get(root)
    if key is None:
        key = _SECRETS[root] = _read_or_make_secret(root)
    return key


def _read_or_make_secret(root: Path) -> bytes:
    """The key file's bytes; made whole under a temporary name and linked into place, so that a
    second process never reads a half-written key."""
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = root / "export-key"
        if not path.exists():
            tmp = root / f".export-key.{secrets.token_hex(6)}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        data = path.read_bytes()
        if len(data) < 16:
            raise OSError("short key")
        return data
    except OSError:
        return secrets.token_bytes(32)


_SECRETS: dict[Path, bytes] = {}


def study_key(study_uid: str) -> str:
    """The key that tells one study's exports from another's (a keyed hash of the Study
    Instance UID: never the UID itself, also in a de-identified set)."""
    return hmac.new(_secret(), f"study\0{study_uid}".encode(), hashlib.sha256).hexdigest()[:32]


class ExportConflict(SetConflict):
    """The output folder holds another study's export (CLI: ``--force``; app: a question)."""


def _study_uid(volume: Volume, evidence: list[Dataset]) -> str:
    uid = (volume.meta or {}).get("study_uid") or getattr(evidence[0], "StudyInstanceUID", "")
    return str(uid or "")


#: largest SR read to tell the study of an export without a manifest (project judgement)
_LEGACY_SR_MAX = 64 << 20


def _legacy_owner(folder: Path) -> str | None:
    """Study key of an export written before manifests (None: no export of ours in the folder;
    "": one whose study cannot be told, e.g. de-identified)."""
    import stat

    names = [n for n in FILES.values() if os.path.lexists(folder / n)]
    if not names:
        return None
    sr = folder / FILES["sr"]
    try:
        st = sr.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > _LEGACY_SR_MAX:
            return ""  # a FIFO, device, link or huge file under the SR's name: never read it
        import pydicom

        ds = pydicom.dcmread(sr, stop_before_pixels=True, specific_tags=["StudyInstanceUID", "PatientIdentityRemoved"])
    except Exception:  # noqa: BLE001 - any unreadable file: the owner cannot be told
        return ""
    if str(ds.get("PatientIdentityRemoved", "")).upper() == "YES" or not ds.get("StudyInstanceUID"):
        return ""
    return study_key(str(ds.StudyInstanceUID))


def read_export(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a complete export set in ``folder`` (after finishing or cleaning an
    interrupted export); :class:`~workstation.atomic.SetError` when it is missing or incomplete."""
    return read_set(folder)


def _report_view(volume: Volume | None) -> Volume | None:
    """The volume as a de-identified report may describe it: the free-text series description
    replaced by the contrast phase it names (the phase is all the report needs from it)."""
    if volume is None:
        return None
    from ..phase import classify

    meta = volume.meta or {}
    phase = classify(volume.description or "", meta.get("contrast_agent"))
    view = copy.copy(volume)
    view.description = f"{phase} phase" if phase and classify(f"{phase} phase") == phase else ""
    view.meta = {k: meta[k] for k in ("contrast_agent", "slice_thickness_mm") if k in meta}
    return view


def _seg_and_stats(volume: Volume, measurements: list[Measurement],
                   masks: Mapping[str, np.ndarray] | None) -> tuple[Dataset | None, dict[str, Any]]:
    seg, stats = export_seg(volume, measurements, masks)
    return seg, dict(stats)


def export_study(findings: Any, volume: Volume, out_dir: str | os.PathLike[str],
                 measurements: Iterable[Measurement] = (), lesion: Any = None, enhancement: Any = None,
                 deidentify: bool = False, *, pre_volume: Volume | None = None,
                 salt: str | None = None, force: bool = False,
                 masks: Mapping[str, np.ndarray] | None = None, seg: bool = True) -> dict[str, Path]:
    """Write the export set into ``out_dir``: ``findings.json``, ``report.txt``, ``report-sr.dcm``,
    ``lesion-seg.dcm`` (when ``measurements`` hold a grown lesion and ``seg``) and ``manifest.json``.

    ``findings``: an rp-findings/1 dict (or ``Findings``); validated, FindingsError names the field.
    ``volume``: the series measured (its ``meta['headers']`` are the SR's evidence and the SEG's
    source images). ``measurements``: calipers, ellipses, landmarks and Lesion3D records.
    ``lesion``: a LesionResult / Lesion3D / dict with the 3D figures; ``enhancement``: an
    EnhancementResult / dict with pre and post means and the delta. ``masks``: lesion masks by
    Lesion3D id (a lesion without one is grown again from its seed).
    ``deidentify``: PS3.15 basic profile by allow-list, one salted UID map for the whole set
    (``salt`` fixes it; default: a fresh random salt per export).
    ``force``: replace another study's export in ``out_dir`` (else :class:`ExportConflict`).
    Returns name -> path for every file of the set (``"manifest"`` included).
    """
    out = Path(out_dir)
    doc = _validated(findings)
    measurements = list(measurements)
    evidence = evidence_of(volume)
    deid = Deidentifier(salt, sources=evidence) if deidentify else None
    if deid is not None:
        deid.add_phi(volume.description, descriptive=True)
        for k in ("patient_name", "patient_id", "patient_birth_date", "study_date"):
            deid.add_phi((volume.meta or {}).get(k), person=k == "patient_name")
        doc = deid.scrub_findings(doc)
        measurements = [without_label(m) for m in measurements]  # reader-typed labels can name anyone
        lesion = without_label(lesion)
    assessment = assess_dict(doc)
    seg_ds, stats = _seg_and_stats(volume, measurements, masks) if seg else (None, {})
    sr = build_sr(doc, volume, measurements, lesion, enhancement, assessment,
                  segmentation=seg_ds, lesion_stats=stats)
    objects: dict[str, Dataset] = {"sr": sr} | ({"seg": seg_ds} if seg_ds is not None else {})
    if deid is not None:
        report = _deidentified_report(deid, doc, volume, lesion, enhancement, pre_volume)
        for ds in objects.values():
            deidentify_dataset(ds, deid)
    else:
        report = render_report(doc, volume, lesion, enhancement, pre_volume=pre_volume)
    payload = {FILES["findings"]: (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode("utf-8"),
               FILES["report"]: report.encode("utf-8")}
    for kind, ds in objects.items():
        payload[FILES[kind]] = sr_bytes(ds) if kind == "sr" else seg_bytes(ds)
    if deid is not None:
        _post_check(deid, payload)
    meta = {"exported_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "deidentified": bool(deidentify), "software": f"rp-workstation {__version__}"}
    try:
        written = commit_set(out, payload, key=study_key(_study_uid(volume, evidence)), key_field="study_key",
                             meta=meta, force=force, owner_of=_legacy_owner,
                             conflict_message="holds the export of another study",
                             private=not deidentify)  # identified: 0600 files, 0700 new folder
    except SetConflict as exc:
        raise ExportConflict(str(exc)) from None
    names = {v: k for k, v in FILES.items()}
    paths = {names[n]: p for n, p in written.items()}
    paths["manifest"] = out / MANIFEST
    return paths


def _deidentified_report(deid: Deidentifier, doc: Mapping[str, Any], volume: Volume, lesion: Any,
                         enhancement: Any, pre_volume: Volume | None) -> str:
    views = [_report_view(volume), _report_view(pre_volume)]
    text = render_report(doc, views[0], lesion, enhancement, pre_volume=views[1])
    for v in views:  # the stand-in description repeats the phase the report names anyway
        if v is not None and v.description:
            text = _drop_from_item(text, f'"{v.description}", ')
    return deid.scrub_text(text)


def _drop_from_item(text: str, words: str) -> str:
    """``text`` with ``words`` taken out of the report item that holds them (the item rewrapped)."""
    import textwrap

    from ..resources import load_json

    width = int(load_json("report.json").get("width", 78))
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i + 1
        while j < len(lines) and lines[j].startswith("  ") and lines[i] and not lines[i].startswith(" "):
            j += 1
        item = " ".join(ln.strip() for ln in lines[i:j])
        if words in item and j > i:
            out += textwrap.wrap(item.replace(words, ""), width=width, subsequent_indent="  ",
                                 break_on_hyphens=False, break_long_words=False)
        else:
            out += lines[i:j]
        i = j
    return "\n".join(out)


def _post_check(deid: Deidentifier, payload: Mapping[str, bytes]) -> None:
    """Refuse to write a de-identified set in which a text file still shows an identifying
    string, a date or an original UID (names the file and the kind, never the value)."""
    for name in (FILES["findings"], FILES["report"]):
        kinds = deid.leaks(payload[name].decode("utf-8"))
        if kinds:
            raise WorkstationError(f"{name}: de-identification check failed ({', '.join(kinds)} left); nothing written")

"""De-identified exports: planted identifying values in every free-text, date and ID element of the
source headers never reach any exported byte; UIDs are remapped consistently across SR, SEG and
findings.json; the SR and SEG declare the PS3.15 profile and options applied and still validate."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from workstation.errors import WorkstationError
from workstation.export import export_study, read_export
from workstation.export.deid import Deidentifier, deidentify_dataset
from workstation.export.sr import read_sr
from workstation.measure.model import Caliper, Landmark, Lesion3D

from .conftest import volume_from_files, write_series

#: distinctive values planted in the source headers (keyword -> value); none may be exported
PLANTED = {
    "PatientName": "Zorblatt^Quenelda^Ymir", "PatientID": "PIDQ-4471-ZZ", "PatientBirthDate": "19440817",
    "PatientBirthTime": "061500", "OtherPatientIDs": "OTHERPID-88123", "OtherPatientNames": "Vexmoor^Talia",
    "PatientBirthName": "Grimsdottir^Ulla", "PatientMotherBirthName": "Haverbeck^Ottilie",
    "PatientAddress": "17 Quillfeather Lane, Brammington", "PatientTelephoneNumbers": "555-013-9921",
    "AdditionalPatientHistory": "HISTPLANT prior nephrectomy at Brammington", "PatientComments": "COMMENTPLANT xq",
    "MedicalRecordLocator": "MRL-PLANT-5512", "Occupation": "Zeppelin rigger", "EthnicGroup": "ETHNPLANT",
    "AccessionNumber": "ACCPLANT99217", "StudyID": "STUDYIDPLANT7", "StudyDate": "20190311", "StudyTime": "134501",
    "SeriesDate": "20190312", "SeriesTime": "134702", "AcquisitionDate": "20190313", "AcquisitionTime": "134803",
    "ContentDate": "20190314", "ContentTime": "134904", "InstanceCreationDate": "20190315",
    "InstanceCreationTime": "135005", "AcquisitionDateTime": "20190316135106",
    "ReferringPhysicianName": "Refquist^Rudolpho", "ConsultingPhysicianName": "Consworth^Carlotta",
    "PerformingPhysicianName": "Perfidge^Pavel", "NameOfPhysiciansReadingStudy": "Readmore^Rosalind",
    "OperatorsName": "Operinski^Olgana", "RequestingPhysician": "Requesta^Romilly",
    "PhysiciansOfRecord": "Recordall^Rhiannon", "ReferringPhysicianAddress": "9 Referral Row, Plantville",
    "ReasonForVisit": "REASONVISITPLANT flank pain since March", "ReasonForStudy": "REASONSTUDYPLANT mass",
    "RequestedProcedureDescription": "REQPROCPLANT CT abdomen", "StudyDescription": "STUDYDESCPLANT abdomen",
    "SeriesDescription": "SERIESDESCPLANT PORTAL VENOUS", "ProtocolName": "PROTOPLANT 3-phase",
    "PerformedProcedureStepDescription": "PPSDESCPLANT", "PerformedProcedureStepID": "PPSIDPLANT4",
    "PerformedProcedureStepStartDate": "20190317", "InstitutionName": "Quarrington Memorial Infirmary",
    "InstitutionAddress": "1 Infirmary Square, Quarrington", "InstitutionalDepartmentName": "DEPTPLANT Radiology",
    "StationName": "STATIONPLANT01", "DeviceSerialNumber": "SERIALPLANT7781", "ImageComments": "IMGCOMMENTPLANT zz",
    "DerivationDescription": "DERIVPLANT", "AdmittingDiagnosesDescription": "DIAGPLANT retroperitoneal",
    "AdmissionID": "ADMITPLANT-33", "CurrentPatientLocation": "WARDPLANT 4B",
}
#: planted inside sequences
NESTED = {"RequestedProcedureID": "NESTEDREQPLANT", "ScheduledProcedureStepID": "NESTEDSPSPLANT",
          "CodeMeaning": "PROCCODEPLANT meaning"}
PRIVATE = "PRIVATEPLANT-bytes"


def _plant(folder, out):
    """A copy of the series in ``folder`` with every planted value set (pydicom, into tmp)."""
    out.mkdir()
    for src in sorted(folder.iterdir()):
        ds = pydicom.dcmread(src)
        for kw, v in PLANTED.items():
            setattr(ds, kw, v)
        req = Dataset()
        req.RequestedProcedureID = NESTED["RequestedProcedureID"]
        req.ScheduledProcedureStepID = NESTED["ScheduledProcedureStepID"]
        req.AccessionNumber = PLANTED["AccessionNumber"]
        ds.RequestAttributesSequence = DicomSequence([req])
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "PLANT1", "99PLANT", NESTED["CodeMeaning"]
        ds.ProcedureCodeSequence = DicomSequence([code])
        ds.AnatomicRegionSequence = DicomSequence([code])
        ds.private_block(0x0011, "PLANTCREATOR", create=True).add_new(0x01, "LO", PRIVATE)
        ds.save_as(out / src.name, enforce_file_format=True)
    return sorted(out.iterdir())


def _needles():
    out = []
    for kw, v in {**PLANTED, **NESTED}.items():
        if kw == "SeriesDescription":
            out.append("SERIESDESCPLANT")
            continue
        out.append(v)
        if kw.endswith("Name") and "^" in v:
            out += [p for p in v.split("^") if len(p) >= 3]
        if kw.endswith("Date") and len(v) == 8:
            out.append(f"{v[:4]}-{v[4:6]}-{v[6:]}")
    out += ["Quarrington", "Brammington", PRIVATE, "PLANTCREATOR"]
    return out


@pytest.fixture
def planted(tmp_path):
    files = _plant(write_series(tmp_path / "series")[0].parent, tmp_path / "planted")
    vol = volume_from_files(files)
    return vol, files


def _measurements(vol):
    mask = np.zeros(vol.shape, dtype=bool)
    mask[1:4, 40:70, 50:90] = True
    p = lambda kji: tuple(float(v) for v in vol.index_to_patient(kji))  # noqa: E731
    lesion = Lesion3D(series_uid=vol.series_uid, label="Zorblatt target", seed=p((2, 55, 70)),
                      endpoints=(p((1, 40, 50)), p((3, 69, 89))),
                      figures={"greatest_dimension_mm": 40.0, "volume_ml": 12.0})
    ms = [Caliper(label="AP for Zorblatt", series_uid=vol.series_uid, p1=p((2, 40, 50)), p2=p((2, 69, 89))),
          Landmark(landmark="renal_vein", series_uid=vol.series_uid, point=p((3, 60, 60))), lesion]
    return ms, {lesion.id: mask}


FINDINGS = {"schema": "rp-findings/1", "age_years": 77, "sex": "female", "greatest_dimension_mm": 121.0,
            "enhancement_delta_hu": 34.0, "findings": {"necrosis": True, "macroscopic_fat": False},
            "x_note": "Quenelda Zorblatt, seen 2019-03-11, ACCPLANT99217",
            "x_sources": {"greatest_dimension_mm": "caliper by Dr Refquist on 20190311"}}


def _contains(blob: bytes, needle: str) -> bool:
    """``needle`` anywhere in ``blob`` (case-blind); an all-digit needle (a planted date or time) only
    as a number of its own: the new random UIDs are long digit runs, and about one export in a hundred
    had one with a planted time such as 061500 inside it (a flaky failure, not a leak)."""
    n = needle.lower().encode()
    if n.isdigit():
        return re.search(rb"(?<!\d)" + re.escape(n) + rb"(?!\d)", blob) is not None
    return n in blob.lower()


def _original_uids(files):
    uids = set()
    for f in files:
        ds = pydicom.dcmread(f)
        uids |= {ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID}
    return uids


def test_no_planted_value_or_original_uid_in_any_exported_byte(planted, tmp_path):
    vol, files = planted
    ms, masks = _measurements(vol)
    paths = export_study(FINDINGS, vol, tmp_path / "anon", ms, deidentify=True, masks=masks)
    assert {"findings", "report", "sr", "seg", "manifest"} <= set(paths)
    blobs = {p.name: p.read_bytes() for p in (tmp_path / "anon").iterdir()}
    assert set(blobs) == {"findings.json", "report.txt", "report-sr.dcm", "lesion-seg.dcm", "manifest.json"}
    for needle in _needles():
        for name, b in blobs.items():
            assert not _contains(b, needle), (needle, name)
    for uid in _original_uids(files):
        for name, b in blobs.items():
            assert uid.encode() not in b, (uid, name)
    # text files: no date in any common spelling
    for name in ("report.txt", "findings.json"):
        text = blobs[name].decode()
        assert not re.search(r"(19|20)\d\d-?\d\d-?\d\d(?!\d)", text.replace("2.25.", "")), name
    doc = json.loads(blobs["findings.json"])
    assert "x_note" not in doc and doc["age_years"] == 77 and doc["sex"] == "female"
    read_export(tmp_path / "anon")


def test_uids_consistent_across_sr_seg_and_findings(planted, tmp_path):
    vol, _ = planted
    ms, masks = _measurements(vol)
    findings = {**FINDINGS, "x_measurements": [m.to_dict() for m in ms]}
    paths = export_study(findings, vol, tmp_path / "anon", ms, deidentify=True, masks=masks, salt="s1")
    sr, seg = pydicom.dcmread(paths["sr"]), pydicom.dcmread(paths["seg"])
    doc = json.loads(paths["findings"].read_text())
    d = Deidentifier("s1")
    series = d.uid(vol.series_uid)
    ev = {it.ReferencedSeriesSequence[0].SeriesInstanceUID: it for it in sr.CurrentRequestedProcedureEvidenceSequence
          for _ in [0]}
    ev_series = {s.SeriesInstanceUID: {r.ReferencedSOPInstanceUID for r in s.ReferencedSOPSequence}
                 for it in sr.CurrentRequestedProcedureEvidenceSequence for s in it.ReferencedSeriesSequence}
    assert series in ev_series and ev_series[series] == {d.uid(u) for u in vol.meta["sop_instance_uids"]}
    assert seg.SeriesInstanceUID in ev_series and ev_series[seg.SeriesInstanceUID] == {seg.SOPInstanceUID}
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series
    seg_refs = {r.ReferencedSOPInstanceUID for r in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert seg_refs <= ev_series[series]
    assert {m["series_uid"] for m in doc["x_measurements"]} == {series}
    assert sr.StudyInstanceUID == seg.StudyInstanceUID == d.uid(vol.meta["study_uid"])
    assert seg.FrameOfReferenceUID == d.uid(vol.meta["frame_of_reference_uid"])
    assert sr.PatientID == seg.PatientID == str(sr.PatientName).rstrip("^") == str(seg.PatientName).rstrip("^")
    assert sr.PatientID.startswith("ANON-")
    # the segment's tracking UID is the one the SR's lesion group carries
    seg_tracking = {str(s.TrackingUID) for s in seg.SegmentSequence}
    assert seg_tracking and seg_tracking <= _uidrefs(sr)
    # the SR still reads back
    _, restored = read_sr(paths["sr"])
    assert {m.kind for m in restored} >= {"caliper", "landmark"}
    assert ev  # the evidence is there at all


def _uidrefs(sr):
    out = set()

    def walk(items):
        for it in items or ():
            if it.get("ValueType") == "UIDREF":
                out.add(str(it.UID))
            walk(it.get("ContentSequence"))

    walk(sr.ContentSequence)
    return out


def test_objects_declare_the_profile_and_options_applied(planted, tmp_path):
    vol, _ = planted
    ms, masks = _measurements(vol)
    paths = export_study(FINDINGS, vol, tmp_path / "anon", ms, deidentify=True, masks=masks)
    for key in ("sr", "seg"):
        ds = pydicom.dcmread(paths[key])
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
        codes = {(c.CodingSchemeDesignator, c.CodeValue) for c in ds.DeidentificationMethodCodeSequence}
        assert ("DCM", "113100") in codes and ("DCM", "113108") in codes       # profile; age and sex kept
        assert ("DCM", "113107") not in codes                                   # no dates retained
        assert ds.PatientSex == "F" and ds.PatientAge == "058Y"
        assert ds.PatientBirthDate == "" and ds.StudyDate == "" and ds.AccessionNumber == ""
        assert ds.ReferringPhysicianName == "" and ds.StudyID == ""
        for kw in ("InstitutionName", "StudyDescription", "OperatorsName", "ConsultingPhysicianName",
                   "ReasonForVisit", "SeriesDate", "AcquisitionDate", "InstanceCreationDate"):
            assert kw not in ds, (key, kw)
        assert not any(e.tag.is_private for e in ds.iterall())
        assert len(ds.DeidentificationMethod) >= 1
    sr = pydicom.dcmread(paths["sr"])
    codes = {c.CodeValue for c in sr.DeidentificationMethodCodeSequence}
    assert "113104" in codes          # the SR's content was cleaned (Clean Structured Content)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_deidentified_sr_and_seg_pass_dciodvfy(planted, tmp_path):
    vol, _ = planted
    ms, masks = _measurements(vol)
    paths = export_study(FINDINGS, vol, tmp_path / "anon", ms, deidentify=True, masks=masks)
    for key in ("sr", "seg"):
        r = subprocess.run(["dciodvfy", str(paths[key])], capture_output=True, text=True)
        errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("Error")]
        assert errors == [], (key, errors)


def test_a_new_salt_per_export_unlinks_two_exports(planted, tmp_path):
    vol, _ = planted
    a = export_study(FINDINGS, vol, tmp_path / "a", deidentify=True, seg=False)
    b = export_study(FINDINGS, vol, tmp_path / "b", deidentify=True, seg=False)
    sa, sb = pydicom.dcmread(a["sr"]), pydicom.dcmread(b["sr"])
    assert sa.StudyInstanceUID != sb.StudyInstanceUID and sa.PatientID != sb.PatientID
    # the source headers in memory are untouched (the app keeps showing the real study)
    h = vol.meta["headers"][0]
    assert str(h.PatientName) == PLANTED["PatientName"] and h.AccessionNumber == PLANTED["AccessionNumber"]
    assert h.StudyInstanceUID == vol.meta["study_uid"]


def test_deidentify_dataset_refuses_an_object_without_allow_list(planted):
    vol, files = planted
    ct = pydicom.dcmread(files[0])          # a CT image: not an object the export writes
    with pytest.raises(WorkstationError, match="no allow-list"):
        deidentify_dataset(ct, Deidentifier("s"))


def test_uid_map_is_idempotent_and_keeps_well_known_uids():
    d = Deidentifier("salt")
    u = "1.2.826.0.1.3680043.8.498.12345"
    once = d.uid(u)
    assert once.startswith("2.25.") and d.uid(once) == once and d.uid(u) == once
    assert d.uid("1.2.840.10008.5.1.4.1.1.88.34") == "1.2.840.10008.5.1.4.1.1.88.34"
    assert Deidentifier("other").uid(u) != once
    text = d.scrub_text(f"series {u} measured, LR 1.5, version 0.28.2")
    assert once in text and u not in text and "1.5" in text and "0.28.2" in text


def test_scrub_text_keeps_common_words_of_descriptions():
    d = Deidentifier("s")
    d.add_phi("ABDOMEN", descriptive=True)            # a lone common word: not identifying
    d.add_phi("Zorblatt^Quenelda", person=True)
    d.add_phi("19440817")
    out = d.scrub_text("CT of abdomen and pelvis for ZORBLATT quenelda born 1944-08-17 (19440817).")
    assert "abdomen" in out and "Zorblatt".lower() not in out.lower() and "1944" not in out
    assert d.leaks(out) == []


def test_coded_concepts_survive_a_patient_named_like_a_code(tmp_path):
    """Text is cleaned of the patient's name, but the parts of coded concepts are never rewritten."""
    src = write_series(tmp_path / "series")
    for f in src:
        ds = pydicom.dcmread(f)
        ds.PatientName = "Mass^Volume"
        ds.save_as(f)
    vol = volume_from_files(src)
    paths = export_study(FINDINGS, vol, tmp_path / "anon", deidentify=True, seg=False)
    sr = pydicom.dcmread(paths["sr"])
    meanings = {str(e.value) for e in sr.iterall() if e.keyword == "CodeMeaning"}
    assert "Mass" in meanings and "Volume" not in str(sr.PatientName)
    assert b"Volume" not in paths["findings"].read_bytes()

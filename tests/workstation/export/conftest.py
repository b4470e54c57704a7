"""A small real CT series written with pydicom (from pydicom's CT_small.dcm) and its Volume."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from workstation.volume import Volume

PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "PID-778899"
BIRTH_DATE = "19610423"


def write_series(folder, n=6, dz=5.0, description="CT ABD PORTAL 5mm"):
    """n axial slices (z descending in file order to prove nothing relies on it)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    paths = []
    for k in range(n):
        ds = src.copy()
        ds.PatientName = PATIENT_NAME
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = BIRTH_DATE
        ds.PatientSex = "F"
        ds.PatientAge = "058Y"
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.FrameOfReferenceUID = frame
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        ds.SeriesDescription = description
        ds.AccessionNumber = "ACC12345"
        ds.InstitutionName = "Mercy General"
        ds.ReferringPhysicianName = "House^Gregory"
        ds.ImagePositionPatient = [-158.135803, -179.035797, -75.7 + k * dz]
        ds.SliceLocation = -75.7 + k * dz
        p = folder / f"slice{n - k:03d}.dcm"
        ds.save_as(p, enforce_file_format=True)
        paths.append(p)
    return paths


def volume_from_files(paths):
    """A Volume as the loader builds it (meta['headers'] = header-only datasets in k order)."""
    dss = [pydicom.dcmread(p) for p in paths]
    dss.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    vox = np.stack([d.pixel_array.astype(np.float32) * float(d.RescaleSlope) + float(d.RescaleIntercept)
                    for d in dss])
    d0 = dss[0]
    dz = float(dss[1].ImagePositionPatient[2]) - float(d0.ImagePositionPatient[2])
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
    headers.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    meta = {
        "study_uid": d0.StudyInstanceUID, "frame_of_reference_uid": d0.FrameOfReferenceUID,
        "sop_class_uid": d0.SOPClassUID, "sop_instance_uids": [d.SOPInstanceUID for d in headers],
        "headers": headers, "patient_name": str(d0.PatientName), "patient_id": d0.PatientID,
        "patient_birth_date": d0.PatientBirthDate, "patient_sex": d0.PatientSex,
        "slice_thickness_mm": float(d0.SliceThickness), "series_number": int(d0.get("SeriesNumber", 1)),
        "study_date": d0.get("StudyDate"), "manufacturer": d0.get("Manufacturer"),
    }
    iop = [float(v) for v in d0.ImageOrientationPatient]
    return Volume(vox, spacing_mm=(dz, float(d0.PixelSpacing[0]), float(d0.PixelSpacing[1])),
                  origin_mm=[float(v) for v in d0.ImagePositionPatient], row_cosine=iop[:3],
                  column_cosine=iop[3:], unit="HU", modality="CT", series_uid=d0.SeriesInstanceUID,
                  description=str(d0.SeriesDescription), meta=meta)


@pytest.fixture
def ct_series(tmp_path):
    paths = write_series(tmp_path / "series")
    return volume_from_files(paths), paths


def read_back(sr_path: object, volume: Volume | None, ms: list, findings: dict | None = None) -> dict:
    """``read_sr(sr_path, volume)`` checked to give back the measurement ids of ``ms`` (and the
    ``findings``, when given); the restored measurements by id."""
    from workstation.export.sr import read_sr

    got, restored = read_sr(sr_path, volume)
    if findings is not None:
        assert got == findings
    by_id = {m.id: m for m in restored}
    assert set(by_id) == {m.id for m in ms}
    return by_id

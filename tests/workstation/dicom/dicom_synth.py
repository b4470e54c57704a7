"""Small DICOM series written with pydicom for the loader's tests (no fixtures of unknown origin)."""
from __future__ import annotations

import os

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def phantom(k: int, rows: int = 12, cols: int = 10) -> np.ndarray:
    """Stored values that differ per slice, row and column (so any misplacement shows)."""
    j, i = np.mgrid[0:rows, 0:cols]
    return (100 * k + 10 * j + i).astype(np.int16)


def image(rows=12, cols=10, *, k=0, ipp=(0.0, 0.0, 0.0), iop=AXIAL, spacing=(0.8, 0.6), series_uid=None,
          study_uid=None, instance=1, modality="CT", slope=1.0, intercept=-1024.0, pixels=None,
          description="test series", thickness=2.0) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage if modality == "CT" else MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("synth", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = series_uid or "1.2.826.0.1.3680043.8.498.2"
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.3"
    ds.PatientName, ds.PatientID, ds.StudyDate, ds.StudyTime = "Test^Phantom", "PHANTOM1", "20240101", "120000"
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
    ds.Modality, ds.SeriesNumber, ds.SeriesDescription = modality, 3, description
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in ipp]
    ds.ImageOrientationPatient = [float(v) for v in iop]
    ds.PixelSpacing = [float(v) for v in spacing]
    ds.SliceThickness = thickness
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    arr = phantom(k, rows, cols) if pixels is None else pixels
    ds.PixelData = np.ascontiguousarray(arr, dtype="<i2").tobytes()
    return ds


def stack(n=5, dz=2.0, *, origin=(-10.0, -20.0, 30.0), iop=AXIAL, spacing=(0.8, 0.6), **kw) -> list[FileDataset]:
    """``n`` slices ``dz`` apart along the normal of ``iop``; slice k holds :func:`phantom` (k)."""
    r, c = np.asarray(iop[:3]), np.asarray(iop[3:])
    normal = np.cross(r, c)
    return [image(k=k, ipp=np.asarray(origin) + k * dz * normal, iop=iop, spacing=spacing, instance=k + 1, **kw)
            for k in range(n)]


def write(folder, datasets, names=None) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    names = names or [f"slice{i:03d}.dcm" for i in range(len(datasets))]
    paths = []
    for ds, name in zip(datasets, names):
        p = os.path.join(folder, name)
        ds.save_as(p, enforce_file_format=True)
        paths.append(p)
    return paths


def enhanced_ct(n=4, rows=6, cols=5, dz=3.0, order=None, slope=1.0, intercept=-1024.0) -> FileDataset:
    """Enhanced CT with per-frame positions; frames stored in ``order`` (a permutation of k)."""
    order = list(range(n)) if order is None else list(order)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("enh", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = EnhancedCTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.10", "1.2.826.0.1.3680043.8.498.11"
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.12"
    ds.Modality, ds.SeriesDescription, ds.SeriesNumber = "CT", "enhanced", 7
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, n
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing, pm.SliceThickness = [0.5, 0.4], dz
    po = Dataset()
    po.ImageOrientationPatient = list(AXIAL)
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, intercept, "HU"
    shared.PixelMeasuresSequence = Sequence([pm])
    shared.PlaneOrientationSequence = Sequence([po])
    shared.PixelValueTransformationSequence = Sequence([pvt])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for k in order:
        item = Dataset()
        pp = Dataset()
        pp.ImagePositionPatient = [1.0, 2.0, 50.0 + k * dz]
        item.PlanePositionSequence = Sequence([pp])
        fc = Dataset()
        fc.InStackPositionNumber = k + 1
        item.FrameContentSequence = Sequence([fc])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    ds.PixelData = np.stack([phantom(k, rows, cols) for k in order]).astype("<i2").tobytes()
    return ds

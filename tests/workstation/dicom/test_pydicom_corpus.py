"""Every CT/MR image among pydicom's bundled test files loads, with voxels equal to pydicom's own
``apply_modality_lut(ds.pixel_array, ds)``; the truncated one is skipped with a reason."""
from __future__ import annotations

import os

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut

from workstation import load_series
from workstation.dicom import scan
from workstation.errors import DicomError

#: CT/MR image files: explicit/implicit/big-endian, RLE, JPEG 2000, JPEG-LS, padded, pixel-rep mismatch
LOCAL = ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
         "MR_small_expb.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
         "MR_small_jpeg_ls_lossless.dcm", "MR_small_padded.dcm", "693_J2KI.dcm",
         "J2K_pixelrep_mismatch.dcm", "examples_overlay.dcm"]
#: CT/MR images of the pydicom-data package (the test extra installs it; pydicom finds its files through
#: the ``pydicom.data.external_sources`` entry point, offline). Its NM files (JPEG-LL, JPEG-lossy) are
#: not CT/MR, and the CT1_* files are not in the package: neither is listed.
DOWNLOAD = ["emri_small.dcm", "emri_small_big_endian.dcm", "emri_small_RLE.dcm", "emri_small_jpeg_2k_lossless.dcm",
            "emri_small_jpeg_ls_lossless.dcm", "MR2_J2KI.dcm", "MR2_J2KR.dcm", "MR2_UNCI.dcm", "MR2_UNCR.dcm"]


def _file(name: str) -> str:
    """The test file's path; a missing one fails the test (the test extra installs every listed file)."""
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name}: not found in pydicom's test files nor in the pydicom-data package"
    return path


def _reference(path: str) -> np.ndarray:
    ds = pydicom.dcmread(path)
    ref = apply_modality_lut(ds.pixel_array, ds)
    return ref[None] if ref.ndim == 2 else ref


def _check(path: str) -> None:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert ds.get("Modality") in ("CT", "MR"), f"{os.path.basename(path)} is not CT/MR"
    vol = load_series(path)
    ref = _reference(path)
    assert vol.shape == ref.shape
    if vol.voxels.dtype == np.int16:
        assert np.array_equal(vol.voxels, ref)
    else:
        np.testing.assert_allclose(vol.voxels, ref, rtol=1e-6)
    assert vol.unit == ("HU" if ds.Modality == "CT" else "signal")
    assert vol.meta["headers"][0].SOPInstanceUID == ds.SOPInstanceUID
    assert "PixelData" not in vol.meta["headers"][0]
    if "ImagePositionPatient" in ds:
        np.testing.assert_allclose(vol.index_to_patient((0, 0, 0)), [float(v) for v in ds.ImagePositionPatient])
        np.testing.assert_allclose(vol.spacing_mm[1:], [float(v) for v in ds.PixelSpacing])


@pytest.mark.parametrize("name", LOCAL)
def test_bundled_ct_mr_file_equals_pydicom_modality_lut(name):
    _check(_file(name))


@pytest.mark.parametrize("name", DOWNLOAD)
def test_pydicom_data_file_equals_pydicom_modality_lut(name):
    _check(_file(name))


def test_core_set_is_local():
    assert all(get_testdata_file(n, download=False) for n in LOCAL)


def test_ct_small_is_hu_in_int16_and_geometry_from_header():
    path = _file("CT_small.dcm")
    vol = load_series(path)
    ds = pydicom.dcmread(path)
    assert vol.voxels.dtype == np.int16  # 16-bit signed + intercept: int16 when the values fit
    assert vol.modality == "CT" and vol.series_uid == ds.SeriesInstanceUID
    assert vol.meta["window"] is None  # CT_small has no WindowCenter/WindowWidth
    j, i = 37, 91
    xyz = vol.index_to_patient((0, j, i))
    expected = (np.asarray(ds.ImagePositionPatient, float)
                + j * float(ds.PixelSpacing[0]) * np.asarray(ds.ImageOrientationPatient[3:], float)
                + i * float(ds.PixelSpacing[1]) * np.asarray(ds.ImageOrientationPatient[:3], float))
    np.testing.assert_allclose(xyz, expected)
    assert vol.value_at(xyz) == ds.pixel_array[j, i] * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_truncated_file_is_skipped_with_a_reason():
    path = _file("MR_truncated.dcm")
    with pytest.raises(DicomError, match="MR_truncated.dcm"):
        scan(path)


def test_the_whole_test_file_folder_scans_without_escaping_errors():
    folder = os.path.dirname(_file("CT_small.dcm"))
    found = scan(folder)
    reasons = {os.path.basename(s.file): s.reason for s in found.skipped}
    assert reasons["MR_truncated.dcm"].startswith("truncated")
    assert reasons["reportsi.dcm"].startswith("not an image")
    assert reasons["rtplan.dcm"].startswith("not an image")
    assert reasons["README.txt"].startswith("not DICOM")
    assert all("\n" not in s.reason for s in found.skipped)
    assert any(s.modality == "CT" for s in found.series)

"""The first slice found without pydicom (workstation.dicom.first_slice) is the one the full loader
shows first -- same series, slice order, SOP instance and pixels -- and anything outside the plain
case it handles gives None (the full scan decides)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest

from workstation.dicom import read_series, scan
from workstation.dicom.first_slice import first_slice
from workstation.resources import SAMPLE_DICOM

STUDY = SAMPLE_DICOM / "study"
ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(not STUDY.exists(), reason="sample study not generated")


def _series_folders() -> list[Path]:
    return sorted(p for p in STUDY.iterdir() if p.is_dir()) if STUDY.exists() else []


@pytest.mark.parametrize("path", [STUDY, *_series_folders()], ids=lambda p: p.name)
def test_first_slice_is_the_loaders_shown_slice(path):
    preview = first_slice(path)
    assert preview is not None and preview.meta["preview"] is True
    info = scan(path).series[0]
    vol = read_series(info)
    k = preview.meta["preview_slice"]
    assert preview.series_uid == vol.series_uid and preview.shape == vol.shape
    assert k == (vol.shape[0] - 1) // 2
    assert preview.meta["sop_instance_uids"] == vol.meta["sop_instance_uids"]
    assert preview.meta["files"] == vol.meta["files"]
    assert preview.voxels.dtype == vol.voxels.dtype
    np.testing.assert_array_equal(preview.voxels[k], vol.voxels[k])
    assert not preview.voxels[:k].any() and not preview.voxels[k + 1:].any()  # nothing else read
    np.testing.assert_allclose(preview.spacing_mm, vol.spacing_mm, rtol=1e-9)
    np.testing.assert_allclose(preview.origin_mm, vol.origin_mm, atol=1e-9)
    np.testing.assert_allclose(preview.normal, vol.normal, atol=1e-9)
    assert (preview.unit, preview.modality) == (vol.unit, vol.modality)


def _sorted_by_z(folder: Path) -> list[Path]:
    return sorted(folder.iterdir(),
                  key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "ct"
    shutil.copytree(STUDY / "S002_CT_ABD_NONCONTRAST", dst)
    return dst


def test_a_gap_duplicate_or_odd_file_leaves_it_to_the_full_scan(tmp_path):
    gap = _copy(tmp_path / "a")
    _sorted_by_z(gap)[10].unlink()
    dup = _copy(tmp_path / "b")
    shutil.copy(_sorted_by_z(dup)[10], dup / "copy.dcm")
    ds = pydicom.dcmread(dup / "copy.dcm")
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(dup / "copy.dcm")
    multi = _copy(tmp_path / "c")
    ds = pydicom.dcmread(_sorted_by_z(multi)[0])
    ds.Modality = "OT"
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(multi / "other.dcm")
    for folder in (gap, dup, multi):
        assert first_slice(folder) is None, folder.name
        assert scan(folder).series  # the full scan still loads it


def test_a_zip_a_single_file_and_a_missing_path_give_none(tmp_path):
    src = STUDY / "S501_MR_T2_AX"
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(src.iterdir()):
            z.write(f, f.name)
    assert first_slice(archive) is None
    assert first_slice(next(src.iterdir())) is None
    assert first_slice(tmp_path / "absent") is None
    (tmp_path / "noise.dcm").write_bytes(b"\x01" * 4096)
    assert first_slice(tmp_path) is None


def test_the_first_slice_imports_no_pydicom():
    code = ("import sys; from workstation.dicom.first_slice import first_slice; "
            f"v = first_slice({str(STUDY)!r}); assert v is not None; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'pydicom', 'scipy', 'skimage', 'highdicom', 'PyQt6', 'requests'}); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == "[]"

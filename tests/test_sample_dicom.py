"""The bundled synthetic study (sample_dicom/): determinism, DICOM validity, and agreement with
truth.json. Reads the files with pydicom directly (independent of the project's loader)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_dicom"
TRUTH = json.loads((SAMPLE / "truth.json").read_text())
MAX_BYTES = 25 * 1024 * 1024


def _files(folder: Path):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


class Series:
    """A series read with pydicom, slices sorted along the normal by ImagePositionPatient."""

    def __init__(self, key: str):
        info = TRUTH["series"][key]
        self.key, self.info = key, info
        self.files = sorted((SAMPLE / info["path"]).glob("*.dcm"))
        ds = [pydicom.dcmread(f) for f in self.files]
        normal = np.cross(np.array(ds[0].ImageOrientationPatient[:3], float),
                          np.array(ds[0].ImageOrientationPatient[3:], float))
        pos = [float(np.dot(np.array(d.ImagePositionPatient, float), normal)) for d in ds]
        order = np.argsort(pos)
        self.datasets = [ds[i] for i in order]
        self.sorted_files = [self.files[i] for i in order]
        self.z = np.array([pos[i] for i in order])
        d0 = self.datasets[0]
        self.origin = np.array(d0.ImagePositionPatient, float)
        self.dr, self.dc = (float(v) for v in d0.PixelSpacing)
        slope = float(getattr(d0, "RescaleSlope", 1.0))
        intercept = float(getattr(d0, "RescaleIntercept", 0.0))
        self.raw = np.stack([d.pixel_array for d in self.datasets])
        self.values = self.raw.astype(np.float32) * slope + intercept

    def index(self, p):
        """(k, j, i) nearest voxel of LPS point p (axial series)."""
        i = int(round((p[0] - self.origin[0]) / self.dc))
        j = int(round((p[1] - self.origin[1]) / self.dr))
        k = int(np.argmin(np.abs(self.z - p[2])))
        return k, j, i

    def mean_at(self, p, half=2, zhalf=1):
        """Mean over a (2*zhalf+1) x (2*half+1)^2 voxel box centred at the nearest voxel."""
        k, j, i = self.index(p)
        box = self.values[k - zhalf:k + zhalf + 1, j - half:j + half + 1, i - half:i + half + 1]
        return float(box.mean())


@pytest.fixture(scope="module")
def pre():
    return Series("ct_pre")


@pytest.fixture(scope="module")
def post():
    return Series("ct_post")


@pytest.fixture(scope="module")
def mr():
    return Series("mr_t2")


def _moved(p):
    return np.asarray(p, float) + np.asarray(TRUTH["motion_mm"], float)


# ---------------------------------------------------------------------------------------- files
def test_regeneration_is_byte_identical(tmp_path):
    script = tmp_path / "generate.py"
    shutil.copy(SAMPLE / "generate.py", script)
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, timeout=600)
    committed = {p.relative_to(SAMPLE).as_posix(): _sha(p) for p in _files(SAMPLE / "study")}
    fresh = {p.relative_to(tmp_path).as_posix(): _sha(p) for p in _files(tmp_path / "study")}
    assert len(committed) == 80 + 80 + 30
    assert fresh == committed
    assert (tmp_path / "truth.json").read_bytes() == (SAMPLE / "truth.json").read_bytes()


def test_total_size_within_budget():
    total = sum(p.stat().st_size for p in _files(SAMPLE))
    assert total <= MAX_BYTES, f"sample_dicom/ is {total / 2**20:.1f} MB"


@pytest.mark.skipif(shutil.which("dciodvfy") is None,
                    reason="dciodvfy (Debian package dicom3tools) is not installed")
def test_every_file_passes_dciodvfy():
    failures = {}
    for f in _files(SAMPLE / "study"):
        r = subprocess.run(["dciodvfy", str(f)], capture_output=True, text=True, timeout=60)
        errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("Error")]
        if errors:
            failures[f.name] = errors
    assert not failures


# ------------------------------------------------------------------------------------- headers
def test_series_uids_frames_and_syntaxes(pre, post, mr):
    study = {d.StudyInstanceUID for s in (pre, post, mr) for d in s.datasets}
    assert study == {TRUTH["study_uid"]}
    for s in (pre, post, mr):
        assert {d.SeriesInstanceUID for d in s.datasets} == {s.info["series_uid"]}
        assert {d.SeriesDescription for d in s.datasets} == {s.info["description"]}
        assert len(s.datasets) == s.info["n_images"]
        assert len({d.SOPInstanceUID for d in s.datasets}) == len(s.datasets)
    assert {d.FrameOfReferenceUID for d in pre.datasets + post.datasets} == {
        pre.datasets[0].FrameOfReferenceUID}
    assert mr.datasets[0].FrameOfReferenceUID != pre.datasets[0].FrameOfReferenceUID
    assert pre.datasets[0].file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert post.datasets[0].file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    assert mr.datasets[0].Modality == "MR" and pre.datasets[0].Modality == "CT"
    assert "ContrastBolusAgent" in post.datasets[0] and "ContrastBolusAgent" not in pre.datasets[0]


def test_rescale_is_not_identity_on_ct(pre):
    d = pre.datasets[0]
    assert float(d.RescaleIntercept) == -1024 and float(d.RescaleSlope) == 1
    # air outside the body is -1000 HU only after rescale
    k, j, i = pre.index(TRUTH["landmarks_mm"]["outside_air"])
    assert abs(pre.values[k, j - 3:j + 4, i - 3:i + 4].mean() + 1000) < 10


def test_file_names_and_instance_numbers(pre, post, mr):
    for s in (pre, post, mr):
        # names do not follow the slice order; instance numbers do (monotonic with position)
        assert [f.name for f in s.sorted_files] != sorted(f.name for f in s.sorted_files)
        inst = [int(d.InstanceNumber) for d in s.datasets]
        assert sorted(inst) == list(range(1, len(inst) + 1))
        assert np.all(np.diff(inst) != 0) and (np.all(np.diff(inst) < 0) or np.all(np.diff(inst) > 0))
        spacing = np.diff(s.z)
        assert np.allclose(spacing, s.info["spacing_mm"][0])


def test_post_grid_is_the_pre_grid(pre, post):
    assert np.allclose(pre.z, post.z)
    assert np.allclose(pre.origin, post.origin)


# ------------------------------------------------------------------------------------- content
def test_mass_solid_and_necrosis_values(pre, post):
    m = TRUTH["mass"]
    seed = m["seed_mm"]
    assert abs(pre.mean_at(seed) - m["hu_solid_pre"]) < 8
    assert abs(post.mean_at(_moved(seed)) - m["hu_solid_post"]) < 10
    roi = m["solid_roi_point_mm"]
    assert abs(post.mean_at(_moved(roi)) - pre.mean_at(roi) - (m["hu_solid_post"] - m["hu_solid_pre"])) < 15
    nec = m["necrosis_center_mm"]
    assert abs(pre.mean_at(nec) - m["hu_necrosis_pre"]) < 8
    assert abs(post.mean_at(_moved(nec)) - m["hu_necrosis_post"]) < 8
    assert post.mean_at(_moved(seed)) - post.mean_at(_moved(nec)) > 50


def test_mass_extent_matches_truth(pre):
    """Voxels of the mass ellipsoid read as soft tissue; just outside its long axis ends, fat."""
    m = TRUTH["mass"]
    c = np.array(m["center_mm"])
    r = np.radians(m["rotation_deg_about_z"])
    axis = np.array([np.cos(r), np.sin(r), 0.0])
    a = m["semi_axes_mm"][0]
    for f in (-0.8, 0.8):
        assert 0 < pre.mean_at(c + f * a * axis, half=1, zhalf=0) < 70
    assert m["greatest_dimension_mm"] == pytest.approx(2 * max(m["semi_axes_mm"]))
    assert 100 < m["greatest_dimension_mm"] <= 150  # AJCC T3
    cal = TRUTH["caliper"]
    p1, p2 = np.array(cal["p1_mm"]), np.array(cal["p2_mm"])
    assert p1[2] == p2[2] and np.min(np.abs(pre.z - p1[2])) < 1e-6
    assert cal["length_mm"] == pytest.approx(np.linalg.norm(p2 - p1), abs=1e-3)
    for p, outward in ((p1, -axis), (p2, axis)):
        assert 0 < pre.mean_at(p - 6 * outward, half=1, zhalf=0) < 70  # inside, soft tissue
        assert pre.mean_at(p + 6 * outward, half=1, zhalf=0) < -50  # outside, fat


def test_ivc_tumour_thrombus(pre, post):
    ivc = TRUTH["ivc"]
    lo, hi = ivc["tumor_thrombus_z_mm"]
    assert ivc["renal_vein_z_mm"] + 10 <= lo < hi <= ivc["hepatic_vein_z_mm"] - 10
    p = ivc["tumor_thrombus_point_mm"]
    assert lo <= p[2] <= hi
    assert abs(post.mean_at(_moved(p)) - ivc["hu_thrombus_post"]) < 10
    assert abs(pre.mean_at(p) - ivc["hu_thrombus_pre"]) < 10
    lumen = post.mean_at(_moved(ivc["lumen_point_segment1_mm"]))
    assert abs(lumen - ivc["hu_lumen_post"]) < 12
    assert lumen - post.mean_at(_moved(p)) > 35  # a filling defect


def test_bland_thrombus(pre, post):
    b = TRUTH["bland_thrombus"]
    assert abs(post.mean_at(_moved(b["point_mm"]), half=1) - b["hu_post"]) < 12
    assert abs(pre.mean_at(b["point_mm"], half=1) - b["hu_pre"]) < 12


def test_noise_level(pre):
    k, j, i = pre.index(TRUTH["landmarks_mm"]["liver"])
    sd = pre.values[k, j - 8:j + 9, i - 8:i + 9].std()
    assert 6 < sd < 13


def test_motion_between_series(pre, post):
    """The spine (bone > 300 HU) is displaced by motion_mm: in-plane by its centroid, along z by
    the bone profile (transverse processes, ribs, pelvis) across slices."""
    mx, my, mz = TRUTH["motion_mm"]
    ks = slice(30, 50)

    def centroid(s):
        b = s.values[ks] > 300
        b[:, :, :80] = b[:, :, 176:] = False  # the spine only: middle columns
        k, j, i = np.nonzero(b)
        return s.origin[0] + i.mean() * s.dc, s.origin[1] + j.mean() * s.dr

    (x0, y0), (x1, y1) = centroid(pre), centroid(post)
    assert x1 - x0 == pytest.approx(mx, abs=0.4)
    assert y1 - y0 == pytest.approx(my, abs=0.4)
    f_pre = (pre.values > 300).sum(axis=(1, 2)).astype(float)
    f_post = (post.values > 300).sum(axis=(1, 2)).astype(float)
    shifts = np.arange(-10, 10.01, 0.25)
    inner = pre.z[5:-5]
    err = [np.sum((np.interp(inner + s, post.z, f_post) - np.interp(inner, pre.z, f_pre)) ** 2)
           for s in shifts]
    assert shifts[int(np.argmin(err))] == pytest.approx(mz, abs=1.0)


def test_mr_series(mr):
    d = mr.datasets[0]
    assert d.SOPClassUID == pydicom.uid.MRImageStorage
    assert float(getattr(d, "RescaleSlope", 1)) == 1 and float(getattr(d, "RescaleIntercept", 0)) == 0
    m = TRUTH["mass"]
    solid = mr.mean_at(m["seed_mm"], half=1)
    nec = mr.mean_at(m["necrosis_center_mm"], half=1)
    psoas = mr.mean_at(TRUTH["landmarks_mm"]["right_psoas"], half=1)
    assert nec > solid > psoas
    assert abs(solid - m["mr_signal_solid"]) < 0.25 * m["mr_signal_solid"]

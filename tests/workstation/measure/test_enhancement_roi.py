"""Enhancement (registration + spheres + call) and ROI statistics on generated pre/post pairs."""
from __future__ import annotations

import numpy as np
import pytest
from measure_phantoms import abdomen_pair, add_noise, blank, center_of, ellipsoid_fraction, paint

from workstation.errors import InputError
from workstation.measure.enhancement import enhancement_call, measure_enhancement
from workstation.measure.model import EllipseROI
from workstation.measure.registration import local_shift
from workstation.measure.roi import ellipse_stats, region_stats, sphere_indices, sphere_stats


@pytest.mark.parametrize("delta,call,motion", [
    (5.0, "not_enhancing", (2.3, -1.7, 2.4)),
    (15.0, "equivocal", (0.6, 0.4, -1.2)),
    (30.0, "enhancing", (-3.2, 2.5, 1.7)),
])
def test_ct_delta_call_and_shift(delta, call, motion):
    pre, post, c = abdomen_pair(delta, motion, seed=int(delta))
    r = measure_enhancement(pre, post, c, radius_mm=10)
    assert r.delta_hu == pytest.approx(delta, abs=2.0)
    assert r.call == call
    assert np.linalg.norm(np.subtract(r.shift_mm, motion)) < 0.5
    doc = r.to_json()
    assert set(doc["pre"]) >= {"mean", "sd", "n"} and doc["call"] == call
    assert doc["pre"]["n"] > 1000 and doc["percent"] is None


def test_without_registration_the_shift_spoils_the_roi():
    pre, post, c = abdomen_pair(30.0, (0, 0, 9.0), seed=9, lesion_radius=12)
    moved = measure_enhancement(pre, post, c, radius_mm=8, register=False)
    fixed = measure_enhancement(pre, post, c, radius_mm=8)
    assert abs(fixed.delta_hu - 30) < 2 < abs(moved.delta_hu - 30)


def test_series_on_different_grids():
    motion = (1.5, 1.0, -2.0)
    pre, post, c = abdomen_pair(25.0, motion, post_shape=(60, 128, 128), post_spacing=(2.0, 1.0, 1.0))
    r = measure_enhancement(pre, post, c, radius_mm=10)
    assert r.delta_hu == pytest.approx(25, abs=2) and r.call == "enhancing"
    assert np.linalg.norm(np.subtract(r.shift_mm, motion)) < 0.5


def test_mr_percent():
    pre = blank((30, 100, 100), (4.0, 1.2, 1.2), 200.0, unit="signal", modality="MR")
    c = center_of(pre)
    parts = [((0, 0, 0), (20, 20, 20), 400.0, 600.0), ((25, 10, 0), (10, 15, 30), 800.0, 820.0),
             ((-20, -20, 10), (12, 8, 20), 300.0, 450.0)]
    post = pre.with_voxels(pre.voxels.copy())
    for off, ax, a, b in parts:
        paint(pre, ellipsoid_fraction(pre, c + off, ax), a)
        paint(post, ellipsoid_fraction(post, c + off, ax), b)
    add_noise(pre, 8, 1)
    add_noise(post, 8, 2)
    r = measure_enhancement(pre, post, c, radius_mm=8)
    assert r.percent == pytest.approx(50.0, abs=3) and r.call == "enhancing"
    assert r.delta_hu is None and r.to_json()["pre"]["mean_hu"] is None
    assert enhancement_call(12, "MR") == "equivocal" and enhancement_call(5, "MR") == "not_enhancing"


def test_point_outside_and_mixed_modalities():
    pre, post, c = abdomen_pair(20.0)
    with pytest.raises(InputError, match="--at .*outside the pre"):
        measure_enhancement(pre, post, c + [0, 0, 500])
    mr = post.with_voxels(post.voxels, unit="signal", modality="MR")
    with pytest.raises(InputError, match="--pre/--post"):
        measure_enhancement(pre, mr, c)


def test_local_shift_sign_convention():
    pre, post, c = abdomen_pair(0.0, (4.0, 0.0, 0.0), noise=0.0)
    s = local_shift(pre, post, c)
    assert s.reliable and s.shift_mm[0] == pytest.approx(4.0, abs=0.3)


def test_sphere_exact_in_mm_on_anisotropic_grid():
    v = blank((20, 60, 60), (3.0, 0.7, 0.7), 0.0)
    c = v.index_to_patient((10, 30, 30))
    k, j, i = sphere_indices(v, c, 6.0)
    pts = v.index_to_patient(np.column_stack([k, j, i]).astype(float))
    assert np.all(np.linalg.norm(pts - c, axis=1) <= 6.0)
    assert len(k) == pytest.approx(4 / 3 * np.pi * 216 / (3 * 0.7 * 0.7), rel=0.1)
    assert set(np.unique(k)) == {8, 9, 10, 11, 12}
    assert sphere_stats(v, c, 0.1)["n"] == 1  # tiny sphere: the nearest voxel
    with pytest.raises(InputError, match="outside"):
        sphere_stats(v, c + [0, 0, 200], 5)


def test_region_and_ellipse_stats():
    s = region_stats([1.0, 2.0, 3.0, 4.0])
    assert s["mean"] == 2.5 and s["sd"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1)) and s["n"] == 4
    v = blank((5, 80, 80), (2.0, 0.5, 0.5), 0.0)
    v.voxels[2, :, :40] = 100.0  # left half of slice 2 (columns i < 40)
    c = v.index_to_patient((2, 40, 39.5))
    e = EllipseROI(major=(tuple(c - [10, 0, 0]), tuple(c + [10, 0, 0])),
                   minor=(tuple(c - [0, 5, 0]), tuple(c + [0, 5, 0])))
    st = ellipse_stats(v, e)
    assert st["area_mm2"] == pytest.approx(np.pi * 50)
    assert st["n"] == pytest.approx(np.pi * 50 / 0.25, rel=0.05)
    assert st["mean"] == pytest.approx(50, abs=3) and st["min"] == 0 and st["max"] == 100
    tilted = EllipseROI(major=(tuple(c - [10, 0, 3]), tuple(c + [10, 0, 3])), minor=e.minor)
    with pytest.raises(InputError, match="not a plane of the series"):
        ellipse_stats(v, tilted)


def test_ellipse_on_a_coronal_reformat_counts_the_voxels_of_that_row_plane():
    """Drawn on a coronal view of an axial series: the plane of voxel row j, checked voxel by voxel."""
    rng = np.random.default_rng(3)
    v = blank((20, 30, 40), (3.0, 0.8, 0.7), 0.0)
    v.voxels[...] = rng.normal(40, 10, v.shape)
    j = 12
    c = v.index_to_patient((10, j, 20))
    a_vec, b_vec = np.array([6.0, 0, 0]), np.array([0, 0, 9.0])  # patient x (in-row) and z (across slices)
    e = EllipseROI(major=(tuple(c - b_vec), tuple(c + b_vec)), minor=(tuple(c - a_vec), tuple(c + a_vec)))
    st = ellipse_stats(v, e)
    pts = v.grid_points()[:, j, :, :]
    d = pts - c
    inside = (d[..., 0] / 6.0) ** 2 + (d[..., 2] / 9.0) ** 2 <= 1.0
    expected = v.voxels[:, j, :][inside]
    assert st["n"] == expected.size
    assert st["mean"] == pytest.approx(float(expected.mean()))
    assert st["area_mm2"] == pytest.approx(np.pi * 54)


# -- the radius adapts to what the sphere sits in ------------------------------------------------
def _thrombus_in_aorta(motion=(2.0, -1.5, 3.0), thrombus=(50.0, 55.0), radius=6.0, seed=4):
    """abdomen_pair's aorta (9 mm, 40 -> 200 HU) holding a bland thrombus along its axis."""
    from measure_phantoms import cylinder_fraction

    pre, post, _ = abdomen_pair(30.0, motion, noise=0.0)
    c0 = center_of(pre)
    axis_pt = c0 + (-8, 8, 0)
    paint(pre, cylinder_fraction(pre, axis_pt, (0, 0.1, 1), radius), thrombus[0])
    paint(post, cylinder_fraction(post, axis_pt + motion, (0, 0.1, 1), radius), thrombus[1])
    add_noise(pre, 10.0, seed)
    add_noise(post, 10.0, seed + 1)
    return pre, post, axis_pt


def test_sphere_shrinks_inside_a_thrombus_and_reads_its_enhancement():
    pre, post, at = _thrombus_in_aorta()
    r = measure_enhancement(pre, post, at, radius_mm=10)
    assert r.radius_mm < 6.0 and r.adapted and r.radius_requested_mm == 10
    assert r.delta_hu == pytest.approx(5.0, abs=3.0) and r.call == "not_enhancing"
    assert r.flags == [] and r.outside_fraction == 0.0
    doc = r.to_json()
    assert doc["radius_adapted"] is True and doc["radius_requested_mm"] == 10 and doc["flags"] == []
    # the same sphere at a fixed 10 mm takes in the opacified lumen: wrong, and flagged
    fixed = measure_enhancement(pre, post, at, radius_mm=10, adapt=False)
    assert fixed.radius_mm == 10 and not fixed.adapted
    assert fixed.delta_hu > 20
    assert "straddles_boundary" in fixed.flags and fixed.outside_fraction > 0.1
    assert "high_sd" in fixed.flags and fixed.post["sd"] > 25


def test_sphere_keeps_the_requested_radius_in_a_large_homogeneous_mass():
    pre, post, c = abdomen_pair(30.0, (1.0, -1.0, 2.0), seed=5)
    r = measure_enhancement(pre, post, c, radius_mm=8)
    assert r.radius_mm == 8 and not r.adapted and r.flags == []


def test_a_point_on_an_edge_is_flagged_even_at_the_smallest_sphere():
    pre, post, at = _thrombus_in_aorta(radius=6.0)
    edge = at + np.array([6.0, 0.0, 0.0])  # on the thrombus / lumen boundary
    r = measure_enhancement(pre, post, edge, radius_mm=10)
    assert r.radius_mm <= 3.0  # only a small sphere keeps to one side of an edge


def _cli_enhancement(at, *extra):
    import json
    import subprocess
    import sys

    from workstation.resources import SAMPLE_DICOM

    study = SAMPLE_DICOM / "study"
    cmd = [sys.executable, "-m", "workstation.cli", "enhancement", "--pre", str(study / "S002_CT_ABD_NONCONTRAST"),
           "--post", str(study / "S003_CT_ABD_PORTAL_VENOUS"), "--at=" + ",".join(f"{v:g}" for v in at),
           "--json", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_cli_reads_the_sample_thrombi_within_their_truth():
    import json

    from workstation.resources import SAMPLE_DICOM

    truth = json.loads((SAMPLE_DICOM / "truth.json").read_text())
    bland = truth["bland_thrombus"]
    doc = _cli_enhancement(bland["point_mm"])
    want = bland["hu_post"] - bland["hu_pre"]
    assert abs(doc["delta_hu"] - want) <= 5, doc
    assert doc["call"] == "not_enhancing" and doc["radius_mm"] < doc["radius_requested_mm"] == 10
    assert doc["radius_adapted"] is True and doc["flags"] == []
    # the enhancing tumour thrombus in the IVC: the sphere stays out of the opacified lumen
    ivc = truth["ivc"]
    doc = _cli_enhancement(ivc["tumor_thrombus_point_mm"])
    want = ivc["hu_thrombus_post"] - ivc["hu_thrombus_pre"]
    assert abs(doc["delta_hu"] - want) <= 10 and doc["call"] == "enhancing", doc
    # --fixed-radius measures exactly what was asked (and says the sphere straddles the lumen)
    fixed = _cli_enhancement(bland["point_mm"], "--fixed-radius")
    assert fixed["radius_mm"] == 10 and fixed["radius_adapted"] is False
    assert "straddles_boundary" in fixed["flags"] and abs(fixed["delta_hu"] - want) > 5

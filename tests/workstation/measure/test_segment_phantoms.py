"""grow_lesion / measure_mask on generated phantoms of known shape and size."""
from __future__ import annotations

import numpy as np
import pytest
from measure_phantoms import (
    add_noise,
    blank,
    center_of,
    cylinder_fraction,
    ellipsoid_fraction,
    ellipsoid_truth,
    paint,
    rotation,
    slab_fraction,
    voxel_diagonal,
)

from workstation.errors import InputError
from workstation.measure.segment import grow_lesion, measure_mask

_OBL = rotation(25, 10, 17)  # an oblique (gantry-tilted, rotated) acquisition
OBLIQUE_ROW, OBLIQUE_COL = tuple(_OBL[:, 0]), tuple(_OBL[:, 1])


def _check(res, axes, vol, vol_tol=0.05):
    truth = ellipsoid_truth(axes)
    assert abs(res.volume_ml / truth["volume_ml"] - 1) < vol_tol, (res.volume_ml, truth)
    assert abs(res.greatest_dimension_mm - truth["greatest_dimension_mm"]) <= voxel_diagonal(vol), \
        (res.greatest_dimension_mm, truth)


@pytest.mark.parametrize("spacing,axes,rot", [
    ((3.0, 0.8, 0.8), (40, 25, 30), None),
    ((3.0, 0.8, 0.8), (45, 22, 30), (20, 30, 40)),
    ((1.0, 0.7, 0.7), (30, 18, 24), (60, 10, 75)),
    ((5.0, 0.9, 0.9), (20, 25, 45), None),            # long axis along z on 5 mm slices
])
def test_ellipsoid_volume_and_greatest_dimension(spacing, axes, rot):
    shape = tuple(int(150 / s) for s in spacing)
    v = blank(shape, spacing)
    c = center_of(v) + np.array([0.3, -0.4, 0.7])
    R = None if rot is None else rotation(*rot)
    paint(v, ellipsoid_fraction(v, c, axes, R), 40)
    add_noise(v, 10)
    res = grow_lesion(v, c)
    _check(res, axes, v)
    # the reported end points are as far apart as the reported length
    assert np.linalg.norm(np.subtract(*res.endpoints)) == pytest.approx(res.greatest_dimension_mm, abs=1e-6)


def test_oblique_grid_binary_phantom():
    v = blank((50, 170, 170), (3.0, 0.8, 0.8), row=OBLIQUE_ROW, col=OBLIQUE_COL)
    c = center_of(v)
    axes, R = (42, 20, 28), rotation(10, 50, 20)
    paint(v, ellipsoid_fraction(v, c, axes, R, partial=False), 45)
    add_noise(v, 10, seed=3)
    res = grow_lesion(v, c + R @ np.array([15.0, 0, 0]))
    _check(res, axes, v)


def test_axial_long_and_short_axes_of_axis_aligned_ellipsoid():
    v = blank((50, 180, 180), (3.0, 0.8, 0.8))
    c = center_of(v)
    axes = (50, 30, 35)  # x, y, z semi-axes
    paint(v, ellipsoid_fraction(v, c, axes), 40)
    add_noise(v, 10, seed=2)
    res = grow_lesion(v, c)
    assert res.axial_long_mm == pytest.approx(100, abs=1.2)
    assert res.axial_short_mm == pytest.approx(60, abs=1.2)
    assert res.craniocaudal_mm == pytest.approx(70, abs=3.0)
    la, lb = (np.asarray(p) for p in res.axial_long_endpoints)
    assert abs((lb - la)[0]) > 0.99 * np.linalg.norm(lb - la)  # the long axis runs along x
    sa, sb = (np.asarray(p) for p in res.axial_short_endpoints)
    assert abs(np.dot(sb - sa, lb - la)) < 1e-6 * np.linalg.norm(sb - sa) * np.linalg.norm(lb - la)


def test_necrotic_core_is_included_and_reported():
    v = blank((50, 170, 170), (3.0, 0.8, 0.8))
    c = center_of(v)
    axes, R = (45, 28, 32), rotation(0, 0, 30)
    paint(v, ellipsoid_fraction(v, c, axes, R), 45)
    core = (26, 16, 19)
    paint(v, ellipsoid_fraction(v, c + [3, 0, 0], core, R), 12)
    add_noise(v, 10, seed=4)
    res = grow_lesion(v, c + R @ np.array([36.0, 0, 0]))  # seed in the solid rim
    _check(res, axes, v)
    core_frac = ellipsoid_truth(core)["volume_ml"] / ellipsoid_truth(axes)["volume_ml"]
    assert res.low_attenuation_fraction == pytest.approx(core_frac, abs=0.06)
    assert "necrosis" in res.suggestions and "%" in res.suggestions["necrosis"]
    assert "macroscopic_fat" not in res.suggestions and "calcification" not in res.suggestions


def test_does_not_leak_into_touching_muscle_of_similar_hu():
    v = blank((50, 180, 180), (3.0, 0.8, 0.8))
    c = center_of(v)
    axes = (35, 28, 30)
    paint(v, ellipsoid_fraction(v, c, axes), 42)
    slab = slab_fraction(v, c + np.array([34.0, 0, 0]), (1, 0.15, 0), 25)  # overlaps the mass by 1 mm
    paint(v, slab, 52)
    vessel = cylinder_fraction(v, c + np.array([-30.0, -25.0, 0]), (0, 0, 1), 8)  # a vessel touching it
    paint(v, vessel, 45)
    add_noise(v, 10, seed=5)
    res = grow_lesion(v, c)
    leak_ml = float((res.mask & (np.maximum(slab, vessel) > 0.5)).sum()) * v.voxel_volume_ml
    truth = ellipsoid_truth(axes)["volume_ml"]
    assert leak_ml < 0.03 * truth, leak_ml
    assert abs(res.volume_ml / truth - 1) < 0.05
    assert res.greatest_dimension_mm < 2 * 35 + voxel_diagonal(v)


@pytest.mark.parametrize("value,where", [(-1000, "air"), (-100, "fat"), (700, "bone")])
def test_bad_seed_fails_with_reason(value, where):
    v = blank((30, 100, 100), (3.0, 0.8, 0.8), value)
    add_noise(v, 10)
    with pytest.raises(InputError, match=where) as e:
        grow_lesion(v, center_of(v))
    assert "--seed" in str(e.value) and "HU" in str(e.value)


def test_seed_outside_volume_and_boundless_region():
    v = blank((30, 100, 100), (3.0, 0.8, 0.8))
    with pytest.raises(InputError, match="outside"):
        grow_lesion(v, center_of(v) + [500, 0, 0])
    big = blank((110, 380, 380), (3.0, 0.8, 0.8), 45)  # soft tissue with no boundary: 30 x 30 x 33 cm
    add_noise(big, 10)
    with pytest.raises(InputError, match="beyond 250 mm"):
        grow_lesion(big, center_of(big))


def test_mr_lesion_has_no_hu_fractions():
    v = blank((40, 140, 140), (4.0, 1.0, 1.0), 120.0, unit="signal", modality="MR")
    c = center_of(v)
    axes = (35, 25, 30)
    paint(v, ellipsoid_fraction(v, c, axes), 700.0)
    add_noise(v, 30)
    res = grow_lesion(v, c)
    _check(res, axes, v)
    assert res.fat_fraction is None and res.mean_hu is None and res.suggestions == {}
    doc = res.to_json()
    assert doc["mean_value"] == pytest.approx(700, abs=40)


def test_measure_mask_flat_and_single_voxel():
    v = blank((10, 60, 60), (3.0, 0.8, 0.8), 40)
    m = np.zeros(v.shape, bool)
    m[4, 10:40, 20:31] = True           # one slice: a 30 x 11 pixel rectangle (flat hull)
    res = measure_mask(v, m)
    d = np.hypot(29 * 0.8, 10 * 0.8)  # corner to corner, plus the end allowance along that line
    assert res.greatest_dimension_mm == pytest.approx(d + 0.8 * 29 * 0.8 / d, abs=0.01)
    assert res.craniocaudal_mm == pytest.approx(3.0)
    assert res.volume_ml == pytest.approx(330 * v.voxel_volume_ml)
    m[:] = False
    m[5, 5, 5] = True
    one = measure_mask(v, m)
    assert one.greatest_dimension_mm == pytest.approx(3.0) and one.n_voxels == 1
    assert one.axial_long_mm == pytest.approx(0.8) and one.axial_short_mm == pytest.approx(0.8)
    with pytest.raises(InputError, match="empty"):
        measure_mask(v, np.zeros(v.shape, bool))
    with pytest.raises(InputError, match="shape"):
        measure_mask(v, np.zeros((3, 3, 3), bool))


def test_composition_fat_and_calcification_suggested():
    v = blank((40, 140, 140), (3.0, 0.8, 0.8), -100)
    c = center_of(v)
    axes = (35, 28, 30)
    paint(v, ellipsoid_fraction(v, c, axes), 40)
    paint(v, ellipsoid_fraction(v, c + [12, 0, 0], (8, 8, 8)), -100)   # enclosed fat
    paint(v, ellipsoid_fraction(v, c - [12, 0, 0], (3, 3, 4)), 600)    # calcification
    add_noise(v, 10)
    res = grow_lesion(v, c + [0, 15, 0])
    assert res.fat_fraction > 0.01 and "macroscopic_fat" in res.suggestions
    assert res.calcification_fraction > 0.002 and "calcification" in res.suggestions
    v.meta["contrast_agent"] = "IOHEXOL"
    assert "calcification" not in measure_mask(v, res.mask).suggestions
    # the phase comes from the one classifier: a portal venous description without the agent tag
    # is a contrast series too, an explicit non-contrast description is not
    del v.meta["contrast_agent"]
    v.description = "CT ABD PORTAL VENOUS"
    assert "calcification" not in measure_mask(v, res.mask).suggestions
    v.description = "CT ABD NON-CONTRAST"
    assert "calcification" in measure_mask(v, res.mask).suggestions


def test_to_json_has_cli_fields_and_measurement_record():
    v = blank((30, 100, 100), (3.0, 0.8, 0.8))
    c = center_of(v)
    paint(v, ellipsoid_fraction(v, c, (20, 15, 18)), 40)
    res = grow_lesion(v, c)
    doc = res.to_json()
    for k in ("volume_ml", "greatest_dimension_mm", "axial_long_mm", "axial_short_mm", "craniocaudal_mm",
              "mean_hu", "fat_fraction", "calcification_fraction", "low_attenuation_fraction"):
        assert isinstance(doc[k], float), k
    rec = res.to_measurement(series_uid="1.2.3")
    assert rec.kind == "lesion" and rec.figures["greatest_dimension_mm"] == doc["greatest_dimension_mm"]

"""How views map a volume to the screen: radiological convention, true aspect, orientation letters."""
from __future__ import annotations

import numpy as np
import pytest
from viewer_helpers import phantom

from ui.geometry import direction_letters, plane_mapping


def _screen_dirs(vol, view):
    """Patient direction of screen-right and screen-down, measured by moving one pixel."""
    m = plane_mapping(vol, view)
    d = m.n_slices // 2
    o = vol.index_to_patient(m.scene_to_index(0, 0, d))
    r = vol.index_to_patient(m.scene_to_index(m.col_spacing, 0, d)) - o
    dn = vol.index_to_patient(m.scene_to_index(0, m.row_spacing, d)) - o
    return r / np.linalg.norm(r), dn / np.linalg.norm(dn)


@pytest.mark.parametrize("row,col,normal", [
    ((1, 0, 0), (0, 1, 0), None),            # standard axial
    ((-1, 0, 0), (0, 1, 0), (0, 0, -1)),     # flipped left-right (and slices head to feet)
    ((1, 0, 0), (0, -1, 0), (0, 0, -1)),     # flipped anterior-posterior
    ((0, 1, 0), (0, 0, -1), (-1, 0, 0)),     # a sagittal acquisition
    ((1, 0, 0), (0, 0, -1), (0, 1, 0)),      # a coronal acquisition
])
def test_views_follow_radiological_convention_whatever_the_acquisition(row, col, normal):
    vol = phantom(row=row, col=col, normal=normal)
    expect = {"axial": ((1, 0, 0), (0, 1, 0)), "coronal": ((1, 0, 0), (0, 0, -1)),
              "sagittal": ((0, 1, 0), (0, 0, -1))}
    for view, (right, down) in expect.items():
        r, d = _screen_dirs(vol, view)
        np.testing.assert_allclose(r, right, atol=1e-9, err_msg=view)
        np.testing.assert_allclose(d, down, atol=1e-9, err_msg=view)
        letters = plane_mapping(vol, view).edge_letters()
        exp = {"axial": ("R", "L", "A", "P"), "coronal": ("R", "L", "S", "I"),
               "sagittal": ("A", "P", "S", "I")}[view]
        assert (letters["left"], letters["right"], letters["top"], letters["bottom"]) == exp


def test_image_is_the_voxels_of_the_slice_in_screen_order():
    vol = phantom(row=(-1, 0, 0), col=(0, 1, 0), normal=(0, 0, -1))
    m = plane_mapping(vol, "axial")
    img = m.image(vol.voxels, 3)
    # every displayed pixel holds the voxel whose patient position the scene coordinate maps to
    rows, cols = img.shape
    for r, c in [(0, 0), (rows - 1, 0), (5, cols - 1), (rows // 2, cols // 3)]:
        kji = np.rint(m.scene_to_index(c * m.col_spacing, r * m.row_spacing, 3)).astype(int)
        assert img[r, c] == vol.voxels[tuple(kji)]
    # patient right (most negative x) is at the screen's left edge
    xs = [vol.index_to_patient(m.scene_to_index(c * m.col_spacing, 0, 3))[0] for c in (0, cols - 1)]
    assert xs[0] < xs[1]


def test_true_aspect_for_anisotropic_voxels():
    vol = phantom(shape=(40, 64, 80), spacing=(2.5, 0.8, 0.6))
    m = plane_mapping(vol, "coronal")
    x, y, w, h = m.image_rect()
    assert w == pytest.approx(80 * 0.6) and h == pytest.approx(40 * 2.5)
    m = plane_mapping(vol, "sagittal")
    x, y, w, h = m.image_rect()
    assert w == pytest.approx(64 * 0.8) and h == pytest.approx(40 * 2.5)


def test_oblique_letters_come_from_the_direction_cosines():
    a = np.radians(30)
    row = (np.cos(a), np.sin(a), 0.0)     # the i axis runs to the left and back
    col = (-np.sin(a), np.cos(a), 0.0)
    vol = phantom(row=row, col=col)
    letters = plane_mapping(vol, "axial").edge_letters()
    assert letters["right"] == "LP" and letters["left"] == "RA"
    assert letters["bottom"] == "PR" and letters["top"] == "AL"
    assert direction_letters((0.2, 0.1, -0.97)) == "I"


def test_scene_index_round_trip():
    vol = phantom(row=(0, 1, 0), col=(0, 0, -1), normal=(-1, 0, 0))
    for view in ("axial", "coronal", "sagittal"):
        m = plane_mapping(vol, view)
        kji = np.array([[3.2, 10.7, 5.1], [0, 0, 0], [39, 63, 79]], float)
        s = m.index_to_scene(kji)
        back = m.scene_to_index(s[:, 0], s[:, 1], s[:, 2])
        np.testing.assert_allclose(back, kji, atol=1e-9)

"""Volume geometry against the DICOM formula written out by hand (domain.md)."""
import numpy as np
import pytest

from workstation import Volume
from workstation.errors import InputError


def _oblique_cosines():
    a = np.deg2rad(20.0)
    row = np.array([np.cos(a), np.sin(a), 0.0])
    tilt = np.deg2rad(15.0)
    col = np.array([-np.sin(a) * np.cos(tilt), np.cos(a) * np.cos(tilt), -np.sin(tilt)])
    return row, col


def test_index_to_patient_matches_dicom_formula_on_oblique_grid():
    row, col = _oblique_cosines()
    normal = np.cross(row, col)
    spacing = (3.0, 0.7, 0.8)  # dz, dy (between rows), dx (between columns)
    origin = np.array([-120.5, 80.25, 300.0])
    vol = Volume(np.zeros((5, 6, 7), np.int16), spacing, origin, row, col)
    rng = np.random.default_rng(1)
    for _ in range(20):
        k, j, i = rng.integers(0, 5), rng.integers(0, 6), rng.integers(0, 7)
        ipp_k = origin + k * spacing[0] * normal
        expected = ipp_k + i * spacing[2] * row + j * spacing[1] * col
        np.testing.assert_allclose(vol.index_to_patient((k, j, i)), expected, atol=1e-9)
        np.testing.assert_allclose(vol.patient_to_index(expected), (k, j, i), atol=1e-9)


def test_vectorised_round_trip_and_slice_positions():
    row, col = _oblique_cosines()
    vol = Volume(np.zeros((4, 3, 2), np.float32), (2.5, 1.0, 1.25), (1, 2, 3), row, col)
    pts = vol.grid_points()
    assert pts.shape == (4, 3, 2, 3)
    back = vol.patient_to_index(pts.reshape(-1, 3)).reshape(4, 3, 2, 3)
    kk, jj, ii = np.meshgrid(range(4), range(3), range(2), indexing="ij")
    np.testing.assert_allclose(back, np.stack([kk, jj, ii], -1), atol=1e-9)
    assert vol.slice_position_mm(2) - vol.slice_position_mm(0) == pytest.approx(5.0)
    assert vol.index_of_position(vol.slice_position_mm(3)) == pytest.approx(3.0)


def test_nearest_index_value_and_inside():
    data = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    vol = Volume(data, (5.0, 2.0, 1.0), (0.0, 0.0, 0.0))
    assert vol.nearest_index((3.0, 4.0, 5.0)) == (1, 2, 3)
    assert vol.value_at((3.0, 4.0, 5.0)) == float(data[1, 2, 3])
    assert vol.nearest_index((100.0, 0.0, 0.0)) is None
    assert vol.value_at((0.0, 0.0, -10.0)) is None


def test_sample_interpolates_linearly_and_fills_outside():
    data = np.zeros((3, 3, 3), np.float32)
    data[:, :, 1] = 10.0
    data[:, :, 2] = 20.0
    vol = Volume(data, (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    got = vol.sample(np.array([[1.0, 1.0, 1.0], [3.0, 1.0, 1.0], [50.0, 0.0, 0.0]]), fill=-1000)
    np.testing.assert_allclose(got, [5.0, 15.0, -1000.0])


def test_invalid_geometry_names_the_field():
    with pytest.raises(InputError, match="spacing_mm"):
        Volume(np.zeros((2, 2, 2)), (0.0, 1.0, 1.0), (0, 0, 0))
    with pytest.raises(InputError, match="not orthogonal"):
        Volume(np.zeros((2, 2, 2)), (1.0, 1.0, 1.0), (0, 0, 0), (1, 0, 0), (1, 1, 0))
    with pytest.raises(InputError, match="voxels"):
        Volume(np.zeros((2, 2)), (1.0, 1.0, 1.0), (0, 0, 0))

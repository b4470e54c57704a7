"""The measurement kinds added for the viewer basics: angle, freehand outline, arrow. Round trips
through to_dict/from_dict (what autosave and the session store keep) and freehand statistics
checked against the voxels counted directly."""
from __future__ import annotations

import math

import numpy as np
import pytest

from workstation.errors import InputError
from workstation.measure.model import Angle, Arrow, FreehandROI, Measurement
from workstation.measure.roi import freehand_stats
from workstation.volume import Volume


def _volume(spacing=(3.0, 0.7, 0.9)) -> Volume:
    rng = np.random.default_rng(4)
    vox = rng.integers(-1000, 1000, size=(12, 40, 50)).astype(np.int16)
    return Volume(vox, spacing, (-20.0, -15.0, 30.0), (1, 0, 0), (0, 1, 0), None, unit="HU",
                  modality="CT", series_uid="1.2.3.fh", description="FH")


@pytest.mark.parametrize("m", [
    Angle(series_uid="1.2", label="Angle 1", vertex=(0, 0, 0), p1=(10, 0, 0), p2=(0, 5, 0)),
    FreehandROI(series_uid="1.2", label="F", points=[(0, 0, 1), (4, 0, 1), (4, 3, 1)], stats={"mean": 2.0}),
    Arrow(series_uid="1.2", label="look here", head=(1, 2, 3), tail=(4, 5, 6)),
])
def test_round_trip(m: Measurement) -> None:
    import json

    d = json.loads(json.dumps(m.to_dict()))
    back = Measurement.from_dict(d)
    assert type(back) is type(m) and back.to_dict() == m.to_dict() and back == m


def test_angle_degrees() -> None:
    assert Angle(vertex=(0, 0, 0), p1=(10, 0, 0), p2=(0, 5, 0)).angle_deg == pytest.approx(90)
    assert Angle(vertex=(1, 1, 1), p1=(2, 2, 1), p2=(2, 1, 1)).angle_deg == pytest.approx(45)
    assert Angle(vertex=(0, 0, 0), p1=(1, 0, 0), p2=(-3, 0, 0)).angle_deg == pytest.approx(180)
    assert Angle(vertex=(0, 0, 0), p1=(0, 0, 0), p2=(1, 0, 0)).angle_deg == 0.0


def test_freehand_needs_three_finite_points() -> None:
    with pytest.raises(InputError, match="at least 3"):
        FreehandROI(points=[(0, 0, 0), (1, 1, 1)])
    with pytest.raises(InputError, match=r"freehand.points\[1\]"):
        FreehandROI(points=[(0, 0, 0), (1, math.nan, 1), (2, 2, 2)])


def test_freehand_area_in_any_plane() -> None:
    sq = FreehandROI(points=[(0, 0, 5), (10, 0, 5), (10, 4, 5), (0, 4, 5)])
    assert sq.area_mm2 == pytest.approx(40)
    tilted = FreehandROI(points=[(0, 0, 0), (3, 0, 4), (3, 2, 4), (0, 2, 0)])  # 5 x 2 in an oblique plane
    assert tilted.area_mm2 == pytest.approx(10)


def test_freehand_stats_count_the_voxel_centres_inside() -> None:
    vol = _volume()
    k = 7
    # a rectangle on voxel boundaries: rows 10..20, columns 5..15 exactly (index corners at .5)
    corners_kji = [(k, 9.5, 4.5), (k, 9.5, 15.5), (k, 20.5, 15.5), (k, 20.5, 4.5)]
    pts = [tuple(vol.index_to_patient(c)) for c in corners_kji]
    roi = FreehandROI(series_uid=vol.series_uid, points=pts)
    st = freehand_stats(vol, roi)
    block = vol.voxels[k, 10:21, 5:16].astype(float)
    assert st["n"] == block.size
    assert st["mean"] == pytest.approx(block.mean()) and st["sd"] == pytest.approx(block.std(ddof=1))
    assert st["min"] == block.min() and st["max"] == block.max()
    assert st["area_mm2"] == pytest.approx(11 * 0.7 * 11 * 0.9)


def test_freehand_stats_triangle_on_a_coronal_plane() -> None:
    vol = _volume()
    j = 12
    tri = [(1.5, j, 2.5), (9.5, j, 2.5), (9.5, j, 30.5)]  # (k, j, i): a right triangle in a row plane
    roi = FreehandROI(points=[tuple(vol.index_to_patient(c)) for c in tri])
    st = freehand_stats(vol, roi)
    kk, ii = np.mgrid[0:12, 0:50]
    # inside: k in (1.5, 9.5), i in (2.5, 30.5) and below the hypotenuse from (1.5,2.5) to (9.5,30.5)
    inside = (kk > 1.5) & (kk < 9.5) & (ii > 2.5) & ((ii - 2.5) * 8.0 < (kk - 1.5) * 28.0)
    expected = vol.voxels[:, j, :][inside].astype(float)
    assert st["n"] == expected.size and st["mean"] == pytest.approx(expected.mean())


def test_freehand_stats_refuses_an_outline_across_slices() -> None:
    vol = _volume()
    pts = [tuple(vol.index_to_patient(c)) for c in [(2, 5, 5), (3, 5, 20), (4, 20, 20)]]
    with pytest.raises(InputError, match="plane"):
        freehand_stats(vol, FreehandROI(points=pts))


def test_a_tiny_outline_takes_the_nearest_voxel() -> None:
    vol = _volume()
    c = np.asarray([5.0, 20.0, 20.0])
    pts = [tuple(vol.index_to_patient(c + d)) for d in ([0, 0.1, 0.1], [0, 0.1, 0.2], [0, 0.2, 0.2])]
    st = freehand_stats(vol, FreehandROI(points=pts))
    assert st["n"] == 1 and st["mean"] == vol.voxels[5, 20, 20]


def test_the_session_store_keeps_the_new_kinds(tmp_path) -> None:
    """What autosave writes and reads back (workstation.session)."""
    from workstation.session import SessionStore

    ms = [Angle(series_uid="1.2", label="A1", vertex=(0, 0, 0), p1=(10, 0, 0), p2=(0, 5, 0)),
          FreehandROI(series_uid="1.2", points=[(0, 0, 1), (4, 0, 1), (4, 3, 1)], stats={"mean": 2.5, "n": 3}),
          Arrow(series_uid="1.2", label="thrombus", head=(1, 2, 3), tail=(4, 5, 6))]
    store = SessionStore("k" * 16, root=tmp_path)
    store.acquire()
    store.save({"schema": "x"}, ms)
    st = SessionStore("k" * 16, root=tmp_path).load()
    assert [m.to_dict() for m in st.measurements] == [m.to_dict() for m in ms]
    store.release()

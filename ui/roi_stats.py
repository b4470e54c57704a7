"""Ellipse statistics for the viewer: the core's ``workstation.measure.roi.ellipse_stats``.

The core measures ellipses drawn in the series' own slice planes (axial for an axial acquisition).
An ellipse drawn on a reformatted view (coronal/sagittal of an axial series) lies in a plane of
voxel *rows* or *columns*; for those the same convention is applied here on that plane (voxel
centres inside the ellipse, in the one layer of voxels the plane passes through) and the values go
through the core's ``region_stats``, so both paths report identical numbers for identical voxels.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from workstation.errors import InputError
from workstation.measure.model import EllipseROI
from workstation.measure.roi import ellipse_stats as _core_ellipse_stats
from workstation.measure.roi import region_stats
from workstation.volume import Volume


def _reformat_plane_stats(volume: Volume, roi: EllipseROI) -> dict[str, Any]:
    p1, p2 = (np.asarray(p, float) for p in roi.major)
    q1, q2 = (np.asarray(p, float) for p in roi.minor)
    c = (p1 + p2) / 2
    av, bv = (p2 - p1) / 2, (q2 - q1) / 2
    a, b = float(np.linalg.norm(av)), float(np.linalg.norm(bv))
    if a <= 0 or b <= 0:
        raise InputError("ellipse: an axis has zero length")
    au = av / a
    bu = bv - (bv @ au) * au
    bu /= np.linalg.norm(bu)
    n = np.cross(au, bu)
    dirs = volume.direction
    axis = int(np.argmax(np.abs(dirs.T @ n)))
    if abs(abs(float(dirs[:, axis] @ n)) - 1.0) > 0.02:
        raise InputError("ellipse: its plane is not a plane of the series' voxel grid")
    kji = volume.patient_to_index(c)
    if not volume.contains_index(kji):
        raise InputError("ellipse: its centre lies outside the series")
    layer = int(np.clip(np.rint(kji[axis]), 0, volume.shape[axis] - 1))
    sp = np.asarray(volume.spacing_mm)
    r = max(a, b)
    lo = np.maximum(np.floor(kji - r / sp).astype(int), 0)
    hi = np.minimum(np.ceil(kji + r / sp).astype(int) + 1, volume.shape)
    lo[axis], hi[axis] = layer, layer + 1
    box = tuple(slice(int(x), int(y)) for x, y in zip(lo, hi))
    pts = volume.grid_points(box)
    d = pts - c
    inside = (d @ au / a) ** 2 + (d @ bu / b) ** 2 <= 1.0
    values = volume.voxels[box][inside]
    if values.size == 0:
        values = np.asarray([volume.voxels[volume.nearest_index(c)]])
    out: dict[str, Any] = region_stats(values)
    out["area_mm2"] = math.pi * a * b
    return out


def ellipse_stats(volume: Volume, roi: EllipseROI) -> dict[str, Any]:
    """mean, sd, min, max, n, area_mm2 of an ellipse drawn in any view of ``volume``."""
    p1, p2 = (np.asarray(p, float) for p in roi.major)
    q1, q2 = (np.asarray(p, float) for p in roi.minor)
    n = np.cross(p2 - p1, q2 - q1)
    nn = float(np.linalg.norm(n))
    if nn > 0 and abs(float(np.asarray(volume.normal) @ n) / nn) > 0.98:
        return dict(_core_ellipse_stats(volume, roi))
    return _reformat_plane_stats(volume, roi)

"""Region statistics in patient space: ellipse (in a slice plane), sphere, any set of values.

Conventions (used by every ROI the workstation reports):

* a voxel belongs to a region when its *centre* lies inside the region, measured in patient
  millimetres on the series' own (possibly anisotropic, possibly oblique) grid; no resampling;
* a region too small to contain any voxel centre takes the one voxel nearest to its centre, so a
  tiny ROI still gives a value rather than nothing;
* ``sd`` is the sample standard deviation (``ddof=1``, what most workstations display for ROI
  statistics); it is 0.0 for a single voxel.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..errors import InputError
from ..resources import load_json
from ..volume import Volume
from .model import Caliper, EllipseROI

__all__ = ["region_stats", "sphere_indices", "sphere_stats", "ellipse_stats", "caliper_length_mm",
           "measurement_params"]


def measurement_params() -> dict[str, Any]:
    """The parsed ``resources/measurement.json`` (cut-offs with their sources; read-only)."""
    return load_json("measurement.json")


def region_stats(values: Iterable[float] | np.ndarray) -> dict[str, float]:
    """``mean``, ``sd`` (ddof=1; 0 for one value), ``min``, ``max`` and ``n`` of the values."""
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        raise InputError("ROI: contains no voxel of the series")
    sd = float(a.std(ddof=1)) if a.size > 1 else 0.0
    return {"mean": float(a.mean()), "sd": sd, "min": float(a.min()), "max": float(a.max()),
            "n": int(a.size)}


def _box(volume: Volume, center_kji: np.ndarray, half_extent_mm: float) -> tuple[slice, slice, slice] | None:
    """Index box (clipped to the volume) holding every voxel within ``half_extent_mm`` of a point."""
    sp = np.asarray(volume.spacing_mm)
    lo = np.floor(center_kji - half_extent_mm / sp).astype(int)
    hi = np.ceil(center_kji + half_extent_mm / sp).astype(int) + 1
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, volume.shape)
    if np.any(hi <= lo):
        return None
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))  # type: ignore[return-value]


def sphere_indices(volume: Volume, center: Iterable[float], radius_mm: float,
                   what: str = "sphere.center") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(k, j, i)`` index arrays of the voxels whose centres lie within ``radius_mm`` of ``center``.

    The centre must lie inside the volume (``InputError`` naming ``what`` otherwise); when no voxel
    centre is within the radius, the nearest voxel is used.
    """
    c = np.asarray(center, dtype=float).reshape(3)
    nearest = volume.nearest_index(c)
    if nearest is None:
        raise InputError(f"{what}: point {_fmt(c)} lies outside the series")
    if not (radius_mm > 0 and math.isfinite(radius_mm)):
        raise InputError(f"radius_mm: expected a positive number of millimetres, got {radius_mm!r}")
    kji = volume.patient_to_index(c)
    box = _box(volume, kji, radius_mm)
    if box is not None:
        pts = volume.grid_points(box)
        inside = np.sum((pts - c) ** 2, axis=-1) <= radius_mm ** 2
        if inside.any():
            kk, jj, ii = np.nonzero(inside)
            return kk + box[0].start, jj + box[1].start, ii + box[2].start
    return tuple(np.array([v]) for v in nearest)  # type: ignore[return-value]


def sphere_stats(volume: Volume, center: Iterable[float], radius_mm: float) -> dict[str, Any]:
    """Statistics of a sphere (voxel centres within ``radius_mm`` of ``center``, patient mm)."""
    idx = sphere_indices(volume, center, radius_mm)
    out: dict[str, Any] = region_stats(volume.voxels[idx])
    out["center_mm"] = [float(v) for v in np.asarray(center, float).reshape(3)]
    out["radius_mm"] = float(radius_mm)
    out["volume_ml"] = out["n"] * volume.voxel_volume_ml
    return out


def ellipse_stats(volume: Volume, roi: EllipseROI, plane_tolerance: float = 0.02) -> dict[str, Any]:
    """Statistics of an in-plane ellipse on ``volume``: mean, sd, min, max, n, area_mm2.

    The ellipse (axis end points in LPS) must lie in a plane of the volume's voxel grid: a slice
    plane (axial for an axial series) or, for an ellipse drawn on a reformat, a plane of voxel rows
    (coronal) or columns (sagittal). The layer nearest its centre is measured: voxels
    of that layer whose centres fall inside the ellipse are counted; ``area_mm2`` is pi*a*b.
    """
    p1, p2 = (np.asarray(p, float) for p in roi.major)
    q1, q2 = (np.asarray(p, float) for p in roi.minor)
    c = (p1 + p2) / 2
    av, bv = (p2 - p1) / 2, (q2 - q1) / 2
    a, b = float(np.linalg.norm(av)), float(np.linalg.norm(bv))
    if a <= 0 or b <= 0:
        raise InputError("ellipse: an axis has zero length")
    au = av / a
    bu = bv - (bv @ au) * au  # tolerate slightly non-perpendicular axes drawn by hand
    if np.linalg.norm(bu) < 1e-6:
        raise InputError("ellipse: major and minor axes are parallel")
    bu /= np.linalg.norm(bu)
    # which grid axis (k, j or i) is perpendicular to the ellipse's plane
    dirs = volume.direction  # columns: k, j, i axis directions
    off_plane = np.maximum(np.abs(dirs.T @ au), np.abs(dirs.T @ bu))
    axis = int(np.argmin(off_plane))
    if off_plane[axis] > plane_tolerance:
        raise InputError("ellipse: its plane is not a plane of the series' voxel grid")
    kji = volume.patient_to_index(c)
    if not volume.contains_index(kji):
        raise InputError(f"ellipse: centre {_fmt(c)} lies outside the series")
    layer = int(np.clip(np.rint(kji[axis]), 0, volume.shape[axis] - 1))
    box = _box(volume, kji, max(a, b))
    values = np.empty(0)
    if box is not None:
        box = tuple(slice(layer, layer + 1) if ax == axis else sl for ax, sl in enumerate(box))
        d = volume.grid_points(box) - c
        inside = (d @ au / a) ** 2 + (d @ bu / b) ** 2 <= 1.0
        values = volume.voxels[box][inside]
    if values.size == 0:
        nearest = volume.nearest_index(c)
        values = np.asarray([volume.voxels[nearest]])  # type: ignore[index]
    out: dict[str, Any] = region_stats(values)
    out["area_mm2"] = math.pi * a * b
    return out


def caliper_length_mm(caliper: Caliper) -> float:
    """A caliper's length in patient millimetres (the model already knows it)."""
    return caliper.length_mm


def _fmt(p: Iterable[float]) -> str:
    return ",".join(f"{float(v):g}" for v in p)

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..resources import load_json
from ..volume import Volume
from .model import Caliper, EllipseROI, FreehandROI

__all__ = [
    "Homogeneous",
    "caliper_length_mm",
    "ellipse_stats",
    "freehand_stats",
    "homogeneous_region",
    "measurement_params",
    "region_stats",
    "sphere_indices",
    "sphere_stats",
]


def measurement_params() -> dict[str, Any]:
    """The parsed ``resources/measurement.json`` (cut-offs with their sources; read-only)."""
    doc: dict[str, Any] = load_json("measurement.json")
    return doc


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
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))  # type: ignore[return-value]


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


@dataclass(frozen=True)
class Homogeneous:
    """The region of similar attenuation (signal) around a point, as a sphere can use it.

    ``clearance_mm``: distance from the point to the nearest voxel centre outside the region (the
    largest sphere radius whose voxel centres all stay inside; ``inf`` when none lies within the
    searched box); ``core``: the smoothed value the region is similar to; ``tolerance``: the
    allowed difference; ``inside``: the voxel nearest the point belongs to the region (False when
    it is already an outlier of its own core, e.g. exactly on an edge).
    """

    clearance_mm: float
    core: float
    tolerance: float
    inside: bool
    _d2: np.ndarray = field(repr=False, compare=False)
    _region: np.ndarray = field(repr=False, compare=False)

    def outside_fraction(self, radius_mm: float) -> float:
        """Of the voxels within ``radius_mm`` of the point, the fraction outside the region."""
        sel = self._d2 <= radius_mm ** 2
        n = int(sel.sum())
        return float((sel & ~self._region).sum()) / n if n else 0.0


def adaptive_params() -> dict[str, Any]:
    """``measurement.json`` ``enhancement.adaptive_roi`` (project judgement, see there)."""
    p: dict[str, Any] = measurement_params()["enhancement"]["adaptive_roi"]
    return p


def homogeneous_region(volume: Volume, center: Iterable[float], radius_mm: float) -> Homogeneous:
    """The connected region of similar values around ``center``, searched within ``radius_mm``.

    Values are smoothed (Gaussian, ``smoothing_mm``) so that image noise alone does not cut the
    region; the core is the median of the smoothed values within ``core_radius_mm``; similar means
    within ``ct_tolerance_hu`` (CT) or ``mr_tolerance_fraction`` of the core (MR); the region is
    the 6-connected component holding the point, with its enclosed holes filled (scipy.ndimage).
    Parameters: :func:`adaptive_params`."""
    from scipy import ndimage

    prm = adaptive_params()
    c = np.asarray(center, dtype=float).reshape(3)
    if volume.nearest_index(c) is None:
        raise InputError(f"ROI: point {_fmt(c)} lies outside the series")
    sp = np.asarray(volume.spacing_mm, float)
    margin = 3 * float(prm["smoothing_mm"]) + float(sp.max())
    box = _box(volume, volume.patient_to_index(c), radius_mm + margin)
    assert box is not None  # the point is inside the volume
    sub = np.asarray(volume.voxels[box], dtype=np.float64)
    smooth = ndimage.gaussian_filter(sub, sigma=float(prm["smoothing_mm"]) / sp, mode="nearest")
    d2 = np.sum((volume.grid_points(box) - c) ** 2, axis=-1)
    core_sel = d2 <= max(float(prm["core_radius_mm"]), float(sp.min())) ** 2
    core = float(np.median(smooth[core_sel])) if core_sel.any() else float(smooth.flat[int(np.argmin(d2))])
    tol = (float(prm["ct_tolerance_hu"]) if volume.unit == "HU"
           else float(prm["mr_tolerance_fraction"]) * abs(core))
    similar = np.abs(smooth - core) <= tol
    near = np.unravel_index(int(np.argmin(d2)), d2.shape)
    inside = bool(similar[near])
    region = np.zeros_like(similar)
    if inside:
        labels, _n = ndimage.label(similar)
        region = ndimage.binary_fill_holes(labels == labels[near])
    out_d2 = d2[~region]
    clearance = float(np.sqrt(out_d2.min())) if out_d2.size else math.inf
    return Homogeneous(clearance, core, tol, inside, d2, region)


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
        layer_box = (box[0], box[1], box[2])
        layer_box = tuple(  # type: ignore[assignment]
            slice(layer, layer + 1) if ax == axis else sl for ax, sl in enumerate(box))
        d = volume.grid_points(layer_box) - c
        inside = (d @ au / a) ** 2 + (d @ bu / b) ** 2 <= 1.0
        values = volume.voxels[layer_box][inside]
    if values.size == 0:
        nearest = volume.nearest_index(c)
        values = np.asarray([volume.voxels[nearest]])
    out: dict[str, Any] = region_stats(values)
    out["area_mm2"] = math.pi * a * b
    return out


def freehand_stats(volume: Volume, roi: FreehandROI, plane_tolerance: float = 0.02) -> dict[str, Any]:
    """Statistics of a hand-drawn outline on ``volume``: mean, sd, min, max, n, area_mm2.

    The outline must lie in one plane of the series' voxel grid (a slice, a row or a column plane,
    as drawn on the axial, coronal or sagittal view); the voxels of that layer whose centres fall
    inside the outline are counted (``skimage.draw.polygon``: centre-inside test, even-odd rule);
    ``area_mm2`` is the area the outline encloses.
    """
    kji = volume.patient_to_index(np.asarray(roi.points, dtype=float).reshape(-1, 3))
    spread = kji.max(axis=0) - kji.min(axis=0)
    axis = int(np.argmin(spread))
    if spread[axis] > 2 * plane_tolerance + 1e-6:
        raise InputError("freehand: its outline is not in a plane of the series' voxel grid")
    layer_f = float(np.mean(kji[:, axis]))
    if not -0.5 <= layer_f <= volume.shape[axis] - 0.5:
        raise InputError("freehand: its outline lies outside the series")
    layer = int(np.clip(np.rint(layer_f), 0, volume.shape[axis] - 1))
    rest = [ax for ax in range(3) if ax != axis]
    from skimage.draw import polygon  # only when an outline is measured (a slow import)

    rows, cols = polygon(kji[:, rest[0]], kji[:, rest[1]],  # type: ignore[no-untyped-call]
                         shape=(volume.shape[rest[0]], volume.shape[rest[1]]))
    index: list[Any] = [None, None, None]
    index[axis], index[rest[0]], index[rest[1]] = layer, rows, cols
    values = np.asarray(volume.voxels[tuple(index)])
    if values.size == 0:  # smaller than a voxel: the voxel nearest its centre
        near = volume.nearest_index(roi.center)
        if near is None:
            raise InputError("freehand: its outline lies outside the series")
        values = np.asarray([volume.voxels[near]])
    out: dict[str, Any] = region_stats(values)
    out["area_mm2"] = roi.area_mm2
    return out


def caliper_length_mm(caliper: Caliper) -> float:
    """A caliper's length in patient millimetres (the model already knows it)."""
    return caliper.length_mm


def _fmt(p: Iterable[float]) -> str:
    return ",".join(f"{float(v):g}" for v in p)

"""Generated phantoms of known shape and size for the measurement tests and the benchmark.

Shapes are drawn with partial volume: each voxel takes the fraction of it inside the shape,
approximated from the signed distance to the surface and the voxel's width across the surface
(exact for a plane, and the fractions sum to the true volume for smooth shapes), or as a binary
voxel-centre test (``partial=False``).
"""
from __future__ import annotations

import numpy as np

from workstation.volume import Volume


def rotation(ax_deg: float = 0.0, ay_deg: float = 0.0, az_deg: float = 0.0) -> np.ndarray:
    ax, ay, az = np.radians([ax_deg, ay_deg, az_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def blank(shape, spacing, value=-100.0, origin=(0.0, 0.0, 0.0), row=(1, 0, 0), col=(0, 1, 0),
          unit="HU", modality="CT") -> Volume:
    """A volume filled with ``value`` (fat by default); origin at voxel (0, 0, 0)."""
    return Volume(np.full(shape, value, np.float32), spacing_mm=spacing, origin_mm=origin,
                  row_cosine=row, column_cosine=col, unit=unit, modality=modality)


def center_of(vol: Volume) -> np.ndarray:
    return vol.index_to_patient((np.asarray(vol.shape) - 1) / 2.0)


def _voxel_matrix(vol: Volume) -> np.ndarray:
    dz, dy, dx = vol.spacing_mm
    return np.vstack([np.asarray(vol.normal) * dz, np.asarray(vol.column_cosine) * dy,
                      np.asarray(vol.row_cosine) * dx])


def ellipsoid_fraction(vol: Volume, center, semi_axes, rot=None, partial=True, pts=None) -> np.ndarray:
    """Fraction of each voxel inside the ellipsoid (float32 array of the volume's shape)."""
    R = np.eye(3) if rot is None else np.asarray(rot)
    a = np.asarray(semi_axes, float)
    # only evaluate in the bounding box
    rad = float(a.max()) + 2 * max(vol.spacing_mm)
    c_idx = vol.patient_to_index(center)
    sp = np.asarray(vol.spacing_mm)
    lo = np.maximum(np.floor(c_idx - rad / sp).astype(int), 0)
    hi = np.minimum(np.ceil(c_idx + rad / sp).astype(int) + 1, vol.shape)
    out = np.zeros(vol.shape, np.float32)
    if np.any(hi <= lo):
        return out
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
    p = vol.grid_points(box) - np.asarray(center, float)
    q = p @ R  # coordinates in the ellipsoid's own axes
    F = np.sqrt(np.sum((q / a) ** 2, axis=-1))
    if not partial:
        out[box] = (F <= 1.0).astype(np.float32)
        return out
    grad_q = q / (a ** 2) / np.maximum(F, 1e-9)[..., None]
    grad = grad_q @ R.T
    gn = np.linalg.norm(grad, axis=-1)
    d = (F - 1.0) / np.maximum(gn, 1e-9)
    n = grad / np.maximum(gn, 1e-9)[..., None]
    w = np.abs(n @ _voxel_matrix(vol).T).sum(axis=-1)
    out[box] = np.clip(0.5 - d / np.maximum(w, 1e-6), 0.0, 1.0)
    return out


def paint(vol: Volume, frac: np.ndarray, value: float) -> None:
    """Blend ``value`` into the volume by a fraction map (in place)."""
    v = vol.voxels
    v += frac * (np.float32(value) - v)


def add_noise(vol: Volume, sd: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    vol.voxels += rng.normal(0.0, sd, vol.shape).astype(np.float32)


def slab_fraction(vol: Volume, point, normal, thickness) -> np.ndarray:
    """Fraction of each voxel inside the slab {x: 0 <= (x - point).n <= thickness}."""
    n = np.asarray(normal, float)
    n /= np.linalg.norm(n)
    p = vol.grid_points() - np.asarray(point, float)
    s = p @ n
    w = float(np.abs(_voxel_matrix(vol) @ n).sum())
    lo = np.clip(0.5 + s / w, 0, 1)
    hi = np.clip(0.5 + (thickness - s) / w, 0, 1)
    return (lo + hi - 1).clip(0, 1).astype(np.float32)


def cylinder_fraction(vol: Volume, point, axis, radius) -> np.ndarray:
    """Fraction inside an infinite cylinder (a vessel)."""
    u = np.asarray(axis, float)
    u /= np.linalg.norm(u)
    p = vol.grid_points() - np.asarray(point, float)
    radial = p - (p @ u)[..., None] * u
    r = np.linalg.norm(radial, axis=-1)
    n = radial / np.maximum(r, 1e-9)[..., None]
    w = np.abs(n @ _voxel_matrix(vol).T).sum(axis=-1)
    return np.clip(0.5 - (r - radius) / w, 0, 1).astype(np.float32)


def ellipsoid_truth(semi_axes) -> dict:
    a = np.asarray(semi_axes, float)
    return {"volume_ml": 4.0 / 3.0 * np.pi * float(np.prod(a)) / 1000.0,
            "greatest_dimension_mm": 2.0 * float(a.max())}


def voxel_diagonal(vol: Volume) -> float:
    return float(np.linalg.norm(vol.spacing_mm))


def abdomen_pair(delta_hu=30.0, motion_mm=(0.0, 0.0, 0.0), shape=(40, 160, 160), spacing=(3.0, 0.8, 0.8),
                 noise=10.0, post_shape=None, post_spacing=None, lesion_radius=15.0, seed=0,
                 row=(1, 0, 0), col=(0, 1, 0)):
    """Pre/post CT pair: a lesion (40 HU -> 40 + delta) among organs, fat, a vertebra and an aorta
    that enhances; the post series shows the same anatomy moved by ``motion_mm`` (LPS), possibly on
    another grid. Returns (pre, post, lesion_center)."""
    def draw(vol, shift, post):
        s = np.asarray(shift, float)
        paint(vol, ellipsoid_fraction(vol, c0 + s, (70, 55, 200)), 45 if not post else 60)   # body wall/organs
        paint(vol, ellipsoid_fraction(vol, c0 + s, (60, 45, 200)), -100)                      # fat
        paint(vol, ellipsoid_fraction(vol, c0 + s + (30, -20, 5), (14, 18, 25)), 55 if not post else 110)  # kidney-ish
        paint(vol, ellipsoid_fraction(vol, c0 + s + (-32, 10, -8), (12, 10, 30)), 50 if not post else 70)  # muscle
        paint(vol, cylinder_fraction(vol, c0 + s + (0, 30, 0), (0, 0, 1), 12), 400)                     # vertebra
        paint(vol, cylinder_fraction(vol, c0 + s + (-8, 8, 0), (0, 0.1, 1), 9), 40 if not post else 200)  # aorta
        paint(vol, ellipsoid_fraction(vol, c0 + s + (5, -28, 10), (20, 6, 15)), 30 if not post else 60)  # bowel
        paint(vol, ellipsoid_fraction(vol, c0 + s + les_off, (lesion_radius,) * 3), 40 if not post else 40 + delta_hu)
    pre = blank(shape, spacing, -1000.0, row=row, col=col)
    c0 = center_of(pre)
    les_off = np.array([18.0, 5.0, 0.0])
    draw(pre, (0, 0, 0), False)
    ps = post_shape or shape
    psp = post_spacing or spacing
    post = blank(ps, psp, -1000.0)
    # put the post grid's centre on the pre grid's centre (different grids, same patient space)
    off = c0 - center_of(post)
    post = blank(ps, psp, -1000.0, origin=tuple(off))
    draw(post, motion_mm, True)
    add_noise(pre, noise, seed)
    add_noise(post, noise, seed + 1)
    return pre, post, c0 + les_off

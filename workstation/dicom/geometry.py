"""Group frames into series, split mixed series, and lay slices out on a regular grid.

* group: by SeriesInstanceUID; a series whose images differ in orientation, Rows/Columns or pixel
  spacing (a localizer, another reconstruction) is split. Parts are named ``UID`` (the largest) and
  ``UID#2``, ``UID#3``, ... (next largest first). Images at the same position that differ in echo,
  temporal position, stack, b-value, trigger time or acquisition are split the same way.
* sort: by the projection of ImagePositionPatient on the slice normal (row cosine x column cosine),
  never by file name or InstanceNumber.
* layout: dz from positions; duplicates dropped, gaps (a spacing that is a multiple of the usual one)
  kept as empty slots that the reader fills by interpolation, uneven spacing reported.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..errors import DicomError
from .headers import Frame, stack_keys
from .sources import max_voxels

log = logging.getLogger(__name__)

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
ORIENTATION_TOL = 1e-3  # direction cosines that agree to this belong to one stack
SPACING_TOL = 1e-3  # relative tolerance on PixelSpacing
DUPLICATE_MM = 0.01  # slices closer than this (or 1 % of the spacing) share a position
GAP_RATIO_TOL = 0.2  # a spacing within 0.2 of n x nominal (n >= 2) is a gap of n - 1 slices
UNEVEN_REL = 0.02  # spacings differing from nominal by more than 2 % (and 0.01 mm) are uneven
TILT_RAD = 1e-4  # slice step deviating more than this from the normal becomes the k axis


def suffix_uid(uid: str, n: int) -> str:
    """Name of the ``n``-th part (1-based) of a split series."""
    return uid if n == 1 else f"{uid}#{n}"


def base_uid(uid: str) -> str:
    return uid.split("#", 1)[0]


# -- grouping -------------------------------------------------------------------------------------
def group_by_series(frames: list[Frame]) -> dict[str, list[Frame]]:
    groups: dict[str, list[Frame]] = defaultdict(list)
    for fr in frames:
        groups[fr.series_uid or f"no-series-uid:{_folder(fr)}"].append(fr)
    return dict(groups)


def _folder(fr: Frame) -> str:
    lab = fr.label
    return lab.rsplit("/", 1)[0] if "/" in lab else lab


GeometryKey = tuple[int, int, tuple[float, ...], tuple[float, float]]


def _geometry_key(fr: Frame) -> GeometryKey:
    return (fr.rows, fr.columns, fr.orientation or AXIAL, fr.pixel_spacing)


def _same_geometry(a: GeometryKey, b: GeometryKey) -> bool:
    return (a[0] == b[0] and a[1] == b[1]
            and all(abs(x - y) <= ORIENTATION_TOL for x, y in zip(a[2], b[2]))
            and all(abs(x - y) <= SPACING_TOL * abs(y) + 1e-6 for x, y in zip(a[3], b[3])))


def split_by_geometry(frames: list[Frame]) -> list[list[Frame]]:
    """Stacks of one orientation, size and pixel spacing (largest first)."""
    keys: list[GeometryKey] = []
    parts: list[list[Frame]] = []
    for fr in frames:
        key = _geometry_key(fr)
        for i, k in enumerate(keys):
            if _same_geometry(k, key):
                parts[i].append(fr)
                break
        else:
            keys.append(key)
            parts.append([fr])
    return sorted(parts, key=len, reverse=True)


def slice_normal(orientation: tuple[float, ...] | None) -> np.ndarray:
    iop = np.asarray(orientation or AXIAL, float)
    n = np.cross(iop[:3], iop[3:])
    norm = np.linalg.norm(n)
    return n / norm if norm > 1e-6 else np.array([0.0, 0.0, 1.0])


def _has_duplicates(frames: list[Frame]) -> bool:
    if len(frames) < 2 or any(f.position is None for f in frames):
        return False
    z = np.sort(np.asarray([f.position for f in frames]) @ slice_normal(frames[0].orientation))
    return bool(np.any(np.diff(z) < DUPLICATE_MM))


def split_stacks(frames: list[Frame]) -> list[list[Frame]]:
    """Split images sharing positions by the first discriminator that separates them cleanly
    (echo, temporal position, stack, b-value, trigger time, acquisition); else leave as is."""
    if not _has_duplicates(frames):
        return [frames]
    keys = [stack_keys(fr) for fr in frames]
    for name in keys[0]:
        parts: dict[str, list[Frame]] = defaultdict(list)
        for fr, key in zip(frames, keys):
            parts[key.get(name, "")].append(fr)
        if len(parts) > 1 and not any(_has_duplicates(p) for p in parts.values()):
            log.info("series split by %s into %d stacks", name, len(parts))
            return sorted(parts.values(), key=len, reverse=True)
    return [frames]


def split_at_breaks(frames: list[Frame]) -> list[list[Frame]]:
    """Split a stack where more slices are missing than a gap could plausibly fill (more than
    ``max(4, n // 4)`` in a row), and at the widest gaps while the gaps together would invent more
    slices than the stack holds: separate stacks rather than invented slices. Frames without
    positions are placed as the layout places them (SliceLocation, InstanceNumber)."""
    if len(frames) < 3:
        return [frames]
    normal = slice_normal(frames[0].orientation)
    z = _positions(frames, normal, []) @ normal
    order = np.argsort(z, kind="stable")
    d = np.diff(z[order])
    real = d[d > DUPLICATE_MM]
    if real.size == 0:
        return [frames]
    with np.errstate(all="ignore"):
        missing = np.nan_to_num(np.rint(d / float(np.median(real))) - 1, nan=0.0, posinf=1e18)
    missing = np.clip(missing, 0, None)
    cut = missing > max(4, len(frames) // 4)
    for i in np.argsort(-missing, kind="stable"):  # widest gaps first
        if missing[~cut].sum() <= max(4, len(frames) // 2) or missing[i] <= 0:
            break
        cut[i] = True
    cuts = list(np.flatnonzero(cut) + 1)
    if not cuts:
        return [frames]
    log.info("stack split at %d break(s) in slice positions", len(cuts))
    return [[frames[i] for i in idx] for idx in np.split(order, cuts)]


def split_series(frames: list[Frame]) -> list[tuple[str, list[Frame]]]:
    """All series with their (possibly suffixed) UIDs, each part a list of frames."""
    out: list[tuple[str, list[Frame]]] = []
    for uid, group in group_by_series(frames).items():
        group.sort(key=lambda f: (f.label, f.frame_index or 0))
        parts = [b for g in split_by_geometry(group) for s in split_stacks(g) for b in split_at_breaks(s)]
        parts.sort(key=len, reverse=True)
        out += [(suffix_uid(uid, i + 1), p) for i, p in enumerate(parts)]
    return out


# -- layout ---------------------------------------------------------------------------------------


def _check_size(n_images: int, n_slices: int, first: Frame) -> None:
    """Refuse a layout that would invent more slices than the series holds (positions far apart)
    or exceed the voxel limit, before anything is allocated."""
    if n_slices > 2 * n_images + 8:
        raise DicomError(f"slice positions leave gaps for {n_slices - n_images} slices between "
                         f"{n_images} images: not assembled (no slices are invented beyond the images held)")
    voxels, cap = n_slices * first.rows * first.columns, max_voxels()
    if voxels > cap:
        raise DicomError(f"{n_slices} slices of {first.rows} x {first.columns} = {voxels} voxels, more than "
                         f"the limit of {cap} (max_voxels_per_series or memory): not loaded")


@dataclass(eq=False)
class SliceLayout:
    """Frames in k order on a regular grid; ``slots[k]`` indexes ``frames`` or is None (a gap)."""

    frames: list[Frame]
    slots: list[int | None]
    origin: np.ndarray
    row: np.ndarray
    column: np.ndarray
    normal: np.ndarray  # direction of increasing k (the slice step)
    spacing: tuple[float, float, float]  # (dz, dy, dx)
    warnings: list[str] = field(default_factory=list)
    #: where each slot's slice really lies, as a fractional k (None: every slice is on its grid
    #: position); the reader resamples such a series onto the regular grid
    actual_k: np.ndarray | None = None

    @property
    def n_slices(self) -> int:
        return len(self.slots)


def _cosines(frames: list[Frame], warnings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    iop = frames[0].orientation
    if iop is None:
        warnings.append("ImageOrientationPatient missing: axial orientation assumed")
        iop = AXIAL
    r, c = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    if np.linalg.norm(r) < 1e-6 or np.linalg.norm(c) < 1e-6 or np.linalg.norm(np.cross(r, c)) < 1e-3:
        warnings.append("ImageOrientationPatient degenerate: axial orientation assumed")
        r, c = np.array(AXIAL[:3]), np.array(AXIAL[3:])
    r = r / np.linalg.norm(r)
    c = c / np.linalg.norm(c)
    if abs(float(r @ c)) > 1e-4:
        warnings.append(f"ImageOrientationPatient cosines not orthogonal (dot {float(r @ c):.4f}): column cosine corrected")
        c = c - (r @ c) * r
        c /= np.linalg.norm(c)
    return r, c


def _positions(frames: list[Frame], normal: np.ndarray, warnings: list[str]) -> np.ndarray:
    """Patient positions (N, 3); when some are missing, placed along the normal from SliceLocation
    or InstanceNumber (with a warning)."""
    if all(f.position is not None for f in frames):
        return np.asarray([f.position for f in frames], float)
    for attr in ("slice_location", "instance_number"):
        vals = [getattr(f, attr) for f in frames]
        if all(v is not None for v in vals) and len(set(vals)) == len(vals):
            warnings.append(f"ImagePositionPatient missing: slices ordered by {attr} (1 mm apart if by number)")
            origin = np.asarray(next((f.position for f in frames if f.position), (0.0, 0.0, 0.0)), float)
            origin = origin - (origin @ normal) * normal  # keep the in-plane offset only
            return np.asarray([origin + float(v) * normal for v in vals])
    warnings.append("ImagePositionPatient missing: slices stacked in file order, 1 mm apart")
    return np.asarray([k * normal for k in range(len(frames))], float)


def _drop_duplicates(frames: list[Frame], pos: np.ndarray, z: np.ndarray,
                     warnings: list[str]) -> tuple[list[Frame], np.ndarray, np.ndarray]:
    order = np.argsort(z, kind="stable")
    frames = [frames[i] for i in order]
    pos, z = pos[order], z[order]
    d = np.diff(z)
    nominal = float(np.median(d[d > DUPLICATE_MM])) if np.any(d > DUPLICATE_MM) else 0.0
    tol = max(DUPLICATE_MM, 0.01 * nominal)
    keep = np.concatenate([[True], d >= tol])
    if not keep.all():
        dropped = int((~keep).sum())
        first = float(z[~keep][0])
        warnings.append(f"{dropped} image(s) at an already occupied position dropped "
                        f"(first at {first:.2f} mm along the normal)")
        frames = [f for f, k in zip(frames, keep) if k]
        pos, z = pos[keep], z[keep]
    return frames, pos, z


def _single_slice_dz(fr: Frame) -> float:
    for v in (fr.spacing_between, fr.slice_thickness):
        if v is not None and v > 0:
            return float(v)
    return 1.0


def _steps(z: np.ndarray, warnings: list[str]) -> tuple[np.ndarray, float]:
    """Grid index of every slice (gaps skip indices) and the nominal spacing."""
    d = np.diff(z)
    nominal = float(np.median(d))
    ratio = d / nominal
    steps = np.maximum(1, np.rint(ratio)).astype(int)
    gap = (steps >= 2) & (np.abs(ratio - steps) <= GAP_RATIO_TOL)
    for i in np.flatnonzero(gap):
        warnings.append(f"gap of {steps[i] - 1} missing slice(s) between {z[i]:.2f} and {z[i + 1]:.2f} mm "
                        f"along the normal ({d[i]:.2f} mm, usual {nominal:.2f} mm): filled by linear interpolation")
    err = np.abs(d - steps * nominal)
    uneven = (err > max(0.01, UNEVEN_REL * nominal)) & ~gap
    if uneven.any():
        warnings.append(f"uneven slice spacing: {d.min():.3f} to {d.max():.3f} mm (usual {nominal:.3f} mm); "
                        f"resampled onto a regular grid by linear interpolation along the normal")
    return np.concatenate([[0], np.cumsum(steps)]), nominal


def layout_slices(frames: list[Frame]) -> SliceLayout:
    """Sort frames along the slice normal and place them on a regular grid."""
    warnings: list[str] = []
    row, col = _cosines(frames, warnings)
    normal = np.cross(row, col)
    pos = _positions(frames, normal, warnings)
    frames, pos, z = _drop_duplicates(list(frames), pos, pos @ normal, warnings)
    dy, dx = frames[0].pixel_spacing
    if len(frames) == 1:
        return SliceLayout(frames, [0], pos[0], row, col, normal, (_single_slice_dz(frames[0]), dy, dx), warnings)
    grid, _ = _steps(z, warnings)
    step = (pos[-1] - pos[0]) / grid[-1]
    dz = float(np.linalg.norm(step))
    direction = step / dz
    tilt = float(np.arccos(np.clip(direction @ normal, -1.0, 1.0)))
    if tilt <= TILT_RAD:
        direction, dz = normal, float((z[-1] - z[0]) / grid[-1])
    else:
        warnings.append(f"slice positions shift within the image plane (gantry tilt or shear, "
                        f"{np.degrees(tilt):.2f} deg): the k axis follows the positions")
    residual = np.linalg.norm(pos - (pos[0] + np.outer(grid, direction * dz)), axis=1).max()
    if residual > 0.5 * min(dx, dy) and "uneven" not in " ".join(warnings):
        warnings.append(f"slice positions deviate up to {residual:.2f} mm from a regular straight line")
    _check_size(len(frames), int(grid[-1]) + 1, frames[0])
    slots: list[int | None] = [None] * (int(grid[-1]) + 1)
    for idx, g in enumerate(grid):
        slots[int(g)] = idx
    actual = ((pos - pos[0]) @ direction) / dz  # fractional k of every frame along the k axis
    actual_k = None
    if np.abs(actual - grid).max() * dz > max(0.01, UNEVEN_REL * dz):
        actual_k = np.arange(len(slots), dtype=float)
        actual_k[grid] = actual
    return SliceLayout(frames, slots, pos[0], row, col, direction, (dz, dy, dx), warnings, actual_k)

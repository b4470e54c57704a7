"""A regular 3D image in DICOM patient space (LPS, millimetres).

One :class:`Volume` knows its affine; everyone who needs geometry asks it. Index order is
``[k, j, i] = [slice, row, column]``, matching ``voxels``.

Geometry (DICOM PS3.3 C.7.6.2.1.1): the voxel ``(k, j, i)`` lies at::

    origin + i*dx*row_cosine + j*dy*column_cosine + k*dz*normal

where ``row_cosine`` is the direction in which the column index ``i`` increases (first three values
of ImageOrientationPatient), ``column_cosine`` the direction in which the row index ``j`` increases,
and ``normal`` the direction in which the slice index ``k`` increases (the loader orders slices by
their position projected on ``row_cosine x column_cosine``, so normally ``normal`` equals that cross
product).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError

_ORTHO_TOL = 1e-3


def _triple(a: np.ndarray) -> tuple[float, float, float]:
    return float(a[0]), float(a[1]), float(a[2])


def _unit(v: Sequence[float], name: str) -> np.ndarray:
    a = np.asarray(v, dtype=float).reshape(3)
    n = float(np.linalg.norm(a))
    if not np.isfinite(n) or n < 1e-6:
        raise InputError(f"{name}: direction vector {list(a)} has no length")
    return a / n


@dataclass(eq=False)
class Volume:
    """Voxels plus the geometry that places them in the patient.

    ``voxels``: array ``[k, j, i]``; HU for CT (after the modality LUT), stored signal otherwise.
    ``spacing_mm``: ``(dz, dy, dx)``, dz derived from slice positions (not SliceThickness).
    ``origin_mm``: patient position (LPS) of voxel ``(0, 0, 0)``'s centre.
    ``row_cosine`` / ``column_cosine`` / ``normal``: LPS unit vectors of the ``i``, ``j``, ``k`` axes.
    """

    voxels: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    row_cosine: tuple[float, float, float] = (1.0, 0.0, 0.0)
    column_cosine: tuple[float, float, float] = (0.0, 1.0, 0.0)
    normal: tuple[float, float, float] | None = None
    unit: str = "HU"
    modality: str = "CT"
    series_uid: str = ""
    description: str = ""
    #: header facts the views and exports need (study/frame-of-reference UIDs, SOP instance UIDs
    #: per slice, default window, patient name/ID for display and de-identification, ...)
    meta: dict[str, Any] = field(default_factory=dict)
    #: things a reader should know about this series (gaps filled, uneven spacing, ...)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.voxels = np.asarray(self.voxels)
        if self.voxels.ndim != 3:
            raise InputError(f"voxels: expected a 3D array [k, j, i], got shape {self.voxels.shape}")
        sp = tuple(float(s) for s in self.spacing_mm)
        if len(sp) != 3 or not all(np.isfinite(s) and s > 0 for s in sp):
            raise InputError(f"spacing_mm: expected three positive numbers, got {self.spacing_mm}")
        self.spacing_mm = (sp[0], sp[1], sp[2])
        o = np.asarray(self.origin_mm, float).reshape(3)
        self.origin_mm = (float(o[0]), float(o[1]), float(o[2]))
        r = _unit(self.row_cosine, "row_cosine")
        c = _unit(self.column_cosine, "column_cosine")
        if abs(float(r @ c)) > _ORTHO_TOL:
            raise InputError("ImageOrientationPatient: row and column cosines are not orthogonal")
        n = np.cross(r, c) if self.normal is None else _unit(self.normal, "normal")
        self.row_cosine = _triple(r)
        self.column_cosine = _triple(c)
        self.normal = _triple(n)
        self._refresh_affine()

    @property
    def k_axis(self) -> tuple[float, float, float]:
        """``normal``, which ``__post_init__`` always sets (from the cosines when it was not given)."""
        assert self.normal is not None
        return self.normal

    # -- geometry ---------------------------------------------------------------------------
    def _refresh_affine(self) -> None:
        dz, dy, dx = self.spacing_mm
        m = np.eye(4)
        m[:3, 0] = np.asarray(self.k_axis) * dz
        m[:3, 1] = np.asarray(self.column_cosine) * dy
        m[:3, 2] = np.asarray(self.row_cosine) * dx
        m[:3, 3] = self.origin_mm
        self._affine = m
        self._inverse = np.linalg.inv(m)

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping ``[k, j, i, 1]`` to ``[x, y, z, 1]`` (LPS mm). A copy."""
        return self._affine.copy()

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.voxels.shape)  # type: ignore[return-value]

    @property
    def direction(self) -> np.ndarray:
        """3x3 matrix whose columns are the LPS unit vectors of the k, j and i axes."""
        return np.column_stack([self.k_axis, self.column_cosine, self.row_cosine])

    @property
    def orientation(self) -> tuple[float, ...]:
        """The six direction cosines as in ImageOrientationPatient (row, then column)."""
        return tuple(self.row_cosine) + tuple(self.column_cosine)

    def index_to_patient(self, kji: Iterable[float] | np.ndarray) -> np.ndarray:
        """``(k, j, i)`` (floats allowed; or an ``(N, 3)`` array) to LPS ``(x, y, z)`` mm."""
        a = np.asarray(kji, dtype=float)
        flat = a.reshape(-1, 3)
        out: np.ndarray = flat @ self._affine[:3, :3].T + self._affine[:3, 3]
        return out.reshape(a.shape)

    def patient_to_index(self, xyz: Iterable[float] | np.ndarray) -> np.ndarray:
        """LPS ``(x, y, z)`` mm (or an ``(N, 3)`` array) to fractional ``(k, j, i)``."""
        a = np.asarray(xyz, dtype=float)
        flat = a.reshape(-1, 3)
        out: np.ndarray = flat @ self._inverse[:3, :3].T + self._inverse[:3, 3]
        return out.reshape(a.shape)

    def contains_index(self, kji: Iterable[float], margin: float = 0.5) -> bool:
        """True when a fractional index lies within the voxel grid (voxel centres +/- margin)."""
        k = np.asarray(kji, dtype=float).reshape(3)
        hi = np.asarray(self.shape, dtype=float) - 1 + margin
        return bool(np.all(k >= -margin) and np.all(k <= hi))

    def nearest_index(self, xyz: Iterable[float]) -> tuple[int, int, int] | None:
        """The voxel nearest to a patient point, or None outside the volume."""
        kji = self.patient_to_index(xyz)
        if not self.contains_index(kji):
            return None
        r = np.clip(np.rint(kji), 0, np.asarray(self.shape) - 1).astype(int)
        return int(r[0]), int(r[1]), int(r[2])

    def value_at(self, xyz: Iterable[float]) -> float | None:
        """Voxel value (nearest neighbour) at a patient point, None outside."""
        idx = self.nearest_index(xyz)
        return None if idx is None else float(self.voxels[idx])

    def sample(self, xyz: np.ndarray, order: int = 1, fill: float = np.nan) -> np.ndarray:
        """Values at patient points ``(..., 3)``, interpolated (order 0/1/3); ``fill`` outside."""
        from scipy.ndimage import map_coordinates

        pts = np.asarray(xyz, dtype=float)
        kji = self.patient_to_index(pts.reshape(-1, 3)).T
        vals = map_coordinates(self.voxels.astype(np.float32, copy=False), kji, order=order,
                               mode="constant", cval=np.nan if np.isnan(fill) else fill)
        if not np.isnan(fill):
            return np.asarray(vals).reshape(pts.shape[:-1])
        vals = np.asarray(vals, dtype=float)
        vals[np.isnan(vals)] = fill
        return vals.reshape(pts.shape[:-1])

    def slice_position_mm(self, k: float) -> float:
        """Position of slice ``k`` along the slice normal (projection of its centre on ``normal``)."""
        p = self.index_to_patient((k, 0.0, 0.0))
        return float(np.dot(p, self.k_axis))

    def index_of_position(self, position_mm: float) -> float:
        """Fractional slice index whose position along the normal is ``position_mm``."""
        p0 = self.slice_position_mm(0)
        return (position_mm - p0) / self.spacing_mm[0]

    def grid_points(self, kji_slices: tuple[slice, slice, slice] | None = None) -> np.ndarray:
        """Patient coordinates ``(K, J, I, 3)`` of every voxel centre (or of a sub-block)."""
        sl = kji_slices or (slice(None), slice(None), slice(None))
        ranges = [np.arange(n)[s] for n, s in zip(self.shape, sl)]
        kk, jj, ii = np.meshgrid(*ranges, indexing="ij")
        idx = np.stack([kk, jj, ii], axis=-1).astype(float)
        return self.index_to_patient(idx)

    @property
    def voxel_volume_ml(self) -> float:
        dz, dy, dx = self.spacing_mm
        return dz * dy * dx / 1000.0

    def same_grid(self, other: Volume, tol: float = 1e-3) -> bool:
        return self.shape == other.shape and np.allclose(self._affine, other._affine, atol=tol)

    def with_voxels(self, voxels: np.ndarray, **changes: Any) -> Volume:
        """A volume on the same grid with other voxel values (e.g. a resampled or masked copy)."""
        kw: dict[str, Any] = dict(spacing_mm=self.spacing_mm, origin_mm=self.origin_mm, row_cosine=self.row_cosine,
                  column_cosine=self.column_cosine, normal=self.normal, unit=self.unit,
                  modality=self.modality, series_uid=self.series_uid,
                  description=self.description, meta=dict(self.meta), warnings=list(self.warnings))
        kw.update(changes)
        return Volume(voxels, **kw)

    def __repr__(self) -> str:
        return (f"Volume(shape={self.shape}, spacing_mm={tuple(round(s, 4) for s in self.spacing_mm)}, "
                f"unit={self.unit!r}, modality={self.modality!r}, series_uid={self.series_uid!r})")

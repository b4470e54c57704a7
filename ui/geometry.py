"""How a view shows a volume: which index axis is sliced, which goes across and down the screen.

Pure numpy (no Qt), so it can be tested alone. Display follows the radiological convention:

* axial: patient right on screen left, anterior up (screen right = +L, screen down = +P)
* coronal: head up, patient right on screen left (right = +L, down = -S)
* sagittal: head up, anterior on screen left (right = +P, down = -S)

A view slices along the volume index axis closest to its normal and shows the other two axes
without resampling (numpy views, flipped with negative strides where the cosines point the other
way). For an oblique acquisition the screen axes are then not exactly the patient axes, so the
orientation letters are computed from the volume's direction cosines (``edge_letters``), as Horos
and OHIF do.

Scene coordinates are millimetres in the displayed plane: the centre of displayed pixel
``(row r, column c)`` is at ``(c * col_spacing, r * row_spacing)``; this is what gives the true
aspect ratio for anisotropic voxels.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workstation.volume import Volume

#: view -> (direction a forward scroll moves to, screen-right direction, screen-down direction), LPS
VIEW_DIRECTIONS: dict[str, tuple[tuple[float, float, float], ...]] = {
    # scrolling "down" (wheel towards the reader, Page Down) moves towards the feet / back / left,
    # i.e. image 1 is the most cranial (axial), anterior (coronal) or right (sagittal) slice.
    "axial": ((0.0, 0.0, -1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}

_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))  # (negative, positive) per LPS axis


def direction_letters(v, threshold: float = 0.25, max_letters: int = 3) -> str:
    """Letters for an LPS direction, strongest component first (e.g. (0.87, 0.5, 0) -> "LP")."""
    a = np.asarray(v, dtype=float).reshape(3)
    n = np.linalg.norm(a)
    if n == 0:
        return ""
    a = a / n
    order = np.argsort(-np.abs(a), kind="stable")
    out = []
    for ax in order[:max_letters]:
        if abs(a[ax]) < threshold:
            break
        out.append(_LETTERS[ax][1 if a[ax] > 0 else 0])
    return "".join(out)


@dataclass(frozen=True)
class PlaneMapping:
    """Index axes of one view of one volume (axes: 0 = k, 1 = j, 2 = i)."""

    view: str
    slice_axis: int
    slice_flip: bool
    row_axis: int
    row_flip: bool
    col_axis: int
    col_flip: bool
    shape: tuple[int, int, int]            # volume shape [k, j, i]
    spacing: tuple[float, float, float]    # volume spacing (dz, dy, dx)
    right_lps: tuple[float, float, float]  # patient direction of screen-right
    down_lps: tuple[float, float, float]   # patient direction of screen-down
    forward_lps: tuple[float, float, float]  # patient direction of increasing display slice

    # -- sizes -----------------------------------------------------------------------------
    @property
    def n_slices(self) -> int:
        return self.shape[self.slice_axis]

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.shape[self.row_axis], self.shape[self.col_axis]

    @property
    def row_spacing(self) -> float:
        return self.spacing[self.row_axis]

    @property
    def col_spacing(self) -> float:
        return self.spacing[self.col_axis]

    @property
    def slice_spacing(self) -> float:
        return self.spacing[self.slice_axis]

    # -- display slice <-> volume index ----------------------------------------------------
    def slice_to_index(self, d: float) -> float:
        """Display slice number (0 = first shown) -> index along the sliced axis."""
        return (self.n_slices - 1 - d) if self.slice_flip else d

    index_to_slice = slice_to_index  # the map is its own inverse

    def image(self, voxels: np.ndarray, d: int) -> np.ndarray:
        """The 2D array ``[row, col]`` shown for display slice ``d`` (a numpy view, no copy)."""
        s = int(self.slice_to_index(d))
        idx: list = [slice(None)] * 3
        idx[self.slice_axis] = s
        img = voxels[tuple(idx)]
        if self.row_axis > self.col_axis:
            img = img.T
        if self.row_flip:
            img = img[::-1, :]
        if self.col_flip:
            img = img[:, ::-1]
        return img

    # -- scene (mm in the displayed plane) <-> volume index ---------------------------------
    def index_to_scene(self, kji) -> np.ndarray:
        """``(..., 3)`` fractional ``(k, j, i)`` -> ``(..., 3)`` (scene x, scene y, display slice)."""
        a = np.asarray(kji, dtype=float)
        r = a[..., self.row_axis]
        c = a[..., self.col_axis]
        s = a[..., self.slice_axis]
        if self.row_flip:
            r = self.shape[self.row_axis] - 1 - r
        if self.col_flip:
            c = self.shape[self.col_axis] - 1 - c
        if self.slice_flip:
            s = self.shape[self.slice_axis] - 1 - s
        return np.stack([c * self.col_spacing, r * self.row_spacing, s], axis=-1)

    def scene_to_index(self, sx, sy, d) -> np.ndarray:
        """Scene ``(x, y)`` mm on display slice ``d`` -> fractional ``(k, j, i)`` (broadcasts)."""
        sx, sy, d = np.broadcast_arrays(np.asarray(sx, float), np.asarray(sy, float), np.asarray(d, float))
        c = sx / self.col_spacing
        r = sy / self.row_spacing
        if self.col_flip:
            c = self.shape[self.col_axis] - 1 - c
        if self.row_flip:
            r = self.shape[self.row_axis] - 1 - r
        s = (self.shape[self.slice_axis] - 1 - d) if self.slice_flip else d
        out = np.empty(sx.shape + (3,))
        out[..., self.row_axis] = r
        out[..., self.col_axis] = c
        out[..., self.slice_axis] = s
        return out

    def image_rect(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) in scene mm covered by the image (pixel edges, not centres)."""
        rows, cols = self.image_shape
        return (-0.5 * self.col_spacing, -0.5 * self.row_spacing, cols * self.col_spacing,
                rows * self.row_spacing)

    def edge_letters(self) -> dict[str, str]:
        """Orientation letters at the four edges of the view: left, right, top, bottom."""
        right = np.asarray(self.right_lps)
        down = np.asarray(self.down_lps)
        return {"left": direction_letters(-right), "right": direction_letters(right),
                "top": direction_letters(-down), "bottom": direction_letters(down)}


def plane_mapping(volume: Volume, view: str) -> PlaneMapping:
    """How ``view`` ("axial", "coronal", "sagittal") shows ``volume``."""
    forward, right, down = (np.asarray(v) for v in VIEW_DIRECTIONS[view])
    dirs = volume.direction  # columns: k, j, i axes in LPS
    normal_score = np.abs(dirs.T @ forward)
    slice_axis = int(np.argmax(normal_score))
    others = [a for a in range(3) if a != slice_axis]
    right_score = [abs(float(dirs[:, a] @ right)) for a in others]
    col_axis = others[int(np.argmax(right_score))]
    row_axis = others[0] if col_axis == others[1] else others[1]
    col_flip = bool(dirs[:, col_axis] @ right < 0)
    row_flip = bool(dirs[:, row_axis] @ down < 0)
    slice_flip = bool(dirs[:, slice_axis] @ forward < 0)
    r = dirs[:, col_axis] * (-1 if col_flip else 1)
    d = dirs[:, row_axis] * (-1 if row_flip else 1)
    f = dirs[:, slice_axis] * (-1 if slice_flip else 1)
    return PlaneMapping(view, slice_axis, slice_flip, row_axis, row_flip, col_axis, col_flip,
                        volume.shape, vec3(volume.spacing_mm), vec3(r), vec3(d), vec3(f))


def vec3(v: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """The first three entries of ``v`` as a tuple of Python floats (a point or a direction)."""
    return float(v[0]), float(v[1]), float(v[2])

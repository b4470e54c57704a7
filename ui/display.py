"""Display settings: window presets (from resources/presets.json), the window of each volume, and
the hanging-protocol pairing of a non-contrast with a contrast series.

The window is a property of the *volume* (as a 3D Slicer display node): every view that shows the
series uses the same width/level, and changing it in one view changes it in all.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from workstation.phase import phase_of_volume, pre_or_post
from workstation.resources import load_json
from workstation.volume import Volume


@dataclass(frozen=True)
class Window:
    width: float
    level: float

    @property
    def levels(self) -> tuple[float, float]:
        """(black, white) values for ``ImageItem.setLevels``."""
        return self.level - self.width / 2.0, self.level + self.width / 2.0


@dataclass(frozen=True)
class Preset:
    key: str
    id: str
    title: str
    window: Window


def presets_doc() -> dict:
    return load_json("presets.json")


def ct_presets() -> list[Preset]:
    return [Preset(str(p["key"]), p["id"], p["title"], Window(float(p["width"]), float(p["level"])))
            for p in presets_doc()["ct_window_presets"]]


def preset_by_id(pid: str) -> Preset:
    for p in ct_presets():
        if p.id == pid:
            return p
    raise KeyError(pid)


def is_ct(volume: Volume) -> bool:
    return volume.unit == "HU"


def auto_window(volume: Volume, sample: np.ndarray | None = None) -> Window:
    """Percentile window over the non-background voxels (MR, or CT without a preset)."""
    cfg = presets_doc()["mr_auto_window"]
    v = volume.voxels if sample is None else sample
    step = max(1, int(np.ceil((v.size / 400_000) ** (1 / 3))))  # subsample big volumes
    s = np.asarray(v[::step, ::step, ::step] if v.ndim == 3 else v[::step, ::step], dtype=np.float32)
    lo_all = float(s.min()) if s.size else 0.0
    fg = s[s > lo_all]
    if fg.size < 16:
        fg = s.ravel()
    if fg.size == 0:
        return Window(1.0, 0.0)
    lo, hi = np.percentile(fg, [cfg["low_percentile"], cfg["high_percentile"]])
    width = max(float(hi - lo), 1.0)
    return Window(width, float(lo + hi) / 2.0)


def default_window(volume: Volume) -> Window:
    if is_ct(volume):
        return preset_by_id(presets_doc()["default_ct_preset"]).window
    return auto_window(volume)


def thumbnail_window(volume: Volume, image: np.ndarray) -> Window:
    if is_ct(volume):
        return preset_by_id(presets_doc()["thumbnail_ct_preset"]).window
    return auto_window(volume, image)


@lru_cache(maxsize=4)
def _lut_values(dtype: str) -> np.ndarray:
    """Every value of an 8/16-bit integer ``dtype`` as float32, in the order of its bit pattern
    read as unsigned (:func:`lut_index`: int16 -1 is entry 65535); read-only, built once."""
    dt = np.dtype(dtype)
    n = 1 << (8 * dt.itemsize)
    values = np.arange(n, dtype=np.float32)
    if dt.kind == "i":  # bit patterns from n/2 up are the negative values
        values[n // 2:] -= n
    values.flags.writeable = False
    return values


def _grey_levels(dtype: str, lo: float, hi: float) -> np.ndarray:
    """The grey level (0..255, float32, not yet truncated) of every value of ``dtype``."""
    grey = np.subtract(_lut_values(dtype), lo)
    grey *= 255.0 / max(hi - lo, 1e-6)
    return np.clip(grey, 0, 255, out=grey)


@lru_cache(maxsize=16)
def window_lut(dtype: str, lo: float, hi: float) -> np.ndarray:
    """The grey level (uint8) of every value of an integer ``dtype`` for the levels ``(lo, hi)``,
    indexed by the value's bit pattern read as unsigned (:func:`lut_index`: int16 -1 is entry
    65535). 65536 entries for 16-bit data, applied with one ``np.take`` per frame instead of
    rescaling the image."""
    return _grey_levels(dtype, lo, hi).astype(np.uint8)


@lru_cache(maxsize=16)
def window_lut_rgb32(dtype: str, lo: float, hi: float, invert: bool = False) -> np.ndarray:
    """:func:`window_lut` as opaque grey 0xFFgggggg pixels (Qt draws a scaled RGB32 image 2-3x
    faster than a Grayscale8 one, which it converts on every draw); ``invert``: white for low
    values. Built in place from the cached values, ~0.04 ms for 16-bit data (each window step of
    a drag builds one)."""
    g = _grey_levels(dtype, lo, hi).astype(np.uint32)
    if invert:
        np.subtract(np.uint32(255), g, out=g)
    g *= np.uint32(0x010101)
    g |= np.uint32(0xFF000000)
    return g


def lut_index(image: np.ndarray) -> np.ndarray:
    """Indices into :func:`window_lut` for an 8/16-bit integer image: the same memory read as
    unsigned (a view, no pass over the pixels)."""
    if image.dtype.kind == "u":
        return image
    return image.view(np.dtype(f"u{image.dtype.itemsize}"))


def lut_supported(image: np.ndarray) -> bool:
    return image.ndim == 2 and image.dtype.kind in "iu" and image.dtype.itemsize <= 2


def to_uint8(image: np.ndarray, window: Window) -> np.ndarray:
    lo, hi = window.levels
    if lut_supported(image):
        return window_lut(image.dtype.str, lo, hi).take(lut_index(image))
    a = (np.asarray(image, dtype=np.float32) - lo) * (255.0 / max(hi - lo, 1e-6))
    return np.clip(a, 0, 255).astype(np.uint8)


def drag_sensitivity(volume: Volume) -> float:
    """Units of width/level per pixel of right-drag."""
    cfg = presets_doc()["mouse_windowing"]
    v = volume.voxels
    step = max(1, v.shape[0] // 8)
    s = v[::step, ::4, ::4]
    rng = float(s.max()) - float(s.min()) if s.size else 0.0
    return max(cfg["min_units_per_pixel"], rng * cfg["units_per_pixel_fraction_of_range"])


class WindowState(QObject):
    """The current window of every loaded volume; ``changed(series_uid)`` when one changes."""

    changed = pyqtSignal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._windows: dict[str, Window] = {}
        self._defaults: dict[str, Window] = {}

    def ensure(self, volume: Volume) -> Window:
        uid = volume.series_uid
        if uid not in self._windows:
            w = default_window(volume)
            self._defaults[uid] = w
            self._windows[uid] = w
        return self._windows[uid]

    def get(self, uid: str) -> Window | None:
        return self._windows.get(uid)

    def set(self, uid: str, window: Window) -> None:
        window = Window(max(1.0, float(window.width)), float(window.level))
        if self._windows.get(uid) == window:
            return
        self._windows[uid] = window
        self.changed.emit(uid)

    def reset(self, volume: Volume) -> None:
        """Back to the default (CT: soft tissue preset; MR: auto window of the loaded voxels)."""
        w = default_window(volume)
        self._defaults[volume.series_uid] = w
        self._windows.pop(volume.series_uid, None)
        self.set(volume.series_uid, w)

    def clear(self) -> None:
        """Forget every series' window (the study is closing)."""
        self._windows.clear()
        self._defaults.clear()

    def refresh_auto(self, volume: Volume) -> None:
        """After loading finished: an MR auto window computed on the loaded voxels, unless changed."""
        uid = volume.series_uid
        if is_ct(volume):
            return
        if self._windows.get(uid) == self._defaults.get(uid):
            w = auto_window(volume)
            self._defaults[uid] = w
            self.set(uid, w)


# -- hanging protocol -----------------------------------------------------------------------
def contrast_phase(volume_or_info) -> str | None:
    """"pre", "post" or None (unknown): the side of a pre/post pair, from the one core classifier
    (:mod:`workstation.phase`: series description, then ContrastBolusAgent)."""
    return pre_or_post(phase_of_volume(volume_or_info))


def hanging_pair(volumes: list[Volume]) -> tuple[Volume, Volume] | None:
    """A (non-contrast, contrast) pair of CT series of one study for the side-by-side layout."""
    pre = [v for v in volumes if is_ct(v) and contrast_phase(v) == "pre"]
    post = [v for v in volumes if is_ct(v) and contrast_phase(v) == "post"]
    if not pre or not post:
        return None
    return pre[0], post[0]

"""DICOM series engine: scan -> group -> sort -> read pixels -> rescale.

* :func:`scan` (``sources`` + ``headers``): every file under a folder, DICOMDIR, zip or single file,
  headers only, in parallel; unusable files are listed in ``Scan.skipped`` with a reason.
* ``geometry``: series grouped by SeriesInstanceUID and split by orientation/size/pixel spacing
  (parts named ``UID``, ``UID#2``, ...); slices sorted along the normal by position; duplicates,
  gaps and uneven spacing found.
* ``pixels``: pixels read into one preallocated array, modality LUT applied slice by slice.
* :func:`read_series` / :func:`load_series`: a :class:`workstation.volume.Volume`.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below are imported on first use (pydicom costs ~0.25 s to import)
    from .headers import Frame
    from .series import Scan, SeriesInfo, choose_series, load_series, read_series, scan, split_series_path
    from .sources import Skipped, Source

_WHERE = {"Frame": "headers", "Scan": "series", "SeriesInfo": "series", "choose_series": "series",
          "load_series": "series", "read_series": "series", "scan": "series",
          "split_series_path": "series", "Skipped": "sources", "Source": "sources"}

__all__ = ["Frame", "Scan", "SeriesInfo", "Skipped", "Source", "choose_series", "load_series",
           "read_series", "scan", "split_series_path"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value

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

from .headers import Frame
from .series import (Scan, SeriesInfo, choose_series, load_series, read_series, scan,
                     split_series_path)
from .sources import Skipped, Source

__all__ = ["Frame", "Scan", "SeriesInfo", "Skipped", "Source", "choose_series", "load_series",
           "read_series", "scan", "split_series_path"]

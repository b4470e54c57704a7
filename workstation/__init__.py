"""Headless core of the radiology workstation: DICOM, geometry, measurement, reasoning, export.

Nothing in this package imports Qt; ``ui`` renders it.
"""
from __future__ import annotations

import os
from typing import Any

from .errors import WorkstationError
from .volume import Volume

__all__ = ["Volume", "WorkstationError", "load_series"]
__version__ = "0.1.0"


def load_series(path: str | os.PathLike[str], **kwargs: Any) -> Volume:
    """Load one series as a :class:`Volume` (``path`` may be ``PATH#SERIES_UID``).

    See :func:`workstation.dicom.load_series`.
    """
    from .dicom import load_series as _load

    return _load(path, **kwargs)

"""File › Open SR, second half: the lesion masks from the SEG exported beside the SR.

:func:`restore_lesion_masks` runs after the SR's measurement records are in the store. It reads
``lesion-seg.dcm`` from the SR's folder when the SR lists that SEG in its evidence (a SEG left over
from an older export is ignored), maps each segment onto the series its lesion belongs to (by
plane positions, so a de-identified export restores on the original study as well) and hands the
mask to the lesion tools, which draw it, re-measure it and autosave it like a grown lesion.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workstation.errors import WorkstationError
from workstation.export.seg import read_seg_masks, seg_beside
from workstation.measure.model import Lesion3D, Measurement


def restore_lesion_masks(host: Any, lesion_tools: Any, sr_path: str | Path,
                         measurements: list[Measurement]) -> int:
    """Put back the mask of every restored lesion that has a segment (through ``lesion_tools``, the
    review's LesionTools); returns how many."""
    lt = lesion_tools
    seg_path = seg_beside(sr_path)
    if lt is None or seg_path is None:
        return 0
    by_series: dict[str, dict[str, np.ndarray]] = {}
    restored = 0
    for rec in measurements:
        if not isinstance(rec, Lesion3D):
            continue
        vol = host.volume(rec.series_uid)
        if vol is None:
            continue
        if vol.series_uid not in by_series:
            try:
                by_series[vol.series_uid] = read_seg_masks(seg_path, vol)
            except WorkstationError as exc:
                host.status(f"Open SR: {seg_path.name}: {exc}", 10000)
                by_series[vol.series_uid] = {}
        mask = by_series[vol.series_uid].get(f"lesion {rec.id}")
        if mask is None or not mask.any():
            continue
        lt.restore(rec, vol, mask)
        restored += 1
    if restored:
        lt.masks_changed.emit()
    return restored

"""File › Open SR brings back the lesion mask from the SEG exported beside the SR (a corrected mask
exactly as the reader left it, not the lesion grown again)."""
from __future__ import annotations

import numpy as np
import pydicom


def test_open_sr_restores_the_corrected_lesion_mask(qtbot, review_window, grow_mass, tmp_path):
    win = review_window
    lt, pre = grow_mass()
    win.host.select_tool("navigate")
    tools = win.host.module("rp_review").export_tools
    [lid] = list(lt.masks())
    e = lt.entries[lid]
    k = int(np.flatnonzero(e.mask.any(axis=(1, 2)))[0])
    e.mask[k] = False                                   # the reader erased the lesion's first slice
    with qtbot.waitSignal(lt.measured, timeout=60000):
        lt.mask_edited(e)
    corrected = e.mask.copy()
    out = tmp_path / "export"
    with qtbot.waitSignal(tools.exported, timeout=60000):
        tools.export(out, pre)
    seg = pydicom.dcmread(out / "lesion-seg.dcm")
    assert seg.SegmentSequence[0].SegmentAlgorithmType == "SEMIAUTOMATIC"
    # the read is gone (another reader, another day)
    win.host.measurements.clear()
    lt.clear()
    assert lt.masks() == {} and win.host.measurements.items() == []
    n = tools.open_sr(out / "report-sr.dcm")
    assert n >= 1
    restored = lt.masks()
    assert list(restored) == [lid]
    assert restored[lid].sum() == corrected.sum() and np.array_equal(restored[lid], corrected)
    assert lt.entries[lid].volume is pre
    rec = win.host.measurements.get(lid)
    assert rec is not None and rec.kind == "lesion" and rec.series_uid == pre.series_uid
    assert "lesion mask" in win.statusBar().currentMessage()


def test_a_seg_the_sr_does_not_list_is_not_restored(qtbot, review_window, grow_mass, tmp_path):
    """A lesion-seg.dcm left in the folder by another export is not this SR's: ignored."""
    win = review_window
    lt, pre = grow_mass()
    win.host.select_tool("navigate")
    tools = win.host.module("rp_review").export_tools
    a, b = tmp_path / "a", tmp_path / "b"
    with qtbot.waitSignal(tools.exported, timeout=60000):
        tools.export(a, pre)
    win.host.measurements.clear()
    lt.clear()
    with qtbot.waitSignal(tools.exported, timeout=60000):
        tools.export(b, pre)                            # no lesion: SR only
    assert not (b / "lesion-seg.dcm").exists()
    (b / "lesion-seg.dcm").write_bytes((a / "lesion-seg.dcm").read_bytes())
    tools.open_sr(b / "report-sr.dcm")
    assert lt.masks() == {}

"""IVC landmark tools: clicks in the coronal view at the truth levels give segment 2."""
from __future__ import annotations

import numpy as np
from PyQt6.QtWidgets import QApplication
from review_helpers import click_at, show_series, volume_of


def test_ivc_landmarks_give_the_segment_and_level_lines(qtbot, review_window, truth):
    from ui.review.tools_ivc import IVC_TOOLS

    win = review_window
    tools = win.host.module("rp_review").ivc_tools
    pre = volume_of(win, "ct_pre", truth)
    show_series(win, pre)
    ivc = truth["ivc"]
    x, y = ivc["tumor_thrombus_point_mm"][:2]
    levels = {"renal_vein": ivc["renal_vein_z_mm"], "hepatic_vein": ivc["hepatic_vein_z_mm"],
              "tumor_caudal": ivc["tumor_thrombus_z_mm"][0], "tumor_cranial": ivc["tumor_thrombus_z_mm"][1]}
    cor = win.viewer.coronal
    px = float(max(cor.vb.viewPixelSize())) + 1e-6  # a click lands on a whole screen pixel
    for kind, z in levels.items():
        win.host.select_tool(IVC_TOOLS[kind][0])
        click_at(win, cor, (x, y, z))
    lms = {m.landmark: m for m in win.host.measurements.of_kind("landmark")}
    assert set(lms) == set(levels)
    for kind, z in levels.items():
        assert abs(lms[kind].point[2] - z) <= px, kind  # the clicked height, sub-pixel
    c = win.controller
    a = c.assessment().to_dict()
    assert a["ivc_segments"] == truth["ivc"]["segments"]
    assert abs(c.value("ivc.renal_vein_z_mm") - levels["renal_vein"]) <= px
    lo, hi = c.value("ivc.tumor_z_mm")
    assert abs(lo - levels["tumor_caudal"]) <= px and abs(hi - levels["tumor_cranial"]) <= px
    # level lines on coronal and sagittal at the landmark heights; none on the axial view
    for vp in (win.viewer.coronal, win.viewer.sagittal):
        ov = tools.overlays[id(vp)]
        for m in lms.values():
            assert abs(ov.level_y(m.id) - vp.patient_to_scene(m.point)[1]) < 1e-6
    assert not tools.overlays[id(win.viewer.axial)].items
    # placing a kind again moves it (one landmark per kind); Ctrl+Z puts the old one back
    win.host.select_tool(IVC_TOOLS["hepatic_vein"][0])
    click_at(win, cor, (x, y, 100.0))
    hv = [m for m in win.host.measurements.of_kind("landmark") if m.landmark == "hepatic_vein"]
    assert len(hv) == 1 and abs(hv[0].point[2] - 100.0) <= px
    assert c.assessment().to_dict()["ivc_segments"] == [2]
    win.host.measurements.undo()
    QApplication.processEvents()
    hv = [m for m in win.host.measurements.of_kind("landmark") if m.landmark == "hepatic_vein"]
    assert len(hv) == 1 and abs(hv[0].point[2] - levels["hepatic_vein"]) <= px
    # tumour reaching above the hepatic veins: segments 2 and 3
    win.host.select_tool(IVC_TOOLS["tumor_cranial"][0])
    click_at(win, cor, (x, y, 95.0))
    assert c.assessment().to_dict()["ivc_segments"] == [2, 3]
    assert np.isfinite(c.value("ivc.hepatic_vein_z_mm"))

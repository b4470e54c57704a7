"""IVC landmark tools: clicks in the coronal view at the truth levels give segment 2."""
from __future__ import annotations

import json

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


def test_right_atrium_landmark_is_marked_saved_and_written_like_the_others(qtbot, review_window, truth, tmp_path):
    """The cavo-atrial junction (findings 1.1 ``ivc.right_atrium_z_mm``) has its own tool: a click
    sets the field (the thrombus extent is then measured from it), placing it again moves it in one
    undo step, the autosave keeps it, and the export's SR carries it back."""
    from ui.review.tools_ivc import IVC_TOOLS
    from workstation.export import export_study
    from workstation.export.sr import read_sr
    from workstation.session import SessionStore, study_key

    win = review_window
    tools = win.host.module("rp_review").ivc_tools
    auto = win.host.module("rp_review").session
    pre = volume_of(win, "ct_pre", truth)
    show_series(win, pre)
    ivc = truth["ivc"]
    x, y = ivc["tumor_thrombus_point_mm"][:2]
    # the synthetic study ends below the heart: the junction is marked 2.5 cm above the hepatic veins
    atrium_z = ivc["hepatic_vein_z_mm"] + 25.0
    assert atrium_z < truth["series"]["ct_pre"]["slice_z_mm"][1]
    levels = {"renal_vein": ivc["renal_vein_z_mm"], "hepatic_vein": ivc["hepatic_vein_z_mm"],
              "tumor_caudal": ivc["tumor_thrombus_z_mm"][0], "tumor_cranial": ivc["tumor_thrombus_z_mm"][1]}
    cor = win.viewer.coronal
    px = float(max(cor.vb.viewPixelSize())) + 1e-6
    for kind, z in levels.items():
        win.host.select_tool(IVC_TOOLS[kind][0])
        click_at(win, cor, (x, y, z))
    c = win.controller
    assert c.value("ivc.right_atrium_z_mm") is None
    assert c.assessment().to_dict()["ivc_extent"]["cranial_end"]["from_right_atrium_mm"] is None

    # the tool is in the tool bar with its shortcut, like the others
    tid, title, key, _ = IVC_TOOLS["right_atrium"]
    assert tools.tools["right_atrium"].shortcut == key == "Alt+5" and title == "Cavo-atrial junction"
    win.host.select_tool(tid)
    with qtbot.waitSignal(auto.saved, timeout=60000):
        click_at(win, cor, (x, y, atrium_z))
    ra = [m for m in win.host.measurements.of_kind("landmark") if m.landmark == "right_atrium"]
    assert len(ra) == 1 and abs(ra[0].point[2] - atrium_z) <= px
    assert abs(c.value("ivc.right_atrium_z_mm") - atrium_z) <= px
    assert c.source_of("ivc.right_atrium_z_mm")["method"] == "landmark"
    ext = c.assessment().to_dict()["ivc_extent"]
    want = ivc["tumor_thrombus_z_mm"][1] - atrium_z                      # -58 mm: below the junction
    assert abs(ext["cranial_end"]["from_right_atrium_mm"] - want) <= px + 0.05
    assert f"{abs(want) / 10:.1f} cm below the cavo-atrial junction" in ext["text"]
    # a level line on coronal and sagittal, labelled, none on the axial view
    for vp in (win.viewer.coronal, win.viewer.sagittal):
        ov = tools.overlays[id(vp)]
        assert abs(ov.level_y(ra[0].id) - vp.patient_to_scene(ra[0].point)[1]) < 1e-6
        assert ov.items[ra[0].id][1].toPlainText().startswith("Cavo-atrial junction")
    assert ra[0].id not in tools.overlays[id(win.viewer.axial)].items

    # saved in the session: the landmark and the findings field
    uids = {v.meta["study_uid"] for v in win.host.volumes().values()}
    st = SessionStore(study_key(uids)).load()
    assert [m.point[2] for m in st.measurements if m.landmark == "right_atrium"] == [ra[0].point[2]]
    assert st.findings["ivc"]["right_atrium_z_mm"] == c.value("ivc.right_atrium_z_mm")
    assert st.findings["schema"] == "rp-findings/1.1"

    # placing it again moves it (one per kind); Ctrl+Z puts the old one back and the field follows
    click_at(win, cor, (x, y, atrium_z - 9.0))
    ra2 = [m for m in win.host.measurements.of_kind("landmark") if m.landmark == "right_atrium"]
    assert len(ra2) == 1 and abs(c.value("ivc.right_atrium_z_mm") - (atrium_z - 9.0)) <= px
    win.host.measurements.undo()
    QApplication.processEvents()
    ra3 = [m for m in win.host.measurements.of_kind("landmark") if m.landmark == "right_atrium"]
    assert [m.id for m in ra3] == [ra[0].id] and abs(c.value("ivc.right_atrium_z_mm") - atrium_z) <= px

    # written to the exported findings and carried by the SR (its own landmark code)
    files = export_study(c.findings_dict(), pre, tmp_path / "out", measurements=win.host.measurements.items())
    assert json.loads(files["findings"].read_text())["ivc"]["right_atrium_z_mm"] == c.value("ivc.right_atrium_z_mm")
    _, back = read_sr(files["sr"], pre)
    lms = [m for m in back if getattr(m, "landmark", None) == "right_atrium"]
    assert len(lms) == 1 and abs(lms[0].point[2] - ra[0].point[2]) < 0.01

    # a junction clicked below the hepatic veins is refused by the findings, naming the field, and
    # no stale level is left behind (the distances are never measured from a moved landmark)
    problems: list[str] = []
    c.problem.connect(problems.append)
    click_at(win, cor, (x, y, ivc["hepatic_vein_z_mm"] - 15.0))   # clear of the other markers
    assert [m.point[2] for m in win.host.measurements.of_kind("landmark") if m.landmark == "right_atrium"] != [
        ra[0].point[2]]
    assert c.value("ivc.right_atrium_z_mm") is None
    assert problems and problems[-1].startswith("ivc.right_atrium_z_mm: ")
    assert c.assessment().to_dict()["ivc_extent"]["cranial_end"]["from_right_atrium_mm"] is None

"""Enhancement tool on the sample study: pre/post pair, registration, spheres, fields, card."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication
from review_helpers import show_series, volume_of
from viewer_helpers import _send_mouse


def _click(win, vp, xyz, mods=Qt.KeyboardModifier.NoModifier):
    from PyQt6.QtGui import QMouseEvent

    win.viewer.set_cursor(np.asarray(xyz, float))
    QApplication.processEvents()
    p = vp.patient_to_widget(xyz)
    T = QMouseEvent.Type
    _send_mouse(vp, T.MouseButtonPress, p, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, mods)
    _send_mouse(vp, T.MouseButtonRelease, p, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, mods)
    QApplication.processEvents()


def test_enhancement_of_the_solid_mass(qtbot, review_window, truth):
    from ui.review.tools_enhancement import find_pair

    win = review_window
    tools = win.host.module("rp_review").enhancement_tools
    pre = volume_of(win, "ct_pre", truth)
    post = volume_of(win, "ct_post", truth)
    assert find_pair(win.host, pre) == (pre, post)
    show_series(win, pre)
    win.host.select_tool("enhancement")
    with qtbot.waitSignal(tools.measured, timeout=60000) as blocker:
        _click(win, win.viewer.axial, truth["mass"]["solid_roi_point_mm"])
    res, target = blocker.args
    assert target == "mass"
    expected = truth["mass"]["hu_solid_post"] - truth["mass"]["hu_solid_pre"]
    assert abs(res.delta_hu - expected) < 3
    assert res.call == "enhancing"
    # the registration found the known patient motion
    assert np.allclose(res.shift_mm, truth["motion_mm"], atol=1.6)
    c = win.controller
    assert abs(c.value("enhancement_delta_hu") - expected) < 3
    src = c.sources()["enhancement_delta_hu"]
    assert pre.description in src and post.description in src and "r 10 mm" in src
    assert c.assessment().to_dict()["enhancement_call"] == "enhancing"
    spheres = win.host.measurements.of_kind("sphere")
    assert {s.series_uid for s in spheres} == {pre.series_uid, post.series_uid}
    s_pre = next(s for s in spheres if s.series_uid == pre.series_uid)
    # at the click: in plane within a pixel, along z on the shown slice (within half a slice)
    d = np.abs(np.subtract(s_pre.center, truth["mass"]["solid_roi_point_mm"]))
    assert d[0] <= pre.spacing_mm[2] and d[1] <= pre.spacing_mm[1] and d[2] <= pre.spacing_mm[0] / 2 + 1e-6
    assert abs(s_pre.stats["mean"] - truth["mass"]["hu_solid_pre"]) < 3
    # what the reader sees: the status line and the card beside the click
    msg = win.status_area.current_message()
    assert "enhancing" in msg and f"{res.delta_hu:+.1f} HU" in msg
    assert "n=" in tools.card_text() and "enhancing" in tools.card_text()


def test_shift_click_measures_the_intraluminal_defect(qtbot, review_window, truth, tool_on_pre):
    win = review_window
    tools = win.host.module("rp_review").enhancement_tools
    tool_on_pre("enhancement")
    tools.set_radius(5)
    with qtbot.waitSignal(tools.measured, timeout=60000) as blocker:
        _click(win, win.viewer.axial, truth["ivc"]["tumor_thrombus_point_mm"], Qt.KeyboardModifier.ShiftModifier)
    res, target = blocker.args
    assert target == "defect"
    expected = truth["hu"]["post"]["tumor_thrombus"] - truth["hu"]["pre"]["tumor_thrombus"]
    # a small defect (7 x 6.5 mm semi-axes) in an enhancing lumen: partial volume allowed for
    assert res.call == "enhancing" and abs(res.delta_hu - expected) < 10
    c = win.controller
    assert abs(c.value("thrombus_delta_hu") - res.delta_hu) < 0.06
    assert c.value("enhancement_delta_hu") is None
    assert c.assessment().to_dict()["thrombus_call"] == "tumor_thrombus"
    assert "intraluminal defect" in c.sources()["thrombus_delta_hu"]
    assert [s.label for s in win.host.measurements.of_kind("sphere")] == ["Defect 1 pre", "Defect 1 post"]


def test_sphere_adapts_inside_the_bland_thrombus_and_says_so(qtbot, review_window, truth, tool_on_pre):
    """Issue 10: at the default 10 mm the sphere took in the opacified vein around the sample's bland
    thrombus; it now shrinks to the thrombus and reads within 5 HU of the truth."""
    win = review_window
    tools = win.host.module("rp_review").enhancement_tools
    assert tools.radius_mm == 10
    tool_on_pre("enhancement")
    bland = truth["bland_thrombus"]
    with qtbot.waitSignal(tools.measured, timeout=60000) as blocker:
        _click(win, win.viewer.axial, bland["point_mm"], Qt.KeyboardModifier.ShiftModifier)
    res, target = blocker.args
    assert target == "defect"
    assert abs(res.delta_hu - (bland["hu_post"] - bland["hu_pre"])) <= 5 and res.call == "not_enhancing"
    assert res.adapted and res.radius_mm < 10 and res.flags == []
    c = win.controller
    assert c.assessment().to_dict()["thrombus_call"] == "bland_thrombus"
    src = c.sources()["thrombus_delta_hu"]
    assert f"sphere r {res.radius_mm:g} mm (up to 10" in src and "SD " in src
    card = tools.card_text()
    assert "±" in card and f"sphere r {res.radius_mm:g} mm" in card and "⚠" not in card
    spheres = win.host.measurements.of_kind("sphere")
    assert {round(s.radius_mm, 2) for s in spheres} == {res.radius_mm}


def test_a_fixed_size_sphere_over_the_vein_is_flagged(qtbot, review_window, truth):
    """The same point measured without adapting (the core's fixed mode, as the CLI's --fixed-radius):
    the card and the field's source carry the warnings."""
    from workstation.measure.enhancement import measure_enhancement

    win = review_window
    tools = win.host.module("rp_review").enhancement_tools
    pre, post = volume_of(win, "ct_pre", truth), volume_of(win, "ct_post", truth)
    res = measure_enhancement(pre, post, truth["bland_thrombus"]["point_mm"], radius_mm=10, adapt=False)
    assert {"high_sd", "straddles_boundary"} <= set(res.flags)
    text = tools.summary(res, multiline=True)
    assert "⚠ large SD" in text and "⚠ the sphere straddles a boundary" in text

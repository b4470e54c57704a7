"""Grow lesion, overlay, greatest-dimension line, brush and eraser, driven through the real views."""
from __future__ import annotations

import numpy as np
from PyQt6.QtWidgets import QApplication
from review_helpers import click_at, show_series, volume_of
from viewer_helpers import drag


def test_grow_shows_overlay_line_and_fills_greatest_dimension(qtbot, review_window, truth, grow_mass):
    win = review_window
    tools, pre = grow_mass()
    lesions = win.host.measurements.of_kind("lesion")
    assert len(lesions) == 1
    rec = lesions[0]
    diag = float(np.linalg.norm(pre.spacing_mm))
    gd = rec.figures["greatest_dimension_mm"]
    assert abs(gd - truth["mass"]["greatest_dimension_mm"]) <= diag
    for k in ("volume_ml", "axial_long_mm", "axial_short_mm", "craniocaudal_mm", "mean_hu"):
        assert k in rec.figures
    assert abs(rec.figures["volume_ml"] - truth["mass"]["volume_ml"]) / truth["mass"]["volume_ml"] < 0.05
    # the controller has the value with its source, and composition only as suggestions
    c = win.controller
    assert c.value("greatest_dimension_mm") == round(gd, 1)
    assert "3D lesion growing" in c.sources()["greatest_dimension_mm"]
    assert c.assessment().to_dict()["t_category"] == truth["mass"]["t_category"]
    assert "necrosis" in c.suggestions()
    assert not (c.findings_dict().get("findings") or {}).get("necrosis")
    # overlay: visible in every MPR view, coloured pixels where the mask is on the shown slice
    for vp in (win.viewer.axial, win.viewer.coronal, win.viewer.sagittal):
        ov = tools.overlays[id(vp)]
        assert ov.image.isVisible(), vp.view
        shown = ov.image.image
        assert shown.shape == vp.image.image.shape
        assert np.array_equal(shown.astype(bool), vp.mapping.image(tools.active().mask, vp.slice))
        assert shown.sum() > 100
    # the greatest-dimension line crosses the axial slice through the seed, drawn between its ends
    ov = tools.overlays[id(win.viewer.axial)]
    assert ov.line_shown()
    x, y = ov.line.getData()
    ends = win.viewer.axial.patient_to_scene(np.asarray(rec.endpoints))
    assert np.allclose(sorted(x[np.isfinite(x)]), sorted(ends[:, 0]), atol=1e-6)
    # ... and only there: the host's measurement layers leave the lesion to the tool
    for vp in win.viewer.all_viewports():
        g = vp.measurement_layer.graphics.get(rec.id)
        assert g is None or not any(it.isVisible() for it in g.items)
    # the overlay is really painted: grab the axial view and compare a mask pixel's colour
    img = win.viewer.axial.grab().toImage()
    seed_px = win.viewer.axial.patient_to_widget(truth["mass"]["seed_mm"])
    c_on = img.pixelColor(int(seed_px.x()), int(seed_px.y()))
    assert c_on.red() > c_on.blue() + 40  # orange tint over grey


def test_bad_seed_reports_in_status_bar(qtbot, review_window, truth, tool_on_pre):
    win = review_window
    tools = win.host.module("rp_review").lesion_tools
    tool_on_pre("grow_lesion")
    with qtbot.waitSignal(tools.grow_failed, timeout=60000) as blocker:
        click_at(win, win.viewer.axial, truth["landmarks_mm"]["subcutaneous_fat"])
    assert "seed" in blocker.args[0]
    assert blocker.args[0] in win.status_area.current_message()
    assert not win.host.measurements.of_kind("lesion")


def test_brush_in_coronal_view_adds_voxels_and_volume_goes_up_then_undo(qtbot, review_window, truth, grow_mass):
    win = review_window
    tools, pre = grow_mass()
    rec0 = win.host.measurements.of_kind("lesion")[0]
    vol0 = rec0.figures["volume_ml"]
    n0 = int(tools.active().mask.sum())
    # paint a stroke just outside the mass edge, in the coronal view
    c = np.asarray(truth["mass"]["center_mm"], float)
    edge = c + np.array([0.0, 0.0, truth["mass"]["semi_axes_mm"][2]])  # cranial tip
    cor = win.viewer.coronal
    win.viewer.set_cursor(c)
    QApplication.processEvents()
    win.host.select_tool("lesion_brush")
    tools.set_brush_radius(8)
    a = cor.patient_to_widget(edge + np.array([-15.0, 0.0, 6.0]))
    b = cor.patient_to_widget(edge + np.array([15.0, 0.0, 6.0]))
    with qtbot.waitSignal(tools.measured, timeout=60000):
        drag(cor, a, b)
    n1 = int(tools.active().mask.sum())
    assert n1 > n0
    rec1 = win.host.measurements.get(rec0.id)
    assert rec1.figures["volume_ml"] > vol0
    assert rec1.figures["craniocaudal_mm"] >= rec0.figures["craniocaudal_mm"]
    assert win.controller.sources()["greatest_dimension_mm"].startswith("3D lesion growing")
    # the stroke is one undo step: Ctrl+Z gives the grown mask back and the figures follow
    with qtbot.waitSignal(tools.measured, timeout=60000):
        win.host.measurements.undo()
    assert int(tools.active().mask.sum()) == n0
    assert abs(win.host.measurements.get(rec0.id).figures["volume_ml"] - vol0) < 1e-6


def test_eraser_in_sagittal_view_removes_voxels(qtbot, review_window, truth, grow_mass):
    win = review_window
    tools, pre = grow_mass()
    rec0 = win.host.measurements.of_kind("lesion")[0]
    n0 = int(tools.active().mask.sum())
    c = np.asarray(truth["mass"]["seed_mm"], float)
    sag = win.viewer.sagittal
    win.viewer.set_cursor(c)
    QApplication.processEvents()
    win.host.select_tool("lesion_eraser")
    tools.set_brush_radius(10)
    k_plane = int(round(sag.mapping.slice_to_index(sag.slice)))
    before = tools.active().mask.copy()
    with qtbot.waitSignal(tools.measured, timeout=60000):
        drag(sag, sag.patient_to_widget(c + [0, -5, 0]), sag.patient_to_widget(c + [0, 5, 0]))
    after = tools.active().mask
    assert int(after.sum()) < n0
    changed = np.argwhere(before != after)
    assert np.all(changed[:, sag.mapping.slice_axis] == k_plane)  # a disc in the sagittal plane
    assert win.host.measurements.get(rec0.id).figures["volume_ml"] < rec0.figures["volume_ml"]


def test_the_mass_is_an_explicit_choice(qtbot, review_window, truth, grow_mass):
    """Issue 10: a second lesion does not silently become "the mass", and a grow that would move the
    T category asks first. The choice is kept in the lesion records (figures["target"])."""
    from workstation.measure.model import Caliper

    win = review_window
    mod = win.host.module("rp_review")
    c, panel, link, store = win.controller, mod.panel, mod.link, win.host.measurements
    asked: list[str] = []
    answers: list[bool] = []
    link.confirm = lambda title, text: (asked.append(text), answers.pop(0))[1]
    pre = volume_of(win, "ct_pre", truth)
    store.add(Caliper(series_uid=pre.series_uid, label="AP", p1=(-40.0, 0.0, 0.0), p2=(55.0, 0.0, 0.0)))
    assert c.value("greatest_dimension_mm") == 95.0 and "T2" in panel.t_label.text()

    # the first lesion would turn T2 into T3: asked; the reader says no -> the caliper stays
    answers.append(False)
    tools, _ = grow_mass()
    assert len(asked) == 1 and "(T2)" in asked[0] and "(T3)" in asked[0]
    mass = store.of_kind("lesion")[0]
    assert mass.figures["target"] == 0.0 and c.value("greatest_dimension_mm") == 95.0
    assert panel.target_combo.isVisibleTo(panel) and panel.target_combo.currentData() == ""

    # the reader makes it the target in the panel (asked again, yes): the T category follows
    answers.append(True)
    panel.choose_target(mass.id)
    assert len(asked) == 2 and store.get(mass.id).figures["target"] == 1.0
    gd = c.value("greatest_dimension_mm")
    assert abs(gd - truth["mass"]["greatest_dimension_mm"]) <= np.linalg.norm(pre.spacing_mm)
    assert "target lesion" in c.sources()["greatest_dimension_mm"] and "T3" in panel.t_label.text()

    # a second grow (the psoas, ~177 mm) becomes lesion 2: no question, the mass and T3 stay
    show_series(win, pre)
    psoas = np.add(truth["landmarks_mm"]["right_psoas"], (0.0, 0.0, 1.5))  # on a slice of the series
    with qtbot.waitSignal(tools.grown, timeout=60000):
        click_at(win, win.viewer.axial, psoas)
    second = [m for m in store.of_kind("lesion") if m.id != mass.id][0]
    assert len(asked) == 2 and second.figures["target"] == 0.0
    assert c.value("greatest_dimension_mm") == gd and "T3" in panel.t_label.text()
    assert "kept as another lesion" in win.status_area.current_message()
    assert [panel.target_combo.itemData(i) for i in range(panel.target_combo.count())] == ["", mass.id, second.id]
    assert panel.target_combo.currentData() == mass.id

    # making the second lesion the target jumps to T4: asked; "no" keeps the mass
    answers.append(False)
    assert link.make_target(second.id) is False
    assert c.value("greatest_dimension_mm") == gd and panel.target_combo.currentData() == mass.id
    answers.append(True)
    assert link.make_target(second.id) is True
    assert store.get(second.id).figures["target"] == 1.0 and store.get(mass.id).figures["target"] == 0.0
    assert c.value("greatest_dimension_mm") > 150 and "T4" in panel.t_label.text()
    assert not answers  # every question asked was answered

"""Caliper, ellipse ROI and probe drawn with the mouse on the sample study; the measurements list
(select, rename, delete) and undo."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from viewer_helpers import click, drag

from workstation.measure.model import Caliper


def _series(win, truth, key):
    return win.study.volumes[truth["series"][key]["series_uid"]]


def _go_to(win, vol, xyz):
    win.viewer.show_volume(vol)
    win.viewer.set_cursor(xyz)


def _at_caliper(win, truth):
    """The truth's caliper series shown on the slice of its first end: (volume, p1, p2, axial view)."""
    t = truth["caliper"]
    vol = _series(win, truth, t["series"])
    p1, p2 = np.asarray(t["p1_mm"]), np.asarray(t["p2_mm"])
    _go_to(win, vol, p1)
    return vol, p1, p2, win.viewer.axial


def _at_mass(win, truth, key):
    """Series ``key`` shown with the crosshair on the mass's solid ROI point: (volume, point)."""
    vol = _series(win, truth, key)
    c = np.asarray(truth["mass"]["solid_roi_point_mm"])
    _go_to(win, vol, c)
    return vol, c


def _inside_ellipse(pts, roi):
    """Independent mask of the points inside the ellipse given by the ROI's axes: (mask, ra, rb)."""
    m0, m1 = (np.asarray(p) for p in roi.major)
    n0, n1 = (np.asarray(p) for p in roi.minor)
    ctr = (m0 + m1) / 2
    ra, rb = np.linalg.norm(m1 - m0) / 2, np.linalg.norm(n1 - n0) / 2
    ua, ub = (m1 - m0) / (2 * ra), (n1 - n0) / (2 * rb)
    d = pts - ctr
    return ((d @ ua) / ra) ** 2 + ((d @ ub) / rb) ** 2 <= 1.0, ra, rb


def test_caliper_drawn_by_mouse_measures_the_known_distance(sample_window, truth, qtbot):
    win = sample_window
    t = truth["caliper"]
    vol, p1, p2, ax = _at_caliper(win, truth)
    qtbot.keyClick(ax, "m")
    assert win.tools.current.id == "caliper"
    drag(ax, ax.patient_to_widget(p1), ax.patient_to_widget(p2), steps=10)
    calipers = win.store.of_kind("caliper")
    assert len(calipers) == 1
    c = calipers[0]
    voxel = max(vol.spacing_mm[1:])
    assert c.length_mm == pytest.approx(t["length_mm"], abs=voxel)
    assert c.series_uid == vol.series_uid
    # stored in patient space, on the slice it was drawn on
    assert c.p1[2] == pytest.approx(t["slice_z_mm"], abs=vol.spacing_mm[0] / 2)
    # the label on screen shows the length, next to the line
    g = ax.measurement_layer.graphics[c.id]
    assert g.label.isVisible() and f"{c.length_mm:.1f} mm" in g.label.textItem.toPlainText()
    # it is listed
    panel = win.measurements_panel
    assert panel.rowCount() == 1 and f"{c.length_mm:.1f} mm" == panel.item(0, 1).text()


def test_dragging_a_caliper_handle_updates_length_label_and_undo(sample_window, truth, qtbot):
    win = sample_window
    vol, p1, p2, ax = _at_caliper(win, truth)
    win.tools.select("caliper")
    drag(ax, ax.patient_to_widget(p1), ax.patient_to_widget(p2))
    c0 = win.store.of_kind("caliper")[0]
    win.tools.select("navigate")
    # grab the second handle and move it 20 mm towards the patient's left (+x)
    new_p2 = np.asarray(c0.p2) + np.array([20.0, 0, 0])
    drag(ax, ax.patient_to_widget(c0.p2), ax.patient_to_widget(new_p2), steps=6)
    c1 = win.store.get(c0.id)
    assert np.linalg.norm(np.asarray(c1.p2) - new_p2) < max(vol.spacing_mm[1:])
    assert c1.length_mm == pytest.approx(float(np.linalg.norm(new_p2 - np.asarray(c0.p1))), abs=max(vol.spacing_mm[1:]))
    assert c1.p1 == pytest.approx(c0.p1)  # the other end stayed
    g = ax.measurement_layer.graphics[c0.id]
    assert f"{c1.length_mm:.1f} mm" in g.label.textItem.toPlainText()
    # the whole drag is one undo step
    win.act_undo.trigger()
    c2 = win.store.get(c0.id)
    assert c2.p2 == pytest.approx(c0.p2) and c2.length_mm == pytest.approx(c0.length_mm)
    assert f"{c0.length_mm:.1f} mm" in g.label.textItem.toPlainText()
    win.act_undo.trigger()  # undo the creation
    assert len(win.store) == 0 and c0.id not in ax.measurement_layer.graphics


def test_ellipse_roi_mean_equals_numpy_mean_of_the_same_voxels(sample_window, truth, qtbot):
    win = sample_window
    vol, c = _at_mass(win, truth, "ct_post")
    ax = win.viewer.axial
    qtbot.keyClick(ax, "e")
    a = ax.patient_to_widget(c + np.array([-9.0, -6.0, 0]))
    b = ax.patient_to_widget(c + np.array([9.0, 6.0, 0]))
    drag(ax, a, b)
    rois = win.store.of_kind("ellipse")
    assert len(rois) == 1
    roi = rois[0]
    # independent mask: voxel centres of the shown slice inside the ellipse given by its axes
    k = int(ax.mapping.slice_to_index(ax.slice))
    pts = vol.grid_points((slice(k, k + 1), slice(None), slice(None)))[0]
    mask, ra, rb = _inside_ellipse(pts, roi)
    vals = vol.voxels[k][mask].astype(float)
    assert mask.sum() > 50
    assert roi.stats["mean"] == pytest.approx(vals.mean(), abs=1e-6)
    assert roi.stats["sd"] == pytest.approx(vals.std(ddof=1), abs=1e-6)
    assert roi.stats["min"] == vals.min() and roi.stats["max"] == vals.max()
    assert roi.stats["area_mm2"] == pytest.approx(np.pi * ra * rb)
    assert ra == pytest.approx(9.0, abs=0.8) and rb == pytest.approx(6.0, abs=0.8)
    # solid enhancing tissue of the sample, so the numbers mean something
    assert roi.stats["mean"] == pytest.approx(truth["mass"]["hu_solid_post"], abs=15)
    text = ax.measurement_layer.graphics[roi.id].label.textItem.toPlainText()
    assert f"Mean {roi.stats['mean']:.1f} HU" in text and "Area" in text


def test_probe_shows_value_and_patient_point(sample_window, truth, qtbot):
    win = sample_window
    vol, c = _at_mass(win, truth, "ct_pre")
    ax = win.viewer.axial
    qtbot.keyClick(ax, "p")
    click(ax, ax.patient_to_widget(c))
    tool = win.tools.tools["probe"]
    xyz, val = tool.last
    assert np.linalg.norm(np.asarray(xyz)[:2] - c[:2]) < max(vol.spacing_mm[1:])
    assert abs(xyz[2] - c[2]) <= vol.spacing_mm[0] / 2  # on the shown slice nearest to the point
    assert val == vol.value_at(xyz)
    assert f"{val:.0f} HU" in win.status_area.current_message()
    assert "LPS" in win.status_area.current_message()


def test_list_select_rename_delete_and_undo(sample_window, truth, qtbot):
    win = sample_window
    vol = _series(win, truth, "ct_pre")
    store = win.store
    p = np.asarray(truth["caliper"]["p1_mm"])
    z_far = p + np.array([0, 0, 30.0])
    a = store.add(Caliper(series_uid=vol.series_uid, label="Caliper 1", p1=tuple(p), p2=tuple(p + [10, 0, 0])))
    b = store.add(Caliper(series_uid=vol.series_uid, label="Caliper 2", p1=tuple(z_far), p2=tuple(z_far + [0, 15, 0])))
    panel = win.measurements_panel
    assert panel.rowCount() == 2
    # selecting a row jumps to its slice and highlights it
    panel.selectRow(1)
    assert store.selected_id() == b.id
    ax = win.viewer.axial
    assert ax.volume is vol
    assert vol.slice_position_mm(ax.mapping.slice_to_index(ax.slice)) == pytest.approx(z_far[2], abs=vol.spacing_mm[0] / 2)
    g = ax.measurement_layer.graphics[b.id]
    assert g.roi.currentPen.color().getRgb()[:3] == (40, 220, 255)
    # rename by editing the name cell
    panel.item(1, 0).setText("IVC width")
    assert store.get(b.id).label == "IVC width"
    assert "IVC width" in g.label.textItem.toPlainText()
    # Del deletes the selected one
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_Delete)
    assert b.id not in store and panel.rowCount() == 1
    # Ctrl+Z: back comes the deletion, then the rename
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert store.get(b.id).label == "IVC width" and panel.rowCount() == 2
    store.undo()
    assert store.get(b.id).label == "Caliper 2"
    assert a.id in store


def test_ellipse_on_a_coronal_reformat_measures_the_voxels_of_that_plane(sample_window, truth, qtbot):
    win = sample_window
    vol, c = _at_mass(win, truth, "ct_pre")
    cor = win.viewer.coronal
    win.tools.select("ellipse")
    # 16 mm wide (x), 12 mm high (z) in the coronal plane
    drag(cor, cor.patient_to_widget(c + np.array([-8.0, 0, 6.0])), cor.patient_to_widget(c + np.array([8.0, 0, -6.0])))
    roi = win.store.of_kind("ellipse")[0]
    j = int(cor.mapping.slice_to_index(cor.slice))
    pts = vol.grid_points((slice(None), slice(j, j + 1), slice(None)))[:, 0]
    mask, _ra, _rb = _inside_ellipse(pts, roi)
    m0, m1 = (np.asarray(p) for p in roi.major)
    n0, n1 = (np.asarray(p) for p in roi.minor)
    vals = vol.voxels[:, j, :][mask].astype(float)
    assert mask.sum() >= 10
    assert roi.stats["n"] == mask.sum()
    assert roi.stats["mean"] == pytest.approx(vals.mean(), abs=1e-6)
    assert abs(m0[1] - m1[1]) < 1e-6 and abs(n0[1] - n1[1]) < 1e-6  # lies in the coronal plane
    assert cor.measurement_layer.graphics[roi.id].roi.isVisible()

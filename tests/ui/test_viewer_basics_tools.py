"""Angle, freehand ROI and arrow drawn with the mouse on the real views (OHIF/Horos tools):
records in patient space, drawn on their slice, listed, undone/redone, kept through to_dict."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication
from viewer_helpers import MOVE_INTERVAL_MS, _send_mouse, center, click, drag, phantom, show, wheel

from ui.panels import describe
from workstation.measure.model import Angle, Arrow, FreehandROI, Measurement
from workstation.measure.roi import freehand_stats


def _path(vp, pts: list[QPointF]) -> None:
    """Press at the first point, move through the others, release at the last."""
    T, L = QMouseEvent.Type, Qt.MouseButton.LeftButton
    _send_mouse(vp, T.MouseButtonPress, pts[0], L, L)
    for p in pts[1:]:
        QTest.qWait(MOVE_INTERVAL_MS)
        _send_mouse(vp, T.MouseMove, p, Qt.MouseButton.NoButton, L)
    QTest.qWait(MOVE_INTERVAL_MS)
    _send_mouse(vp, T.MouseButtonRelease, pts[-1], L, Qt.MouseButton.NoButton)
    QApplication.processEvents()


def _drawn(g) -> bool:
    """Whether a measurement graphic is on screen (handles ROI or plain polyline)."""
    return (g.roi if hasattr(g, "roi") else g.line).isVisible()


def _tool(qtbot, win, key) -> None:
    ax = win.viewer.axial
    ax.setFocus()
    qtbot.keyClick(ax, key)


def test_angle_by_three_clicks(window, qtbot):
    show(window, phantom())
    ax = window.viewer.axial
    _tool(qtbot, window, "a")
    assert window.tools.current.id == "angle"
    c = center(ax)
    arm1, vertex, arm2 = c + QPointF(70, 0), c, c + QPointF(0, -50)
    click(ax, arm1)
    click(ax, vertex)
    assert window.tools.current.busy and len(window.store) == 0
    click(ax, arm2)
    (m,) = window.store.items()
    assert isinstance(m, Angle) and m.label == "Angle 1"
    assert m.angle_deg == pytest.approx(90, abs=0.5)  # true aspect on screen: a right angle is 90
    np.testing.assert_allclose(m.vertex, ax.scene_to_patient(*_scene(ax, vertex)), atol=1e-6)
    g = ax.measurement_layer.graphics[m.id]
    assert _drawn(g) and g.label.toPlainText() == f"Angle 1: {m.angle_deg:.1f}°"
    assert describe(m) == f"{m.angle_deg:.1f}°"
    # a double-click while the angle is half drawn does not maximise the view
    click(ax, c + QPointF(-60, 30))
    assert window.tools.current.busy
    QTest.mouseDClick(ax.viewport(), Qt.MouseButton.LeftButton, pos=(c + QPointF(-30, 60)).toPoint())
    assert window.viewer.maximised is None


def _scene(vp, p: QPointF) -> tuple[float, float]:
    v = vp.vb.mapSceneToView(vp.mapToScene(p.toPoint()))
    return v.x(), v.y()


def test_freehand_outline_stats_through_the_core(window, qtbot):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    _tool(qtbot, window, "d")
    c = center(ax)
    square = [c + QPointF(x, y) for x, y in
              [(-40, -40), (0, -40), (40, -40), (40, 0), (40, 40), (0, 40), (-40, 40), (-40, 0), (-40, -38)]]
    _path(ax, square)
    (m,) = window.store.items()
    assert isinstance(m, FreehandROI) and len(m.points) >= 8
    assert m.stats == freehand_stats(vol, m)  # the core's figures
    side_mm = 80 * ax.vb.viewPixelSize()[0]
    assert m.stats["area_mm2"] == pytest.approx(side_mm ** 2, rel=0.08)
    vox_area = vol.spacing_mm[1] * vol.spacing_mm[2]
    assert m.stats["n"] * vox_area == pytest.approx(m.stats["area_mm2"], rel=0.15)
    g = ax.measurement_layer.graphics[m.id]
    assert g.line.isVisible() and "Mean" in g.label.toPlainText()
    window.store.select(None)
    _tool(qtbot, window, Qt.Key.Key_Escape)
    click(ax, c + QPointF(40, 10))  # on the outline's right edge
    assert window.store.selected_id() == m.id
    _tool(qtbot, window, "d")
    # on another slice it is not drawn; back on its slice it is
    wheel(ax, -2)
    assert not g.line.isVisible()
    wheel(ax, 2)
    assert g.line.isVisible()
    # a scribble without area is not a measurement
    _path(ax, [c, c + QPointF(1, 0), c + QPointF(2, 0), c + QPointF(3, 0)])
    assert len(window.store) == 1


def test_arrow_points_at_where_the_drag_began(window, qtbot):
    show(window, phantom())
    ax = window.viewer.axial
    _tool(qtbot, window, "n")
    c = center(ax)
    drag(ax, c, c + QPointF(60, -40))
    (m,) = window.store.items()
    assert isinstance(m, Arrow) and m.label == "Arrow 1"
    np.testing.assert_allclose(m.head, ax.scene_to_patient(*_scene(ax, c)), atol=0.5)
    g = ax.measurement_layer.graphics[m.id]
    assert _drawn(g)

    def head_px() -> float:  # the barbs' length on screen
        xs, ys = g.barbs.getData()
        return float(np.hypot(xs[0] - xs[1], ys[0] - ys[1])) / ax.vb.viewPixelSize()[0]

    h0 = head_px()
    wheel(ax, 3, mods=Qt.KeyboardModifier.ControlModifier)  # zoom in
    assert head_px() == pytest.approx(h0, rel=0.02)  # the head keeps its size on screen
    # renamed in the list (the note), undone, redone
    window.store.rename(m.id, "thrombus")
    assert ax.measurement_layer.graphics[m.id].label.toPlainText() == "thrombus"
    window.store.undo()
    assert window.store.get(m.id).label == "Arrow 1"
    window.store.redo()
    assert window.store.get(m.id).label == "thrombus"


def test_new_kinds_survive_the_session_round_trip(window, qtbot):
    """What autosave writes (to_dict) brings back the same records, drawn the same way."""
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    c = center(ax)
    _tool(qtbot, window, "a")
    for p in (c + QPointF(50, 10), c, c + QPointF(-20, -50)):
        click(ax, p)
    _tool(qtbot, window, "n")
    drag(ax, c + QPointF(-30, 30), c + QPointF(-70, 60))
    _tool(qtbot, window, "d")
    _path(ax, [c + QPointF(x, y) for x, y in [(20, 20), (50, 20), (50, 50), (25, 50), (20, 22)]])
    saved = [m.to_dict() for m in window.store.items()]
    assert [d["kind"] for d in saved] == ["angle", "arrow", "freehand"]
    window.store.reset()
    assert not ax.measurement_layer.graphics
    for d in saved:
        window.store.add(Measurement.from_dict(d))
    assert [m.to_dict() for m in window.store.items()] == saved
    assert all(_drawn(g) for g in ax.measurement_layer.graphics.values())
    # the list jumps to each (its centre is on the shown slice)
    for m in window.store.items():
        window.jump_to_measurement(m)
        assert _drawn(ax.measurement_layer.graphics[m.id])


def test_angle_and_arrow_points_are_dragged_by_their_handles(window, qtbot):
    show(window, phantom())
    ax = window.viewer.axial
    c = center(ax)
    _tool(qtbot, window, "a")
    for p in (c + QPointF(70, 0), c, c + QPointF(0, -60)):
        click(ax, p)
    (m,) = window.store.items()
    assert m.angle_deg == pytest.approx(90, abs=0.5)
    # drag the second arm's end round to 45 degrees (screen y points down: -60 is up)
    drag(ax, c + QPointF(0, -60), c + QPointF(60, -60))
    m2 = window.store.get(m.id)
    assert m2.angle_deg == pytest.approx(45, abs=1.0)
    np.testing.assert_allclose(m2.vertex, m.vertex)  # the other points stay
    assert ax.measurement_layer.graphics[m.id].label.toPlainText() == f"Angle 1: {m2.angle_deg:.1f}°"
    window.store.undo()  # one step for the whole drag
    assert window.store.get(m.id).angle_deg == pytest.approx(90, abs=0.5)
    window.store.redo()
    assert window.store.get(m.id).angle_deg == pytest.approx(45, abs=1.0)

    _tool(qtbot, window, "n")
    drag(ax, c + QPointF(-50, 40), c + QPointF(-100, 80))
    arrow = window.store.of_kind("arrow")[0]
    _tool(qtbot, window, Qt.Key.Key_Escape)  # Navigate: handles still drag
    drag(ax, c + QPointF(-50, 40), c + QPointF(-20, 40))
    moved = window.store.get(arrow.id)
    px = ax.vb.viewPixelSize()[0]
    assert moved.head[0] - arrow.head[0] == pytest.approx(30 * px, rel=0.1)
    assert np.allclose(moved.tail, arrow.tail)

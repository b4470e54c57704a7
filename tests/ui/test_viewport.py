"""The viewports driven with the mouse and keyboard: scrolling, windowing, presets, zoom, pan, fit,
reset, crosshair linking, orientation letters, overlays."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt
from viewer_helpers import center, click, drag, phantom, show, wheel

from ui.display import ct_presets, presets_doc


def test_wheel_and_keys_scroll_slices(window, qtbot):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    s0 = ax.slice
    z0 = ax.point[2]
    wheel(ax, -1)  # towards the reader: next image, towards the feet
    assert ax.slice == s0 + 1
    assert ax.point[2] == pytest.approx(z0 - vol.spacing_mm[0])
    wheel(ax, 3)
    assert ax.slice == s0 - 2
    qtbot.keyClick(ax, Qt.Key.Key_Down)
    assert ax.slice == s0 - 1
    qtbot.keyClick(ax, Qt.Key.Key_PageDown)
    assert ax.slice == s0 + 9
    qtbot.keyClick(ax, Qt.Key.Key_Home)
    assert ax.slice == 0
    qtbot.keyClick(ax, Qt.Key.Key_Up)
    assert ax.slice == 0  # clamped
    qtbot.keyClick(ax, Qt.Key.Key_End)
    assert ax.slice == vol.shape[0] - 1
    # image 1 is the most cranial slice: the shown image is the voxels of the top slice
    qtbot.keyClick(ax, Qt.Key.Key_Home)
    top = int(np.argmax([vol.slice_position_mm(k) for k in range(vol.shape[0])]))
    np.testing.assert_array_equal(ax.image.image, vol.voxels[top])


def test_scrolling_one_view_moves_the_crosshair_in_the_others(window):
    vol = phantom()
    show(window, vol)
    ax, cor, sag = window.viewer.axial, window.viewer.coronal, window.viewer.sagittal
    wheel(cor, -4)  # coronal: towards the back
    y = window.viewer.cursor_patient_point()[1]
    assert ax.hline.value() == pytest.approx(ax.patient_to_scene(window.viewer.point)[1])
    assert sag.vline.value() == pytest.approx(sag.patient_to_scene(window.viewer.point)[0])
    # the coronal slice shown is the one at the crosshair's y
    j = int(round(vol.patient_to_index(window.viewer.point)[1]))
    np.testing.assert_array_equal(cor.image.image, vol.voxels[:, j, :][::-1, :])
    assert y == pytest.approx(vol.index_to_patient((0, j, 0))[1])


def test_click_with_navigate_sets_the_point_in_the_other_views(window):
    vol = phantom()
    show(window, vol)
    ax, sag, cor = window.viewer.axial, window.viewer.sagittal, window.viewer.coronal
    target = vol.index_to_patient((20, 10, 60))
    click(ax, ax.patient_to_widget(vol.index_to_patient((ax.mapping.slice_to_index(ax.slice), 10, 60))))
    kji = vol.patient_to_index(window.viewer.point)
    assert round(kji[1]) == 10 and round(kji[2]) == 60
    assert int(sag.mapping.slice_to_index(sag.slice)) == 60
    assert int(cor.mapping.slice_to_index(cor.slice)) == 10
    assert target is not None


def test_right_drag_windows_like_horos(window):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    w0 = ax.display_window()
    c = center(ax)
    drag(ax, c, c + QPointF(60, 0), Qt.MouseButton.RightButton)   # right: wider
    w1 = ax.display_window()
    assert w1.width > w0.width and w1.level == pytest.approx(w0.level)
    drag(ax, c, c + QPointF(0, 40), Qt.MouseButton.RightButton)   # down: higher level
    w2 = ax.display_window()
    assert w2.level > w1.level and w2.width == pytest.approx(w1.width)
    drag(ax, c, c + QPointF(-30, -30), Qt.MouseButton.RightButton)
    w3 = ax.display_window()
    assert w3.width < w2.width and w3.level < w2.level
    # the image item uses the window as its levels (no re-windowed copy of the pixels)
    assert tuple(ax.image.levels) == pytest.approx(w3.levels)
    # every view of the series shares the window (a property of the volume)
    assert window.viewer.coronal.display_window() == w3
    assert f"W {round(w3.width)}" in ax.t_bottomright.text()


def test_preset_keys_and_reset(window, qtbot):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    ax.setFocus()
    presets = ct_presets()
    assert [p.key for p in presets] == ["1", "2", "3", "4"]
    for p in presets:
        qtbot.keyClick(ax, p.key)
        assert ax.display_window() == p.window
    doc = presets_doc()
    by_id = {p["id"]: (p["width"], p["level"]) for p in doc["ct_window_presets"]}
    assert by_id["soft_tissue"] == (400, 40) and by_id["lung"] == (1500, -600)
    assert all(p.get("source") for p in doc["ct_window_presets"])
    qtbot.keyClick(ax, "r")
    assert ax.display_window().width == 400 and ax.display_window().level == 40


def test_ctrl_wheel_zooms_middle_drag_pans_f_fits(window, qtbot):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    r0 = ax.vb.viewRect()
    wheel(ax, 2, mods=Qt.KeyboardModifier.ControlModifier)
    r1 = ax.vb.viewRect()
    assert r1.width() < r0.width() * 0.9
    s = ax.slice
    assert s == ax.slice  # ctrl+wheel does not scroll
    c = center(ax)
    drag(ax, c, c + QPointF(50, 0), Qt.MouseButton.MiddleButton)
    r2 = ax.vb.viewRect()
    assert r2.center().x() < r1.center().x()  # content follows the mouse to the right
    assert r2.width() == pytest.approx(r1.width())
    ax.setFocus()
    qtbot.keyClick(ax, "f")
    r3 = ax.vb.viewRect()
    x, y, w, h = ax.mapping.image_rect()
    assert r3.contains(x + w / 2, y + h / 2) and (r3.width() >= w - 1e-6 and r3.height() >= h - 1e-6)
    assert min(r3.width() - w, r3.height() - h) < 1e-6 * max(w, h) + 1e-6


def test_no_pyqtgraph_context_menu_or_mouse_zoom(window):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    assert not ax.vb.menuEnabled()
    assert ax.vb.state["mouseEnabled"] == [False, False]
    r0 = ax.vb.viewRect()
    click(ax, center(ax), Qt.MouseButton.RightButton)
    assert ax.vb.viewRect() == r0


def test_true_aspect_on_screen_for_anisotropic_voxels(window):
    vol = phantom(shape=(30, 64, 64), spacing=(5.0, 0.7, 0.7))
    show(window, vol)
    cor = window.viewer.coronal
    # a 10 mm step along x and along z cover the same number of screen pixels
    p = window.viewer.point
    a = cor.patient_to_widget(p)
    bx = cor.patient_to_widget(p + np.array([10.0, 0, 0]))
    bz = cor.patient_to_widget(p + np.array([0, 0, 10.0]))
    assert abs(bx.x() - a.x()) == pytest.approx(abs(bz.y() - a.y()), rel=1e-6)
    assert bz.y() < a.y()  # head is up


def test_orientation_letters_for_a_flipped_and_an_oblique_volume(window):
    flipped = phantom(row=(-1, 0, 0), col=(0, -1, 0), uid="1.2.flip")
    show(window, flipped)
    ax = window.viewer.axial
    got = {e: t.text() for e, t in ax.letters.items()}
    assert got == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    # and the image really is flipped to match: patient right (-x) on the left of the screen
    left = ax.patient_to_widget(flipped.index_to_patient((0, 0, 79)))
    right = ax.patient_to_widget(flipped.index_to_patient((0, 0, 0)))
    assert flipped.index_to_patient((0, 0, 79))[0] < flipped.index_to_patient((0, 0, 0))[0]
    assert left.x() < right.x()
    a = np.radians(20)
    obl = phantom(row=(np.cos(a), 0.0, np.sin(a)), col=(0, 1, 0), uid="1.2.obl")
    show(window, obl)
    got = {e: t.text() for e, t in ax.letters.items()}
    assert got["right"] == "LS" and got["left"] == "RI"
    assert {e: t.text() for e, t in window.viewer.coronal.letters.items()}["top"] == "SR"


def test_overlay_shows_series_slice_window_and_value_under_cursor(window, qtbot):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    assert "PHANTOM" in ax.t_topleft.text() and "TEST PATIENT" in ax.t_topleft.text()
    assert f"Im {ax.slice + 1}/{vol.shape[0]}" in ax.t_bottomleft.text()
    z = vol.slice_position_mm(ax.mapping.slice_to_index(ax.slice))
    assert f"Z {z:.1f} mm" in ax.t_bottomleft.text()
    k = int(ax.mapping.slice_to_index(ax.slice))
    p = vol.index_to_patient((k, 12, 34))
    qtbot.mouseMove(ax.viewport(), ax.patient_to_widget(p).toPoint())
    qtbot.wait(20)
    assert f"{vol.voxels[k, 12, 34]:.0f} HU" in ax.t_bottomleft.text()


def test_delete_key_in_a_view_deletes_the_selected_measurement_and_undo_restores(window, qtbot):
    from workstation.measure.model import Caliper

    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    k = ax.mapping.slice_to_index(ax.slice)
    c = window.store.add(Caliper(series_uid=vol.series_uid, label="c", p1=tuple(vol.index_to_patient((k, 5, 5))),
                                 p2=tuple(vol.index_to_patient((k, 40, 50)))))
    assert c.id in ax.measurement_layer.graphics and ax.measurement_layer.graphics[c.id].roi.isVisible()
    window.store.select(c.id)
    ax.setFocus()
    qtbot.keyClick(ax, Qt.Key.Key_Delete)
    assert c.id not in window.store and c.id not in ax.measurement_layer.graphics
    qtbot.keyClick(ax, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert c.id in window.store and ax.measurement_layer.graphics[c.id].roi.isVisible()
    # measurements live in patient space: on another slice it is not drawn
    wheel(ax, -1)
    assert not ax.measurement_layer.graphics[c.id].roi.isVisible()


# -- rendering: window/level through a lookup table, one render per change ------------------------
def _ct16(shape=(12, 64, 80)):
    """An int16 CT volume spanning air to bone, every value different along i."""
    vol = phantom(shape=shape)
    j, i = np.indices(shape[1:])
    vol.voxels = np.broadcast_to((i * 40 - 1100 + j).astype(np.int16), shape).copy()
    return vol


def _shown_grey(vp, render: bool = True) -> np.ndarray:
    """The grey levels of the QImage the image item draws (``render``: rendered now)."""
    from PyQt6.QtGui import QImage

    if render:
        vp.image.render()
    q = vp.image.qimage.convertToFormat(QImage.Format.Format_Grayscale8)
    ptr = q.constBits()
    ptr.setsize(q.sizeInBytes())
    return np.frombuffer(ptr, np.uint8).reshape(q.height(), q.bytesPerLine())[:, : q.width()].copy()


def test_integer_slices_are_windowed_through_the_lookup_table(window):
    from ui.display import Window

    vol = _ct16()
    show(window, vol)
    ax = window.viewer.axial
    for w in (Window(400, 40), Window(1500, 300), Window(80, -1000)):
        ax.set_window(w)
        lo, hi = w.levels
        expected = np.clip((ax.image.image.astype(np.float64) - lo) * 255.0 / (hi - lo), 0, 255)
        grey = _shown_grey(ax)
        assert grey.shape == ax.image.image.shape
        assert np.abs(grey.astype(int) - np.floor(expected)).max() <= 1
        assert grey.min() == 0 and grey.max() == 255  # the ramp covers the window on both sides
    # the item still holds the slice's own values and the window as levels
    np.testing.assert_array_equal(ax.image.image, ax.mapping.image(vol.voxels, ax.slice))
    assert tuple(ax.image.levels) == pytest.approx(Window(80, -1000).levels)


def test_a_window_change_renders_each_view_of_the_series_once(window, qtbot, monkeypatch):
    from ui.display import Window
    from ui.viewport import WindowedImageItem

    vol = _ct16()
    show(window, vol)
    views = [window.viewer.axial, window.viewer.coronal, window.viewer.sagittal]
    for vp in views:
        vp.viewport().repaint()
    calls: list[object] = []
    original = WindowedImageItem.render

    def counting(self):
        calls.append(self)
        return original(self)

    monkeypatch.setattr(WindowedImageItem, "render", counting)
    window.viewer.axial.set_window(Window(350, 50))
    window.viewer.axial.set_window(Window(360, 55))  # two changes before the next paint
    for vp in views:
        vp.viewport().repaint()
    assert sorted(id(c) for c in calls) == sorted(id(vp.image) for vp in views)
    calls.clear()
    window.viewer.axial.step(1)
    for vp in views:
        vp.viewport().repaint()
    assert calls == [window.viewer.axial.image]  # a slice change renders the axial image only


def test_views_draw_nearest_while_interacting_then_bilinear(window, qtbot):
    from ui.display import Window

    vol = _ct16()
    show(window, vol)
    ax, cor = window.viewer.axial, window.viewer.coronal
    assert ax.smooth() and cor.smooth()
    ax.set_window(Window(500, 20))
    assert not ax.smooth() and not cor.smooth()  # every view of the series is being re-windowed
    qtbot.waitUntil(lambda: ax.smooth() and cor.smooth(), timeout=3000)
    ax.step(1)
    assert not ax.smooth()
    qtbot.waitUntil(ax.smooth, timeout=3000)


def test_float_volumes_still_render(window):
    from ui.display import Window

    vol = _ct16()
    vol.voxels = vol.voxels.astype(np.float32) + 0.5
    show(window, vol)
    ax = window.viewer.axial
    ax.set_window(Window(400, 40))
    grey = _shown_grey(ax)
    lo, hi = Window(400, 40).levels
    expected = np.clip((ax.image.image - lo) * 255.0 / (hi - lo), 0, 255)
    assert np.abs(grey.astype(int) - expected).max() <= 1.5


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_inverted_grey_scale(window, dtype):
    from ui.display import Window

    vol = _ct16()
    vol.voxels = vol.voxels.astype(dtype)
    show(window, vol)
    ax = window.viewer.axial
    ax.set_window(Window(400, 40))
    normal = _shown_grey(ax).astype(int)
    ax.image.set_invert(True)
    ax.viewport().repaint()  # the paint renders the inverted slice
    inverted = _shown_grey(ax, render=False).astype(int)
    assert np.abs(inverted - (255 - normal)).max() <= 1
    assert normal.max() == 255 and inverted.min() == 0


# -- what reaches the screen: the fast paths against pyqtgraph's own rendering -------------------
def _noisy_ct(shape=(12, 96, 128)):
    """An int16 CT volume of random values from air to bone: any difference in windowing or in
    which screen pixel samples which voxel shows."""
    vol = phantom(shape=shape, uid="1.2.3.noisy")
    rng = np.random.default_rng(14)
    vol.voxels = rng.integers(-1100, 1600, size=shape, dtype=np.int16)
    return vol


def _on_screen(vp) -> np.ndarray:
    """The RGB pixels of the view as the screen holds them now (what the event loop painted,
    partial repaints included), not a fresh render."""
    from PyQt6.QtCore import QPoint
    from PyQt6.QtGui import QImage

    top = vp.window()
    origin = vp.viewport().mapTo(top, QPoint(0, 0))
    shot = top.screen().grabWindow(top.winId(), origin.x(), origin.y(),
                                   vp.viewport().width(), vp.viewport().height())
    q = shot.toImage().convertToFormat(QImage.Format.Format_RGB32)
    ptr = q.constBits()
    ptr.setsize(q.sizeInBytes())
    a = np.frombuffer(ptr, np.uint8).reshape(q.height(), q.bytesPerLine() // 4, 4)[:, : q.width(), :3]
    return a.astype(int)


def _reference(vp, monkeypatch) -> np.ndarray:
    """The same view rendered the stock pyqtgraph way: ``ImageItem.render`` (makeARGB rescaling
    the slice with the levels; pyqtgraph's lookup table reversed for invert), antialiased
    painter, pyqtgraph's minimal-region updates, the whole view repainted."""
    import pyqtgraph as pg
    from PyQt6.QtGui import QPainter
    from PyQt6.QtWidgets import QGraphicsView

    import ui.viewport as uv

    def stock_render(item):
        item.lut = uv._INVERTED_GREY if item.invert else None
        try:
            pg.ImageItem.render(item)
        finally:
            item.lut = None

    def stock_paint(item, p, *args):
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, item.smooth)
        pg.ImageItem.paint(item, p, *args)

    with monkeypatch.context() as m:
        m.setattr(uv.WindowedImageItem, "render", stock_render)
        m.setattr(uv.WindowedImageItem, "paint", stock_paint)
        mode = vp.viewportUpdateMode()
        vp.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        vp.image._renderRequired = True
        vp.viewport().repaint()
        ref = _on_screen(vp)
        vp.setViewportUpdateMode(mode)
    vp.image._renderRequired = True
    vp.viewport().repaint()  # the fast path's pixels back on screen
    return ref


def _text_mask(vp) -> np.ndarray:
    """True where overlay text or the scale bar is drawn: antialiased glyph edges blend with the
    image pixel under them, so a voxel boundary one pixel over changes them (compared elsewhere)."""
    w, h = vp.viewport().width(), vp.viewport().height()
    mask = np.zeros((h, w), bool)
    items = [vp.t_topleft, vp.t_topright, vp.t_bottomleft, vp.t_bottomright, vp.t_scale, vp.scale_bar,
             *vp.letters.values()]
    for item in items:
        if item.isVisible():
            r = vp.mapFromScene(item.sceneBoundingRect()).boundingRect()
            mask[max(0, r.top() - 2):max(0, r.bottom() + 3), max(0, r.left() - 2):max(0, r.right() + 3)] = True
    return mask


def _assert_same_pixels(shown: np.ndarray, ref: np.ndarray, what: str, mask: np.ndarray) -> None:
    """Every screen pixel shows the reference's grey (+-1: rounding of the window) at its place or
    one screen pixel away (nearest-neighbour paths may round a voxel boundary to the next screen
    row/column), and nearly all at their place; text (``mask``) aside."""
    assert shown.shape == ref.shape
    in_place = np.abs(shown - ref).max(axis=2) <= 1
    h, w = in_place.shape
    padded = np.pad(ref, ((1, 1), (1, 1), (0, 0)), mode="edge")
    nearest = np.full((h, w), 255)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
            nearest = np.minimum(nearest, np.abs(shown - shifted).max(axis=2))
    nearest[mask] = 0
    assert nearest.max() <= 1, f"{what}: {np.count_nonzero(nearest > 1)} pixels unlike any reference neighbour"
    assert in_place[~mask].mean() >= 0.95, f"{what}: only {in_place[~mask].mean():.1%} of the pixels in place"
    assert np.ptp(shown[~mask]) > 200, f"{what}: the view shows no image"


def test_screen_pixels_match_pyqtgraphs_rendering(window, qtbot, monkeypatch):
    """Speed without a cost in correctness: what the event loop paints (partial repaints,
    nearest while interacting, bilinear after) equals a full stock pyqtgraph render of the same
    slice, window, inversion and zoom."""
    from PyQt6.QtWidgets import QApplication

    from ui.display import Window

    vol = _noisy_ct()
    show(window, vol)
    views = [window.viewer.axial, window.viewer.coronal, window.viewer.sagittal]
    ax = window.viewer.axial

    def settled(what: str, check=views) -> None:
        QApplication.processEvents()  # the event loop's own (partial) repaints
        for vp in check:
            _assert_same_pixels(_on_screen(vp), _reference(vp, monkeypatch), f"{what}, {vp.name}",
                                _text_mask(vp))

    ax.set_window(Window(420, 50))
    assert not ax.smooth()
    settled("window 420/50, nearest while dragging")
    qtbot.waitUntil(lambda: all(vp.smooth() for vp in views), timeout=3000)
    settled("window 420/50, bilinear after")
    ax.step(1)
    settled("next slice", [ax])
    ax.set_window(Window(1800, 300))
    ax.set_inverted(True)
    settled("window 1800/300 inverted")
    ax.set_inverted(False)
    ax.zoom(3.0, center=ax.vb.viewRect().center())
    ax.vb.translateBy(x=7.3, y=-4.1)
    ax.step(-1)
    settled("zoomed 3x, panned, previous slice", [ax])
    qtbot.waitUntil(ax.smooth, timeout=3000)
    settled("zoomed 3x, bilinear", [ax])

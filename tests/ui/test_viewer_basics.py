"""The viewer basics of OHIF/Horos (issue 14, part 4) driven through the real widgets: 1x1 /
maximise, typed window/level, invert, zoom percent, 1:1 and scale bar, the overlay and hide-all
toggles, cine, redo, the shortcut help, drag and drop, the series list and Compare fixes."""
from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PyQt6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication, QDialogButtonBox
from viewer_helpers import center, drag, phantom, show, write_synthetic_study

from ui.display import Window
from ui.viewport import VIEW_INPUT_HELP
from workstation.measure.model import Caliper


def _grey(vp) -> np.ndarray:
    """The view as the reader sees it (grey levels of a grab of the widget)."""
    img = vp.grab().toImage().convertToFormat(vp.grab().toImage().Format.Format_Grayscale8)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits().asstring(img.bytesPerLine() * h), np.uint8)
    return buf.reshape(h, img.bytesPerLine())[:, :w].copy()


def _key(qtbot, win, seq: str) -> None:
    """Type a shortcut as the reader does, with the image focused."""
    vp = win.viewer.active_viewport()
    vp.setFocus()
    ks = QKeySequence(seq)[0]
    qtbot.keyClick(vp, ks.key(), ks.keyboardModifiers())
    QApplication.processEvents()


# -- 1. layout -------------------------------------------------------------------------------
def test_double_click_maximises_a_view_and_back(window, qtbot):
    show(window, phantom())
    v = window.viewer
    va = window.viewer_actions
    cor = v.coronal
    QTest.mouseDClick(cor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
    QApplication.processEvents()
    assert v.maximised is cor and v.viewports() == [cor]
    assert cor.isVisible() and not v.axial.isVisible() and not v.sagittal.isVisible()
    assert cor.width() > 0.9 * v.widget.width()  # the whole view area
    assert va.act_one.isChecked() and v.active_viewport() is cor
    QTest.mouseDClick(cor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
    QApplication.processEvents()
    assert v.maximised is None and all(vp.isVisible() for vp in (v.axial, v.coronal, v.sagittal))
    assert window.act_mpr.isChecked() and not va.act_one.isChecked()


def test_view_menu_layouts_and_ctrl_m(window, qtbot):
    show(window, phantom())
    v = window.viewer
    va = window.viewer_actions
    layout_menu = next(a.menu() for a in va.view_menu.actions() if a.menu() is not None)
    assert [a.text() for a in layout_menu.actions()] == ["1×1", "MPR", "Compare"]
    v.set_active(v.sagittal)
    _key(qtbot, window, "Ctrl+M")
    assert v.maximised is v.sagittal and not v.axial.isVisible()
    window.act_mpr.trigger()  # View › Layout › MPR
    assert v.maximised is None and v.axial.isVisible() and window.act_mpr.isChecked()
    va.act_one.trigger()  # View › Layout › 1x1
    assert v.maximised is v.sagittal
    window.close_study()
    assert v.maximised is None and v.layout == "mpr"


# -- 2. window/level, invert, zoom, 1:1, scale bar ---------------------------------------------
def test_typed_window_level_is_applied(window, qtbot):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    _key(qtbot, window, "Shift+W")
    dlg = window.viewer_actions.wl_dialog
    assert dlg is not None and dlg.isVisible()
    assert dlg.width_box.value() == ax.display_window().width and dlg.level_box.value() == ax.display_window().level
    dlg.width_box.setValue(350)
    dlg.level_box.setValue(-25)
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert window.windows.get(vol.series_uid) == Window(350, -25)
    assert ax.image.levels[0] == pytest.approx(-200) and ax.image.levels[1] == pytest.approx(150)
    assert "W 350  L -25" in ax.t_bottomright.text()
    assert window.viewer.coronal.display_window() == Window(350, -25)  # the window is the series'


def test_invert_key_inverts_the_shown_grey_scale(window, qtbot):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    ax.set_window(Window(60000, -170000))
    window.viewer_actions.set_annotations_visible(False)  # the image alone
    before = _grey(ax).astype(int)
    _key(qtbot, window, "I")
    assert ax.inverted() and not window.viewer.coronal.inverted()  # per view, as OHIF
    va = window.viewer_actions
    assert va.act_invert.isChecked()
    window.viewer.set_active(window.viewer.coronal)
    assert not va.act_invert.isChecked()  # the check mark follows the active view
    window.viewer.set_active(ax)
    assert va.act_invert.isChecked()
    after = _grey(ax).astype(int)
    inside = before > 20  # the image, not the black margin
    assert inside.mean() > 0.2
    assert np.abs((255 - before)[inside] - after[inside]).mean() < 3
    window.viewer_actions.set_annotations_visible(True)
    assert "Inverted" in ax.t_bottomright.text()
    _key(qtbot, window, "I")
    assert not ax.inverted()


def test_zoom_percent_true_size_and_scale_bar(window, qtbot):
    vol = phantom()
    show(window, vol)
    ax = window.viewer.axial
    mm_px = ax.vb.viewPixelSize()[0]
    z = ax.zoom_percent()
    assert z == pytest.approx(100 * vol.spacing_mm[2] / mm_px)
    assert f"Zoom {z:.0f}%" in ax.t_bottomright.text()
    _key(qtbot, window, "Ctrl+1")
    assert ax.zoom_percent() == pytest.approx(100, rel=1e-3)
    assert "Zoom 100%" in ax.t_bottomright.text()
    # 1:1 = one image pixel on one screen pixel: 80 columns cover 80 screen pixels
    assert ax.vb.viewPixelSize()[0] == pytest.approx(vol.spacing_mm[2], rel=1e-3)

    def bar():
        r = ax.scale_bar.path().boundingRect()
        return ax.scale_bar_mm(), r.width()

    length, px = bar()
    assert length is not None and ax.scale_bar.isVisible()
    assert px * ax.mm_per_screen_pixel() == pytest.approx(length, rel=1e-3)  # sized to the zoom
    assert ax.t_scale.text() == f"{length:g} mm"
    assert px <= 0.25 * ax.viewport().width() + 1e-6
    for _ in range(4):
        _key(qtbot, window, "+")
    assert ax.zoom_percent() == pytest.approx(100 * 1.25 ** 4, rel=1e-3)
    length2, px2 = bar()
    assert length2 < length and px2 * ax.mm_per_screen_pixel() == pytest.approx(length2, rel=1e-3)
    _key(qtbot, window, "-")
    assert ax.zoom_percent() == pytest.approx(100 * 1.25 ** 3, rel=1e-3)


# -- 3. overlay, hide all --------------------------------------------------------------------
def test_overlay_toggle_and_hide_all_annotations(window, qtbot):
    vol = phantom()
    vol.meta.update({"patient_id": "PID-998877", "patient_birth_date": "19500101",
                     "accession_number": "ACC-5544", "patient_age": "071Y", "study_date": "20240102"})
    show(window, vol)
    v = window.viewer
    ax = v.axial
    c = vol.index_to_patient((np.asarray(vol.shape) - 1) / 2)
    m = Caliper(series_uid=vol.series_uid, label="C", p1=tuple(c - [10, 0, 0]), p2=tuple(c + [10, 0, 0]))
    window.store.add(m)
    g = ax.measurement_layer.graphics[m.id]
    corners = (ax.t_topleft, ax.t_topright, ax.t_bottomleft, ax.t_bottomright)
    text = "\n".join(t.text() for t in corners)
    for phi in ("PID-998877", "19500101", "ACC-5544", "071Y"):
        assert phi not in text  # no more than the overlay always showed
    assert all(t.isVisible() for t in corners) and g.roi.isVisible()

    _key(qtbot, window, "O")
    assert not any(t.isVisible() for t in corners)
    assert all(L.isVisible() for L in ax.letters.values()) and g.roi.isVisible()  # only the text
    _key(qtbot, window, "O")
    assert all(t.isVisible() for t in corners)

    _key(qtbot, window, "Ctrl+H")
    assert not window.viewer_actions.act_annotations.isChecked()
    for vp in v.viewports():
        assert not any(t.isVisible() for t in (vp.t_topleft, vp.t_bottomright))
        assert not any(L.isVisible() for L in vp.letters.values())
        assert not vp.scale_bar.isVisible() and not vp.hline.isVisible()
    assert not g.roi.isVisible() and not g.label.isVisible()
    # a measurement added while hidden stays hidden; the records stay in the store
    m2 = Caliper(series_uid=vol.series_uid, p1=tuple(c - [5, 5, 0]), p2=tuple(c + [5, 5, 0]))
    window.store.add(m2)
    assert not ax.measurement_layer.graphics[m2.id].roi.isVisible() and len(window.store) == 2
    _key(qtbot, window, "Ctrl+H")
    assert g.roi.isVisible() and ax.measurement_layer.graphics[m2.id].roi.isVisible()
    assert ax.scale_bar.isVisible() and ax.hline.isVisible() and ax.t_topleft.isVisible()


# -- 4. cine, redo -----------------------------------------------------------------------------
def test_cine_plays_loops_and_pauses(window, qtbot):
    vol = phantom(shape=(6, 32, 32))
    show(window, vol)
    ax = window.viewer.axial
    va = window.viewer_actions
    va.fps_box.setValue(60)
    seen: set[int] = set()
    ax.slice_changed.connect(lambda vp: seen.add(vp.slice))
    _key(qtbot, window, "Space")
    assert va.act_cine.isChecked() and va.cine_timer.isActive()
    assert va.cine_timer.interval() == round(1000 / 60)
    qtbot.waitUntil(lambda: len(seen) == vol.shape[0], timeout=60000)  # every image, looping round
    va.fps_box.setValue(5)
    assert va.cine_timer.interval() == 200
    _key(qtbot, window, "Space")
    assert not va.act_cine.isChecked() and not va.cine_timer.isActive()
    window.close_study()
    va.act_cine.setChecked(True)  # nothing to play
    assert not va.cine_timer.isActive() and not va.act_cine.isChecked()


def test_redo_with_ctrl_y_and_ctrl_shift_z(window, qtbot):
    show(window, phantom())
    ax = window.viewer.axial
    _key(qtbot, window, "M")
    c = center(ax)
    drag(ax, c, c + QPointF(80, 0))
    assert len(window.store) == 1
    redo = window.viewer_actions.act_redo
    assert not redo.isEnabled()
    _key(qtbot, window, "Ctrl+Z")
    assert len(window.store) == 0 and redo.isEnabled()
    _key(qtbot, window, "Ctrl+Y")
    assert len(window.store) == 1
    _key(qtbot, window, "Ctrl+Z")
    _key(qtbot, window, "Ctrl+Shift+Z")
    assert len(window.store) == 1 and not redo.isEnabled()
    assert redo in window.view_toolbar.actions()


# -- 5. shortcut help --------------------------------------------------------------------------
def test_help_lists_every_shortcut_from_the_actions(window, qtbot):
    from ui.viewer_actions import window_actions

    _key(qtbot, window, "F1")
    dlg = window.viewer_actions.help_dialog
    assert dlg is not None and dlg.isVisible()
    rows = dlg.rows()
    keys_shown = {r[0] for r in rows}
    with_keys = [a for a in window_actions(window) if a.shortcuts()]
    assert len(with_keys) >= 25
    for a in with_keys:  # every shortcut, as the action has it
        k = " / ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts())
        assert k in keys_shown, a.text()
    for expected in ("Ctrl+Y / Ctrl+Shift+Z", "Space", "I", "O", "Ctrl+H", "Ctrl+M", "Ctrl+1", "Shift+W",
                     "A", "D", "N", "F1 / ?"):
        assert expected in keys_shown
    assert [r[:2] for r in rows if r[2] == "In a view"] == list(VIEW_INPUT_HELP)
    where = {r[1]: r[2] for r in rows}
    assert where["Invert"] == "View" and where["1×1"] == "View › Layout" and where["Caliper"] == "Tools bar"
    assert where["Keyboard shortcuts"] == "Help" and where["Open study"] == "File"
    # a shortcut added later shows up the next time (one table, no copy to drift)
    window.host.new_action("Something new", "Ctrl+Alt+J")
    dlg.close()
    window.viewer_actions.show_help()
    assert "Ctrl+Alt+J" in {r[0] for r in dlg.rows()}


def test_no_two_actions_share_a_shortcut_with_the_modules(qtbot, tmp_path, monkeypatch):
    from viewer_helpers import shown_window

    from ui.viewer_actions import window_actions

    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(tmp_path / "state"))
    win = shown_window(qtbot, modules=True)
    owners: dict[str, str] = {}
    for a in window_actions(win):
        for s in a.shortcuts():
            k = s.toString()
            assert owners.setdefault(k, a.text()) == a.text(), f"{k}: {owners[k]} and {a.text()}"
    assert {"F1", "?", "Space", "Ctrl+Y"} <= set(owners)
    win.host.menu("&Later")
    qtbot.waitUntil(lambda: win.menuBar().actions()[-1] is win.viewer_actions.help_menu.menuAction(), timeout=60000)
    assert [a.text() for a in win.menuBar().actions()][:2] == ["&File", "&View"]


# -- 6. drag and drop ----------------------------------------------------------------------------
def _drop(widget, path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def test_dropping_a_folder_on_a_view_opens_it(window, qtbot, tmp_path):
    folder = tmp_path / "dropped"
    write_synthetic_study(folder, "1.2.826.0.1.3680043.8.498.7001", n=8, size=32)
    with qtbot.waitSignal(window.study.study_loaded, timeout=60000):
        assert _drop(window.viewer.axial.viewport(), folder)
    assert window.study.path == folder and len(window.study.volumes) == 1
    assert window.viewer.axial.volume is not None


def test_dropping_a_zip_on_the_window_opens_it(window, qtbot, tmp_path):
    import zipfile

    folder = tmp_path / "series"
    files = write_synthetic_study(folder, "1.2.826.0.1.3680043.8.498.7002", n=6, size=32)
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in files:
            z.write(f, arcname=f"x/{f.rsplit('/', 1)[-1]}")
    with qtbot.waitSignal(window.study.study_loaded, timeout=60000):
        assert _drop(window, archive)
    assert window.study.path == archive and len(window.study.volumes) == 1


def test_a_drop_without_files_is_refused(window):
    mime = QMimeData()
    mime.setText("not a file")
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    enter.ignore()
    QApplication.sendEvent(window.viewer.axial.viewport(), enter)
    assert not enter.isAccepted()


# -- 7. fixes ------------------------------------------------------------------------------------
def test_series_list_click_leaves_the_arrows_to_the_image(window, qtbot):
    a = phantom(uid="1.2.3.a", description="A")
    b = phantom(uid="1.2.3.b", description="B", shape=(30, 64, 80))
    show(window, a)
    window.study.add_volume(b)
    window.study.loaded.add(b.series_uid)
    browser = window.browser
    rect = browser.visualItemRect(browser.item_for(b.series_uid))
    qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    ax = window.viewer.axial
    assert ax.volume is b
    assert QApplication.focusWidget() is not browser
    s = ax.slice
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
    assert ax.slice == s + 1
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Left)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Left)
    assert ax.slice == s - 1
    assert browser.currentItem() is browser.item_for(b.series_uid)  # the list did not move


def test_compare_needs_two_series_and_is_checked_only_when_shown(window, qtbot):
    act = window.act_compare
    assert not act.isEnabled()
    show(window, phantom(uid="1.2.3.one"))
    assert not act.isEnabled()
    _key(qtbot, window, "C")
    assert not act.isChecked() and window.viewer.layout == "mpr" and window.act_mpr.isChecked()
    other = phantom(uid="1.2.3.two", description="OTHER")
    window.study.add_volume(other)
    assert act.isEnabled()
    _key(qtbot, window, "C")
    assert window.viewer.layout == "compare" and act.isChecked()
    _key(qtbot, window, "C")
    assert window.viewer.layout == "mpr" and not act.isChecked() and window.act_mpr.isChecked()
    window.close_study()
    assert not act.isEnabled() and not act.isChecked()


def test_age_000y_is_unknown():
    from ui.review.plugin import header_age_years

    assert header_age_years("000Y") is None
    assert header_age_years("000M") is None
    assert header_age_years("045Y") == 45
    assert header_age_years("006M") == 0.5


def test_question_mark_opens_the_help_too(window, qtbot):
    show(window, phantom())
    ax = window.viewer.axial
    ax.setFocus()
    qtbot.keyClicks(ax, "?")  # Shift+/ on a US keyboard: the text "?" is what counts
    dlg = window.viewer_actions.help_dialog
    assert dlg is not None and dlg.isVisible()
    shot = dlg.grab().toImage()
    assert not shot.isNull() and dlg.table.rowCount() > 30


def test_a_000y_header_age_is_not_prefilled(qtbot, tmp_path, monkeypatch):
    """Opened by a drop into the window with the review module: 000Y stays unknown, 052Y is 52."""
    from viewer_helpers import shown_window

    monkeypatch.setenv("WORKSTATION_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("WORKSTATION_AUTORESTORE", raising=False)
    win = shown_window(qtbot, modules=True)
    controller = next((m.controller for m in win.host.modules if getattr(m, "controller", None)), None)
    if controller is None:
        from ui.review.plugin import ReviewModule

        mod = ReviewModule()
        mod.activate(win.host)
        win.host.modules.append(mod)
        controller = mod.controller
    for uid, age, expected in (("1.2.826.0.1.3680043.8.498.7101", "000Y", None),
                               ("1.2.826.0.1.3680043.8.498.7102", "052Y", 52)):
        folder = tmp_path / age
        write_synthetic_study(folder, uid, n=4, size=32, age=age)
        with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
            assert _drop(win, folder)
        QApplication.processEvents()
        assert controller.value("age_years") == expected
    win.study.close()


def test_hide_all_hides_module_graphics_too(window, qtbot):
    """A module's layer that knows nothing of hiding (it shows its marker on every slice change)
    stays hidden while Ctrl+H is on, and is drawn again by its own logic afterwards."""
    import pyqtgraph as pg

    show(window, phantom())
    ax = window.viewer.axial

    class ModuleLayer:
        def __init__(self, vp):
            self.dot = pg.ScatterPlotItem([10.0], [10.0], size=9)
            vp.vb.addItem(self.dot, ignoreBounds=True)
            self.syncs = 0

        def volume_changed(self, _vp=None):
            self.slice_changed()

        def slice_changed(self, _vp=None):
            self.syncs += 1
            self.dot.setVisible(True)

    layer = ModuleLayer(ax)
    ax.layers.append(layer)
    loose = pg.TextItem("module text")  # added to the view without a layer
    ax.vb.addItem(loose, ignoreBounds=True)
    _key(qtbot, window, "Ctrl+H")
    assert not layer.dot.isVisible() and not loose.isVisible() and ax.image.isVisible()
    _key(qtbot, window, "Down")
    assert layer.syncs >= 1 and not layer.dot.isVisible() and not loose.isVisible()
    n = layer.syncs
    _key(qtbot, window, "Ctrl+H")
    assert layer.dot.isVisible() and loose.isVisible() and layer.syncs == n + 1

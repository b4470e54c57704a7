"""Screenshots of the viewer basics on the sample study (offscreen ``win.grab()``): the window is
not blank, and each toggle (overlay, all annotations, invert, 1x1, scale bar with zoom, cine)
changes what is on screen where it should."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRect
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication
from viewer_helpers import center, click

from workstation.measure.model import Caliper


def _grab(win, path) -> np.ndarray:
    QApplication.processEvents()
    img = win.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    assert img.save(str(path))
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits().asstring(img.bytesPerLine() * h), np.uint8)
    return buf.reshape(h, img.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).astype(int)


def _rect_of(win, widget) -> QRect:
    top_left = widget.mapTo(win, widget.rect().topLeft())
    return QRect(top_left, widget.size())


def _changed(a: np.ndarray, b: np.ndarray, r: QRect) -> float:
    """Fraction of the pixels of ``r`` that differ between two grabs."""
    sa = a[r.top(): r.bottom() + 1, r.left(): r.right() + 1]
    sb = b[r.top(): r.bottom() + 1, r.left(): r.right() + 1]
    return float((np.abs(sa - sb).sum(axis=2) > 30).mean())


def test_screenshots_of_the_basics(sample_window, qtbot, tmp_path):
    win = sample_window
    va = win.viewer_actions
    ax = win.viewer.axial
    vol = ax.volume
    c = vol.index_to_patient((np.asarray(vol.shape) - 1) / 2)
    win.store.add(Caliper(series_uid=vol.series_uid, label="C", p1=tuple(c - [40, 0, 0]), p2=tuple(c + [40, 0, 0])))
    click(ax, center(ax))  # the caliper's slice, the axial view active
    base = _grab(win, tmp_path / "basics.png")
    assert base.std() > 20 and len(np.unique(base.reshape(-1, 3), axis=0)) > 200  # not blank
    r_ax = _rect_of(win, ax)
    corner = QRect(r_ax.left(), r_ax.top(), r_ax.width() // 3, 60)  # the top-left text

    va.act_overlay.trigger()
    no_text = _grab(win, tmp_path / "overlay_off.png")
    assert _changed(base, no_text, corner) > 0.01
    va.act_overlay.trigger()

    va.act_annotations.trigger()
    bare = _grab(win, tmp_path / "annotations_off.png")
    assert _changed(base, bare, r_ax) > 0.002 and _changed(base, bare, corner) > 0.01
    va.act_annotations.trigger()
    assert _changed(base, _grab(win, tmp_path / "annotations_on.png"), r_ax) < 0.002

    va.toggle_invert()
    inverted = _grab(win, tmp_path / "inverted.png")
    assert _changed(base, inverted, r_ax) > 0.3
    assert _changed(base, inverted, _rect_of(win, win.viewer.coronal)) < 0.01  # that view only
    va.toggle_invert()

    z0, bar0 = ax.zoom_percent(), ax.scale_bar_mm()
    for _ in range(3):
        va._zoom(1.25)
    zoomed = _grab(win, tmp_path / "zoomed.png")
    assert _changed(base, zoomed, r_ax) > 0.2
    assert f"Zoom {z0 * 1.25 ** 3:.0f}%" in ax.t_bottomright.text()
    assert ax.scale_bar.isVisible() and ax.scale_bar_mm() < bar0
    va.true_size()
    assert "Zoom 100%" in ax.t_bottomright.text()

    va.act_one.trigger()
    one = _grab(win, tmp_path / "one_by_one.png")
    assert _changed(base, one, _rect_of(win, win.viewer.widget)) > 0.3
    assert ax.width() > 0.9 * win.viewer.widget.width()
    va.act_one.trigger()

    s0 = ax.slice
    va.act_cine.trigger()
    qtbot.waitUntil(lambda: ax.slice != s0, timeout=60000)
    va.act_cine.trigger()
    assert _changed(base, _grab(win, tmp_path / "cine.png"), r_ax) > 0.0

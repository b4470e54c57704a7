"""The viewports and how they move together.

``Viewer`` owns the slice viewports (axial, coronal, sagittal of the current series; a second axial
for the compare layout) and one shared patient point (the crosshair). Whenever a view moves through
slices or the user clicks with the Navigate tool, the shared point changes and every *linked*
viewport shows the slice through it. Because the point is in patient space, a view of another
series lands on its slice nearest to the same patient position along its normal, not on the same
index: that is what links pre- and post-contrast series of different z origin and spacing.
"""
from __future__ import annotations

import sys

import numpy as np
from PyQt6.QtCore import QObject, QTimer, pyqtSignal
from PyQt6.QtWidgets import QGridLayout, QWidget

from workstation.volume import Volume

from .display import WindowState
from .viewport import SliceViewport

MPR, COMPARE = "mpr", "compare"
#: longest time (s) a busy Python thread (the study loader's) keeps the GIL from the GUI thread once
#: the GUI thread asks for it. Python's default, 5 ms, is paid at every hand-back (Qt calls release
#: the GIL, paint callbacks take it again): measured with a CPU-bound Python thread beside the
#: viewer, a slice step took 15-22 ms wall instead of 2.7, at 0.5 ms 5-10 ms; a 120-slice JPEG-LS
#: load took no longer (2 shared cores, load average ~7; benchmarks/ui_latency.py has the figures).
GUI_SWITCH_INTERVAL_S = 0.0005


def short_gil_switch_interval() -> None:
    """Make worker threads hand the GIL back to the GUI thread within
    :data:`GUI_SWITCH_INTERVAL_S` (process-wide; never lengthens a shorter setting)."""
    if sys.getswitchinterval() > GUI_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)


class Viewer(QObject):
    """Signals: ``cursor_moved(xyz)``, ``series_shown(volume)``, ``compare_shown(pre, post)``,
    ``active_changed(viewport)``, ``layout_changed(name)``."""

    cursor_moved = pyqtSignal(object)
    series_shown = pyqtSignal(object)
    compare_shown = pyqtSignal(object, object)
    active_changed = pyqtSignal(object)
    layout_changed = pyqtSignal(str)
    maximised_changed = pyqtSignal(object)

    def __init__(self, windows: WindowState, parent=None) -> None:
        super().__init__(parent)
        short_gil_switch_interval()  # the views stay smooth while a series loads behind them
        self.windows = windows
        self.widget = QWidget()
        self.widget.setObjectName("ViewGrid")
        self.grid = QGridLayout(self.widget)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        self.axial = SliceViewport("axial", windows)
        self.coronal = SliceViewport("coronal", windows)
        self.sagittal = SliceViewport("sagittal", windows)
        self.compare = SliceViewport("axial", windows, name="axial")
        self._all = [self.axial, self.coronal, self.sagittal, self.compare]
        for vp in self._all:
            vp.point_requested.connect(self._on_point_requested)
            vp.activated.connect(self.set_active)
        self.volume: Volume | None = None
        self.compare_volume: Volume | None = None
        self.point = np.zeros(3)
        self.layout = MPR
        self.link = True
        #: the one view shown alone (1x1; double-click or View › Layout), None: the whole layout
        self.maximised: SliceViewport | None = None
        self._active = self.axial
        self._dirty: set[SliceViewport] = set()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(120)
        self._refresh_timer.timeout.connect(self._refresh_dirty)
        self._apply_layout()

    # ------------------------------------------------------------------------ viewports
    def viewports(self) -> list[SliceViewport]:
        """The viewports visible now (the maximised one alone, or the layout's)."""
        return [self.maximised] if self.maximised is not None else self._layout_members()

    def set_maximised(self, vp: SliceViewport | None) -> None:
        """Show ``vp`` alone in the view area (1x1), or the whole layout again (None)."""
        if vp is not None and vp not in self._layout_members():
            vp = None
        if vp is self.maximised:
            return
        self.maximised = vp
        self._apply_layout()
        if vp is not None:
            self.set_active(vp)
        self.maximised_changed.emit(vp)

    def toggle_maximise(self, vp: SliceViewport | None = None) -> None:
        """Maximise ``vp`` (the active view by default), or restore the layout if one is maximised."""
        self.set_maximised(None if self.maximised is not None else (vp or self._active))

    def _layout_members(self) -> list[SliceViewport]:
        return [self.axial, self.coronal, self.sagittal] if self.layout == MPR else [self.axial, self.compare]

    def all_viewports(self) -> list[SliceViewport]:
        return list(self._all)

    def active_viewport(self) -> SliceViewport:
        return self._active

    def set_active(self, vp: SliceViewport) -> None:
        if vp is self._active:
            return
        self._active = vp
        for v in self._all:
            v.set_active(v is vp)
        self.active_changed.emit(vp)

    def _apply_layout(self) -> None:
        for vp in self._all:
            self.grid.removeWidget(vp)
            vp.hide()
        for c in range(3):
            self.grid.setColumnStretch(c, 0)
        for r in range(3):
            self.grid.setRowStretch(r, 0)
        if self.layout == MPR:
            self.grid.addWidget(self.axial, 0, 0, 2, 1)
            self.grid.addWidget(self.coronal, 0, 1)
            self.grid.addWidget(self.sagittal, 1, 1)
            self.grid.setColumnStretch(0, 3)
            self.grid.setColumnStretch(1, 2)
            self.grid.setRowStretch(0, 1)
            self.grid.setRowStretch(1, 1)
            members = [self.axial, self.coronal, self.sagittal]
        else:
            self.grid.addWidget(self.axial, 0, 0)
            self.grid.addWidget(self.compare, 0, 1)
            self.grid.setColumnStretch(0, 1)
            self.grid.setColumnStretch(1, 1)
            self.grid.setRowStretch(0, 1)
            members = [self.axial, self.compare]
        if self.maximised in members:
            for vp in members:
                self.grid.removeWidget(vp)
            self.grid.addWidget(self.maximised, 0, 0)
            for n in range(3):
                self.grid.setColumnStretch(n, 1 if n == 0 else 0)
                self.grid.setRowStretch(n, 1 if n == 0 else 0)
            members = [self.maximised]
        for vp in members:
            vp.show()
        if self._active not in members:
            self.set_active(self.axial)

    # ------------------------------------------------------------------------ series
    def show_volume(self, volume: Volume, keep_point: bool = True) -> None:
        """Show ``volume`` in the main views (axial/coronal/sagittal; left view in compare)."""
        prev = self.volume
        self.volume = volume
        keep = keep_point and prev is not None and volume.contains_index(volume.patient_to_index(self.point))
        point = self.point if keep else None
        if point is None:
            point = volume.index_to_patient((np.asarray(volume.shape) - 1) // 2)
        self.point = np.asarray(point, float)
        for vp in (self.axial, self.coronal, self.sagittal):
            vp.set_volume(volume, self.point)
        if self.compare_volume is not None:
            self.compare.set_point(self.point)
        self.series_shown.emit(volume)
        self.cursor_moved.emit(tuple(self.point))

    def clear(self) -> None:
        """Show nothing (the study is closing): every view empty, the MPR layout, the crosshair at
        the origin, no pending refreshes; no volume stays referenced here."""
        self._refresh_timer.stop()
        self._dirty.clear()
        self.volume = None
        self.compare_volume = None
        self.point = np.zeros(3)
        self.set_layout(MPR)
        for vp in self._all:
            vp.set_volume(None)
            vp.linked = True
        self.compare.linked = self.link
        self.set_active(self.axial)

    def set_layout(self, layout: str) -> None:
        if layout == self.layout and self.maximised is None:
            return
        was_maximised, self.maximised = self.maximised, None
        self.layout = layout
        self._apply_layout()
        if was_maximised is not None:
            self.maximised_changed.emit(None)
        if layout == COMPARE and self.compare_volume is not None:
            self.compare.set_point(self.point) if self.link else None
        for vp in self._layout_members():
            vp.fit()
        self.layout_changed.emit(layout)

    def show_compare(self, pre: Volume, post: Volume) -> None:
        """Side by side: ``pre`` on the left, ``post`` on the right, linked by patient position."""
        if self.volume is not pre:
            self.show_volume(pre)
        self.compare_volume = post
        self.set_layout(COMPARE)
        self.compare.linked = self.link
        self.compare.set_volume(post, self.point)
        self.compare_shown.emit(pre, post)

    def set_link(self, on: bool) -> None:
        self.link = bool(on)
        self.compare.linked = self.link
        if self.link and self.compare_volume is not None:
            self.compare.set_point(self.point)

    # ------------------------------------------------------------------------ the shared point
    def cursor_patient_point(self) -> tuple[float, float, float]:
        x, y, z = (float(v) for v in self.point)
        return x, y, z

    def set_cursor(self, xyz, source: SliceViewport | None = None) -> None:
        """Move the crosshair to a patient point; every linked view shows the slice through it."""
        if source is not None and not source.linked:
            source.set_point(xyz)
            return
        self.point = np.asarray(xyz, float).reshape(3)
        for vp in self._all:
            if vp.volume is None or not vp.linked:
                continue
            if vp is self.compare and self.layout != COMPARE:
                continue
            vp.set_point(self.point)
        self.cursor_moved.emit(tuple(self.point))

    def jump_to(self, xyz, series_uid: str | None = None, volumes: dict | None = None) -> None:
        """Show the series (if given and not shown) and put the crosshair on ``xyz``."""
        if series_uid and volumes and series_uid in volumes:
            shown = {vp.volume.series_uid for vp in self._layout_members() if vp.volume is not None}
            if series_uid not in shown:
                self.show_volume(volumes[series_uid])
            target = next((vp for vp in self._layout_members() if vp.volume is not None
                           and vp.volume.series_uid == series_uid), None)
            if target is not None and not target.linked:
                target.set_point(xyz)
                return
        self.set_cursor(xyz)

    def _on_point_requested(self, vp: SliceViewport, xyz) -> None:
        self.set_cursor(xyz, source=vp)

    # ------------------------------------------------------------------------ loading
    def volume_progress(self, volume: Volume, k: int) -> None:
        """Slice ``k`` of ``volume`` was filled by the loader: refresh the views that show it."""
        for vp in self._all:
            if vp.volume is volume and vp in self._layout_members():
                if vp.mapping is not None and vp.mapping.slice_axis == 0:
                    if vp.shows_index(k):
                        vp.refresh()
                else:
                    self._dirty.add(vp)
        if self._dirty and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def volume_complete(self, volume: Volume) -> None:
        for vp in self._all:
            if vp.volume is volume:
                vp.refresh()
                self._dirty.discard(vp)

    def _refresh_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for vp in dirty:
            vp.refresh()
        if not self._dirty:
            self._refresh_timer.stop()

    # ------------------------------------------------------------------------ view actions
    def fit_all(self) -> None:
        for vp in self._layout_members():
            vp.fit()

    def reset_all(self) -> None:
        seen = set()
        for vp in self._layout_members():
            if vp.volume is not None and vp.volume.series_uid not in seen:
                self.windows.reset(vp.volume)
                seen.add(vp.volume.series_uid)
            vp.fit()

"""The Host: everything a workstation module (plugin) may use.

A module is an object with ``id``, ``title`` and ``activate(host)``, declared under the entry point
group ``workstation.modules`` (see ``workstation.plugins``). In ``activate`` it adds its panels and
tools and connects to the host's signals. The host starts fine when a module is missing or broken:
the problem goes to the status bar (and the problems list), the rest of the workstation runs.

API (stable; the review module builds on it):

* ``main_window`` — the QMainWindow: the host's own; a module uses the calls below instead and
  never reaches into the window (its docks, tool bars, menus, status bar)
* ``viewer`` — the viewports: ``viewer.cursor_patient_point()``, ``viewer.set_cursor(xyz)``,
  ``viewer.jump_to(xyz, series_uid, host.volumes())``, ``viewer.viewports()``,
  ``viewer.active_viewport()``, ``viewer.show_compare(pre, post)``
* ``volumes()`` — ``{series_uid: Volume}`` of the study; ``current_volume()``; ``volume(uid)``;
  ``loaded_series()`` (uids fully loaded)
* ``measurements`` — ``MeasurementStore``: ``add``, ``update``, ``rename``, ``remove``, ``select``,
  ``items()``, ``get(id)``, ``undo_stack``; signals ``added``, ``changed``, ``removed``,
  ``selected``
* ``tools`` — ``ToolManager``: ``current_tool()``, ``select(id)``, signal ``changed(tool)``
* viewports (``viewer.all_viewports()``): ``volume``, ``mapping`` (``ui.geometry.PlaneMapping``),
  ``slice`` (display slice), ``vb`` (pyqtgraph ViewBox in scene mm), ``patient_to_scene``,
  ``scene_to_patient``, ``scene_to_index``, ``patient_to_widget``, ``cursor_patient_point()``;
  ``layers``: append an object with ``volume_changed(vp)`` / ``slice_changed(vp)`` to draw module
  graphics that follow the slice
* ``add_panel(widget, title)`` -> QDockWidget on the right
* ``add_tool(tool)`` -> QAction (``ui.tools.Tool`` subclass, or ``PointTool(id, title, on_point)``)
* ``select_tool(tool_id)``; ``status(text, timeout_ms=0)``; ``report_problem(text)``
* signals: ``study_loaded()``, ``series_loaded(volume)``, ``series_shown(volume)``,
  ``landmark_placed(landmark)`` (a ``Landmark`` record was added), ``cursor_moved((x, y, z))``,
  ``study_closing()``
* ``study_closing()`` — another study is about to be opened (File › Open study…). Emitted after the
  running load was stopped and *before* the host clears anything: the volumes, the measurements and
  the views are still those of the old study, so a module can flush (autosave) and then reset its
  own per-study state. Right after it the host empties the series browser, the views, the problems
  list, the study's volumes and the measurements (with their undo history), then opens the new
  study; ``series_loaded`` / ``study_loaded`` follow for it as on the first opening.

Wider API (so a module never reaches into the main window's internals):

* ``dialog_parent()`` — the widget to parent a module's dialogs and floating labels to
* ``add_action(action)`` — a window-wide shortcut (returns the action);
  ``new_action(text, shortcut=None, tip=None, slot=None, checkable=False)`` makes and adds one
* ``add_menu_action(menu_name, action)`` — put ``action`` in the menu bar's menu ``menu_name``
  (``"&Review"``; created on first use, found again by name with or without the ``&``);
  ``add_submenu(menu_name, title)`` -> QMenu; ``menu(menu_name)`` -> QMenu
* ``study_pair()`` — the study's pre/post pair ``(pre, post)`` or None; ``show_compare(pre, post)``
  shows two series side by side (viewport pair, linked by patient position)
* ``add_close_hook(fn, order=0)`` — ``fn()`` runs when the open study closes (another study is
  opened, or File › Start a new read), lowest ``order`` first, before ``study_closing`` is emitted
  and before anything is cleared; a failing hook is reported and the others still run
* ``window_closing()`` signal — the main window is closing (flush and release per-window state)
* ``show_banner(text, kind="info", buttons=(), name="")`` -> :class:`Banner` above the images
  (``kind``: info / warning / error; ``buttons``: ``(label, object_name, callback)``);
  ``banner.dismiss()`` removes it; ``status(text, timeout_ms)`` for one-line messages
* ``study_path()`` — the path the study was opened from (None before); ``open_study(path)``
  replaces the open study (as File › Open study…)
* ``module(module_id)`` — an activated module object by its ``id`` (None when absent)
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QDockWidget, QLabel, QMenu, QPushButton, QToolBar, QWidget

from workstation import plugins
from workstation.measure.model import Landmark
from workstation.volume import Volume

from .tools import PointTool, Tool

log = logging.getLogger(__name__)

__all__ = ["BANNER_KINDS", "Banner", "Host", "PointTool", "Tool"]

#: banner kind -> (background, text colour)
BANNER_KINDS: dict[str, tuple[str, str]] = {
    "info": ("#1f3b57", "#d6ecff"),
    "warning": ("#4a3b12", "#ffe7a0"),
    "error": ("#5a1d1d", "#ffd0d0"),
}


class Banner(QToolBar):
    """A one-line message with optional buttons above the images (``Host.show_banner``)."""

    def __init__(self, text: str, kind: str = "info", parent: QWidget | None = None) -> None:
        super().__init__("Banner", parent)
        self.kind = kind if kind in BANNER_KINDS else "info"
        self.setMovable(False)
        bg, fg = BANNER_KINDS[self.kind]
        self.setStyleSheet(f"QToolBar {{ background: {bg}; }} QLabel {{ color: {fg}; padding: 2px 8px; }}")
        self.label = QLabel(text)
        self.label.setObjectName("banner_text")
        self.addWidget(self.label)
        self.buttons: dict[str, QPushButton] = {}
        self._host: Host | None = None

    def add_button(self, label: str, object_name: str, callback: Callable[[], Any]) -> QPushButton:
        b = QPushButton(label)
        b.setObjectName(object_name)
        b.clicked.connect(lambda _=False: callback())
        self.addWidget(b)
        self.buttons[object_name or label] = b
        return b

    def text(self) -> str:
        return self.label.text()

    def dismiss(self) -> None:
        """Remove the banner from the window."""
        if self._host is not None:
            self._host._remove_banner(self)


class Host(QObject):
    study_loaded = pyqtSignal()
    series_loaded = pyqtSignal(object)
    series_shown = pyqtSignal(object)
    landmark_placed = pyqtSignal(object)
    cursor_moved = pyqtSignal(object)
    study_closing = pyqtSignal()
    window_closing = pyqtSignal()

    def __init__(self, window) -> None:
        super().__init__(window)
        self.main_window = window
        self.viewer = window.viewer
        self.measurements = window.store
        self.tools = window.tools
        self.study = window.study
        self.modules: list[Any] = []
        self.module_problems: list[str] = []
        self._panels: list[QDockWidget] = []
        self._close_hooks: list[tuple[int, int, Callable[[], Any], str]] = []
        self._banners: list[Banner] = []
        self.study.study_loaded.connect(self.study_loaded)
        self.study.series_loaded.connect(self.series_loaded)
        self.viewer.series_shown.connect(self.series_shown)
        self.viewer.cursor_moved.connect(self.cursor_moved)
        self.measurements.added.connect(self._maybe_landmark)

    # -- data ---------------------------------------------------------------------------------
    def volumes(self) -> dict[str, Volume]:
        return dict(self.study.volumes)

    def volume(self, series_uid: str) -> Volume | None:
        return self.study.volumes.get(series_uid)

    def current_volume(self) -> Volume | None:
        vp = self.viewer.active_viewport()
        if vp is not None and vp.volume is not None:
            return vp.volume
        return self.viewer.volume

    def loaded_series(self) -> list[str]:
        return [u for u in self.study.volumes if u in self.study.loaded]

    def add_volume(self, volume: Volume) -> None:
        """Register a derived volume (e.g. a registered copy) so it can be shown like a series."""
        self.study.add_volume(volume)

    # -- UI -----------------------------------------------------------------------------------
    def add_panel(self, widget: QWidget, title: str) -> QDockWidget:
        dock = QDockWidget(title, self.main_window)
        dock.setObjectName(f"panel_{title}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.main_window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        if self._panels:
            self.main_window.tabifyDockWidget(self._panels[-1], dock)
        self._panels.append(dock)
        return dock

    def size_panel(self, dock: QDockWidget, width: int | None = None, height_share: float | None = None) -> None:
        """Give ``dock`` a ``width`` (px) and ``height_share`` (0..1) of the right column it shares
        with the host's measurements list."""
        win = self.main_window
        try:
            other = getattr(win, "measure_dock", None)
            if height_share is not None and other is not None:
                share = max(0.05, min(0.95, float(height_share)))
                win.resizeDocks([other, dock], [round(1000 * (1 - share)), round(1000 * share)],
                                Qt.Orientation.Vertical)
            if width is not None:
                win.resizeDocks([dock], [int(width)], Qt.Orientation.Horizontal)
        except RuntimeError:  # window already gone
            pass

    def dialog_parent(self) -> QWidget:
        """The widget a module parents its dialogs and floating labels to."""
        return self.main_window

    def add_tool(self, tool: Tool) -> QAction:
        return self.main_window.add_tool(tool)

    def add_action(self, action: QAction) -> QAction:
        """A window-wide action (its shortcut works wherever the focus is in the window)."""
        self.main_window.addAction(action)
        return action

    def new_action(self, text: str, shortcut: str | None = None, tip: str | None = None,
                   slot: Callable[[], Any] | None = None, checkable: bool = False) -> QAction:
        """Make a window-wide action (``add_action``); ``slot()`` runs when it is triggered."""
        act = QAction(text, self.main_window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(tip or (f"{text} ({shortcut})" if shortcut else text))
        act.setCheckable(checkable)
        if slot is not None:
            act.triggered.connect(lambda _=False: slot())
        return self.add_action(act)

    def menu(self, menu_name: str) -> QMenu:
        """The menu bar's menu ``menu_name`` (created at the end when absent)."""
        bar = self.main_window.menuBar()
        want = menu_name.replace("&", "").strip().lower()
        for act in bar.actions():
            m = act.menu()
            if m is not None and act.text().replace("&", "").strip().lower() == want:
                return m
        return bar.addMenu(menu_name)

    def add_submenu(self, menu_name: str, title: str) -> QMenu:
        """A submenu ``title`` at the end of the menu ``menu_name`` (e.g. File › Recent studies)."""
        sub = self.menu(menu_name).addMenu(title)
        assert sub is not None
        return sub

    def add_menu_action(self, menu_name: str, action: QAction) -> QAction:
        """Put ``action`` in the menu ``menu_name`` (the shortcut also works with the menu closed)."""
        self.menu(menu_name).addAction(action)
        if action not in self.main_window.actions():
            self.main_window.addAction(action)
        return action

    # -- viewport pairs -------------------------------------------------------------------------
    def study_pair(self) -> tuple[Volume, Volume] | None:
        """The study's pre/post pair (hanging protocol), or None."""
        return getattr(self.study, "pair", None)

    def show_compare(self, pre: Volume, post: Volume) -> None:
        """Show ``pre`` and ``post`` side by side, linked by patient position."""
        self.viewer.show_compare(pre, post)

    # -- the study ------------------------------------------------------------------------------
    def study_path(self) -> Path | None:
        p = getattr(self.study, "path", None)
        return Path(p) if p is not None else None

    def open_study(self, path: Any) -> bool:
        """Replace the open study with ``path`` (as File › Open study…); False when it does not exist."""
        return bool(self.main_window.open_study(path))

    def add_close_hook(self, fn: Callable[[], Any], order: int = 0, name: str = "") -> None:
        """Run ``fn()`` when the open study closes, lowest ``order`` first (then in registration order)."""
        self._close_hooks.append((int(order), len(self._close_hooks), fn, name or getattr(fn, "__qualname__", "hook")))
        self._close_hooks.sort(key=lambda h: (h[0], h[1]))

    def close_study_hooks(self) -> None:
        """The open study is closing: run the close hooks in order, then emit ``study_closing``.
        The volumes, measurements and views are still those of the closing study."""
        for _order, _i, fn, name in list(self._close_hooks):
            try:
                fn()
            except Exception as exc:  # one part failing must not keep the others on the old study
                log.exception("close hook %s failed", name)
                self.report_problem(f"{name} failed to close the study: {type(exc).__name__}: {exc}")
        self.study_closing.emit()

    # -- banners --------------------------------------------------------------------------------
    def show_banner(self, text: str, kind: str = "info",
                    buttons: Iterable[tuple[str, str, Callable[[], Any]]] = (), name: str = "") -> Banner:
        """A banner above the images (until ``banner.dismiss()``); see the module doc."""
        win = self.main_window
        bar = Banner(text, kind, win)
        if name:
            bar.setObjectName(name)
        for label, object_name, cb in buttons:
            bar.add_button(label, object_name, cb)
        bar._host = self
        win.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        win.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        bar.show()  # added to a window already on screen
        self._banners.append(bar)
        return bar

    def banners(self) -> list[Banner]:
        return list(self._banners)

    def _remove_banner(self, bar: Banner) -> None:
        if bar in self._banners:
            self._banners.remove(bar)
            try:
                self.main_window.removeToolBar(bar)
                bar.deleteLater()
            except RuntimeError:  # window already gone
                pass

    def select_tool(self, tool_id: str) -> None:
        self.tools.select(tool_id)

    def status(self, text: str, timeout_ms: int = 0) -> None:
        self.main_window.status_area.message(text, timeout_ms)

    def report_problem(self, text: str) -> None:
        self.main_window.status_area.add_problem(text)

    def _maybe_landmark(self, m) -> None:
        if isinstance(m, Landmark):
            self.landmark_placed.emit(m)

    # -- modules ------------------------------------------------------------------------------
    def module(self, module_id: str) -> Any:
        """The activated module whose ``id`` is ``module_id`` (None when absent)."""
        return next((m for m in self.modules if getattr(m, "id", None) == module_id), None)

    def load_modules(self, group: str = plugins.GROUP) -> None:
        """Discover and activate every module; a broken one is reported, never fatal."""
        entries, problems = plugins.discover(group)
        for p in problems:
            self._module_problem(p)
        for e in entries:
            try:
                obj = e.factory() if callable(e.factory) else e.factory
                for attr in ("id", "title", "activate"):
                    if not hasattr(obj, attr):
                        raise TypeError(f"module object has no {attr!r}")
                obj.activate(self)
            except Exception as exc:  # noqa: BLE001 - a broken module must not take the host down
                self._module_problem(f"module {e.name} ({e.value}) failed to activate: {type(exc).__name__}: {exc}")
                continue
            self.modules.append(obj)

    def _module_problem(self, text: str) -> None:
        self.module_problems.append(text)
        log.info("%s", text)  # shown to the reader in the status bar and the problems list
        self.report_problem(text)
        self.status(text, 15000)

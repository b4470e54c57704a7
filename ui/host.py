"""The Host: everything a workstation module (plugin) may use.

A module is an object with ``id``, ``title`` and ``activate(host)``, declared under the entry point
group ``workstation.modules`` (see ``workstation.plugins``). In ``activate`` it adds its panels and
tools and connects to the host's signals. The host starts fine when a module is missing or broken:
the problem goes to the status bar (and the problems list), the rest of the workstation runs.

API (stable; the review module builds on it):

* ``main_window`` — the QMainWindow
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
"""
from __future__ import annotations

import logging
from typing import Any

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QDockWidget, QWidget

from workstation import plugins
from workstation.measure.model import Landmark
from workstation.volume import Volume

from .tools import PointTool, Tool

log = logging.getLogger(__name__)

__all__ = ["Host", "Tool", "PointTool"]


class Host(QObject):
    study_loaded = pyqtSignal()
    series_loaded = pyqtSignal(object)
    series_shown = pyqtSignal(object)
    landmark_placed = pyqtSignal(object)
    cursor_moved = pyqtSignal(object)
    study_closing = pyqtSignal()

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

    def add_tool(self, tool: Tool) -> QAction:
        return self.main_window.add_tool(tool)

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
            except Exception as exc:  # a broken module must not take the host down
                self._module_problem(f"module {e.name} ({e.value}) failed to activate: {type(exc).__name__}: {exc}")
                continue
            self.modules.append(obj)

    def _module_problem(self, text: str) -> None:
        self.module_problems.append(text)
        log.info("%s", text)  # shown to the reader in the status bar and the problems list
        self.report_problem(text)
        self.status(text, 15000)

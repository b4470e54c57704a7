"""The main window: assembles the viewer, panels, tool bar and status area; owns no logic itself.

Parts: ``Viewer`` (viewports + crosshair linking), ``StudyController`` (loading, volumes),
``SeriesBrowser`` and ``MeasurementsPanel`` (docks), ``ToolManager`` (tools), ``WindowState``
(window/level per series), ``MeasurementStore`` (measurements with undo), ``StatusArea``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QToolBar

from workstation.measure.model import Caliper, EllipseROI, Landmark, Lesion3D, SphereROI

from .display import WindowState, ct_presets, is_ct
from .measure_layer import MeasurementLayer
from .measurements import MeasurementStore
from .panels import MeasurementsPanel, SeriesBrowser
from .statusarea import StatusArea
from .study import StudyController
from .tools import CaliperTool, EllipseTool, NavigateTool, ProbeTool, Tool, ToolManager
from .viewer import COMPARE, MPR, Viewer


def record_center(m) -> tuple[float, float, float] | None:
    if isinstance(m, Caliper):
        return tuple((np.asarray(m.p1) + np.asarray(m.p2)) / 2)
    if isinstance(m, EllipseROI):
        return m.center
    if isinstance(m, Landmark):
        return m.point
    if isinstance(m, SphereROI):
        return m.center
    if isinstance(m, Lesion3D):
        return tuple((np.asarray(m.endpoints[0]) + np.asarray(m.endpoints[1])) / 2)
    return getattr(m, "vertex", None) or getattr(m, "head", None) or getattr(m, "center", None)


class MainWindow(QMainWindow):
    def __init__(self, defer_pacs_menu: bool = False) -> None:
        """``defer_pacs_menu`` (the app's launch): File › Open from PACS… and Send to PACS… are
        added by :meth:`add_pacs_menu` once the first image is painted -- the PACS clients'
        imports are not needed for it."""
        super().__init__()
        self.setWindowTitle("Workstation")
        self.windows = WindowState(self)
        self.store = MeasurementStore(self)
        self.viewer = Viewer(self.windows, self)
        self.setCentralWidget(self.viewer.widget)
        bar = self.statusBar()
        assert bar is not None
        self.status_area = StatusArea(bar)
        self.tools = ToolManager(self)

        self.browser = SeriesBrowser()
        self.browser_dock = QDockWidget("Series", self)
        self.browser_dock.setObjectName("series")
        self.browser_dock.setWidget(self.browser)
        self.browser_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser_dock)

        self.measurements_panel = MeasurementsPanel(self.store)
        self.measure_dock = QDockWidget("Measurements", self)
        self.measure_dock.setObjectName("measurements")
        self.measure_dock.setWidget(self.measurements_panel)
        self.measure_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.measure_dock)
        self.resizeDocks([self.browser_dock, self.measure_dock], [250, 300], Qt.Orientation.Horizontal)

        self.study = StudyController(self.viewer, self.browser, self.status_area, self.windows, self)

        for vp in self.viewer.all_viewports():
            MeasurementLayer(vp, self.store)
            vp.tool_provider = self.tools.current_tool
        self.viewer.cursor_moved.connect(self._cursor_moved)
        self.measurements_panel.picked.connect(self.jump_to_measurement)
        self.study.pair_found.connect(self._pair_found)
        self.tools.changed.connect(self._tool_changed)

        self.toolbar = QToolBar("Tools", self)
        self.toolbar.setObjectName("tools")
        self.toolbar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        # window presets, fit/reset, layouts, undo: a second row, so module tools never push them
        # out of sight
        self.view_toolbar = QToolBar("View", self)
        self.view_toolbar.setObjectName("view")
        self.view_toolbar.setMovable(False)
        self.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.view_toolbar)
        self._build_actions()
        self._build_file_menu(pacs=not defer_pacs_menu)

        from .host import Host  # the host wraps this window

        self.host = Host(self)
        from .viewer_actions import install  # View menu, Help, cine, overlay toggles, drag and drop

        install(self)

    # ------------------------------------------------------------------------ actions
    def _build_actions(self) -> None:
        self.add_tool(NavigateTool(self.viewer))
        self.add_tool(CaliperTool(self.viewer, self.store))
        self.add_tool(EllipseTool(self.viewer, self.store))
        self.add_tool(ProbeTool(self.viewer, lambda t: self.status_area.message(t)))
        self.toolbar.addSeparator()
        tb = self.view_toolbar

        for p in ct_presets():
            act = QAction(p.title, self)
            act.setShortcut(QKeySequence(p.key))
            act.setToolTip(f"{p.title} window W{p.window.width:.0f} L{p.window.level:.0f} ({p.key})")
            act.triggered.connect(lambda _=False, w=p.window: self.apply_window(w))
            tb.addAction(act)
        tb.addSeparator()
        self.act_fit = self._action("Fit", "F", "Fit the images to their views (F)", self.viewer.fit_all)
        self.act_reset = self._action("Reset", "R", "Reset zoom, pan and window (R)", self.viewer.reset_all)
        tb.addSeparator()
        self.act_mpr = self._action("MPR", None, "Axial, coronal and sagittal views", lambda: self.viewer.set_layout(MPR))
        self._compare_tip = "Pre- and post-contrast side by side, linked by patient position (C)"
        self.act_compare = self._action("Compare", "C", self._compare_tip, self.show_compare)
        self.act_mpr.setCheckable(True)
        self.act_compare.setCheckable(True)
        layouts = QActionGroup(self)
        layouts.setExclusive(True)
        layouts.addAction(self.act_mpr)
        layouts.addAction(self.act_compare)
        self.act_mpr.setChecked(True)
        self.viewer.layout_changed.connect(self._layout_changed)
        self.act_link = self._action("Link", "L", "Link scrolling of the side-by-side views by patient position (L)",
                                     None, checkable=True)
        self.act_link.setChecked(True)
        self.act_link.toggled.connect(self.viewer.set_link)
        tb.addSeparator()
        stack = self.store.undo_stack
        undo = QAction("Undo", self)
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        undo.setEnabled(False)
        undo.triggered.connect(stack.undo)
        stack.canUndoChanged.connect(undo.setEnabled)
        stack.undoTextChanged.connect(self._undo_text_changed)
        self.addAction(undo)
        tb.addAction(undo)
        self.act_undo = undo
        self.act_delete = self._action("Delete", None, "Delete the selected measurement (Del)", self.delete_selected)
        self.act_delete.setShortcuts([QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)])
        # Del belongs to the views (the measurements list handles its own): a module's panel keeps
        # its Delete key
        self.act_delete.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.viewer.widget.addAction(self.act_delete)
        # a read-only window (another window edits the study): Delete greyed out like the tools
        self.store.read_only_changed.connect(lambda on: self.act_delete.setEnabled(not on))

    def _build_file_menu(self, pacs: bool = True) -> None:
        menu_bar = self.menuBar()
        assert menu_bar is not None
        menu = menu_bar.addMenu("&File")
        assert menu is not None
        self.file_menu = menu
        self.act_open = QAction("Open study…", self)
        self.act_open.setShortcut(QKeySequence.StandardKey.Open)
        self.act_open.setToolTip("Open a study folder (a DICOMDIR's folder too) instead of this one (Ctrl+O)")
        self.act_open.triggered.connect(lambda _=False: self.ask_open_study(folder=True))
        self.act_open_file = QAction("Open study file…", self)
        self.act_open_file.setToolTip("Open a study from a zip archive, a DICOMDIR or a single DICOM file")
        self.act_open_file.triggered.connect(lambda _=False: self.ask_open_study(folder=False))
        menu.addAction(self.act_open)
        menu.addAction(self.act_open_file)
        self.addAction(self.act_open)  # the shortcut works with the menu bar hidden too
        self.act_open_pacs: QAction | None = None
        self.act_send_pacs: QAction | None = None
        if pacs:
            self.add_pacs_menu()

    def add_pacs_menu(self) -> None:
        """File › Open from PACS…, Send to PACS… (once; after the open actions)."""
        if self.act_open_pacs is not None:
            return
        from .pacs_dialog import add_pacs_actions

        self.act_open_pacs, self.act_send_pacs = add_pacs_actions(self, self.file_menu)

    def _action(self, text, shortcut, tip, slot, checkable=False) -> QAction:
        act = QAction(text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        act.setToolTip(tip)
        act.setCheckable(checkable)
        if slot is not None:
            act.triggered.connect(lambda _=False: slot())
        self.view_toolbar.addAction(act)
        return act

    def add_tool(self, tool: Tool) -> QAction:
        act = self.tools.add(tool, self)
        self.toolbar.addAction(act)
        self.addAction(act)
        return act

    # ------------------------------------------------------------------------ behaviour
    def apply_window(self, window) -> None:
        vp = self.viewer.active_viewport()
        if vp.volume is None:
            return
        if not is_ct(vp.volume):
            self.status_area.message("Window presets are in HU (CT); R resets an MR window", 3000)
            return
        vp.set_window(window)

    def show_compare(self) -> None:
        if self.viewer.layout == COMPARE:
            self.viewer.set_layout(MPR)
            return
        if self.study.show_pair():
            return
        vols = [v for v in self.study.volumes.values() if v is not self.viewer.volume]
        if self.viewer.volume is not None and vols:
            self.viewer.show_compare(self.viewer.volume, vols[0])
        else:
            self.status_area.message("Compare needs two series", 3000)

    # ------------------------------------------------------------------------ the study
    def ask_open_study(self, folder: bool = True) -> bool:
        """Ask for a study folder (``folder``) or file (zip, DICOMDIR, .dcm) and open it."""
        start = str(self.study.path.parent) if self.study.path is not None else ""
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Open study folder", start)
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open study file", start,
                "DICOM studies (*.zip DICOMDIR *.dcm *.DCM);;All files (*)")
        return bool(path) and self.open_study(path)

    def open_study(self, path) -> bool:
        """Replace the open study with ``path`` (folder, DICOMDIR, zip or file); False when the path
        does not exist (the current study stays as it is)."""
        p = Path(path)
        if not p.exists():
            self.status_area.message(f"{p}: no such file or folder", 8000)
            return False
        self.close_study()
        self.study.open(p)
        return True

    def close_study(self) -> None:
        """Stop loading, tell the modules (``host.study_closing``, state still intact), then empty
        the host: views, series browser, problems, volumes, windows, measurements and undo."""
        self.study.close()
        self.host.close_study_hooks()  # the modules' close hooks in order, then host.study_closing
        self.study.reset()
        self.viewer.clear()
        self.browser.clear_series()
        self.store.reset()
        self.windows.clear()
        self.status_area.clear_study()
        for text in self.host.module_problems:  # the app's own problems outlive the study
            self.status_area.add_problem(text)
        self.status_area.cursor_label.setText("")
        self.act_compare.setToolTip(self._compare_tip)

    def _pair_found(self, pre, post) -> None:
        self.act_compare.setToolTip(f"Compare: {pre.description or 'non-contrast'} | {post.description or 'contrast'} (C)")
        self.status_area.message(f"Study loaded — pre/post pair found: press C to compare "
                                 f"'{pre.description}' with '{post.description}'", 15000)

    def _undo_text_changed(self, text: str) -> None:
        self.act_undo.setToolTip(f"Undo {text} (Ctrl+Z)" if text else "Undo (Ctrl+Z)")

    def _layout_changed(self, name: str) -> None:
        (self.act_compare if name == COMPARE else self.act_mpr).setChecked(True)

    def _tool_changed(self, tool) -> None:
        # measurement bodies move with the Navigate tool; with a drawing tool a drag always draws
        # (handles stay draggable in every tool)
        for vp in self.viewer.all_viewports():
            vp.measurement_layer.set_movable(tool.id == "navigate")

    def delete_selected(self) -> None:
        sel = self.store.selected_id()
        if sel:
            self.store.remove(sel)

    def jump_to_measurement(self, m) -> None:
        """Show the measurement's series and slice (selecting it in the list does this)."""
        if m is None:
            return
        c = record_center(m)
        if c is not None:
            self.viewer.jump_to(c, m.series_uid, self.study.volumes)

    def _cursor_moved(self, xyz) -> None:
        self.status_area.cursor_label.setText(f"Crosshair ({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm LPS")

    def closeEvent(self, ev):
        self.study.close()
        self.host.window_closing.emit()
        super().closeEvent(ev)

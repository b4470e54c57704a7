"""The viewer basics a reader coming from OHIF or Horos looks for, as actions of the main window.

* View › Layout: 1×1 (the active view alone; double-click a view does the same), MPR, Compare;
* window/level typed in (Shift+W), invert (I, as OHIF), zoom in/out (+/-), 1:1 true pixels
  (Ctrl+1); the zoom in percent and a scale bar in mm are drawn in every view;
* the corner text (patient/study overlay, O) and every annotation at once (Ctrl+H);
* cine (Space plays/pauses the active view; frames per second in the tool bar);
* redo (Ctrl+Y, Ctrl+Shift+Z) beside undo;
* the extra measurement tools: angle (A), freehand ROI (D), arrow (N);
* the shortcut help screen (F1 or ?), built from the actions' own shortcuts so it cannot drift;
* opening a folder, file or zip dropped on the window, through ``MainWindow.open_study`` (the
  path File › Open study takes);
* the series list no longer keeps the keyboard (arrows scroll the image); Compare is only
  enabled with two series and only checked while it is shown.

``install(window)`` adds all of this to a ``ui.main_window.MainWindow``; nothing here holds logic
the core should have.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHeaderView,
    QMenu,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .display import Window
from .tools import AngleTool, ArrowTool, FreehandTool
from .viewer import COMPARE
from .viewport import VIEW_INPUT_HELP

#: cine speed: default and range in frames per second (Horos/OHIF offer about the same)
CINE_FPS_DEFAULT, CINE_FPS_MIN, CINE_FPS_MAX = 15, 1, 60


def _plain(text: str) -> str:
    return text.replace("&", "").replace("…", "").strip()


def _keys(act: QAction) -> str:
    return " / ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in act.shortcuts())


def window_actions(win: QWidget) -> list[QAction]:
    """Every action of the window once: its own, its children's, its menus' and tool bars'."""
    seen: dict[int, QAction] = {}

    def take(acts) -> None:
        for a in acts:
            if a is None or a.isSeparator():
                continue
            seen.setdefault(id(a), a)
            sub = a.menu()
            if isinstance(sub, QMenu):
                take(sub.actions())

    take(win.findChildren(QAction))
    take(win.actions())
    for w in win.findChildren(QWidget):
        take(w.actions())
    return list(seen.values())


#: the section of the help screen for the keys and mouse gestures the views handle themselves
IN_A_VIEW = "In a view"


def _where(act: QAction) -> str:
    """Where the reader finds the action: its menu, else its tool bar, else the window."""
    objs = act.associatedObjects()
    for o in objs:
        if isinstance(o, QMenu) and o.title():
            parent = o.parent()
            if isinstance(parent, QMenu) and parent.title():  # a submenu: View › Layout
                return f"{_plain(parent.title())} › {_plain(o.title())}"
            return _plain(o.title())
    for o in objs:
        if isinstance(o, QToolBar):
            return f"{o.windowTitle()} bar"
    return "Window"


def shortcut_rows(win: QWidget) -> list[tuple[str, str, str, str]]:
    """(keys, command, where, description) for every action with a shortcut — read from the
    actions — by where it lives, then the keys and mouse gestures the views handle themselves."""
    rows = []
    for a in window_actions(win):
        if not a.shortcuts():
            continue
        tip = a.toolTip()
        rows.append((_keys(a), _plain(a.text()), _where(a), "" if _plain(tip) == _plain(a.text()) else tip))
    rows.sort(key=lambda r: (r[2].lower(), r[1].lower()))
    rows += [(keys, what, IN_A_VIEW, "") for keys, what in VIEW_INPUT_HELP]
    return rows


class ShortcutHelp(QDialog):
    """F1 / ?: every keyboard shortcut and mouse gesture, in one table."""

    def __init__(self, win: QWidget) -> None:
        super().__init__(win)
        self.setWindowTitle("Keyboard shortcuts and mouse")
        self.table = QTableWidget(0, 4, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Command", "Where", "Description"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        vheader, header = self.table.verticalHeader(), self.table.horizontalHeader()
        assert vheader is not None and header is not None
        vheader.setVisible(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        self.resize(900, 680)
        self.win = win

    def refresh(self) -> None:
        rows = shortcut_rows(self.win)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))

    def rows(self) -> list[tuple[str, ...]]:
        """The table as shown: (keys, command, where, description) per row."""
        def text(r: int, c: int) -> str:
            item = self.table.item(r, c)
            return item.text() if item is not None else ""
        return [tuple(text(r, c) for c in range(4)) for r in range(self.table.rowCount())]


class WindowLevelDialog(QDialog):
    """Window width and level typed in (Horos: Set WL/WW); applied to the active view's series."""

    def __init__(self, parent: QWidget, window: Window, unit: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Window / level")
        self.width_box = QDoubleSpinBox(self)
        self.width_box.setRange(1.0, 1e6)
        self.width_box.setDecimals(0)
        self.width_box.setValue(window.width)
        self.level_box = QDoubleSpinBox(self)
        self.level_box.setRange(-1e6, 1e6)
        self.level_box.setDecimals(0)
        self.level_box.setValue(window.level)
        suffix = f" {unit}" if unit else ""
        self.width_box.setSuffix(suffix)
        self.level_box.setSuffix(suffix)
        form = QFormLayout(self)
        form.addRow("Width (W)", self.width_box)
        form.addRow("Level (L)", self.level_box)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def chosen_window(self) -> Window:
        return Window(self.width_box.value(), self.level_box.value())


class _DropOpener(QObject):
    """Accepts a dropped folder, file or zip anywhere on the window and opens it."""

    def __init__(self, win) -> None:
        super().__init__(win)
        self.win = win

    @staticmethod
    def dropped_path(mime) -> Path | None:
        if mime is None or not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                return Path(url.toLocalFile())
        return None

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 - Qt API
        t = ev.type()
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if self.dropped_path(ev.mimeData()) is not None:
                ev.acceptProposedAction()
                return True
        elif t == QEvent.Type.Drop:
            path = self.dropped_path(ev.mimeData())
            if path is not None:
                ev.acceptProposedAction()
                QTimer.singleShot(0, lambda p=path: self.win.open_study(p))  # after the drag ends
                return True
        return False


class ViewerActions(QObject):
    """The basics, wired into the main window ``win`` (see the module docstring)."""

    def __init__(self, win) -> None:
        super().__init__(win)
        self.win = win
        self.viewer = win.viewer
        self.help_dialog: ShortcutHelp | None = None
        self.wl_dialog: WindowLevelDialog | None = None
        self.cine_timer = QTimer(self)
        self.cine_timer.timeout.connect(self._cine_tick)
        self._add_tools()
        self._build_view_actions()
        self._build_view_menu()
        self._build_help_menu()
        self._fix_focus_and_compare()
        self._install_drop()

    # ------------------------------------------------------------------------ building
    def _new(self, text: str, keys: list[str] | None, tip: str, slot=None, checkable: bool = False) -> QAction:
        act = QAction(text, self.win)
        if keys:
            act.setShortcuts([QKeySequence(k) for k in keys])
        act.setToolTip(tip)
        act.setCheckable(checkable)
        if slot is not None:
            act.triggered.connect(lambda _=False: slot())
        self.win.addAction(act)  # the shortcut works with the menus closed or hidden
        return act

    def _add_tools(self) -> None:
        w = self.win
        self.act_angle = w.add_tool(AngleTool(self.viewer, w.store))
        self.act_freehand = w.add_tool(FreehandTool(self.viewer, w.store))
        self.act_arrow = w.add_tool(ArrowTool(self.viewer, w.store))

    def _build_view_actions(self) -> None:
        w, tb = self.win, self.win.view_toolbar
        self.act_one = self._new("1×1", ["Ctrl+M"], "Maximise the active view / back to the layout "
                                 "(Ctrl+M, or double-click a view)", self.viewer.toggle_maximise, True)
        w.act_mpr.actionGroup().addAction(self.act_one)
        tb.insertAction(w.act_mpr, self.act_one)
        self.act_wl = self._new("Window/level…", ["Shift+W"], "Type the window width and level (Shift+W)",
                                self.ask_window)
        self.act_invert = self._new("Invert", ["I"], "Invert the grey scale of the active view (I)",
                                    self.toggle_invert, True)
        self.viewer.active_changed.connect(lambda vp: self.act_invert.setChecked(vp.inverted()))
        self.act_zoom_in = self._new("Zoom in", ["+", "="], "Zoom in (+)", lambda: self._zoom(1.25))
        self.act_zoom_out = self._new("Zoom out", ["-"], "Zoom out (-)", lambda: self._zoom(0.8))
        self.act_true_size = self._new("1:1", ["Ctrl+1"], "True size: one image pixel on one screen pixel (Ctrl+1)",
                                       self.true_size)
        self.act_overlay = self._new("Patient/study overlay", ["O"], "Show or hide the text in the corners of the "
                                     "views (O)", None, True)
        self.act_overlay.setChecked(True)
        self.act_overlay.toggled.connect(self.set_overlay_visible)
        self.act_annotations = self._new("Show annotations", ["Ctrl+H"], "Show or hide every annotation: "
                                         "measurements, text, scale bar, crosshair (Ctrl+H)", None, True)
        self.act_annotations.setChecked(True)
        self.act_annotations.toggled.connect(self.set_annotations_visible)
        self.act_cine = self._new("Cine", ["Space"], "Play / pause the active view through its images (Space)",
                                  None, True)
        self.act_cine.toggled.connect(self.set_cine)
        self.fps_box = QSpinBox()
        self.fps_box.setRange(CINE_FPS_MIN, CINE_FPS_MAX)
        self.fps_box.setValue(CINE_FPS_DEFAULT)
        self.fps_box.setSuffix(" fps")
        self.fps_box.setToolTip("Cine speed, images per second")
        self.fps_box.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.fps_box.valueChanged.connect(self._fps_changed)
        stack = w.store.undo_stack
        self.act_redo = self._new("Redo", ["Ctrl+Y", "Ctrl+Shift+Z"], "Redo (Ctrl+Y, Ctrl+Shift+Z)", stack.redo)
        self.act_redo.setEnabled(False)
        stack.canRedoChanged.connect(self.act_redo.setEnabled)
        stack.redoTextChanged.connect(
            lambda t: self.act_redo.setToolTip(f"Redo {t} (Ctrl+Y, Ctrl+Shift+Z)" if t else "Redo (Ctrl+Y, Ctrl+Shift+Z)"))
        after_undo = self._action_after(tb, w.act_undo)
        tb.insertAction(after_undo, self.act_redo)
        tb.addSeparator()
        for a in (self.act_invert, self.act_true_size, self.act_cine):
            tb.addAction(a)
        tb.addWidget(self.fps_box)
        self.viewer.maximised_changed.connect(lambda _vp: self._sync_layout_checks())
        for vp in self.viewer.all_viewports():
            vp.double_clicked.connect(self._double_clicked)

    @staticmethod
    def _action_after(tb, act: QAction) -> QAction | None:
        acts = tb.actions()
        i = acts.index(act) if act in acts else -1
        return acts[i + 1] if 0 <= i < len(acts) - 1 else None

    def _build_view_menu(self) -> None:
        w = self.win
        bar = w.menuBar()
        menu = bar.addMenu("&View")
        self.view_menu = menu
        layout = menu.addMenu("&Layout")
        for a in (self.act_one, w.act_mpr, w.act_compare):
            layout.addAction(a)
        menu.addSeparator()
        for a in (self.act_wl, self.act_invert):
            menu.addAction(a)
        menu.addSeparator()
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_true_size, w.act_fit, w.act_reset):
            menu.addAction(a)
        menu.addSeparator()
        for a in (self.act_overlay, self.act_annotations):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.act_cine)
        menu.addAction(self.act_redo)

    def _build_help_menu(self) -> None:
        self.act_help = self._new("Keyboard shortcuts…", ["F1", "?"], "Every keyboard shortcut and mouse "
                                  "gesture (F1 or ?)", self.show_help)
        bar = self.win.menuBar()
        menu = bar.addMenu("&Help")
        menu.addAction(self.act_help)
        self.help_menu = menu
        bar.installEventFilter(self)  # Help stays the last menu when modules add theirs

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 - Qt API
        if ev.type() == QEvent.Type.ActionAdded and obj is self.win.menuBar():
            QTimer.singleShot(0, self._help_menu_last)
        return False

    def _help_menu_last(self) -> None:
        bar = self.win.menuBar()
        act = self.help_menu.menuAction()
        if bar.actions() and bar.actions()[-1] is not act:
            bar.removeAction(act)
            bar.addAction(act)

    def _fix_focus_and_compare(self) -> None:
        w = self.win
        # a click in the series list shows the series and leaves the keyboard to the image
        w.browser.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        w.browser.series_activated.connect(lambda _uid: self.focus_image())
        self.viewer.series_shown.connect(lambda _v: self._focus_image_if_unclaimed())
        w.act_compare.triggered.connect(lambda _=False: self._sync_layout_checks())
        self.viewer.layout_changed.connect(lambda _n: self._sync_layout_checks())
        w.study.volume_added.connect(lambda _v: self._update_compare_enabled())
        w.study.series_loaded.connect(lambda _v: self._update_compare_enabled())
        w.host.study_closing.connect(lambda: w.act_compare.setEnabled(False))
        self._update_compare_enabled()

    def _install_drop(self) -> None:
        self.drop = _DropOpener(self.win)
        self.win.setAcceptDrops(True)
        self.win.installEventFilter(self.drop)
        for vp in self.viewer.all_viewports():
            vp.setAcceptDrops(True)
            vp.viewport().installEventFilter(self.drop)

    # ------------------------------------------------------------------------ behaviour
    def focus_image(self) -> None:
        self.viewer.active_viewport().setFocus(Qt.FocusReason.OtherFocusReason)

    def _focus_image_if_unclaimed(self) -> None:
        f = QApplication.focusWidget()
        if f is None or f is self.win.browser:
            self.focus_image()

    def _double_clicked(self, vp) -> None:
        tool = self.win.tools.current_tool()
        if vp.volume is not None and not getattr(tool, "busy", False):
            self.viewer.toggle_maximise(vp)

    def _update_compare_enabled(self) -> None:
        self.win.act_compare.setEnabled(len(self.win.study.volumes) >= 2)

    def _sync_layout_checks(self) -> None:
        w = self.win
        if self.viewer.maximised is not None:
            self.act_one.setChecked(True)
        elif self.viewer.layout == COMPARE:
            w.act_compare.setChecked(True)
        else:
            w.act_mpr.setChecked(True)

    def ask_window(self) -> WindowLevelDialog | None:
        vp = self.viewer.active_viewport()
        win = vp.display_window()
        if win is None:
            return None
        dlg = WindowLevelDialog(self.win, win, "HU" if vp.volume.unit == "HU" else "")
        dlg.accepted.connect(lambda: vp.set_window(dlg.chosen_window()))
        self.wl_dialog = dlg
        dlg.open()
        return dlg

    def toggle_invert(self) -> None:
        vp = self.viewer.active_viewport()
        vp.set_inverted(not vp.inverted())
        self.act_invert.setChecked(vp.inverted())  # the check mark is the active view's state

    def _zoom(self, factor: float) -> None:
        vp = self.viewer.active_viewport()
        if vp.volume is not None:
            vp.zoom(factor, center=vp.vb.viewRect().center())

    def true_size(self) -> None:
        self.viewer.active_viewport().true_size()

    def set_overlay_visible(self, on: bool) -> None:
        for vp in self.viewer.all_viewports():
            vp.set_overlay_visible(on)

    def set_annotations_visible(self, on: bool) -> None:
        for vp in self.viewer.all_viewports():
            vp.set_annotations_visible(on)

    def set_cine(self, on: bool) -> None:
        if on and self.viewer.active_viewport().volume is not None:
            self.cine_timer.start(round(1000 / self.fps_box.value()))
        else:
            self.cine_timer.stop()
            if self.act_cine.isChecked():
                self.act_cine.setChecked(False)

    def _fps_changed(self, fps: int) -> None:
        if self.cine_timer.isActive():
            self.cine_timer.setInterval(round(1000 / fps))

    def _cine_tick(self) -> None:
        vp = self.viewer.active_viewport()
        if vp.volume is None or vp.mapping is None:
            self.set_cine(False)
            return
        n = vp.mapping.n_slices
        vp.set_slice((vp.slice + 1) % n)  # loops, as Horos/OHIF cine

    def show_help(self) -> ShortcutHelp:
        if self.help_dialog is None:
            self.help_dialog = ShortcutHelp(self.win)
        self.help_dialog.refresh()
        self.help_dialog.show()
        self.help_dialog.raise_()
        return self.help_dialog


def install(win) -> ViewerActions:
    """Add the viewer basics to the main window (kept as ``win.viewer_actions``)."""
    win.viewer_actions = ViewerActions(win)
    return win.viewer_actions


__all__ = ["ShortcutHelp", "ViewerActions", "WindowLevelDialog", "install", "shortcut_rows", "window_actions"]

"""Left-button tools of the viewports, and the mechanism modules use to add their own.

A tool gets ``PointerEvent`` objects (``ui.viewport.PointerEvent``: viewport, phase, scene mm,
fractional index, LPS point) through ``click(ev)`` and ``drag(ev)``. The host's tool bar holds one
checkable action per tool in an exclusive group; Esc returns to Navigate.

Built in: Navigate (click/drag moves the crosshair point; the other views follow), Caliper, Ellipse
ROI and Probe. A module adds a tool with ``host.add_tool(tool)``; ``PointTool`` covers the common
case "click a point" (landmarks, seeds).

**Read-only** (:meth:`ToolManager.set_read_only`, a window on a study another window edits): a tool
whose ``edits`` is True (the default: measurement tools, lesion growing and the brush, IVC
landmarks, enhancement ROIs -- anything that creates or changes the read) is disabled in the tool
bar, its shortcut does nothing and ``select`` refuses it (``refused(str)``); the current tool falls
back to Navigate. Navigate and Probe (``edits = False``) stay, as do scrolling, window/level, zoom
and pan, which are not tools.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence

from workstation.errors import WorkstationError
from workstation.measure.model import Angle, Arrow, Caliper, EllipseROI, FreehandROI
from workstation.measure.roi import ellipse_stats, freehand_stats

from .geometry import vec3

if TYPE_CHECKING:  # pragma: no cover
    from .viewer import Viewer
    from .viewport import PointerEvent


class Tool:
    """Base class: override ``click`` and/or ``drag``. ``shortcut`` is a QKeySequence string."""

    id: str = "tool"
    title: str = "Tool"
    shortcut: str | None = None
    tooltip: str = ""
    #: True when using the tool creates or changes the read (disabled in a read-only window)
    edits: bool = True

    def activated(self) -> None:
        """Called when the tool becomes the current one."""

    def deactivated(self) -> None:
        """Called when another tool is chosen."""

    def click(self, ev: PointerEvent) -> None:
        pass

    def drag(self, ev: PointerEvent) -> None:
        pass


class PointTool(Tool):
    """A tool that reports a clicked patient point: ``on_point(volume, xyz, ev)``."""

    def __init__(self, id: str, title: str, on_point: Callable, shortcut: str | None = None,
                 tooltip: str = "", edits: bool = True) -> None:
        self.id, self.title, self.shortcut, self.tooltip = id, title, shortcut, tooltip
        self.on_point = on_point
        self.edits = edits

    def click(self, ev: PointerEvent) -> None:
        self.on_point(ev.volume, tuple(float(v) for v in ev.point), ev)


class NavigateTool(Tool):
    id, title, shortcut = "navigate", "Navigate", "Esc"
    edits = False
    tooltip = "Click or drag to move the crosshair; the other views follow (Esc)"

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer

    def click(self, ev):
        self.viewer.set_cursor(ev.point, source=ev.viewport)

    def drag(self, ev):
        self.viewer.set_cursor(ev.point, source=ev.viewport)


class _Counter:
    def __init__(self, store, kind: str, title: str) -> None:
        self.store, self.kind, self.title = store, kind, title

    def next_label(self) -> str:
        used = {m.label for m in self.store.items()}
        n = len(self.store.of_kind(self.kind)) + 1
        while f"{self.title} {n}" in used:
            n += 1
        return f"{self.title} {n}"


class CaliperTool(Tool):
    """Drag from one end to the other; the length is measured between the two LPS points."""

    id, title, shortcut = "caliper", "Caliper", "M"
    tooltip = "Caliper: drag from one end to the other (M)"

    def __init__(self, viewer: Viewer, store) -> None:
        self.viewer, self.store = viewer, store
        self._labels = _Counter(store, "caliper", "Caliper")
        self._draft: Caliper | None = None

    def drag(self, ev):
        vp = ev.viewport
        if ev.phase == "start" or self._draft is None:
            start = vp.scene_to_patient(*ev.start_scene)
            self._draft = Caliper(series_uid=vp.volume.series_uid, label=self._labels.next_label(),
                                  p1=tuple(start), p2=tuple(ev.point))
        else:
            self._draft = Caliper(series_uid=self._draft.series_uid, label=self._draft.label,
                                  id=self._draft.id, p1=self._draft.p1, p2=tuple(ev.point))
        if ev.phase == "finish":
            draft, self._draft = self._draft, None
            vp.measurement_layer.set_draft(None)
            a = vp.patient_to_scene(draft.p1)
            b = vp.patient_to_scene(draft.p2)
            if float(np.hypot(*(a[:2] - b[:2]))) < 0.5 * min(vp.mapping.row_spacing, vp.mapping.col_spacing):
                return  # a click, not a measurement
            self.store.add(draft)
            self.store.select(draft.id)
        else:
            vp.measurement_layer.set_draft(self._draft)


class EllipseTool(Tool):
    """Drag the bounding box of an ellipse (in the plane of the view); stats on the slice voxels."""

    id, title, shortcut = "ellipse", "Ellipse ROI", "E"
    tooltip = "Elliptical ROI: drag its bounding box (E); mean, SD, min, max and area"

    def __init__(self, viewer: Viewer, store) -> None:
        self.viewer, self.store = viewer, store
        self._labels = _Counter(store, "ellipse", "ROI")
        self._draft: EllipseROI | None = None

    def _make(self, vp, start, end, label: str, mid: str | None) -> EllipseROI:
        (x0, y0), (x1, y1) = start, end
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        def p(x: float, y: float) -> tuple[float, float, float]:
            return vec3(vp.scene_to_patient(x, y))
        a = (p(x0, cy), p(x1, cy))
        b = (p(cx, y0), p(cx, y1))
        if abs(x1 - x0) < abs(y1 - y0):
            a, b = b, a
        if mid:
            return EllipseROI(series_uid=vp.volume.series_uid, label=label, major=a, minor=b, id=mid)
        return EllipseROI(series_uid=vp.volume.series_uid, label=label, major=a, minor=b)

    def drag(self, ev):
        vp = ev.viewport
        if ev.phase == "start" or self._draft is None:
            self._draft = self._make(vp, ev.start_scene, ev.scene, self._labels.next_label(), None)
        else:
            self._draft = self._make(vp, ev.start_scene, ev.scene, self._draft.label, self._draft.id)
        if ev.phase == "finish":
            draft, self._draft = self._draft, None
            vp.measurement_layer.set_draft(None)
            (x0, y0), (x1, y1) = ev.start_scene, ev.scene
            if min(abs(x1 - x0), abs(y1 - y0)) < min(vp.mapping.row_spacing, vp.mapping.col_spacing):
                return
            draft.stats = ellipse_stats(vp.volume, draft)
            self.store.add(draft)
            self.store.select(draft.id)
        else:
            vp.measurement_layer.set_draft(self._draft)


class AngleTool(Tool):
    """Three clicks — the end of one arm, the vertex, the end of the other arm (OHIF/Horos angle);
    dragging the first arm then clicking the third point works too."""

    id, title, shortcut = "angle", "Angle", "A"
    tooltip = "Angle: click one arm's end, the vertex, then the other arm's end (A)"

    def __init__(self, viewer: Viewer, store) -> None:
        self.viewer, self.store = viewer, store
        self._labels = _Counter(store, "angle", "Angle")
        self._points: list[tuple[float, float, float]] = []
        self._vp = None

    @property
    def busy(self) -> bool:
        """True between the first and the last click (a double-click then does not maximise)."""
        return bool(self._points)

    def deactivated(self) -> None:
        self._cancel()

    def _cancel(self) -> None:
        if self._vp is not None:
            self._vp.measurement_layer.set_draft(None)
        self._points, self._vp = [], None

    def click(self, ev):
        if self._vp is not None and self._vp is not ev.viewport:
            self._cancel()
        self._vp = ev.viewport
        self._points.append(vec3(ev.point))
        pts = self._points
        if len(pts) < 3:
            if len(pts) == 2:
                draft = Angle(series_uid=ev.volume.series_uid, p1=pts[0], vertex=pts[1], p2=pts[1])
                ev.viewport.measurement_layer.set_draft(draft)
            return
        m = Angle(series_uid=ev.volume.series_uid, label=self._labels.next_label(),
                  p1=pts[0], vertex=pts[1], p2=pts[2])
        self._cancel()
        self.store.add(m)
        self.store.select(m.id)

    def drag(self, ev):
        if ev.phase == "start":
            self.click(_moved_to(ev, ev.viewport.scene_to_patient(*ev.start_scene)))
        elif ev.phase == "finish":
            self.click(ev)


def _moved_to(ev: PointerEvent, xyz) -> PointerEvent:
    return dataclasses.replace(ev, point=np.asarray(xyz, float))


class FreehandTool(Tool):
    """Draw an outline with the button held down; it closes on release. Mean, SD, min, max of the
    voxels inside and the area (through ``workstation.measure.roi.freehand_stats``)."""

    id, title, shortcut = "freehand", "Freehand ROI", "D"
    tooltip = "Freehand ROI: draw the outline with the button held down (D); mean, SD, area"

    def __init__(self, viewer: Viewer, store) -> None:
        self.viewer, self.store = viewer, store
        self._labels = _Counter(store, "freehand", "Freehand")
        self._scene: list[tuple[float, float]] = []

    def drag(self, ev):
        vp = ev.viewport
        if ev.phase == "start":
            self._scene = [ev.start_scene]
        step = 0.5 * min(vp.mapping.row_spacing, vp.mapping.col_spacing)
        last = self._scene[-1] if self._scene else None
        if last is None or float(np.hypot(ev.scene[0] - last[0], ev.scene[1] - last[1])) >= step:
            self._scene.append(ev.scene)
        if ev.phase != "finish":
            if len(self._scene) >= 3:
                vp.measurement_layer.set_draft(self._make(vp, ""))
            return
        vp.measurement_layer.set_draft(None)
        if len(self._scene) < 3:
            self._scene = []
            return
        m = self._make(vp, self._labels.next_label())
        self._scene = []
        if m.area_mm2 < vp.mapping.row_spacing * vp.mapping.col_spacing:
            return  # a scribble, not an outline
        try:
            m.stats = freehand_stats(vp.volume, m)
        except WorkstationError:
            m.stats = {}
        self.store.add(m)
        self.store.select(m.id)

    def _make(self, vp, label: str) -> FreehandROI:
        pts = tuple(vec3(vp.scene_to_patient(x, y)) for x, y in self._scene)
        return FreehandROI(series_uid=vp.volume.series_uid, label=label, points=pts)


class ArrowTool(Tool):
    """Drag from the spot to point at to where the note goes (OHIF arrow annotate); rename the
    note in the measurements list."""

    id, title, shortcut = "arrow", "Arrow", "N"
    tooltip = "Arrow: drag from the spot to point at to where the note goes (N); rename it in the list"

    def __init__(self, viewer: Viewer, store) -> None:
        self.viewer, self.store = viewer, store
        self._labels = _Counter(store, "arrow", "Arrow")

    def drag(self, ev):
        vp = ev.viewport
        head = vec3(vp.scene_to_patient(*ev.start_scene))
        if ev.phase != "finish":
            vp.measurement_layer.set_draft(Arrow(series_uid=vp.volume.series_uid, head=head, tail=vec3(ev.point)))
            return
        vp.measurement_layer.set_draft(None)
        (x0, y0), (x1, y1) = ev.start_scene, ev.scene
        if float(np.hypot(x1 - x0, y1 - y0)) < 2 * min(vp.mapping.row_spacing, vp.mapping.col_spacing):
            return
        m = Arrow(series_uid=vp.volume.series_uid, label=self._labels.next_label(), head=head, tail=vec3(ev.point))
        self.store.add(m)
        self.store.select(m.id)


class ProbeTool(Tool):
    """Click: the value (HU or signal) and the LPS point, on the view and in the status bar."""

    id, title, shortcut = "probe", "Probe", "P"
    edits = False
    tooltip = "Probe: click to read HU (or signal) and the patient point (P)"

    def __init__(self, viewer: Viewer, status: Callable[[str], None]) -> None:
        self.viewer, self.status = viewer, status
        self.last: tuple[tuple[float, float, float], float | None] | None = None

    def _probe(self, ev):
        vp = ev.viewport
        val = vp.volume.value_at(ev.point)
        xyz = tuple(float(v) for v in ev.point)
        self.last = (xyz, val)
        unit = "HU" if vp.volume.unit == "HU" else "signal"
        text = ("outside the volume" if val is None else f"{val:.0f} {unit}") + \
            f" at ({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm LPS"
        vp.measurement_layer.show_probe(ev.scene, text if val is not None else "")
        self.status(f"Probe: {text}")

    def click(self, ev):
        self._probe(ev)

    def drag(self, ev):
        self._probe(ev)


class ToolManager(QObject):
    """The current tool and the exclusive group of tool actions. Signals ``changed(tool)``,
    ``read_only_changed(bool)``, ``refused(str)`` (an editing tool asked for while read-only)."""

    changed = pyqtSignal(object)
    read_only_changed = pyqtSignal(bool)
    refused = pyqtSignal(str)

    READ_ONLY_TIP = "not available: this window is read-only"

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.tools: dict[str, Tool] = {}
        self.actions: dict[str, QAction] = {}
        self.current: Tool | None = None
        self._read_only = False
        self._tips: dict[str, str] = {}

    # -- read-only -------------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self._read_only

    def set_read_only(self, on: bool) -> None:
        """Disable (``True``) or enable again every tool that edits the read; while disabled the
        current tool is a viewing one (Navigate)."""
        on = bool(on)
        if on == self._read_only:
            return
        self._read_only = on
        for tid in self.tools:
            self._gate(tid)
        if on and self.current is not None and self.current.edits:
            viewing = [t for t in self.tools.values() if not t.edits]
            if viewing:
                self.select(next((t.id for t in viewing if t.id == "navigate"), viewing[0].id))
        self.read_only_changed.emit(on)

    def _gate(self, tid: str) -> None:
        """An editing tool's action disabled (its tooltip saying why) or enabled again (the
        tooltip it had before)."""
        tool, act = self.tools[tid], self.actions[tid]
        if not tool.edits:
            return
        act.setEnabled(not self._read_only)
        if self._read_only:
            self._tips.setdefault(tid, act.toolTip())
            act.setToolTip(f"{self._tips[tid]} — {self.READ_ONLY_TIP}")
        elif tid in self._tips:
            act.setToolTip(self._tips.pop(tid))

    def usable(self, tool_id: str) -> bool:
        """Whether ``tool_id`` can be chosen now (read-only windows refuse the editing tools)."""
        tool = self.tools.get(tool_id)
        return tool is not None and not (self._read_only and tool.edits)

    def add(self, tool: Tool, parent_widget=None) -> QAction:
        if tool.id in self.tools:
            raise ValueError(f"a tool with id {tool.id!r} is already registered")
        act = QAction(tool.title, parent_widget or self)
        act.setCheckable(True)
        if tool.shortcut:
            act.setShortcut(QKeySequence(tool.shortcut))
        tip = tool.tooltip or tool.title
        act.setToolTip(tip + (f" ({tool.shortcut})" if tool.shortcut and tool.shortcut not in tip else ""))
        act.setData(tool.id)
        self.group.addAction(act)
        act.triggered.connect(lambda _=False, tid=tool.id: self.select(tid))
        self.tools[tool.id] = tool
        self.actions[tool.id] = act
        self._gate(tool.id)
        if self.current is None and self.usable(tool.id):
            self.select(tool.id)
        return act

    def select(self, tool_id: str) -> None:
        tool = self.tools[tool_id]
        if not self.usable(tool_id):
            self.refused.emit(f"{tool.title}: {self.READ_ONLY_TIP}")
            if self.current is not None:
                self.actions[self.current.id].setChecked(True)
            return
        if tool is self.current:
            self.actions[tool_id].setChecked(True)
            return
        if self.current is not None:
            self.current.deactivated()
        self.current = tool
        self.actions[tool_id].setChecked(True)
        tool.activated()
        self.changed.emit(tool)

    def current_tool(self) -> Tool | None:
        return self.current

"""Draws the measurements of the store in one viewport with pyqtgraph ROIs, and turns handle drags
back into records (patient space) through the store.

A record is drawn in a viewport that shows its series on the slice that contains it (all its points
within half a slice of the shown slice). Calipers are ``LineSegmentROI``, ellipses ``EllipseROI``;
landmarks, spheres and lesion lines are plain scene items. Dragging a handle updates the record live
(``store.update(undoable=False)``) and once more, undoably, when the drag ends.

When the store is read-only (``store.read_only``, a window on a study another window edits) the
records are drawn without handles and cannot be dragged; they are redrawn editable when it is not.
"""
from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, QPointF, Qt
from PyQt6.QtWidgets import QGraphicsEllipseItem

from workstation.errors import WorkstationError
from workstation.measure.model import (
    Angle,
    Arrow,
    Caliper,
    EllipseROI,
    FreehandROI,
    Landmark,
    Lesion3D,
    Measurement,
    SphereROI,
)
from workstation.measure.roi import ellipse_stats

from .geometry import vec3
from .measurements import snapshot

NORMAL = (255, 210, 40)
SELECTED = (40, 220, 255)
DRAFT = (255, 255, 255)
LANDMARK = (255, 110, 200)


def _pen(color, width=1.6, style=Qt.PenStyle.SolidLine):
    return pg.mkPen(color=color, width=width, style=style)


def _label(color) -> pg.TextItem:
    t = pg.TextItem(color=color, anchor=(0, 0.5), fill=pg.mkBrush(0, 0, 0, 140))
    t.setZValue(60)
    return t


def caliper_text(m: Caliper) -> str:
    return f"{m.label}: {m.length_mm:.1f} mm" if m.label else f"{m.length_mm:.1f} mm"


def _stats_lines(label: str, s: dict, unit: str) -> list[str]:
    """The label (if any), then mean/SD and min/max when the statistics have them."""
    lines = [label] if label else []
    if "mean" in s:
        lines.append(f"Mean {s['mean']:.1f} {unit}  SD {s.get('sd', 0.0):.1f}".rstrip())
        lines.append(f"Min {s.get('min', 0):.0f}  Max {s.get('max', 0):.0f}")
    return lines


def ellipse_text(m: EllipseROI, unit: str) -> str:
    s = m.stats or {}
    lines = _stats_lines(m.label, s, unit)
    if "area_mm2" in s:
        lines.append(f"Area {s['area_mm2']:.1f} mm²")
    return "\n".join(lines)


class _Graphic(abc.ABC):
    """Base: one record drawn in one viewport."""

    # set by the editable ROI graphics before they call _wire_roi
    roi: Any
    id: str
    _started: Callable[..., None]
    _moved: Callable[..., None]
    _finished: Callable[..., None]

    def __init__(self, layer: MeasurementLayer) -> None:
        self.layer = layer
        self.vb = layer.viewport.vb
        self.dragging = False
        self.items: list = []

    def add(self, item, ignore_bounds=True):
        self.vb.addItem(item, ignoreBounds=ignore_bounds)
        self.items.append(item)
        return item

    def set_visible(self, on: bool) -> None:
        for it in self.items:
            it.setVisible(on)

    def remove(self) -> None:
        for it in self.items:
            self.vb.removeItem(it)
        self.items = []

    def set_selected(self, on: bool) -> None:  # noqa: B027 - optional hook: most graphics show no selection
        """Show the record as selected (graphics with handles override this)."""

    @abc.abstractmethod
    def show(self, *args: Any, **kwargs: Any) -> None:
        """Draw the record at scene positions (each graphic has its own arguments)."""

    def _wire_roi(self, layer, color, interactive: bool) -> None:
        """Label, scene items and edit signals shared by the editable ROI graphics."""
        self.roi.setZValue(55)
        self.label = _label(color)
        self.add(self.roi)
        self.add(self.label)
        self._before: Measurement | None = None
        self._setting = False
        if interactive:
            self.roi.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
            self.roi.sigClicked.connect(lambda *_: layer.store.select(self.id))
            self.roi.sigRegionChangeStarted.connect(self._started)
            self.roi.sigRegionChanged.connect(self._moved)
            self.roi.sigRegionChangeFinished.connect(self._finished)
        else:
            for h in self.roi.getHandles():
                h.setVisible(False)


class CaliperGraphic(_Graphic):
    def __init__(self, layer, m: Caliper, interactive: bool = True, color=None) -> None:
        super().__init__(layer)
        self.id = m.id
        color = color or (NORMAL if interactive else DRAFT)
        self.roi = pg.LineSegmentROI(positions=[(0, 0), (1, 1)], pen=_pen(color), movable=interactive,
                                     hoverPen=_pen(SELECTED, 2.2), handlePen=_pen(color),
                                     handleHoverPen=_pen(SELECTED))
        self._wire_roi(layer, color, interactive)

    def _ends_scene(self) -> list[QPointF]:
        return [self.roi.mapToParent(h.pos()) for h in self.roi.getHandles()]

    def show(self, m: Caliper, scene_pts: np.ndarray) -> None:
        if not self.dragging:
            self._setting = True
            try:
                hs = self.roi.getHandles()
                for h, p in zip(hs, scene_pts):
                    self.roi.movePoint(h, QPointF(float(p[0]), float(p[1])), finish=False)
            finally:
                self._setting = False
        self._place_label(m)

    def _place_label(self, m: Caliper) -> None:
        a, b = self._ends_scene()
        p = a if a.x() > b.x() else b
        px = self.vb.viewPixelSize()[0] if self.vb.width() > 0 else 0.5
        self.label.setPos(p.x() + 8 * px, p.y())
        self.label.setText(caliper_text(m))

    def _record(self) -> Caliper | None:
        m = self.layer.store.get(self.id)
        if m is None:
            return None
        vp = self.layer.viewport
        a, b = self._ends_scene()
        p1 = vp.scene_to_patient(a.x(), a.y())
        p2 = vp.scene_to_patient(b.x(), b.y())
        return Caliper(series_uid=m.series_uid, label=m.label, id=m.id, p1=tuple(p1), p2=tuple(p2))

    def _started(self, *_):
        if self._setting:
            return
        self.dragging = True
        m = self.layer.store.get(self.id)
        self._before = snapshot(m) if m else None
        self.layer.store.select(self.id)

    def _moved(self, *_):
        if self._setting or not self.dragging:
            return
        rec = self._record()
        if rec is not None:
            self.layer.store.update(rec, undoable=False)

    def _finished(self, *_):
        if self._setting or not self.dragging:
            return
        self.dragging = False
        rec = self._record()
        if rec is not None and self._before is not None:
            self.layer.store.update(rec, before=self._before, text="move")
        self._before = None

    def set_selected(self, on: bool) -> None:
        self.roi.setPen(_pen(SELECTED if on else NORMAL, 2.0 if on else 1.6))
        self.label.setColor(SELECTED if on else NORMAL)


class EllipseGraphic(_Graphic):
    def __init__(self, layer, m: EllipseROI, interactive: bool = True, color=None) -> None:
        super().__init__(layer)
        self.id = m.id
        color = color or (NORMAL if interactive else DRAFT)
        self.roi = pg.EllipseROI((0, 0), (1, 1), pen=_pen(color), movable=interactive,
                                 rotatable=interactive, resizable=interactive,
                                 hoverPen=_pen(SELECTED, 2.2), handlePen=_pen(color))
        self._wire_roi(layer, color, interactive)

    def show(self, m: EllipseROI, major: np.ndarray, minor: np.ndarray) -> None:
        if not self.dragging:
            c = (major[0] + major[1]) / 2
            u = (major[1] - major[0]) / 2
            v = (minor[1] - minor[0]) / 2
            w, h = 2 * float(np.hypot(*u)), 2 * float(np.hypot(*v))
            ang = math.atan2(float(u[1]), float(u[0]))
            ca, sa = math.cos(ang), math.sin(ang)
            ox = c[0] - (ca * w / 2 - sa * h / 2)
            oy = c[1] - (sa * w / 2 + ca * h / 2)
            self._setting = True
            try:
                self.roi.setState({"pos": pg.Point(float(ox), float(oy)), "size": pg.Point(max(w, 1e-3), max(h, 1e-3)),
                                   "angle": math.degrees(ang)}, update=True)
            finally:
                self._setting = False
        vp = self.layer.viewport
        self.label.setText(ellipse_text(m, "HU" if vp.volume.unit == "HU" else ""))
        br = self.roi.mapRectToParent(self.roi.boundingRect())
        px = self.vb.viewPixelSize()[0] if self.vb.width() > 0 else 0.5
        self.label.setPos(br.right() + 6 * px, br.center().y())

    def _record(self) -> EllipseROI | None:
        m = self.layer.store.get(self.id)
        if m is None:
            return None
        vp = self.layer.viewport
        w, h = self.roi.size()
        pts = [self.roi.mapToParent(QPointF(x, y)) for x, y in ((0, h / 2), (w, h / 2), (w / 2, 0), (w / 2, h))]
        lps = [vec3(vp.scene_to_patient(p.x(), p.y())) for p in pts]
        major, minor = (lps[0], lps[1]), (lps[2], lps[3])
        if h > w:
            major, minor = minor, major
        rec = EllipseROI(series_uid=m.series_uid, label=m.label, id=m.id, major=major, minor=minor)
        try:
            rec.stats = ellipse_stats(vp.volume, rec)
        except WorkstationError:
            rec.stats = {}
        return rec

    _started = CaliperGraphic._started
    _moved = CaliperGraphic._moved
    _finished = CaliperGraphic._finished

    def set_selected(self, on: bool) -> None:
        self.roi.setPen(_pen(SELECTED if on else NORMAL, 2.0 if on else 1.6))
        self.label.setColor(SELECTED if on else NORMAL)


class PointGraphic(_Graphic):
    """Landmarks and seeds: a marker and a label."""

    def __init__(self, layer, color=LANDMARK) -> None:
        super().__init__(layer)
        self.color = color
        self.marker = self.add(pg.ScatterPlotItem(size=12, symbol="+", pen=_pen(color, 2), brush=None))
        self.marker.setZValue(56)
        self.label = self.add(_label(color))

    def show(self, xy, text: str) -> None:
        self.marker.setData([float(xy[0])], [float(xy[1])])
        px = self.vb.viewPixelSize()[0] if self.vb.width() > 0 else 0.5
        self.label.setPos(float(xy[0]) + 9 * px, float(xy[1]))
        self.label.setText(text)

    def set_selected(self, on: bool) -> None:
        self.marker.setPen(_pen(SELECTED if on else self.color, 2))


class SphereGraphic(_Graphic):
    def __init__(self, layer) -> None:
        super().__init__(layer)
        self.circle = QGraphicsEllipseItem()
        self.circle.setPen(_pen((120, 255, 120), 1.4))
        self.add(self.circle)
        self.label = self.add(_label((120, 255, 120)))

    def show(self, xy, r: float, text: str) -> None:
        self.circle.setRect(float(xy[0]) - r, float(xy[1]) - r, 2 * r, 2 * r)
        self.label.setPos(float(xy[0]) + r, float(xy[1]))
        self.label.setText(text)


class LineGraphic(_Graphic):
    """A lesion's greatest-dimension line (read only)."""

    def __init__(self, layer) -> None:
        super().__init__(layer)
        self.line = self.add(pg.PlotCurveItem(pen=_pen((255, 140, 60), 1.6, Qt.PenStyle.DashLine)))
        self.label = self.add(_label((255, 140, 60)))

    def show(self, a, b, text: str) -> None:
        self.line.setData([float(a[0]), float(b[0])], [float(a[1]), float(b[1])])
        self.label.setPos(float(max(a[0], b[0])), float((a[1] + b[1]) / 2))
        self.label.setText(text)


def polyline_points(m: Measurement) -> list:
    """The points an angle (arm, vertex, arm), outline or arrow (head, tail) is drawn through."""
    if isinstance(m, Angle):
        return [m.p1, m.vertex, m.p2]
    if isinstance(m, FreehandROI):
        return list(m.points)
    if isinstance(m, Arrow):
        return [m.head, m.tail]
    return []


def angle_text(m: Angle) -> str:
    return f"{m.label}: {m.angle_deg:.1f}°" if m.label else f"{m.angle_deg:.1f}°"


def freehand_text(m: FreehandROI, unit: str) -> str:
    s = m.stats or {}
    lines = _stats_lines(m.label, s, unit)
    lines.append(f"Area {s.get('area_mm2', m.area_mm2):.1f} mm²")
    return "\n".join(lines)


class PolylineGraphic(_Graphic):
    """Angles, freehand outlines and arrows: a polyline in the plane and a label (edited through
    the measurements list: rename, delete; undo/redo)."""

    ARROW_HEAD_PX = 18

    def __init__(self, layer, color=NORMAL) -> None:
        super().__init__(layer)
        self.color = color
        self.line = self.add(pg.PlotCurveItem(pen=_pen(color, 1.6)))
        self.line.setZValue(55)
        self.label = self.add(_label(color))

    def show(self, xy: np.ndarray, text: str, closed: bool = False, arrow: bool = False) -> None:
        x, y = [float(v) for v in xy[:, 0]], [float(v) for v in xy[:, 1]]
        if closed:
            x, y = x + x[:1], y + y[:1]
        if arrow and len(x) == 2:  # the head is the first point: two barbs drawn back along the shaft
            px = self.vb.viewPixelSize()[0] if self.vb.width() > 0 else 0.5
            hx, hy, tx, ty = x[0], y[0], x[1], y[1]
            ang = math.atan2(ty - hy, tx - hx)
            size = self.ARROW_HEAD_PX * px
            bx = [hx + size * math.cos(ang + d) for d in (0.45, -0.45)]
            by = [hy + size * math.sin(ang + d) for d in (0.45, -0.45)]
            x, y = [bx[0], hx, bx[1], hx, tx], [by[0], hy, by[1], hy, ty]
        self.line.setData(x, y)
        px = self.vb.viewPixelSize()[0] if self.vb.width() > 0 else 0.5
        at = int(np.argmax(xy[:, 0])) if not arrow else len(xy) - 1
        self.label.setPos(float(xy[at, 0]) + 8 * px, float(xy[at, 1]))
        self.label.setText(text)

    def set_selected(self, on: bool) -> None:
        self.line.setPen(_pen(SELECTED if on else self.color, 2.0 if on else 1.6))
        self.label.setColor(SELECTED if on else self.color)


class _PointsROI(pg.PolyLineROI):
    """An open polyline whose handles move its points; clicking a segment adds no point."""

    def segmentClicked(self, segment, ev=None, pos=None):  # noqa: N802 - pyqtgraph API
        self.sigClicked.emit(self, ev)


def _arrow_barbs(head: QPointF, tail: QPointF, size: float) -> tuple[list[float], list[float]]:
    ang = math.atan2(tail.y() - head.y(), tail.x() - head.x())
    bx = [head.x() + size * math.cos(ang + d) for d in (0.45, -0.45)]
    by = [head.y() + size * math.sin(ang + d) for d in (0.45, -0.45)]
    return [bx[0], head.x(), bx[1]], [by[0], head.y(), by[1]]


class HandlesGraphic(_Graphic):
    """Angles and arrows: their points are handles to drag (live, then one undoable edit), as the
    caliper's; an arrow gets its head drawn at the first point."""

    def __init__(self, layer, m: Angle | Arrow, interactive: bool = True) -> None:
        super().__init__(layer)
        self.id = m.id
        self.kind = m.kind
        n = 3 if isinstance(m, Angle) else 2
        self.roi = _PointsROI([(float(i), 0.0) for i in range(n)], closed=False, pen=_pen(NORMAL),
                              movable=interactive, hoverPen=_pen(SELECTED, 2.2), handlePen=_pen(NORMAL),
                              handleHoverPen=_pen(SELECTED))
        self.barbs = pg.PlotCurveItem(pen=_pen(NORMAL, 2.2)) if isinstance(m, Arrow) else None
        self._wire_roi(layer, NORMAL, interactive)
        if self.barbs is not None:
            self.barbs.setZValue(55)
            self.add(self.barbs)

    def _points_scene(self) -> list[QPointF]:
        return [self.roi.mapToParent(h.pos()) for h in self.roi.getHandles()]

    def show(self, m: Measurement, scene_pts: np.ndarray) -> None:
        if not self.dragging:
            self._setting = True
            try:
                for h, p in zip(self.roi.getHandles(), scene_pts):
                    self.roi.movePoint(h, QPointF(float(p[0]), float(p[1])), finish=False)
            finally:
                self._setting = False
        pts = self._points_scene()
        px = self.vb.viewPixelSize()[0] if self.vb.width() > 0 else 0.5
        if self.barbs is not None:
            self.barbs.setData(*_arrow_barbs(pts[0], pts[1], PolylineGraphic.ARROW_HEAD_PX * px))
            at = pts[1]
            self.label.setText(m.label)
        else:
            at = max(pts, key=lambda q: q.x())
            self.label.setText(angle_text(m) if isinstance(m, Angle) else m.label)
        self.label.setPos(at.x() + 8 * px, at.y())

    def _record(self) -> Measurement | None:
        m = self.layer.store.get(self.id)
        if m is None:
            return None
        vp = self.layer.viewport
        lps = [vec3(vp.scene_to_patient(p.x(), p.y())) for p in self._points_scene()]
        if isinstance(m, Angle):
            return Angle(series_uid=m.series_uid, label=m.label, id=m.id, p1=lps[0], vertex=lps[1], p2=lps[2])
        return Arrow(series_uid=m.series_uid, label=m.label, id=m.id, head=lps[0], tail=lps[1])

    _started = CaliperGraphic._started
    _moved = CaliperGraphic._moved
    _finished = CaliperGraphic._finished

    def set_selected(self, on: bool) -> None:
        color = SELECTED if on else NORMAL
        self.roi.setPen(_pen(color, 2.0 if on else 1.6))
        self.label.setColor(color)
        if self.barbs is not None:
            self.barbs.setPen(_pen(color, 2.6 if on else 2.2))


class MeasurementLayer(QObject):
    """All measurement graphics of one viewport."""

    def __init__(self, viewport, store) -> None:
        super().__init__(viewport)
        self.viewport = viewport
        self.store = store
        self.graphics: dict[str, _Graphic] = {}
        self._draft: _Graphic | None = None
        self._draft_kind: str | None = None
        self._probe: PointGraphic | None = None
        self.movable = True
        #: False while the store is read-only: records drawn without handles, never dragged
        self.editable = not getattr(store, "read_only", False)
        #: False while every annotation is hidden (Ctrl+H)
        self.visible = True
        viewport.layers.append(self)
        viewport.measurement_layer = self
        store.added.connect(self._sync)
        store.changed.connect(self._sync)
        store.removed.connect(self._removed)
        store.selected.connect(self._selected)
        if hasattr(store, "read_only_changed"):
            store.read_only_changed.connect(self._read_only_changed)
        viewport.vb.sigRangeChanged.connect(self._zoomed)

    # -- viewport notifications -------------------------------------------------------------
    def volume_changed(self, _vp=None) -> None:
        for g in self.graphics.values():
            g.remove()
        self.graphics.clear()
        self.set_draft(None)
        if self._probe:
            self._probe.remove()
            self._probe = None
        self.sync_all()

    def slice_changed(self, _vp=None) -> None:
        self.sync_all()
        if self._probe:
            self._probe.set_visible(False)

    def sync_all(self) -> None:
        for m in self.store.items():
            self._sync(m)

    def _read_only_changed(self, on: bool) -> None:
        """Draw every record again, with handles (editable) or without (read-only)."""
        self.editable = not on
        for g in self.graphics.values():
            g.remove()
        self.graphics.clear()
        self.sync_all()

    # -- store notifications ----------------------------------------------------------------
    def _on_slice(self, pts_lps) -> np.ndarray | None:
        vp = self.viewport
        if vp.volume is None:
            return None
        s = vp.patient_to_scene(np.asarray(pts_lps, float).reshape(-1, 3))
        if np.all(np.abs(s[:, 2] - vp.slice) <= 0.5 + 1e-6):
            return s
        return None

    def _sync(self, m: Measurement) -> None:
        vp = self.viewport
        g = self.graphics.get(m.id)
        if vp.volume is None or m.series_uid != vp.volume.series_uid or self.store.drawing_claimed(m.id):
            if g:
                g.set_visible(False)
            return
        s = None
        sel = self.store.selected_id() == m.id
        if isinstance(m, Caliper):
            s = self._on_slice([m.p1, m.p2])
            if s is not None:
                if g is None:
                    g = self.graphics[m.id] = CaliperGraphic(self, m, self.editable, NORMAL)
                    g.roi.translatable = self.movable and self.editable
                    g.set_selected(sel)
                g.show(m, s)
        elif isinstance(m, EllipseROI):
            s = self._on_slice([*m.major, *m.minor])
            if s is not None:
                if g is None:
                    g = self.graphics[m.id] = EllipseGraphic(self, m, self.editable, NORMAL)
                    g.roi.translatable = self.movable and self.editable
                    g.set_selected(sel)
                g.show(m, s[:2, :2], s[2:, :2])
        elif isinstance(m, Landmark):
            s = self._on_slice([m.point])
            if s is not None:
                if g is None:
                    g = self.graphics[m.id] = PointGraphic(self)
                g.show(s[0], m.label or m.landmark.replace("_", " "))
                g.set_selected(sel)
        elif isinstance(m, SphereROI):
            sc = vp.patient_to_scene(np.asarray(m.center, float))
            d_mm = abs(sc[2] - vp.slice) * vp.mapping.slice_spacing
            if d_mm < m.radius_mm:
                s = sc
                if g is None:
                    g = self.graphics[m.id] = SphereGraphic(self)
                mean = m.stats.get("mean")
                g.show(sc, math.sqrt(m.radius_mm ** 2 - d_mm ** 2),
                       (m.label or "Sphere") + (f"  {mean:.1f}" if mean is not None else ""))
        elif isinstance(m, (Angle, FreehandROI, Arrow)):
            s = self._sync_polyline(m, g, sel)
            g = self.graphics.get(m.id)
        elif isinstance(m, Lesion3D):
            s = self._on_slice(list(m.endpoints))
            if s is not None:
                if g is None:
                    g = self.graphics[m.id] = LineGraphic(self)
                gd = m.figures.get("greatest_dimension_mm")
                g.show(s[0], s[1], (m.label or "Lesion") + (f" {gd:.1f} mm" if gd else ""))
        if g is not None:
            g.set_visible(s is not None and self.visible)

    def _sync_polyline(self, m: Measurement, g: _Graphic | None, sel: bool) -> np.ndarray | None:
        s = self._on_slice(polyline_points(m))
        if s is None:
            return None
        if g is None:
            if isinstance(m, (Angle, Arrow)):
                g = HandlesGraphic(self, m, self.editable)
                g.roi.translatable = self.movable and self.editable
            else:
                g = PolylineGraphic(self)
                g.line.setClickable(True, width=6)  # a click on the outline selects it
                g.line.sigClicked.connect(lambda *_a, mid=m.id: self.store.select(mid))
            self.graphics[m.id] = g
            g.set_selected(sel)
        if isinstance(g, HandlesGraphic):
            g.show(m, s[:, :2])
        else:
            self._show_polyline(g, m, s)
        return s

    def _show_polyline(self, g: _Graphic, m: Measurement, s: np.ndarray) -> None:
        assert isinstance(g, PolylineGraphic)
        unit = "HU" if self.viewport.volume is not None and self.viewport.volume.unit == "HU" else ""
        if isinstance(m, Angle):
            g.show(s[:, :2], angle_text(m))
        elif isinstance(m, FreehandROI):
            g.show(s[:, :2], freehand_text(m, unit), closed=True)
        elif isinstance(m, Arrow):
            g.show(s[:, :2], m.label, arrow=True)

    def _zoomed(self, *_args) -> None:
        """Arrow heads are sized in screen pixels: redrawn when the zoom changes."""
        for mid, g in self.graphics.items():
            if isinstance(g, HandlesGraphic) and g.barbs is not None and not g.dragging:
                m = self.store.get(mid)
                if m is not None:
                    self._sync(m)

    def set_annotations_visible(self, on: bool) -> None:
        """Show or hide every measurement, draft and probe of this view (the records stay)."""
        self.visible = bool(on)
        for g in self.graphics.values():
            g.set_visible(False)
        if self._probe:
            self._probe.set_visible(False)
        if self._draft:
            self._draft.set_visible(self.visible)
        if self.visible:
            self.sync_all()

    def set_movable(self, on: bool) -> None:
        """Whether dragging a measurement's body moves it (handles always can be dragged)."""
        self.movable = on
        for g in self.graphics.values():
            if hasattr(g, "roi"):
                g.roi.translatable = on and self.editable

    def _removed(self, m: Measurement) -> None:
        g = self.graphics.pop(m.id, None)
        if g:
            g.remove()

    def _selected(self, m: Measurement | None) -> None:
        for mid, g in self.graphics.items():
            g.set_selected(m is not None and mid == m.id)

    # -- tool feedback ----------------------------------------------------------------------
    def set_draft(self, m: Measurement | None) -> None:
        vp = self.viewport
        if m is None or vp.volume is None:
            if self._draft:
                self._draft.remove()
            self._draft, self._draft_kind = None, None
            return
        if self._draft is None or self._draft_kind != m.kind:
            if self._draft:
                self._draft.remove()
            if isinstance(m, (Angle, FreehandROI, Arrow)):
                self._draft = PolylineGraphic(self, DRAFT)
            else:
                self._draft = CaliperGraphic(self, m, False) if isinstance(m, Caliper) \
                    else EllipseGraphic(self, cast(EllipseROI, m), False)
            self._draft_kind = m.kind
        if isinstance(m, (Angle, FreehandROI, Arrow)):
            self._show_polyline(self._draft, m, vp.patient_to_scene(np.asarray(polyline_points(m))))
        elif isinstance(m, Caliper):
            s = vp.patient_to_scene(np.asarray([m.p1, m.p2]))
            self._draft.show(m, s)
        else:
            e = cast(EllipseROI, m)  # the drafts are polylines, calipers and ellipses
            s = vp.patient_to_scene(np.asarray([*e.major, *e.minor]))
            self._draft.show(e, s[:2, :2], s[2:, :2])

    def show_probe(self, scene_xy, text: str) -> None:
        if self._probe is None:
            self._probe = PointGraphic(self, color=(120, 255, 255))
        self._probe.show(scene_xy, text)
        self._probe.set_visible(bool(text) and self.visible)

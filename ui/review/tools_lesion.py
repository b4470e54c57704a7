"""In-viewer 3D lesion tools: grow from one click (G), correct with a brush / eraser (B, Shift+B).

* **Grow lesion** (G): a click inside the mass in any viewport runs
  :func:`workstation.measure.segment.grow_lesion` on a worker thread (the UI keeps running; the
  status bar says what is happening; a bad seed's one-line error is shown there). The result becomes
  a ``Lesion3D`` record in ``host.measurements``, the mask is drawn as a semi-transparent overlay in
  every viewport showing that series (the same slice extraction as the image:
  ``PlaneMapping.image``), and the 3D greatest dimension is drawn between its two end points (its
  projection on each view whose slice it crosses). The controller gets the composition
  suggestions as *pending suggestions* (never ticked). The tool writes no findings field: the
  review's measurement link (``ui.review.link``) turns the record into ``greatest_dimension_mm``
  when the lesion is the target (the first one grown, or the one the reader makes the target).
* **Brush / Eraser** (B / Shift+B; radius in mm with ``[`` and ``]``): paint a disc in the plane of
  the view (axial, coronal or sagittal) into the active lesion's mask. After a short pause the mask
  is re-measured with :func:`~workstation.measure.segment.measure_mask` (worker thread) and the
  record, the line and the fields follow. Each stroke is one step on the measurement undo stack
  (Ctrl+Z): the changed plane is kept, not the whole mask.
* **Go to lesion** (Shift+G): puts the crosshair on the middle of the greatest-dimension line.

The review module creates :class:`LesionTools` and hands it to the parts that need the lesions
(the session autosave saves the masks; the export dialog exports the active lesion's figures);
elsewhere it is ``host.module("rp_review").lesion_tools``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, QRectF, QRunnable, Qt, QThreadPool, QTimer, pyqtSignal
from PyQt6.QtGui import QUndoCommand
from PyQt6.QtWidgets import QGraphicsEllipseItem

from workstation.errors import WorkstationError
from workstation.measure.model import Lesion3D
from workstation.measure.segment import LesionResult, grow_lesion, measure_mask
from workstation.volume import Volume

from ..tools import Tool

__all__ = ["LesionTools", "LesionEntry", "GrowLesionTool", "BrushTool",
           "Worker", "GROW_SOURCE", "BRUSH_SOURCE"]

GROW_SOURCE = "3D lesion growing"
BRUSH_SOURCE = "3D lesion growing, brush-corrected"
MASK_RGBA = (255, 120, 30, 105)        # semi-transparent orange: visible over soft-tissue windows
LINE_RGB = (255, 235, 60)
BRUSH_RADIUS_MM = (1.0, 5.0, 40.0)     # min, default, max
REMEASURE_DELAY_MS = 300


# ---------------------------------------------------------------------------------- worker
class _JobSignals(QObject):
    done = pyqtSignal(object)
    failed = pyqtSignal(str)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], signals: _JobSignals) -> None:
        super().__init__()
        self.fn, self.signals = fn, signals

    def run(self) -> None:  # worker thread: computation only, results go back by signal
        try:
            result = self.fn()
        except WorkstationError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # an unexpected failure must reach the status bar, not kill the app
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.signals.done.emit(result)


class Worker(QObject):
    """Runs a function on a thread pool; ``on_done(result)`` / ``on_failed(message)`` are called
    on the GUI thread."""

    def __init__(self, parent: QObject | None = None, threads: int = 1) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._live: set[_JobSignals] = set()

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
            on_failed: Callable[[str], None]) -> None:
        sig = _JobSignals()
        self._live.add(sig)

        def finish(cb, arg):
            self._live.discard(sig)
            cb(arg)

        q = Qt.ConnectionType.QueuedConnection
        sig.done.connect(lambda r: finish(on_done, r), q)  # type: ignore[call-arg]  # PyQt6 stubs lack the type
        sig.failed.connect(lambda m: finish(on_failed, m), q)  # type: ignore[call-arg]
        self.pool.start(_Job(fn, sig))

    def busy(self) -> bool:
        return bool(self._live)

    def wait(self, ms: int = 30000) -> bool:
        return self.pool.waitForDone(ms)


# ---------------------------------------------------------------------------------- state
@dataclass
class LesionEntry:
    """One lesion: its mask on its series, and the latest figures."""

    id: str
    volume: Volume
    mask: np.ndarray                      # bool [k, j, i] on volume's grid
    result: LesionResult | None = None
    seed: tuple[float, float, float] | None = None
    generation: int = 0                   # bumped on every mask edit (stale re-measures dropped)
    visible: bool = True
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class _StrokeCommand(QUndoCommand):
    """One brush/eraser stroke: the plane of the mask before and after."""

    def __init__(self, tools: LesionTools, lesion_id: str, axis: int, index: int,
                 before: np.ndarray, after: np.ndarray, erase: bool) -> None:
        super().__init__("erase lesion" if erase else "paint lesion")
        self.tools, self.lesion_id, self.axis, self.index = tools, lesion_id, axis, index
        self.before, self.after = before, after
        self._first = True

    def _put(self, plane: np.ndarray) -> None:
        e = self.tools.entries.get(self.lesion_id)
        if e is None:
            return
        idx: list = [slice(None)] * 3
        idx[self.axis] = self.index
        e.mask[tuple(idx)] = plane
        self.tools.mask_edited(e)

    def redo(self) -> None:
        if self._first:  # the stroke is already in the mask
            self._first = False
            return
        self._put(self.after)

    def undo(self) -> None:
        self._put(self.before)


# ---------------------------------------------------------------------------------- drawing
class LesionOverlay:
    """The lesion masks and greatest-dimension lines in one viewport (a viewport layer)."""

    def __init__(self, tools: LesionTools, vp) -> None:
        self.tools, self.vp = tools, vp
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(20)
        self.image.setVisible(False)
        lut = np.zeros((2, 4), np.ubyte)
        lut[1] = MASK_RGBA
        self.lut = lut
        vp.vb.addItem(self.image, ignoreBounds=True)
        self.line = pg.PlotCurveItem(pen=pg.mkPen(color=LINE_RGB, width=2))
        self.line.setZValue(57)
        self.ends = pg.ScatterPlotItem(size=9, symbol="o", pen=pg.mkPen(LINE_RGB, width=1.5),
                                       brush=pg.mkBrush(*LINE_RGB, 180))
        self.ends.setZValue(57)
        self.label = pg.TextItem(color=LINE_RGB, anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 140))
        self.label.setZValue(60)
        for it in (self.line, self.ends, self.label):
            it.setVisible(False)
            vp.vb.addItem(it, ignoreBounds=True)
        self.brush_circle = QGraphicsEllipseItem()
        self.brush_circle.setPen(pg.mkPen(color=(255, 255, 255, 200), width=1, style=Qt.PenStyle.DashLine))
        self.brush_circle.setZValue(58)
        self.brush_circle.setVisible(False)
        vp.vb.addItem(self.brush_circle, ignoreBounds=True)
        vp.layers.append(self)

    # viewport layer protocol
    def volume_changed(self, _vp=None) -> None:
        self.update()

    def slice_changed(self, _vp=None) -> None:
        self.update()

    def entries_here(self) -> list[LesionEntry]:
        v = self.vp.volume
        if v is None:
            return []
        return [e for e in self.tools.entries.values()
                if e.visible and e.volume.series_uid == v.series_uid and e.mask.shape == v.shape]

    def update(self) -> None:
        vp = self.vp
        here = self.entries_here()
        if vp.volume is None or vp.mapping is None or not here:
            for it in (self.image, self.line, self.ends, self.label):
                it.setVisible(False)
            return
        m = vp.mapping
        img = None
        for e in here:
            s = m.image(e.mask, vp.slice)
            img = s.copy() if img is None else (img | s)
        img8 = np.ascontiguousarray(img, dtype=np.uint8)
        self.image.setImage(img8, autoLevels=False, levels=(0, 1), lut=self.lut)
        self.image.setRect(QRectF(*m.image_rect()))
        self.image.setVisible(bool(img8.any()))
        self._update_line(here)

    def _update_line(self, here: list[LesionEntry]) -> None:
        vp = self.vp
        xs, ys, ex, ey, text, pos = [], [], [], [], "", None
        for e in here:
            r = e.result
            if r is None:
                continue
            s = vp.patient_to_scene(np.asarray(r.endpoints, float))
            lo, hi = sorted((float(s[0, 2]), float(s[1, 2])))
            if not (lo - 0.5 <= vp.slice <= hi + 0.5):
                continue  # the line does not cross this slice
            xs += [float(s[0, 0]), float(s[1, 0]), np.nan]
            ys += [float(s[0, 1]), float(s[1, 1]), np.nan]
            ex += [float(s[0, 0]), float(s[1, 0])]
            ey += [float(s[0, 1]), float(s[1, 1])]
            text = f"{e.label or 'Lesion'}: {r.greatest_dimension_mm:.1f} mm (3D)"
            pos = s[int(np.argmax(s[:, 0]))]
        if not xs:
            for it in (self.line, self.ends, self.label):
                it.setVisible(False)
            return
        self.line.setData(np.array(xs), np.array(ys), connect="finite")
        self.ends.setData(ex, ey)
        self.label.setText(text)
        px = vp.vb.viewPixelSize()[0] if vp.vb.width() > 0 else 0.5
        assert pos is not None  # set with the first line drawn
        self.label.setPos(float(pos[0]) + 6 * px, float(pos[1]))
        for it in (self.line, self.ends, self.label):
            it.setVisible(True)

    def line_shown(self) -> bool:
        return self.line.isVisible()

    def show_brush(self, scene_xy, radius_mm: float) -> None:
        x, y = scene_xy
        self.brush_circle.setRect(x - radius_mm, y - radius_mm, 2 * radius_mm, 2 * radius_mm)
        self.brush_circle.setVisible(True)

    def hide_brush(self) -> None:
        self.brush_circle.setVisible(False)


# ---------------------------------------------------------------------------------- tools
class GrowLesionTool(Tool):
    id, title, shortcut = "grow_lesion", "Grow lesion", "G"
    tooltip = "Grow lesion: click inside the mass; 3D volume, greatest dimension and composition (G)"

    def __init__(self, tools: LesionTools) -> None:
        self.tools = tools

    def click(self, ev) -> None:
        self.tools.grow(ev.volume, tuple(float(v) for v in ev.point))


class BrushTool(Tool):
    """Paint (or erase) a disc of ``radius_mm`` in the plane of the view into the active mask."""

    def __init__(self, tools: LesionTools, erase: bool) -> None:
        self.tools, self.erase = tools, erase
        if erase:
            self.id, self.title, self.shortcut = "lesion_eraser", "Eraser", "Shift+B"
            self.tooltip = "Eraser: remove voxels from the lesion in any view; [ and ] change the radius (Shift+B)"
        else:
            self.id, self.title, self.shortcut = "lesion_brush", "Brush", "B"
            self.tooltip = "Brush: add voxels to the lesion in any view; [ and ] change the radius (B)"
        self._stroke: dict[str, Any] | None = None

    def adjust_radius(self, step: int) -> None:
        self.tools.set_brush_radius(self.tools.brush_radius_mm + step)

    def deactivated(self) -> None:
        for ov in self.tools.overlays.values():
            ov.hide_brush()

    def click(self, ev) -> None:
        if self.tools.begin_stroke(ev.viewport, self.erase):
            self.tools.paint(ev.viewport, ev.index, ev.scene)
            self.tools.end_stroke()

    def drag(self, ev) -> None:
        if ev.phase == "start":
            if not self.tools.begin_stroke(ev.viewport, self.erase):
                return
            vp = ev.viewport
            start = vp.scene_to_index(*ev.start_scene)
            self.tools.paint(vp, start, ev.start_scene)
        if self.tools.stroke is None:
            return
        self.tools.paint(ev.viewport, ev.index, ev.scene)
        if ev.phase == "finish":
            self.tools.end_stroke()


# ---------------------------------------------------------------------------------- logic + wiring
class LesionTools(QObject):
    """Lesions of the study, their overlays, and the grow/brush tools.

    Signals: ``grown(lesion_id)``, ``grow_failed(message)``, ``measured(lesion_id)`` (figures
    updated after an edit), ``masks_changed()`` (any mask edit, for the autosave)."""

    grown = pyqtSignal(str)
    grow_failed = pyqtSignal(str)
    measured = pyqtSignal(str)
    masks_changed = pyqtSignal()

    def __init__(self, host, controller=None) -> None:
        super().__init__(host)
        self.host, self.controller = host, controller
        self.store = host.measurements
        self.entries: dict[str, LesionEntry] = {}
        self._hidden: dict[str, LesionEntry] = {}  # removed records (kept for redo)
        self.active_id: str | None = None
        self.worker = Worker(self)
        self.brush_radius_mm = BRUSH_RADIUS_MM[1]
        self.stroke: dict[str, Any] | None = None
        self._grow_gen = 0
        self.overlays: dict[int, LesionOverlay] = {}
        for vp in host.viewer.all_viewports():
            self.overlays[id(vp)] = LesionOverlay(self, vp)
        self._remeasure = QTimer(self)
        self._remeasure.setSingleShot(True)
        self._remeasure.setInterval(REMEASURE_DELAY_MS)
        self._remeasure.timeout.connect(self._start_remeasure)
        self._pending_measure: set[str] = set()
        self.store.removed.connect(self._record_removed)
        self.store.added.connect(self._record_added)
        self.store.selected.connect(self._record_selected)

        self.grow_tool = GrowLesionTool(self)
        self.brush_tool = BrushTool(self, erase=False)
        self.eraser_tool = BrushTool(self, erase=True)
        for t in (self.grow_tool, self.brush_tool, self.eraser_tool):
            host.add_tool(t)
        self.act_smaller = host.new_action("Smaller brush / ROI", "[", slot=lambda: self._adjust(-1))
        self.act_larger = host.new_action("Larger brush / ROI", "]", slot=lambda: self._adjust(+1))
        self.act_goto = host.new_action("Go to lesion", "Shift+G", slot=self.go_to_lesion)

    def _adjust(self, step: int) -> None:
        tool = self.host.tools.current_tool()
        if hasattr(tool, "adjust_radius"):
            tool.adjust_radius(step)
        else:
            self.set_brush_radius(self.brush_radius_mm + step)

    def set_brush_radius(self, r: float) -> None:
        lo, _, hi = BRUSH_RADIUS_MM
        self.brush_radius_mm = float(min(hi, max(lo, r)))
        self.host.status(f"Brush radius {self.brush_radius_mm:.0f} mm", 3000)

    # -- access for the other review modules -------------------------------------------------
    def active(self) -> LesionEntry | None:
        return self.entries.get(self.active_id) if self.active_id else None

    def masks(self) -> dict[str, np.ndarray]:
        return {lid: e.mask for lid, e in self.entries.items()}

    def lesion_series(self) -> dict[str, str]:
        return {lid: e.volume.series_uid for lid, e in self.entries.items()}

    # -- growing -----------------------------------------------------------------------------
    def grow(self, volume: Volume, xyz) -> None:
        if volume is None:
            return
        self._grow_gen += 1
        gen = self._grow_gen
        xyz = tuple(float(v) for v in xyz)
        self.host.status(f"Growing the lesion from ({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm …")
        self.worker.run(lambda: grow_lesion(volume, xyz),
                        lambda res: self._grown(gen, volume, xyz, res),
                        lambda msg: self._grow_error(gen, msg))

    def _grow_error(self, gen: int, message: str) -> None:
        if gen != self._grow_gen:
            return
        self.host.status(f"Grow lesion: {message}", 15000)
        self.grow_failed.emit(message)

    def _grown(self, gen: int, volume: Volume, xyz, res: LesionResult) -> None:
        if gen != self._grow_gen:
            return
        n = len(self.store.of_kind("lesion")) + 1
        used = {m.label for m in self.store.items()}
        while f"Lesion {n}" in used:
            n += 1
        rec = res.to_measurement(series_uid=volume.series_uid, label=f"Lesion {n}")
        entry = LesionEntry(rec.id, volume, res.mask, res, xyz, label=rec.label)
        self.entries[rec.id] = entry
        self.active_id = rec.id
        self.store.claim_drawing(rec.id)  # its line is drawn here, with the mask
        self.store.add(rec)
        self._redraw()
        self._suggest(entry)
        self.host.status(f"{rec.label}: {res.volume_ml:.1f} ml, greatest dimension "
                         f"{res.greatest_dimension_mm:.1f} mm (3D), axial {res.axial_long_mm:.1f} × "
                         f"{res.axial_short_mm:.1f} mm, craniocaudal {res.craniocaudal_mm:.1f} mm"
                         + (f", mean {res.mean_hu:.0f} HU" if res.mean_hu is not None else "")
                         + self._role_text(rec.id), 20000)
        self.masks_changed.emit()
        self.grown.emit(rec.id)

    def _role_text(self, lesion_id: str) -> str:
        """Whether the review made the lesion the target (the mass reported) or kept it as another."""
        m = self.store.get(lesion_id)
        flag = m.figures.get("target") if isinstance(m, Lesion3D) else None
        if flag is None:
            return ""
        return (" — target lesion (the mass)" if flag >= 0.5
                else " — kept as another lesion, not the target ('Make target', Shift+T, to change)")

    def _suggest(self, e: LesionEntry) -> None:
        """Composition suggestions for the reader (never ticked). The greatest dimension is not
        written here: the review's measurement link is its one writer (from the target lesion)."""
        c, r = self.controller, e.result
        if c is None or r is None:
            return
        for fid, reason in (r.suggestions or {}).items():
            c.suggest(fid, True, f"{e.label or 'lesion'}: {reason}")

    # -- restoring (session, SR) -------------------------------------------------------------
    def restore(self, record: Lesion3D, volume: Volume, mask: np.ndarray, remeasure: bool = True) -> None:
        """Put back a lesion whose record is (or is about to be) in the store."""
        seed = (float(record.seed[0]), float(record.seed[1]), float(record.seed[2]))
        e = LesionEntry(record.id, volume, np.asarray(mask, bool).copy(), None, seed, label=record.label)
        self.entries[record.id] = e
        self.active_id = record.id
        self.store.claim_drawing(record.id)
        if remeasure and e.mask.any():
            try:
                e.result = measure_mask(volume, e.mask, seed=record.seed)
            except WorkstationError as exc:
                self.host.status(f"{record.label or 'Lesion'}: {exc}", 10000)
        self._redraw()

    def clear(self) -> None:
        self.entries.clear()
        self._hidden.clear()
        self.active_id = None
        self._redraw()

    def close_study(self) -> None:
        """Another study is being opened: no masks or overlays, and a grow or re-measure still
        running on the old study is ignored when it finishes."""
        self._grow_gen += 1
        self._remeasure.stop()
        self._pending_measure.clear()
        self.stroke = None
        for ov in self.overlays.values():
            ov.hide_brush()
            ov.image.clear()
        self.clear()

    # -- brush -------------------------------------------------------------------------------
    def entry_for(self, volume: Volume | None) -> LesionEntry | None:
        if volume is None:
            return None
        a = self.active()
        if a is not None and a.volume.series_uid == volume.series_uid:
            return a
        for e in reversed(list(self.entries.values())):
            if e.volume.series_uid == volume.series_uid:
                return e
        return None

    def begin_stroke(self, vp, erase: bool) -> bool:
        e = self.entry_for(vp.volume)
        if e is None:
            self.host.status("Brush: grow a lesion on this series first (G, then click inside the mass)", 6000)
            return False
        m = vp.mapping
        axis = m.slice_axis
        index = int(round(m.slice_to_index(vp.slice)))
        idx: list = [slice(None)] * 3
        idx[axis] = index
        self.stroke = {"entry": e, "axis": axis, "index": index, "erase": erase,
                       "before": e.mask[tuple(idx)].copy(), "last": None, "vp": vp}
        return True

    def paint(self, vp, kji, scene_xy=None) -> None:
        st = self.stroke
        if st is None or vp is not st["vp"]:
            return
        kji = np.asarray(kji, float)
        last = st["last"]
        pts = [kji]
        if last is not None:  # fill the gaps between pointer events
            sp = np.asarray(vp.volume.spacing_mm, float)
            dist = float(np.linalg.norm((kji - last) * sp))
            n = int(math.ceil(dist / max(0.5 * self.brush_radius_mm, 0.5)))
            pts = [last + (kji - last) * (t / n) for t in range(1, n + 1)] if n > 1 else [kji]
        for p in pts:
            self._disc(st, vp.mapping, p)
        st["last"] = kji
        e = st["entry"]
        e.generation += 1
        ov = self.overlays.get(id(vp))
        if ov is not None and scene_xy is not None:
            ov.show_brush(scene_xy, self.brush_radius_mm)
        self._redraw()

    def _disc(self, st, m, kji: np.ndarray) -> None:
        e: LesionEntry = st["entry"]
        shape = e.mask.shape
        sp = e.volume.spacing_mm
        ra, ca = m.row_axis, m.col_axis
        r = self.brush_radius_mm
        cr, cc = float(kji[ra]), float(kji[ca])
        r0 = max(0, int(math.floor(cr - r / sp[ra])))
        r1 = min(shape[ra] - 1, int(math.ceil(cr + r / sp[ra])))
        c0 = max(0, int(math.floor(cc - r / sp[ca])))
        c1 = min(shape[ca] - 1, int(math.ceil(cc + r / sp[ca])))
        if r0 > r1 or c0 > c1:
            return
        rr = np.arange(r0, r1 + 1)[:, None]
        cc_ = np.arange(c0, c1 + 1)[None, :]
        disc = ((rr - cr) * sp[ra]) ** 2 + ((cc_ - cc) * sp[ca]) ** 2 <= r * r
        idx: list = [slice(None)] * 3
        idx[st["axis"]] = st["index"]
        idx[ra] = slice(r0, r1 + 1)
        idx[ca] = slice(c0, c1 + 1)
        sub = e.mask[tuple(idx)]          # a view; its axes are in index order
        d = disc if ra < ca else disc.T
        sub[d] = not st["erase"]

    def end_stroke(self) -> None:
        st, self.stroke = self.stroke, None
        if st is None:
            return
        e: LesionEntry = st["entry"]
        idx: list = [slice(None)] * 3
        idx[st["axis"]] = st["index"]
        after = e.mask[tuple(idx)].copy()
        ov = self.overlays.get(id(st["vp"]))
        if ov is not None:
            ov.hide_brush()
        if np.array_equal(after, st["before"]):
            return
        self.store.undo_stack.push(_StrokeCommand(self, e.id, st["axis"], st["index"], st["before"],
                                                  after, st["erase"]))
        self.mask_edited(e)

    def mask_edited(self, e: LesionEntry) -> None:
        """A mask changed (stroke or its undo): redraw now, re-measure after a pause."""
        e.generation += 1
        self._redraw()
        self._pending_measure.add(e.id)
        self._remeasure.start()
        self.masks_changed.emit()

    def _start_remeasure(self) -> None:
        ids, self._pending_measure = self._pending_measure, set()
        for lid in ids:
            e = self.entries.get(lid)
            if e is None:
                continue
            gen, mask, vol, seed = e.generation, e.mask.copy(), e.volume, e.seed
            self.host.status(f"{e.label or 'Lesion'}: measuring the corrected mask …")
            self.worker.run(partial(measure_mask, vol, mask, seed=seed),
                            partial(self._remeasured, lid, gen),
                            lambda msg: self.host.status(f"Lesion: {msg}", 10000))

    def _remeasured(self, lid: str, gen: int, res: LesionResult) -> None:
        e = self.entries.get(lid)
        if e is None or e.generation != gen:
            return  # edited again meanwhile: a newer measurement is on its way
        e.result = res
        old = self.store.get(lid)
        if old is not None:
            rec = res.to_measurement(series_uid=e.volume.series_uid, label=old.label)
            rec.id = lid
            rec.seed = old.seed
            if isinstance(old, Lesion3D) and "target" in old.figures:  # the reader's target choice stays
                rec.figures["target"] = old.figures["target"]
            self.store.update(rec, undoable=False)
        self._redraw()
        self._suggest(e)
        self.host.status(f"{e.label or 'Lesion'} corrected: {res.volume_ml:.1f} ml, greatest dimension "
                         f"{res.greatest_dimension_mm:.1f} mm (3D)", 10000)
        self.measured.emit(lid)

    # -- store events ------------------------------------------------------------------------
    def _record_removed(self, m) -> None:
        e = self.entries.pop(m.id, None)
        if e is not None:
            self._hidden[m.id] = e
            if self.active_id == m.id:
                self.active_id = next(reversed(list(self.entries)), None) if self.entries else None
            self._redraw()
            self.masks_changed.emit()

    def _record_added(self, m) -> None:
        e = self._hidden.pop(m.id, None)
        if e is not None:  # undo of a delete / redo of an add
            self.entries[m.id] = e
            self.active_id = m.id
            self._redraw()
            self.masks_changed.emit()

    def _record_selected(self, m) -> None:
        if m is not None and m.id in self.entries:
            self.active_id = m.id

    # -- view --------------------------------------------------------------------------------
    def _redraw(self) -> None:
        for ov in self.overlays.values():
            ov.update()

    def go_to_lesion(self) -> None:
        e = self.active()
        if e is None or e.result is None:
            self.host.status("No grown lesion to go to", 3000)
            return
        mid = (np.asarray(e.result.endpoints[0]) + np.asarray(e.result.endpoints[1])) / 2
        self.host.viewer.jump_to(mid, e.volume.series_uid, self.host.volumes())

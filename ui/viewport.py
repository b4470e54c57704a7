"""One slice viewport: a pyqtgraph ViewBox + ImageItem showing a volume in one plane.

Rendering uses the scene (``ImageItem.setImage(..., levels=...)`` on numpy views, ``setRect`` in
millimetres for the true aspect ratio); overlays are scene text items positioned in pixels. Input
follows the radiology viewers (Horos/OHIF/Slicer): wheel scrolls, ctrl+wheel zooms, right-drag
windows, middle-drag pans, left button goes to the current tool. pyqtgraph's own mouse zoom/pan and
context menu are switched off.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QGraphicsItem, QGraphicsLineItem, QGraphicsSimpleTextItem, QGraphicsView

from workstation.volume import Volume

from .display import Window, WindowState, drag_sensitivity, lut_index, lut_supported, window_lut_rgb32
from .geometry import PlaneMapping, plane_mapping

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

#: crosshair / frame colours per view, as 3D Slicer (red axial, green coronal, yellow sagittal)
VIEW_COLORS = {"axial": (230, 80, 80), "coronal": (90, 200, 90), "sagittal": (230, 210, 70)}
OVERLAY_COLOR = QColor(225, 225, 225)
LETTER_COLOR = QColor(255, 190, 60)
_AXIS_NAME = {"axial": "Z", "coronal": "Y", "sagittal": "X"}
#: keys a focused view handles itself (not actions): key -> slices to move ("home"/"end": ends)
SLICE_KEYS: dict[Qt.Key, int | str] = {
    Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Left: -1,
    Qt.Key.Key_PageDown: 10, Qt.Key.Key_PageUp: -10, Qt.Key.Key_Home: "home", Qt.Key.Key_End: "end"}
_SLICE_KEYS_BY_CODE = {int(k.value): v for k, v in SLICE_KEYS.items()}
#: what the help screen lists for the keys above and the mouse (the handlers below implement them)
VIEW_INPUT_HELP: tuple[tuple[str, str], ...] = (
    ("Down / Right, Up / Left", "Next / previous image"),
    ("PgDown / PgUp", "10 images forward / back"),
    ("Home / End", "First / last image"),
    ("Mouse wheel", "Next / previous image"),
    ("Ctrl + wheel", "Zoom"),
    ("Right drag", "Window / level"),
    ("Middle drag", "Pan"),
    ("Left button", "The current tool"),
    ("Double-click", "Maximise the view / back to the layout"),
)
#: scale bar lengths to choose from (mm), and the most of the view's width it may take
SCALE_BAR_MM = (1, 2, 5, 10, 20, 50, 100, 200, 500)
SCALE_BAR_MAX_FRACTION = 0.25
#: bilinear display interpolation comes back this long after the last scroll or window change
SMOOTH_AFTER_MS = 150


@dataclass
class PointerEvent:
    """A left-button event in a viewport, in every coordinate a tool may want."""

    viewport: SliceViewport
    phase: str                 # "click", "start", "move", "finish"
    scene: tuple[float, float]  # mm in the displayed plane
    index: np.ndarray          # fractional (k, j, i)
    point: np.ndarray          # LPS mm
    modifiers: Qt.KeyboardModifier
    start_scene: tuple[float, float] | None = None

    @property
    def volume(self) -> Volume:
        # events are made only while the viewport shows a volume
        return cast(Volume, self.viewport.volume)


class PointerTool(Protocol):
    """What a viewport's active tool answers: a click, or a drag's start/move/finish."""

    def click(self, ev: PointerEvent) -> None: ...

    def drag(self, ev: PointerEvent) -> None: ...


def display_person_name(value) -> str:
    """A DICOM PN for the overlay: components separated by spaces. Tolerates a name that arrived
    split into single characters joined by backslashes (a multi-valued join of a PersonName)."""
    s = str(value or "")
    parts = s.split("\\")
    if len(parts) > 2 and all(len(p) <= 1 for p in parts):
        s = "".join(parts)
    return " ".join(p for p in s.split("^") if p).strip()


class _SliceBox(pg.ViewBox):
    """ViewBox whose mouse handling is the viewport's (no pyqtgraph zoom/pan/menu)."""

    def __init__(self, owner: SliceViewport) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self.owner = owner
        self.setMouseEnabled(False, False)

    def wheelEvent(self, ev, axis=None):  # noqa: N802 - Qt API
        self.owner._on_wheel(ev)
        ev.accept()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        self.owner._on_drag(ev)

    def mouseClickEvent(self, ev):  # noqa: N802
        self.owner._on_click(ev)


_INVERTED_GREY = np.arange(255, -1, -1, dtype=np.uint8)


class WindowedImageItem(pg.ImageItem):
    """An ``ImageItem`` that keeps the slice's own values (``image``) and the window (``levels``),
    and renders 8/16-bit integer slices through a cached lookup table: one ``np.take`` into a
    reused uint8 buffer shown as a Grayscale8 QImage, instead of pyqtgraph rescaling the image on
    each change. Anything else (float volumes) renders as pyqtgraph does. Rendering happens once,
    at the next paint, however many times the image or the levels changed before it."""

    lut: np.ndarray | None  # pyqtgraph's lookup table (None: levels only)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._grey_buf: np.ndarray | None = None
        #: bilinear scaling when drawn (False while the user drags or scrolls: see SliceViewport)
        self.smooth = True
        #: grey scale inverted (white for low values): :meth:`set_invert`
        self.invert = False

    def set_invert(self, on: bool) -> None:
        """White for low values (re-rendered at the next paint)."""
        if bool(on) != self.invert:
            self.invert = bool(on)
            self._renderRequired = True
            self.update()

    def paint(self, p, *args) -> None:
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
        # the image is an axis-aligned rectangle: antialiasing would only blend its border pixels,
        # and takes Qt's raster engine off its fast scaled-blit path
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        super().paint(p, *args)

    def render(self) -> None:
        img, levels = self.image, self.levels
        if img is None or levels is None or self.lut is not None or not lut_supported(img) \
                or np.ndim(levels) != 1:
            if self.invert and self.lut is None:  # float slices: pyqtgraph's path, reversed grey
                self.lut = _INVERTED_GREY
                try:
                    super().render()
                finally:
                    self.lut = None
                return
            super().render()
            return
        lut = window_lut_rgb32(img.dtype.str, float(levels[0]), float(levels[1]), self.invert)
        if self._grey_buf is None or self._grey_buf.shape != img.shape:
            self._grey_buf = np.empty(img.shape, np.uint32)
        # mode="wrap": every bit pattern has its entry, so no index can be out of range, and numpy
        # skips its bounds check (half the time of the default mode="raise")
        np.take(lut, lut_index(img), out=self._grey_buf, mode="wrap")
        self.qimage = pg.functions.ndarray_to_qimage(self._grey_buf, QImage.Format.Format_RGB32)
        self._renderRequired = False
        self._unrenderable = False


class _CrosshairLine(QGraphicsLineItem):
    """A horizontal (``angle=0``) or vertical (``angle=90``) crosshair line across the view, at
    scene coordinate :meth:`value`. A plain Qt line item, far longer than any patient: its
    geometry and bounding box are Qt's own, where pyqtgraph's ``InfiniteLine`` recomputed them in
    Python against the view on every move and paint (~0.5 ms of each slice step or window
    change for the six lines). Drawn without antialiasing: a screen-long antialiased line with
    alpha costs ~10x more to draw, and an axis-aligned line looks the same."""

    EXTENT_MM = 1.0e4

    def __init__(self, angle: int, pen: QPen) -> None:
        super().__init__()
        self.angle = angle
        e = self.EXTENT_MM
        if angle == 90:
            self.setLine(0.0, -e, 0.0, e)
        else:
            self.setLine(-e, 0.0, e, 0.0)
        self.setPen(pen)
        self._value = 0.0

    def value(self) -> float:
        return self._value

    def set_value(self, v: float) -> None:
        """Move the line to scene x (vertical) or y (horizontal) ``v``."""
        if v != self._value:
            self._value = v
            self.setPos(QPointF(v, 0.0) if self.angle == 90 else QPointF(0.0, v))

    def paint(self, p, *args) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        super().paint(p, *args)


def _text_item(scene, size: int, color: QColor, bold: bool = False) -> QGraphicsSimpleTextItem:
    item = QGraphicsSimpleTextItem()
    f = QFont("DejaVu Sans")
    f.setPixelSize(size)
    f.setBold(bold)
    item.setFont(f)
    item.setBrush(color)
    item.setZValue(1000)
    scene.addItem(item)
    return item


class SliceViewport(pg.GraphicsView):
    """A view ("axial", "coronal", "sagittal") of one volume at one patient point.

    Signals: ``point_requested(viewport, xyz)`` when the user moves through slices (the viewer
    decides who follows), ``activated(viewport)`` on any click/wheel/key, ``hovered(viewport, xyz,
    value)`` under the mouse, ``slice_changed(viewport)`` after the shown slice changed.
    """

    point_requested = pyqtSignal(object, object)
    activated = pyqtSignal(object)
    double_clicked = pyqtSignal(object)
    hovered = pyqtSignal(object, object, object)
    slice_changed = pyqtSignal(object)

    def __init__(self, view: str, windows: WindowState, name: str | None = None, parent=None) -> None:
        super().__init__(parent, background=(0, 0, 0))
        self.view = view
        self.name = name or view
        self.windows = windows
        self.volume: Volume | None = None
        self.mapping: PlaneMapping | None = None
        self.slice = 0                       # display slice number (0 = first shown)
        self.point = np.zeros(3)             # the patient point this view shows (LPS mm)
        self.linked = True                   # follows the shared crosshair point
        self.tool_provider: Callable[[], PointerTool | None] | None = None
        self.patient_text_enabled = True
        self._wheel_accum = 0.0
        self._drag_window: tuple[Window, float] | None = None
        self._hover_scene: QPointF | None = None
        # while the user drags or scrolls, slices are drawn nearest-neighbour (Qt's bilinear scaling
        # of a 512^2 image costs ~3 ms a view in software); bilinear again this long after the last change
        self._smooth_timer = QTimer(self)
        self._smooth_timer.setSingleShot(True)
        self._smooth_timer.setInterval(SMOOTH_AFTER_MS)
        self._smooth_timer.timeout.connect(self._smooth_again)

        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(120, 120)
        # repaint one rectangle (the bounding box of what changed), not pyqtgraph's minimal region:
        # Qt's raster engine blits a scaled image fast only under a rectangular clip; under a
        # clip of several rectangles (image + corner text) it fills the image span by span on
        # its worker threads, ~4x the CPU (0.4 -> 1.7 ms a 512^2 slice, nearest)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        # the background is plain black: filling it is cheaper than copying pyqtgraph's cached
        # background pixmap under every repaint (~0.06 ms a 512^2 view)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
        # bilinear display interpolation, as Slicer/OHIF/Horos show slices by default
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.vb = _SliceBox(self)
        self.setCentralItem(self.vb)
        self.image = WindowedImageItem(axisOrder="row-major")
        self.image.setAutoDownsample(False)
        self.vb.addItem(self.image)
        color = VIEW_COLORS.get(view, (200, 200, 200))
        pen = pg.mkPen(color=color + (170,), width=1)
        self.hline = _CrosshairLine(angle=0, pen=pen)
        self.vline = _CrosshairLine(angle=90, pen=pen)
        for line in (self.hline, self.vline):
            line.setZValue(50)
            self.vb.addItem(line, ignoreBounds=True)
        self.crosshair_visible = True

        sc = self.scene()
        self.t_topleft = _text_item(sc, 13, OVERLAY_COLOR)
        self.t_topright = _text_item(sc, 13, OVERLAY_COLOR)
        self.t_bottomleft = _text_item(sc, 13, OVERLAY_COLOR)
        self.t_bottomright = _text_item(sc, 13, OVERLAY_COLOR)
        self.letters = {e: _text_item(sc, 17, LETTER_COLOR, bold=True) for e in ("left", "right", "top", "bottom")}
        self._frame = sc.addRect(QRectF(0, 0, 1, 1), QPen(QColor(*color, 110), 2))
        self._frame.setZValue(999)
        self._frame.setVisible(False)
        self.scale_bar = sc.addPath(QPainterPath(), QPen(OVERLAY_COLOR, 1.5))
        self.scale_bar.setZValue(1000)
        self.t_scale = _text_item(sc, 11, OVERLAY_COLOR)
        # text that changes only with the series or the zoom is drawn from a cached pixmap (a
        # repaint under it then costs a blit, not glyph rendering); the slice and window corners
        # change with every scroll / window step, where a cache would only add a copy
        for item in (self.t_topleft, self.t_topright, self.t_scale, *self.letters.values()):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        #: corner text shown (the O key); everything drawn over the image shown (Ctrl+H)
        self.overlay_visible = True
        self.annotations_visible = True
        self._hidden_items: list = []
        self.vb.sigRangeChanged.connect(self._on_range_changed)
        sc.sigMouseMoved.connect(self._on_mouse_moved)
        windows.changed.connect(self._on_window_changed)

        # layers (measurements, module graphics) register here to be told of slice/volume changes
        self.layers: list = []

    # ------------------------------------------------------------------------- volume & slice
    def set_volume(self, volume: Volume | None, point=None) -> None:
        self.volume = volume
        if volume is None:  # nothing shown: no image, crosshair, letters or module graphics
            self.mapping = None
            self.slice = 0
            self.point = np.zeros(3)
            self._hover_scene = None
            self._drag_window = None
            self.image.clear()
            self.hline.setVisible(False)
            self.vline.setVisible(False)
            self._update_overlay()
            for layer in self.layers:
                layer.volume_changed(self)
            return
        self.mapping = plane_mapping(volume, self.view)
        if point is None:
            point = volume.index_to_patient((np.asarray(volume.shape) - 1) // 2)
        self.point = np.asarray(point, dtype=float)
        kji = volume.patient_to_index(self.point)
        self.slice = self._slice_of_index(kji)
        self._render()
        self.image.setRect(QRectF(*self.mapping.image_rect()))
        for edge, text in self.mapping.edge_letters().items():
            self.letters[edge].setText(text)  # placed with the other overlay text below
        self.fit()
        self._update_crosshair(kji)
        self._update_overlay()
        for layer in self.layers:
            layer.volume_changed(self)
        if not self.annotations_visible:
            self._hide_scene_items()

    def shown(self) -> tuple[Volume, PlaneMapping]:
        """The shown volume and its plane mapping (for code that runs only while one is shown)."""
        if self.volume is None or self.mapping is None:
            raise RuntimeError(f"no volume shown in the {self.name} view")
        return self.volume, self.mapping

    def _slice_of_point(self, xyz) -> int:
        return self._slice_of_index(self.shown()[0].patient_to_index(xyz))

    def _slice_of_index(self, kji: np.ndarray) -> int:
        m = self.shown()[1]
        d = m.index_to_slice(float(kji[m.slice_axis]))
        return int(np.clip(np.rint(d), 0, m.n_slices - 1))

    def set_point(self, xyz) -> None:
        """Show the slice through ``xyz`` and put the crosshair on it."""
        if self.volume is None:
            return
        self.point = np.asarray(xyz, dtype=float)
        kji = self.volume.patient_to_index(self.point)  # the one patient -> index conversion
        d = self._slice_of_index(kji)
        changed = d != self.slice
        if changed:
            self.slice = d
            self._interacting()
            self._render()
        self._update_crosshair(kji)
        if changed:  # only the slice line of the text depends on the point; the rest stays
            self._update_slice_text()
            self._after_slice_change()

    def set_slice(self, d: int) -> None:
        """Show display slice ``d``; asks the viewer to move the shared point there."""
        if self.volume is None:
            return
        v, m = self.shown()
        d = int(np.clip(d, 0, m.n_slices - 1))
        kji = v.patient_to_index(self.point)
        kji[m.slice_axis] = m.slice_to_index(d)
        xyz = v.index_to_patient(kji)
        self.point_requested.emit(self, xyz)
        if self.slice != d:  # nobody followed (unlinked view): move alone
            self.set_point(xyz)

    def step(self, n: int) -> None:
        self.set_slice(self.slice + n)

    def _after_slice_change(self) -> None:
        for layer in self.layers:
            layer.slice_changed(self)
        if not self.annotations_visible:
            self._hide_scene_items()
        self.slice_changed.emit(self)

    def current_image(self) -> np.ndarray:
        v, m = self.shown()
        return m.image(v.voxels, self.slice)

    def _render(self) -> None:
        if self.volume is None:
            return
        w = self.windows.ensure(self.volume)
        # a coronal/sagittal slice is a strided view of the volume (one voxel per cache line for
        # sagittal): gathered into one block once per slice, every window change then reads it
        # in order (sagittal lookup 0.5 -> 0.1 ms)
        img = np.ascontiguousarray(self.current_image())
        self.image.setImage(img, autoLevels=False, levels=w.levels)
        self._dirty = False

    def refresh(self) -> None:
        """Re-read the shown slice from the voxels (the loader filled more of them)."""
        self._render()
        self._update_overlay()

    def shows_index(self, k: int) -> bool:
        """True when this view's image contains voxels of slice ``k`` of its volume."""
        m = self.mapping
        if m is None:
            return False
        if m.slice_axis != 0:
            return True
        return int(m.slice_to_index(self.slice)) == k

    # ------------------------------------------------------------------------- window
    def display_window(self) -> Window | None:
        """The series' window (width/level) shown here; None without a volume."""
        return None if self.volume is None else self.windows.ensure(self.volume)

    def set_window(self, window: Window) -> None:
        if self.volume is not None:
            self.windows.set(self.volume.series_uid, window)

    def _on_window_changed(self, uid: str) -> None:
        if self.volume is not None and self.volume.series_uid == uid:
            self._interacting()
            self.image.setLevels(self.windows.ensure(self.volume).levels)  # rendered once, at the next paint
            self._update_window_text()

    # ------------------------------------------------------------------------- render quality
    def _interacting(self) -> None:
        """A change the user is driving: the image is drawn nearest-neighbour until it pauses (the
        image is being redrawn anyway, so this costs no extra paint)."""
        self.image.smooth = False
        self._smooth_timer.start()

    def _smooth_again(self) -> None:
        self.image.smooth = True
        self.image.update()

    def smooth(self) -> bool:
        """Whether slices are drawn with bilinear interpolation now (False while interacting)."""
        return bool(self.image.smooth)

    # ------------------------------------------------------------------------- view
    def fit(self) -> None:
        if self.mapping is not None:
            self.vb.setRange(QRectF(*self.mapping.image_rect()), padding=0.0)

    def reset(self) -> None:
        if self.volume is not None:
            self.windows.reset(self.volume)
        self.fit()

    def zoom(self, factor: float, center: QPointF | None = None) -> None:
        self.vb.scaleBy((1.0 / factor, 1.0 / factor), center=center)

    def zoom_percent(self) -> float | None:
        """Screen pixels per image pixel, in percent (100: one image pixel on one screen pixel)."""
        if self.mapping is None or self.vb.width() <= 0:
            return None
        mm_per_px = self.vb.viewPixelSize()[0]
        return 100.0 * self.mapping.col_spacing / mm_per_px if mm_per_px > 0 else None

    def true_size(self) -> None:
        """1:1 — one image pixel on one screen pixel, about the centre of the view."""
        z = self.zoom_percent()
        if z:
            self.zoom(100.0 / z, center=self.vb.viewRect().center())

    def mm_per_screen_pixel(self) -> float | None:
        if self.mapping is None or self.vb.width() <= 0:
            return None
        return float(self.vb.viewPixelSize()[0])

    # ------------------------------------------------------------------------- what is drawn over the image
    def set_inverted(self, on: bool) -> None:
        """Grey scale inverted in this view (white for low values)."""
        self.image.set_invert(on)
        self._update_overlay()

    def inverted(self) -> bool:
        return bool(self.image.invert)

    def set_overlay_visible(self, on: bool) -> None:
        """Show or hide the corner text (series, image, window, zoom)."""
        self.overlay_visible = bool(on)
        self._apply_visibility()

    def set_annotations_visible(self, on: bool) -> None:
        """Show or hide everything drawn over the image: text, letters, scale bar, crosshair and
        the layers (measurements, module graphics) — the image alone. A layer with
        ``set_annotations_visible`` is told; any other scene item is hidden here (again after
        each slice change) and given back to its layer (``slice_changed``) when shown again."""
        self.annotations_visible = bool(on)
        self.set_crosshair_visible(bool(on))
        for layer in self.layers:
            setter = getattr(layer, "set_annotations_visible", None)
            if setter is not None:
                setter(bool(on))
        if on:
            hidden, self._hidden_items = self._hidden_items, []
            for item in hidden:
                item.setVisible(True)
            if self.volume is not None:
                for layer in self.layers:
                    if not hasattr(layer, "set_annotations_visible"):
                        layer.slice_changed(self)
        else:
            self._hide_scene_items()
        self._apply_visibility()

    def _hide_scene_items(self) -> None:
        for item in list(self.vb.childGroup.childItems()):
            if item is not self.image and item.isVisible():
                item.setVisible(False)
                self._hidden_items.append(item)

    def _apply_visibility(self) -> None:
        text = self.overlay_visible and self.annotations_visible
        for t in (self.t_topleft, self.t_topright, self.t_bottomleft, self.t_bottomright):
            t.setVisible(text)
        for t in self.letters.values():
            t.setVisible(self.annotations_visible)
        self._place_scale_bar()

    def _on_range_changed(self, *_args) -> None:
        if self.volume is not None:
            self._update_window_text()  # the zoom line; the other corners and letters stay put
            self._place_scale_bar()

    def _update_window_text(self) -> None:
        """The window/zoom corner after a window change (the other text is unchanged)."""
        if self.volume is None:
            return
        self.t_bottomright.setText(self._bottom_right_text())
        self._place_bottom_right()

    def _bottom_right_text(self) -> str:
        w = self.windows.ensure(self.shown()[0])
        z = self.zoom_percent()
        lines = [f"W {w.width:.0f}  L {w.level:.0f}" + ("  Inverted" if self.image.invert else "")]
        if z is not None:
            lines.append(f"Zoom {z:.0f}%")
        return "\n".join(lines)

    def scale_bar_mm(self) -> float | None:
        """The length the scale bar shows (mm), or None when none is drawn."""
        mm_px = self.mm_per_screen_pixel()
        if mm_px is None or self.volume is None:
            return None
        room = SCALE_BAR_MAX_FRACTION * self.viewport().width() * mm_px
        fits = [n for n in SCALE_BAR_MM if n <= room]
        return float(fits[-1]) if fits else None

    def _place_scale_bar(self) -> None:
        length = self.scale_bar_mm() if self.annotations_visible else None
        mm_px = self.mm_per_screen_pixel()
        if length is None or not mm_px:
            self.scale_bar.setVisible(False)
            self.t_scale.setVisible(False)
            return
        px = length / mm_px
        # bottom left, just above the slice text (clear of the letters and the other corners)
        h = self.viewport().height()
        below = self.t_bottomleft.boundingRect().height() if self.t_bottomleft.isVisible() else 0.0
        y = h - 6 - below - 8
        x0 = 8.0
        path = QPainterPath()
        path.moveTo(x0, y - 5)
        path.lineTo(x0, y)
        path.lineTo(x0 + px, y)
        path.lineTo(x0 + px, y - 5)
        self.scale_bar.setPath(path)
        self.t_scale.setText(f"{length:g} mm")
        r = self.t_scale.boundingRect()
        self.t_scale.setPos(x0 + px + 4, y - r.height() / 2 - 1)
        self.scale_bar.setVisible(True)
        self.t_scale.setVisible(True)

    # ------------------------------------------------------------------------- coordinates
    def scene_to_index(self, x: float, y: float) -> np.ndarray:
        return self.shown()[1].scene_to_index(x, y, self.slice)

    def scene_to_patient(self, x: float, y: float) -> np.ndarray:
        return self.shown()[0].index_to_patient(self.scene_to_index(x, y))

    def patient_to_scene(self, xyz) -> np.ndarray:
        """LPS ``(..., 3)`` -> ``(..., 3)`` (scene x mm, scene y mm, display slice)."""
        v, m = self.shown()
        return m.index_to_scene(v.patient_to_index(xyz))

    def patient_to_widget(self, xyz) -> QPointF:
        """Where a patient point is drawn, in this widget's pixel coordinates (for tests/tools)."""
        s = self.patient_to_scene(xyz)
        sp = self.vb.mapViewToScene(QPointF(float(s[0]), float(s[1])))
        return self.viewportTransform().map(sp)

    def cursor_patient_point(self) -> np.ndarray:
        return self.point.copy()

    def value_at(self, xyz) -> float | None:
        return None if self.volume is None else self.volume.value_at(xyz)

    # ------------------------------------------------------------------------- overlays
    def _update_crosshair(self, kji: np.ndarray | None = None) -> None:
        if self.volume is None:
            return
        v, m = self.shown()
        if kji is None:
            kji = v.patient_to_index(self.point)
        s = m.index_to_scene(kji)
        self.vline.set_value(float(s[0]))
        self.hline.set_value(float(s[1]))
        self.vline.setVisible(self.crosshair_visible)
        self.hline.setVisible(self.crosshair_visible)

    def set_crosshair_visible(self, on: bool) -> None:
        self.crosshair_visible = on
        self._update_crosshair()

    def set_active(self, on: bool) -> None:
        self._frame.setVisible(on)

    def _update_overlay(self) -> None:
        v = self.volume
        if v is None:
            for t in (self.t_topleft, self.t_topright, self.t_bottomleft, self.t_bottomright):
                t.setText("")
            for t in self.letters.values():
                t.setText("")
            self._place_scale_bar()
            return
        meta = v.meta or {}
        top = []
        if self.patient_text_enabled:
            name = display_person_name(meta.get("patient_name"))
            if name:
                top.append(name)
        top.append(v.description or "(no description)")
        if meta.get("study_date"):
            top.append(str(meta["study_date"]))
        self.t_topleft.setText("\n".join(top))
        sn = meta.get("series_number")
        self.t_topright.setText(f"{v.modality}  {self.name.capitalize()}" + (f"\nSe {sn}" if sn not in (None, "") else ""))
        self.t_bottomleft.setText(self._bottom_left_text())
        self.t_bottomright.setText(self._bottom_right_text())
        self._place_overlay()

    def _bottom_left_text(self) -> str:
        v, m = self.shown()
        k = m.slice_to_index(self.slice)
        if m.slice_axis == 0:
            pos = v.slice_position_mm(k)
        else:
            centre = v.index_to_patient(self._slice_centre(k))
            pos = float(np.dot(centre, np.asarray(v.direction[:, int(m.slice_axis)])))
        return (f"Im {self.slice + 1}/{m.n_slices}   {_AXIS_NAME.get(self.view, 'Pos')} {pos:.1f} mm"
                f"   {m.slice_spacing:.2f} mm\n{self._hover_text()}")

    def _update_slice_text(self) -> None:
        """The slice/cursor corner after a slice change or a mouse move: one text item; the others
        (patient, series, window) did not change, so they are neither rebuilt nor moved."""
        if self.volume is None:
            return
        item = self.t_bottomleft
        height = item.boundingRect().height()
        item.setText(self._bottom_left_text())
        if item.boundingRect().height() != height:  # a line more or less: it and the scale bar move
            item.setPos(6, self.viewport().height() - item.boundingRect().height() - 6)
            self._place_scale_bar()

    def _slice_centre(self, k: float):
        v, m = self.shown()
        c = (np.asarray(v.shape, float) - 1) / 2.0
        c[m.slice_axis] = k
        return c

    def _hover_text(self) -> str:
        if self._hover_scene is None or self.volume is None:
            return ""
        xyz = self.scene_to_patient(self._hover_scene.x(), self._hover_scene.y())
        val = self.volume.value_at(xyz)
        if val is None:
            return ""
        unit = "HU" if self.volume.unit == "HU" else ""
        return (f"{val:.0f} {unit}".strip() if unit else f"Signal {val:.0f}") + \
            f"   ({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) LPS"

    def _place_overlay(self) -> None:
        w, h = self.viewport().width(), self.viewport().height()
        pad = 6
        self.t_topleft.setPos(pad, pad)
        tr = self.t_topright.boundingRect()
        self.t_topright.setPos(w - tr.width() - pad, pad)
        bl = self.t_bottomleft.boundingRect()
        self.t_bottomleft.setPos(pad, h - bl.height() - pad)
        self._place_bottom_right()
        L = self.letters
        r = L["left"].boundingRect()
        L["left"].setPos(pad, (h - r.height()) / 2)
        r = L["right"].boundingRect()
        L["right"].setPos(w - r.width() - pad, (h - r.height()) / 2)
        r = L["top"].boundingRect()
        L["top"].setPos((w - r.width()) / 2, pad)
        r = L["bottom"].boundingRect()
        L["bottom"].setPos((w - r.width()) / 2, h - r.height() - pad)
        self._frame.setRect(QRectF(1, 1, w - 2, h - 2))
        self._place_scale_bar()

    def _place_bottom_right(self) -> None:
        pad = 6
        br = self.t_bottomright.boundingRect()
        self.t_bottomright.setPos(self.viewport().width() - br.width() - pad,
                                  self.viewport().height() - br.height() - pad)

    def resizeEvent(self, ev):  # noqa: N802
        super().resizeEvent(ev)
        if hasattr(self, "t_topleft"):
            self._place_overlay()
            if self.mapping is not None:
                self.fit()

    # ------------------------------------------------------------------------- input
    def _on_mouse_moved(self, scene_pos) -> None:
        if self.volume is None:
            return
        if not self.vb.sceneBoundingRect().contains(scene_pos):
            self._hover_scene = None
            return
        self._hover_scene = self.vb.mapSceneToView(scene_pos)
        xyz = self.scene_to_patient(self._hover_scene.x(), self._hover_scene.y())
        self._update_slice_text()
        self.hovered.emit(self, xyz, self.volume.value_at(xyz))

    def _on_wheel(self, ev) -> None:
        if self.volume is None:
            return
        self.activated.emit(self)
        delta = ev.delta()
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.15 ** (delta / 120.0), center=self.vb.mapToView(ev.pos()))
            return
        self._wheel_accum += delta / 120.0
        steps = int(self._wheel_accum)
        if steps:
            self._wheel_accum -= steps
            self.step(-steps)  # wheel towards the reader (negative delta) = next image

    def _on_drag(self, ev) -> None:
        if self.volume is None:
            ev.ignore()
            return
        ev.accept()
        btn = ev.button()
        if btn == Qt.MouseButton.RightButton:
            if ev.isStart():
                self.activated.emit(self)
                self._drag_window = (self.windows.ensure(self.volume), drag_sensitivity(self.volume))
            if self._drag_window is None:
                return
            (w0, sens) = self._drag_window
            d = ev.screenPos() - ev.buttonDownScreenPos()
            self.set_window(Window(w0.width + d.x() * sens, w0.level + d.y() * sens))
            if ev.isFinish():
                self._drag_window = None
        elif btn == Qt.MouseButton.MiddleButton:
            p1 = self.vb.mapToView(ev.lastPos())
            p2 = self.vb.mapToView(ev.pos())
            self.vb.translateBy(x=p1.x() - p2.x(), y=p1.y() - p2.y())
        elif btn == Qt.MouseButton.LeftButton:
            if ev.isStart():
                self.activated.emit(self)
            phase = "start" if ev.isStart() else "finish" if ev.isFinish() else "move"
            start = self.vb.mapToView(ev.buttonDownPos())
            self._dispatch(phase, self.vb.mapToView(ev.pos()), ev.modifiers(), (start.x(), start.y()))

    def _on_click(self, ev) -> None:
        if self.volume is None:
            return
        self.activated.emit(self)
        self.setFocus()
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._dispatch("click", self.vb.mapToView(ev.pos()), ev.modifiers(), None)
        else:
            ev.accept()  # no context menu

    def _dispatch(self, phase: str, view_pos: QPointF, modifiers, start) -> None:
        tool = self.tool_provider() if self.tool_provider else None
        if tool is None:
            return
        x, y = view_pos.x(), view_pos.y()
        idx = self.scene_to_index(x, y)
        ev = PointerEvent(self, phase, (x, y), idx, self.shown()[0].index_to_patient(idx), modifiers, start)
        if phase == "click":
            tool.click(ev)
        else:
            tool.drag(ev)

    def mousePressEvent(self, ev):  # noqa: N802
        self.setFocus()
        super().mousePressEvent(ev)

    def mouseDoubleClickEvent(self, ev):  # noqa: N802
        super().mouseDoubleClickEvent(ev)
        if ev.button() == Qt.MouseButton.LeftButton:
            self.double_clicked.emit(self)

    def keyPressEvent(self, ev):  # noqa: N802
        if self.volume is None:
            return super().keyPressEvent(ev)
        move = _SLICE_KEYS_BY_CODE.get(int(ev.key())) if ev.modifiers() in (
            Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier) else None
        if move is None:
            super().keyPressEvent(ev)
            return
        self.activated.emit(self)
        if move == "home":
            self.set_slice(0)
        elif move == "end":
            self.set_slice(self.mapping.n_slices - 1)
        else:
            self.step(int(move))
        ev.accept()

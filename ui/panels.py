"""Side panels: the series browser (thumbnails) and the measurements list."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QImage, QKeySequence, QPixmap
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QListWidget, QListWidgetItem, QTableWidget, QTableWidgetItem

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
from workstation.volume import Volume

from .display import thumbnail_window, to_uint8
from .geometry import plane_mapping

THUMB = 96


def thumbnail(volume: Volume) -> QPixmap:
    """The middle axial slice at a soft-tissue window (CT) or auto window (MR), true aspect."""
    m = plane_mapping(volume, "axial")
    img = m.image(volume.voxels, m.n_slices // 2)
    u8 = np.ascontiguousarray(to_uint8(img, thumbnail_window(volume, img)))
    h, w = u8.shape
    # PyQt6 takes any buffer here; its stubs say bytes
    qi = QImage(u8.data, w, h, w, QImage.Format.Format_Grayscale8).copy()  # type: ignore[call-overload]
    aspect = (h * m.row_spacing) / max(w * m.col_spacing, 1e-6)
    tw, th = (THUMB, int(round(THUMB * aspect))) if aspect <= 1 else (int(round(THUMB / aspect)), THUMB)
    pm = QPixmap.fromImage(qi).scaled(max(tw, 1), max(th, 1), Qt.AspectRatioMode.IgnoreAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation)
    out = QPixmap(THUMB, THUMB)
    out.fill(QColor(0, 0, 0))
    from PyQt6.QtGui import QPainter
    p = QPainter(out)
    p.drawPixmap((THUMB - pm.width()) // 2, (THUMB - pm.height()) // 2, pm)
    p.end()
    return out


def _placeholder() -> QPixmap:
    pm = QPixmap(THUMB, THUMB)
    pm.fill(QColor(30, 30, 34))
    return pm


class SeriesBrowser(QListWidget):
    """One row per series: thumbnail, description, modality and image count.
    ``series_activated(series_uid)`` when the reader picks one."""

    series_activated = pyqtSignal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setViewMode(QListWidget.ViewMode.ListMode)
        self.setSpacing(2)
        self.setWordWrap(True)
        self.setUniformItemSizes(False)
        self._items: dict[str, QListWidgetItem] = {}
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)

    def _text(self, vol_or_info, n_loaded: int | None = None) -> str:
        desc = getattr(vol_or_info, "description", "") or "(no description)"
        mod = getattr(vol_or_info, "modality", "")
        n = getattr(vol_or_info, "n_images", None)
        if n is None and hasattr(vol_or_info, "shape"):
            n = vol_or_info.shape[0]
        extra = f" ({n_loaded}/{n})" if n_loaded is not None and n_loaded < (n or 0) else ""
        return f"{desc}\n{mod} · {n} images{extra}"

    def add_series(self, info) -> None:
        uid = info.series_uid
        if uid in self._items:
            return
        item = QListWidgetItem(QIcon(_placeholder()), self._text(info))
        item.setData(Qt.ItemDataRole.UserRole, uid)
        item.setSizeHint(QSize(THUMB + 140, THUMB + 8))
        self.addItem(item)
        self._items[uid] = item

    def clear_series(self) -> None:
        """Forget every series (the study is closing)."""
        self.clear()
        self._items.clear()

    def set_progress(self, volume: Volume, done: int, total: int) -> None:
        item = self._items.get(volume.series_uid)
        if item is not None:
            item.setText(self._text(volume, done if done < total else None))

    def set_loaded(self, volume: Volume) -> None:
        if volume.series_uid not in self._items:
            self.add_series(volume)
        item = self._items[volume.series_uid]
        item.setText(self._text(volume))
        item.setIcon(QIcon(thumbnail(volume)))

    def set_current(self, uid: str) -> None:
        item = self._items.get(uid)
        if item is not None:
            self.blockSignals(True)
            self.setCurrentItem(item)
            self.blockSignals(False)

    def item_for(self, uid: str) -> QListWidgetItem | None:
        return self._items.get(uid)

    def _clicked(self, item: QListWidgetItem) -> None:
        self.series_activated.emit(item.data(Qt.ItemDataRole.UserRole))


def describe(m: Measurement) -> str:
    """The value column of the measurements list."""
    if isinstance(m, Caliper):
        return f"{m.length_mm:.1f} mm"
    if isinstance(m, EllipseROI):
        s = m.stats or {}
        if "mean" in s:
            return f"mean {s['mean']:.1f}, SD {s.get('sd', 0):.1f}, {s.get('area_mm2', 0):.0f} mm²"
        return "ellipse"
    if isinstance(m, SphereROI):
        s = m.stats or {}
        return f"r {m.radius_mm:.0f} mm" + (f", mean {s['mean']:.1f}" if "mean" in s else "")
    if isinstance(m, Landmark):
        p = m.point
        return f"{m.landmark.replace('_', ' ')} ({p[0]:.0f}, {p[1]:.0f}, {p[2]:.0f})"
    if isinstance(m, Lesion3D):
        gd = m.figures.get("greatest_dimension_mm")
        return f"lesion {gd:.1f} mm" if gd else "lesion"
    if isinstance(m, Angle):
        return f"{m.angle_deg:.1f}°"
    if isinstance(m, FreehandROI):
        s = m.stats or {}
        area = s.get("area_mm2", m.area_mm2)
        return (f"mean {s['mean']:.1f}, SD {s.get('sd', 0):.1f}, " if "mean" in s else "") + f"{area:.0f} mm²"
    if isinstance(m, Arrow):
        return "arrow"
    return m.kind


class MeasurementsPanel(QTableWidget):
    """The measurements of the study: select (jumps to it), rename (edit the name), Del deletes.
    ``picked(record)`` when the reader selects a row (the window jumps to it)."""

    picked = pyqtSignal(object)

    def __init__(self, store, parent=None) -> None:
        super().__init__(0, 2, parent)
        self.store = store
        self.setHorizontalHeaderLabels(["Name", "Value"])
        header, rows = self.horizontalHeader(), self.verticalHeader()
        assert header is not None and rows is not None  # a QTableWidget always has both
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        rows.setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self._rows: list[str] = []
        self._updating = False
        store.added.connect(self._rebuild)
        store.removed.connect(self._rebuild)
        store.changed.connect(self._changed)
        store.selected.connect(self._store_selected)
        self.itemChanged.connect(self._edited)
        self.itemSelectionChanged.connect(self._selection)
        if hasattr(store, "read_only_changed"):  # a read-only window: names cannot be edited
            store.read_only_changed.connect(self._read_only_changed)

    def _read_only_changed(self, on: bool) -> None:
        triggers = QAbstractItemView.EditTrigger
        self.setEditTriggers(triggers.NoEditTriggers if on else
                             triggers.DoubleClicked | triggers.EditKeyPressed)

    def _rebuild(self, *_):
        self._updating = True
        try:
            ms = self.store.items()
            self._rows = [m.id for m in ms]
            self.setRowCount(len(ms))
            for r, m in enumerate(ms):
                self._fill(r, m)
            sel = self.store.selected_id()
            if sel in self._rows:
                self.selectRow(self._rows.index(sel))
            else:
                self.clearSelection()
        finally:
            self._updating = False

    def _fill(self, r: int, m: Measurement) -> None:
        name = QTableWidgetItem(m.label or m.kind)
        name.setData(Qt.ItemDataRole.UserRole, m.id)
        val = QTableWidgetItem(describe(m))
        val.setFlags(val.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.setItem(r, 0, name)
        self.setItem(r, 1, val)

    def _changed(self, m: Measurement) -> None:
        if m.id not in self._rows:
            return self._rebuild()
        self._updating = True
        try:
            r = self._rows.index(m.id)
            name, value = self.item(r, 0), self.item(r, 1)
            assert name is not None and value is not None  # every row is built with both items
            if name.text() != (m.label or m.kind):
                name.setText(m.label or m.kind)
            value.setText(describe(m))
        finally:
            self._updating = False

    def _edited(self, item: QTableWidgetItem) -> None:
        if self._updating or item.column() != 0:
            return
        mid = item.data(Qt.ItemDataRole.UserRole)
        text = item.text().strip()
        if mid in self.store and text:
            self.store.rename(mid, text)

    def _selection(self) -> None:
        if self._updating:
            return
        model = self.selectionModel()
        assert model is not None  # a view's selection model exists once it has a model
        rows = model.selectedRows()
        mid = self._rows[rows[0].row()] if rows else None
        self.store.select(mid)
        if mid is not None:
            self.picked.emit(self.store.get(mid))

    def _store_selected(self, m) -> None:
        self._updating = True
        try:
            if m is None:
                self.clearSelection()
            elif m.id in self._rows:
                self.selectRow(self._rows.index(m.id))
        finally:
            self._updating = False

    def keyPressEvent(self, ev):  # noqa: N802
        delete = ev.matches(QKeySequence.StandardKey.Delete) or ev.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
        if delete and self.state() != QAbstractItemView.State.EditingState:
            sel = self.store.selected_id()
            if sel:
                self.store.remove(sel)
            ev.accept()
            return
        super().keyPressEvent(ev)

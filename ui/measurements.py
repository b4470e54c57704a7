"""The measurements of the open study as a Qt model over ``workstation.measure.model`` records.

Records stay plain data in patient space (LPS mm); this object only adds signals, selection and
undo. Every user edit (create, move, rename, delete) is a ``QUndoCommand`` on ``undo_stack`` so
Ctrl+Z takes back the last one. While a handle is being dragged the views call
``update(m, undoable=False)`` for live feedback and one undoable ``update(..., before=...)`` when the
drag ends, so a drag is undone in one step.

**Read-only** (:meth:`MeasurementStore.set_read_only`, a second window on a study another window
edits): every user edit -- add, update (live or undoable), rename, remove, undo, redo -- is refused
with ``refused(str)`` and changes nothing, and the undo history is emptied (nothing to take back);
``reset()`` / ``clear()`` (another study, taking over editing) still work. A refused rename emits
``changed`` with the record as it is, so an edited list cell shows the kept name again.
"""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QUndoCommand, QUndoStack

from workstation.measure.model import Measurement


def snapshot(m: Measurement) -> Measurement:
    """An independent copy (records are mutable dataclasses)."""
    return Measurement.from_dict(m.to_dict())


class _Add(QUndoCommand):
    def __init__(self, store: MeasurementStore, m: Measurement, index: int | None = None) -> None:
        super().__init__(f"add {m.kind}")
        self.store, self.m, self.index = store, snapshot(m), index

    def redo(self) -> None:
        self.store._insert(snapshot(self.m), self.index)

    def undo(self) -> None:
        self.store._delete(self.m.id)


class _Remove(QUndoCommand):
    def __init__(self, store: MeasurementStore, m: Measurement, index: int) -> None:
        super().__init__(f"delete {m.kind}")
        self.store, self.m, self.index = store, snapshot(m), index

    def redo(self) -> None:
        self.store._delete(self.m.id)

    def undo(self) -> None:
        self.store._insert(snapshot(self.m), self.index)


class _Update(QUndoCommand):
    def __init__(self, store: MeasurementStore, before: Measurement, after: Measurement, text: str) -> None:
        super().__init__(text)
        self.store, self.before, self.after = store, snapshot(before), snapshot(after)

    def redo(self) -> None:
        self.store._replace(snapshot(self.after))

    def undo(self) -> None:
        self.store._replace(snapshot(self.before))


class MeasurementStore(QObject):
    """Ordered measurements with signals ``added``, ``changed``, ``removed`` (the record) and
    ``selected`` (the record, or None)."""

    added = pyqtSignal(object)
    changed = pyqtSignal(object)
    removed = pyqtSignal(object)
    selected = pyqtSignal(object)
    #: read-only switched on (True) or off (False)
    read_only_changed = pyqtSignal(bool)
    #: an edit refused because the store is read-only (one line saying so)
    refused = pyqtSignal(str)

    REFUSED = "This window is read-only: measurements cannot be added, moved, renamed or deleted here"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: dict[str, Measurement] = {}
        self._selected: str | None = None
        self._claimed: set[str] = set()
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(50)
        self._read_only = False

    # -- read-only -------------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self._read_only

    def set_read_only(self, on: bool) -> None:
        """Refuse every user edit (``True``) or accept them again; the undo history is emptied on
        the way in (an undo would change the read)."""
        on = bool(on)
        if on == self._read_only:
            return
        self._read_only = on
        if on:
            self.undo_stack.clear()
        self.read_only_changed.emit(on)

    @contextlib.contextmanager
    def writable(self) -> Iterator[None]:
        """Edits allowed inside the block while staying read-only outside it (a read-only window
        putting the editing window's newer save in place): nothing about the switch is emitted,
        views keep their read-only drawing, and the undo history is emptied afterwards."""
        was = self._read_only
        self._read_only = False
        try:
            yield
        finally:
            self._read_only = was
            if was:
                self.undo_stack.clear()

    def _refuse(self) -> bool:
        """True (and ``refused`` emitted) when the store is read-only."""
        if self._read_only:
            self.refused.emit(self.REFUSED)
        return self._read_only

    # -- drawing ownership ---------------------------------------------------------------------
    def claim_drawing(self, measurement_id: str) -> None:
        """A module draws this measurement itself (e.g. a lesion with its mask): the host's
        measurement layers leave it alone, so nothing is drawn twice."""
        self._claimed.add(measurement_id)

    def drawing_claimed(self, measurement_id: str) -> bool:
        return measurement_id in self._claimed

    # -- reading ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Measurement]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, mid: object) -> bool:
        return mid in self._items

    def get(self, mid: str) -> Measurement | None:
        return self._items.get(mid)

    def items(self) -> list[Measurement]:
        return list(self._items.values())

    def of_kind(self, kind: str) -> list[Measurement]:
        return [m for m in self._items.values() if m.kind == kind]

    def selected_id(self) -> str | None:
        return self._selected

    # -- user edits (undoable) ---------------------------------------------------------------
    def add(self, m: Measurement) -> Measurement:
        """Add ``m`` (undoable); read-only: refused, ``m`` returned without being kept."""
        if self._refuse():
            return m
        if m.id in self._items:
            raise ValueError(f"measurement {m.id} already exists")
        self.undo_stack.push(_Add(self, m))
        return self._items[m.id]

    def update(self, m: Measurement, *, undoable: bool = True, before: Measurement | None = None,
               text: str = "edit") -> None:
        """Replace the record with the same id. ``undoable=False``: live preview (drag in progress);
        ``before``: the state to return to on undo (the record as it was when the drag began)."""
        old = self._items.get(m.id)
        if old is None:
            raise KeyError(m.id)
        if self._refuse():
            self.changed.emit(old)  # views that moved a handle go back to the record
            return
        if not undoable:
            self._replace(m)
            return
        self.undo_stack.push(_Update(self, before or old, m, f"{text} {m.kind}"))

    def rename(self, mid: str, label: str) -> None:
        old = self._items[mid]
        if old.label == label:
            return
        if self._refuse():
            self.changed.emit(old)  # an edited list cell shows the kept name again
            return
        new = dataclasses.replace(snapshot(old), label=label)
        self.undo_stack.push(_Update(self, old, new, "rename"))

    def remove(self, mid: str) -> None:
        if mid not in self._items or self._refuse():
            return
        index = list(self._items).index(mid)
        self.undo_stack.push(_Remove(self, self._items[mid], index))

    def clear(self) -> None:
        for mid in list(self._items):
            self._delete(mid)
        self.undo_stack.clear()

    def reset(self) -> None:
        """Empty for another study: no records, no undo history, no drawing claims."""
        self.clear()
        self._claimed.clear()

    def select(self, mid: str | None) -> None:
        if mid is not None and mid not in self._items:
            mid = None
        if mid == self._selected:
            return
        self._selected = mid
        self.selected.emit(self._items.get(mid) if mid else None)

    def undo(self) -> None:
        if not self._refuse():
            self.undo_stack.undo()

    def redo(self) -> None:
        if not self._refuse():
            self.undo_stack.redo()

    # -- primitives used by the undo commands -------------------------------------------------
    def _insert(self, m: Measurement, index: int | None) -> None:
        if index is None or index >= len(self._items):
            self._items[m.id] = m
        else:
            items = list(self._items.items())
            items.insert(index, (m.id, m))
            self._items = dict(items)
        self.added.emit(m)

    def _delete(self, mid: str) -> None:
        m = self._items.pop(mid, None)
        if m is None:
            return
        if self._selected == mid:
            self._selected = None
            self.selected.emit(None)
        self.removed.emit(m)

    def _replace(self, m: Measurement) -> None:
        if m.id not in self._items:
            return
        self._items[m.id] = m
        self.changed.emit(m)

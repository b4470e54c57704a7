"""The review module's state: one findings document (``rp-findings/1``), always valid.

:class:`ReviewController` is the single place the panel, the tools (lesion, enhancement, IVC),
the export dialog and the autosave read and change the findings. Every change is validated through
:meth:`workstation.reasoning.findings.Findings.from_dict` before it is kept; a refused change leaves
the state as it was and is reported through :attr:`ReviewController.problem` (one line naming the
field). After every accepted change the assessment (T, stage, IVC, calls, ranked differential) is
recomputed synchronously — it takes well under a millisecond — and :attr:`changed` is emitted.

Where a number came from is kept *in* the document, in the project extension ``x_sources``
(``field path -> {"text": ..., "measurement_id": ...}`` or a plain string), so it is saved,
exported and restored with the findings. A value set without a source (typed by the reader) has
its source removed: the panel shows it as entered by hand.

Suggestions (e.g. "macroscopic fat" from a grown lesion's fat fraction) are never applied
silently: :meth:`suggest` keeps them pending until the reader accepts or dismisses them. A
dismissed suggestion is not raised again with the same value (re-growing a lesion after a brush
edit would otherwise nag).

**Read-only** (:meth:`ReviewController.set_read_only`: the window shows a study another window
edits): every change -- fields, IVC, checklist, a whole document, accepting or dismissing a
suggestion -- is refused (``problem`` says so, the document stays as it was) and no suggestion is
kept; ``read_only_changed(bool)`` tells the panel to make its editors read-only. Reading, the
assessment and ``reset()`` (another study, taking over editing) work as always.

Usage (tools by the other engineer)::

    controller.set_field("greatest_dimension_mm", 112.4,
                         source={"text": "3D lesion growing", "measurement_id": lesion.id})
    controller.set_ivc("renal_vein_z_mm", -120.0, source="landmark 'Renal veins'")
    controller.suggest("macroscopic_fat", True, "fat fraction 38 % in the grown lesion")
"""
from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator, Mapping
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from workstation.errors import WorkstationError
from workstation.reasoning import CHECKLIST_IDS, Assessment, Findings, assess
from workstation.reasoning.findings import FIELD_SPECS, SCHEMA

__all__ = ["ReviewController", "TOP_FIELDS", "IVC_KEYS"]

#: top-level scalar fields settable with :meth:`ReviewController.set_field` (from checklist.json)
TOP_FIELDS: tuple[str, ...] = tuple(k for k in FIELD_SPECS if k not in ("ivc", "findings"))
#: keys of the ``ivc`` object (from checklist.json)
IVC_KEYS: tuple[str, ...] = tuple(FIELD_SPECS["ivc"]["properties"])
_CHECKLIST = frozenset(CHECKLIST_IDS)
SOURCES_KEY = "x_sources"

Source = str | Mapping[str, Any] | None


def _source_text(src: Any) -> str:
    if isinstance(src, str):
        return src
    if isinstance(src, Mapping):
        if isinstance(src.get("text"), str):
            return src["text"]
        return ", ".join(f"{k} {v}" for k, v in src.items())
    return ""


class ReviewController(QObject):
    """The findings of the current review, validated on every change, with a live assessment.

    Signals: ``changed()`` after any accepted change (``assessment()`` is already new),
    ``suggestions_changed()``, ``problem(str)`` for a refused change (state unchanged),
    ``read_only_changed(bool)``.
    """

    changed = pyqtSignal()
    suggestions_changed = pyqtSignal()
    problem = pyqtSignal(str)
    read_only_changed = pyqtSignal(bool)

    READ_ONLY_PROBLEM = "this window is read-only (the study is open for editing in another window)"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._doc: dict[str, Any] = {"schema": SCHEMA}
        self._findings = Findings.from_dict(self._doc)
        self._assessment = assess(self._findings)
        self._suggestions: dict[str, dict[str, Any]] = {}
        self._dismissed: set[tuple[str, bool]] = set()
        #: seconds the last validate + assess took (the panel shows nothing of it; tests read it)
        self.last_assess_s = 0.0
        self._read_only = False

    # ------------------------------------------------------------------ read-only
    @property
    def read_only(self) -> bool:
        return self._read_only

    def set_read_only(self, on: bool) -> None:
        """Refuse every change (``True``) or accept them again; pending suggestions are dropped on
        the way in (they could only be accepted by editing)."""
        on = bool(on)
        if on == self._read_only:
            return
        self._read_only = on
        if on and self._suggestions:
            self._suggestions.clear()
            self.suggestions_changed.emit()
        self.read_only_changed.emit(on)

    @contextlib.contextmanager
    def writable(self) -> Iterator[None]:
        """Changes allowed inside the block while staying read-only outside it (the session putting
        the editing window's newer save in place); nothing about the switch is emitted."""
        was = self._read_only
        self._read_only = False
        try:
            yield
        finally:
            self._read_only = was

    def _refused(self) -> bool:
        """True (and ``problem`` emitted) while read-only."""
        if self._read_only:
            self.problem.emit(self.READ_ONLY_PROBLEM)
        return self._read_only

    # ------------------------------------------------------------------ reading
    def findings_dict(self) -> dict[str, Any]:
        """A deep copy of the document (findings-v1 shape, with ``x_sources`` when any)."""
        return copy.deepcopy(self._doc)

    def findings(self) -> Findings:
        """The validated document as the core's value object."""
        return self._findings

    def assessment(self) -> Assessment:
        """The latest :func:`workstation.reasoning.ranking.assess` result."""
        return self._assessment

    def value(self, path: str) -> Any:
        """A field by path (``"age_years"``, ``"ivc.renal_vein_z_mm"``, ``"findings.calcification"``);
        ``None`` when unknown."""
        head, _, rest = path.partition(".")
        v = self._doc.get(head)
        if rest:
            v = v.get(rest) if isinstance(v, Mapping) else None
        return copy.deepcopy(v)

    def sources(self) -> dict[str, str]:
        """field path -> where the value came from, in words."""
        return {k: _source_text(v) for k, v in (self._doc.get(SOURCES_KEY) or {}).items()}

    def source_of(self, path: str) -> Any:
        """The stored source of one field (a string or an object), ``None`` when typed by hand/unset."""
        return copy.deepcopy((self._doc.get(SOURCES_KEY) or {}).get(path))

    def source_measurement(self, path: str) -> str | None:
        """The id of the measurement that filled ``path``, if it was filled from one."""
        src = (self._doc.get(SOURCES_KEY) or {}).get(path)
        if isinstance(src, Mapping) and isinstance(src.get("measurement_id"), str):
            return src["measurement_id"]
        return None

    def suggestions(self) -> dict[str, dict[str, Any]]:
        """Pending suggestions: checklist id -> ``{"value": bool, "reason": str}``."""
        return copy.deepcopy(self._suggestions)

    # ------------------------------------------------------------------ changing
    def reset(self) -> None:
        """An empty document (another study is opened): no fields, sources or suggestions, and the
        dismissed suggestions forgotten; ``changed`` and ``suggestions_changed`` follow."""
        self._suggestions.clear()
        self._dismissed.clear()
        self._doc = {"schema": SCHEMA}
        self._findings = Findings.from_dict(self._doc)
        self._assessment = assess(self._findings)
        self.changed.emit()
        self.suggestions_changed.emit()

    def set_document(self, d: Mapping[str, Any]) -> bool:
        """Replace the whole document (open / restore); validated, refused as a whole if invalid."""
        if self._refused():
            return False
        try:
            new = copy.deepcopy(dict(d))
        except Exception as exc:  # not a mapping at all
            self.problem.emit(f"findings document: expected an object ({exc})")
            return False
        ok = self._commit(new)
        if ok:
            self._drop_resolved_suggestions()
        return ok

    def set_field(self, name: str, value: Any, source: Source = None) -> bool:
        """Set a top-level field (``None`` removes it: unknown). ``source`` says where it came from
        (a string, or ``{"text": ..., "measurement_id": ...}``); ``None`` = entered by hand."""
        if self._refused():
            return False
        if name not in TOP_FIELDS:
            hint = " (use set_ivc)" if name == "ivc" else " (use set_finding)" if name == "findings" else ""
            self.problem.emit(f"{name}: not a settable field of {SCHEMA}{hint}")
            return False
        new = copy.deepcopy(self._doc)
        if value is None:
            new.pop(name, None)
        else:
            new[name] = value
        self._put_source(new, name, None if value is None else source)
        return self._commit(new)

    def set_ivc(self, key: str, value: Any, source: Source = None) -> bool:
        """Set one key of the ``ivc`` object (``tumor_z_mm`` as ``[low, high]``); ``None`` removes it."""
        if self._refused():
            return False
        if key not in IVC_KEYS:
            self.problem.emit(f"ivc.{key}: unknown field (expected {', '.join(IVC_KEYS)})")
            return False
        new = copy.deepcopy(self._doc)
        ivc = dict(new.get("ivc") or {})
        if value is None:
            ivc.pop(key, None)
        else:
            ivc[key] = list(value) if isinstance(value, tuple) else value
        if ivc:
            new["ivc"] = ivc
        else:
            new.pop("ivc", None)
        self._put_source(new, f"ivc.{key}", None if value is None else source)
        return self._commit(new)

    def set_finding(self, fid: str, value: bool | None, source: Source = None) -> bool:
        """Set a checklist item yes (``True``) / no (``False``) / unknown (``None``).

        Setting an item resolves a pending suggestion for it (the reader has decided)."""
        if self._refused():
            return False
        if fid not in _CHECKLIST:
            self.problem.emit(f"findings.{fid}: unknown checklist id")
            return False
        new = copy.deepcopy(self._doc)
        items = dict(new.get("findings") or {})
        if value is None:
            items.pop(fid, None)
        else:
            items[fid] = value
        if items:
            new["findings"] = items
        else:
            new.pop("findings", None)
        self._put_source(new, f"findings.{fid}", None if value is None else source)
        ok = self._commit(new)
        if ok and fid in self._suggestions:
            del self._suggestions[fid]
            self.suggestions_changed.emit()
        return ok

    # ------------------------------------------------------------------ suggestions
    def suggest(self, fid: str, value: bool, reason: str) -> bool:
        """Keep a pending suggestion for a checklist item; never changes the findings.

        Not kept (returns ``False``) when the item already has that value, or when the reader
        dismissed the same suggestion before, or while read-only. An unknown id or a non-bool value
        is a problem."""
        if self._read_only:
            return False
        if fid not in _CHECKLIST:
            self.problem.emit(f"findings.{fid}: unknown checklist id (suggestion refused)")
            return False
        if not isinstance(value, bool):
            self.problem.emit(f"findings.{fid}: a suggestion must be true or false, got {value!r}")
            return False
        if (self._doc.get("findings") or {}).get(fid) is value or (fid, value) in self._dismissed:
            return False
        new = {"value": value, "reason": str(reason)}
        if self._suggestions.get(fid) == new:
            return True
        self._suggestions[fid] = new
        self.suggestions_changed.emit()
        return True

    def accept_suggestion(self, fid: str) -> bool:
        if self._refused():
            return False
        s = self._suggestions.get(fid)
        if s is None:
            return False
        return self.set_finding(fid, s["value"], source=f"suggested ({s['reason']}), accepted by the reader")

    def dismiss_suggestion(self, fid: str) -> bool:
        if self._refused():
            return False
        s = self._suggestions.pop(fid, None)
        if s is None:
            return False
        self._dismissed.add((fid, s["value"]))
        self.suggestions_changed.emit()
        return True

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _put_source(doc: dict[str, Any], path: str, source: Source) -> None:
        srcs = dict(doc.get(SOURCES_KEY) or {})
        if source is None or source == "":
            srcs.pop(path, None)
        else:
            srcs[path] = dict(source) if isinstance(source, Mapping) else str(source)
        if srcs:
            doc[SOURCES_KEY] = srcs
        else:
            doc.pop(SOURCES_KEY, None)

    def _commit(self, new: dict[str, Any]) -> bool:
        t0 = time.perf_counter()
        try:
            f = Findings.from_dict(new)
            a = assess(f)
        except WorkstationError as exc:
            self.problem.emit(str(exc))
            return False
        self.last_assess_s = time.perf_counter() - t0
        if new == self._doc:
            return True
        self._doc, self._findings, self._assessment = new, f, a
        self.changed.emit()
        return True

    def _drop_resolved_suggestions(self) -> None:
        known = self._doc.get("findings") or {}
        gone = [k for k, s in self._suggestions.items() if known.get(k) is s["value"]]
        for k in gone:
            del self._suggestions[k]
        if gone:
            self.suggestions_changed.emit()

"""Autosave and crash restore of the review (findings, measurements, lesion masks) per study.

* **Autosave**: every change — the controller's ``changed``, a measurement added / changed /
  removed, a lesion mask edited — starts a short timer (``AUTOSAVE_DELAY_MS``); when it fires, the
  state goes to :class:`workstation.session.SessionStore` (atomic JSON + npz; the masks are only
  rewritten when a mask changed). The store is keyed by the loaded volumes' StudyInstanceUID(s)
  (:func:`workstation.session.study_key`: a hash, no patient data in paths), under
  ``$WORKSTATION_STATE_DIR`` (default ``~/.local/state/rp-workstation/sessions``).
* **Restore**: when a study finishes loading and its session was not closed cleanly (a crash or a
  kill), a bar above the views offers *Restore* / *Discard* (non-modal; the reader can look at the
  images first). Nothing is autosaved while the offer is open, so the unrestored work is never
  overwritten. *Restore* brings back the measurements (drawn on the images), the lesion masks (the
  overlay, ready for the brush) and the findings document exactly as saved.
  ``WORKSTATION_AUTORESTORE=1`` accepts the offer at once, ``WORKSTATION_AUTORESTORE=0`` discards it
  (tests and scripted sessions); unset = ask.
* **Clean close**: closing the main window (or quitting the app) flushes a pending save and marks
  the session closed cleanly, so the next opening offers nothing. Opening another study in the same
  window (``host.study_closing``) does the same for the old study, then :meth:`close_study` detaches
  from it; the review module calls it first, before its other parts reset.
"""
from __future__ import annotations

import os
import time
from typing import Any

from PyQt6.QtCore import QObject, QTimer, pyqtSignal
from PyQt6.QtWidgets import QApplication

from workstation.errors import WorkstationError
from workstation.measure.model import Lesion3D
from workstation.session import SessionState, SessionStore, study_key

__all__ = ["SessionAutosave", "AUTOSAVE_DELAY_MS", "AUTORESTORE_ENV"]

AUTOSAVE_DELAY_MS = 400
AUTORESTORE_ENV = "WORKSTATION_AUTORESTORE"
#: findings keys that the app fills by itself on opening (header prefill): not "work" to restore
_AUTOMATIC_KEYS = {"schema", "age_years", "sex", "x_sources"}

def has_work(state: SessionState) -> bool:
    """True when a saved state holds something the reader did (not only the header prefill)."""
    return bool(state.measurements or state.masks or (set(state.findings or {}) - _AUTOMATIC_KEYS))


class SessionAutosave(QObject):
    """Signals: ``saved(int)`` (saves written so far), ``offered(str)`` (restore offer text),
    ``restored()``, ``discarded()``."""

    saved = pyqtSignal(int)
    offered = pyqtSignal(str)
    restored = pyqtSignal()
    discarded = pyqtSignal()

    IDLE, OFFERING, ACTIVE = "idle", "offering", "active"

    def __init__(self, host, controller=None, lesions=None) -> None:
        """``lesions``: the review's lesion tools (their masks are saved and restored)."""
        super().__init__(host)
        self.host, self.controller, self.lesions = host, controller, lesions
        self.store: SessionStore | None = None
        self.state = self.IDLE
        self.dirty = False
        self.masks_dirty = False
        self.bar: Any = None  # the host banner of the restore offer
        self.pending_state: SessionState | None = None
        self.last_error: str | None = None
        self.saves = 0  # saves written by this window
        self._closed = False
        self._lesions_connected = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(AUTOSAVE_DELAY_MS)
        self.timer.timeout.connect(self.save_now)
        if controller is not None:
            controller.changed.connect(self.touch)
        ms = host.measurements
        for sig in (ms.added, ms.changed, ms.removed):
            sig.connect(lambda *_: self.touch())
        host.study_loaded.connect(self._study_loaded)
        host.window_closing.connect(self.close_clean)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close_clean)
        self._connect_lesions()

    # -- change tracking ------------------------------------------------------------------------
    def _lesion_tools(self):
        return self.lesions

    def _connect_lesions(self) -> None:
        if self._lesions_connected:
            return
        lt = self._lesion_tools()
        if lt is not None:
            lt.masks_changed.connect(lambda: self.touch(masks=True))
            self._lesions_connected = True

    def touch(self, masks: bool = False) -> None:
        """Something changed: save after a short pause (debounced)."""
        if self._closed:
            return
        self.dirty = True
        self.masks_dirty = self.masks_dirty or bool(masks)
        if self.state == self.ACTIVE:
            self.timer.start()

    def busy(self) -> bool:
        """True while a change is waiting to be saved."""
        return self.dirty or self.timer.isActive()

    # -- study ------------------------------------------------------------------------------------
    def study_uids(self) -> list[str]:
        return sorted({str(v.meta.get("study_uid")) for v in self.host.volumes().values()
                       if (v.meta or {}).get("study_uid")})

    def _study_loaded(self) -> None:
        self._connect_lesions()
        uids = self.study_uids()
        if not uids:
            self.host.status("Autosave is off: the study has no StudyInstanceUID", 8000)
            self.state = self.IDLE
            return
        self.store = SessionStore(study_key(uids))
        self._closed = False
        if self.store.has_unrestored():
            try:
                st = self.store.load()
            except WorkstationError as exc:
                self.host.report_problem(f"Autosave: {exc}")
                st = None
            if st is not None and has_work(st):
                self._offer(st)
                return
        self._activate()

    def _activate(self) -> None:
        self.state = self.ACTIVE
        self.masks_dirty = True  # the first save of this run writes the masks as they are now
        if self.dirty:
            self.timer.start()

    def _offer(self, st: SessionState) -> None:
        self.state = self.OFFERING
        self.pending_state = st
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.saved_at)) if st.saved_at else "earlier"
        n = len(st.measurements)
        text = (f"Unsaved work on this study from {when} was found ({n} measurement{'s' if n != 1 else ''}"
                f"{', findings' if set(st.findings or {}) - _AUTOMATIC_KEYS else ''}"
                f"{', lesion mask' if st.masks else ''}). Restore it?")
        self.offered.emit(text)
        choice = os.environ.get(AUTORESTORE_ENV, "").strip()
        if choice == "1":
            self.restore()
            return
        if choice == "0":
            self.discard()
            return
        self.bar = self.host.show_banner(text, "warning", name="restore_session_bar",
                                         buttons=(("Restore", "restore_session", self.restore),
                                                  ("Discard", "discard_session", self.discard)))
        self.host.status("Unsaved work was found for this study: Restore or Discard (bar above the images)", 15000)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.dismiss()
            self.bar = None

    def restore(self) -> None:
        st, self.pending_state = self.pending_state, None
        self._close_bar()
        if st is None:
            self._activate()
            return
        self.apply(st)
        self._activate()
        self.dirty = True
        self.save_now()
        self.host.status(f"Restored {len(st.measurements)} measurements and the findings of the last session", 10000)
        self.restored.emit()

    def discard(self) -> None:
        self.pending_state = None
        self._close_bar()
        if self.store is not None:
            self.store.discard()
        self._activate()
        self.dirty = True
        self.save_now()
        self.discarded.emit()

    def apply(self, st: SessionState) -> None:
        """Put a saved state back: lesion masks, measurements, then the findings (exactly as saved)."""
        host = self.host
        lt = self._lesion_tools()
        lesions = (st.extra or {}).get("lesions") or {}
        records = {m.id: m for m in st.measurements}
        if lt is not None:
            for name, mask in st.masks.items():
                rec = records.get(name)
                vol = host.volume(lesions.get(name) or (rec.series_uid if rec else ""))
                if isinstance(rec, Lesion3D) and vol is not None and mask.shape == vol.shape:
                    lt.restore(rec, vol, mask)
                else:
                    host.report_problem(f"Autosave: lesion mask {name} does not fit a loaded series; not restored")
        store = host.measurements
        for m in st.measurements:
            if m.id in store:
                store.update(m, undoable=False)
            else:
                store.add(m)
        store.undo_stack.clear()  # the restored state is where this session's undo history starts
        if self.controller is not None and st.findings and st.findings.get("schema"):
            self.controller.set_document(st.findings)

    # -- saving ---------------------------------------------------------------------------------
    def current(self) -> dict[str, Any]:
        lt = self._lesion_tools()
        return {"findings": self.controller.findings_dict() if self.controller is not None else None,
                "measurements": self.host.measurements.items(),
                "masks": lt.masks() if lt is not None else {},
                "lesions": lt.lesion_series() if lt is not None else {}}

    def save_now(self) -> bool:
        self.timer.stop()
        if self.state != self.ACTIVE or self.store is None or not self.dirty:
            return False
        cur = self.current()
        masks = cur["masks"] if self.masks_dirty else None
        try:
            self.store.save(cur["findings"], cur["measurements"], masks=masks,
                            extra={"lesions": cur["lesions"]})
        except (WorkstationError, OSError) as exc:
            msg = f"Autosave failed: {exc}"
            if msg != self.last_error:  # report once, not on every keystroke
                self.host.report_problem(msg)
            self.last_error = msg
            self.host.status(msg, 10000)
            return False
        self.last_error = None
        self.dirty = False
        self.masks_dirty = False
        self.saves += 1
        self.saved.emit(self.saves)
        return True

    def close_clean(self) -> None:
        """Flush the pending save and mark the session closed cleanly (window close / app quit)."""
        if self._closed:
            return
        if self.state == self.ACTIVE and self.store is not None:
            self.save_now()
            try:
                self.store.clean_close()
            except (WorkstationError, OSError) as exc:
                self.host.report_problem(f"Autosave: {exc}")
        self._closed = True

    def close_study(self) -> None:
        """Another study is being opened: flush and mark this one closed cleanly (unless its restore
        offer is still open: that work stays on disk, offered again next time), then detach; the
        next ``study_loaded`` attaches to the new study as on the first opening."""
        self.close_clean()
        self.pending_state = None
        self._close_bar()
        self.store = None
        self.state = self.IDLE
        self.dirty = False
        self.masks_dirty = False
        self._closed = False  # changes from now on belong to the next study (saved once it is loaded)

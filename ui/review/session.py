"""The review's read of a study: autosave, bring it back on every opening, reads, one writer.

* **Autosave**: every change — the controller's ``changed``, a measurement added / changed /
  removed, a lesion mask edited — starts a short timer (``AUTOSAVE_DELAY_MS``); when it fires, the
  state goes to :class:`workstation.session.SessionStore` (atomic JSON + npz; the masks are only
  rewritten when a mask changed). The store is keyed by the loaded volumes' StudyInstanceUID(s)
  (:func:`workstation.session.study_key`: a hash, no patient data in paths), under
  ``$WORKSTATION_STATE_DIR`` (default ``~/.local/state/rp-workstation/sessions``); it also keeps the
  path the study was opened from (File › Recent studies reopens it).
* **The read comes back**: when a study finishes loading and work was saved for it — whether the
  last session closed cleanly, opened another study, was relaunched or crashed — the measurements
  (drawn on the images), the lesion masks (overlay, ready for the brush), the target lesion and the
  findings come back exactly as saved, and the status line says so. Nothing is saved before that,
  so an opening can never overwrite the saved read. ``WORKSTATION_AUTORESTORE=0`` starts a new read
  instead (the saved one is archived, never deleted).
* **Reads**: :meth:`start_new_read` (File › Start a new read) archives the read in progress and
  starts an empty one; :meth:`switch_read` (File › Reads of this study) brings an archived read
  back and archives the current one. Nothing is deleted.
* **One writer per study**: the window that opens a study first holds its lock
  (:class:`workstation.session.StudyLock`: pid, host, start time). A second window or process on the
  same study shows the saved read **read-only** with a banner naming the owner, and is visibly so:
  the tools that create or change the read (calipers, ROIs, angle, arrow, lesion growing and the
  brush, IVC landmarks, enhancement) are disabled in the tool bar (``ToolManager.set_read_only``),
  the measurements are drawn without handles and the store refuses every add, move, rename,
  delete, undo and redo (``MeasurementStore.set_read_only``), the findings refuse every change and
  the panel's editors are read-only or disabled (``ReviewController.set_read_only``). Viewing,
  scrolling, window/level, zoom, the probe, copying the report and exporting what is shown stay.
  Nothing is saved. While the owner edits, the window follows its saves (checked every
  ``OWNER_CHECK_MS``: a newer save is shown in place of the older one, still read-only), so what a
  reader copies or exports here is the read as last saved. When the owner goes (closes its
  window, or its process dies) the banner says
  so and offers *Take over editing*; the window stays read-only until the reader takes over (or
  reopens the study): switching by itself would reload the read under the reader's eyes. Taking
  over reloads the read as the owner last saved it and makes everything editable again (a lock
  left by a dead process is taken over, and the status line says so).
* **A damaged session file** is kept aside (``session.json.corrupt-<time>``), a banner and the
  problems list say so, and autosave carries on in a fresh file.
* **Clean close**: closing the main window (``host.window_closing``) or quitting the app flushes a
  pending save, marks the read closed cleanly and gives the lock back. Opening another study (the
  review module's close hook) does the same for the old study, then :meth:`close_study` detaches.
"""
from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PyQt6.QtCore import QObject, QTimer, pyqtSignal
from PyQt6.QtWidgets import QApplication

from workstation.errors import WorkstationError
from workstation.measure.model import Lesion3D
from workstation.session import LockOwner, ReadInfo, SessionState, SessionStore, pid_alive, study_key

__all__ = ["AUTORESTORE_ENV", "AUTOSAVE_DELAY_MS", "SessionAutosave", "has_work"]

AUTOSAVE_DELAY_MS = 400
AUTORESTORE_ENV = "WORKSTATION_AUTORESTORE"
OWNER_CHECK_MS = 2000


def _writable(part: Any) -> contextlib.AbstractContextManager[Any]:
    """``part.writable()`` when it has one (the store, the controller), else nothing."""
    return part.writable() if hasattr(part, "writable") else contextlib.nullcontext()


def has_work(state: SessionState) -> bool:
    """True when a saved state holds something the reader did (not only the header prefill)."""
    return state.has_work()


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "earlier"


def describe_state(st: SessionState) -> str:
    n = len(st.measurements)
    parts = [f"{n} measurement{'s' if n != 1 else ''}"]
    if set(st.findings or {}) - {"schema", "age_years", "sex", "x_sources"}:
        parts.append("findings")
    if st.masks:
        parts.append("lesion mask" + ("s" if len(st.masks) > 1 else ""))
    return ", ".join(parts)


class SessionAutosave(QObject):
    """Signals: ``saved(int)`` (saves written so far), ``restored()`` (saved work brought back),
    ``new_read(str)`` (a new read started; the archived read's id), ``read_only_changed(bool)``,
    ``damaged(str)`` (a damaged session file was kept aside), ``followed()`` (read-only: the
    editing window's newer save is now shown)."""

    saved = pyqtSignal(int)
    restored = pyqtSignal()
    new_read = pyqtSignal(str)
    read_only_changed = pyqtSignal(bool)
    damaged = pyqtSignal(str)
    followed = pyqtSignal()

    IDLE, ACTIVE, READ_ONLY = "idle", "active", "read-only"

    def __init__(self, host, controller=None, lesions=None,
                 reset_work: Callable[[], None] | None = None) -> None:
        """``lesions``: the review's lesion tools (their masks are saved and restored);
        ``reset_work()``: empties the window's work on the open study (measurements, masks,
        results, findings) without closing it — for a new read or a switch of reads."""
        super().__init__(host)
        self.host, self.controller, self.lesions = host, controller, lesions
        self.reset_work = reset_work or self._reset_minimal
        self.store: SessionStore | None = None
        self.state = self.IDLE
        self.dirty = False
        self.masks_dirty = False
        self.bar: Any = None  # the read-only or damaged-file banner
        self.owner: LockOwner | None = None  # who edits the study when this window is read-only
        self._seen: tuple[int, int, int] | None = None  # read-only: the owner's save last shown
        self.last_error: str | None = None
        self.last_message = ""  # the last thing told to the reader about the read (tests read it)
        self.saves = 0  # saves written by this window
        self._closed = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(AUTOSAVE_DELAY_MS)
        self.timer.timeout.connect(self.save_now)
        self.owner_watch = QTimer(self)  # read-only: notice when the editing window has gone
        self.owner_watch.setInterval(OWNER_CHECK_MS)
        self.owner_watch.timeout.connect(self._check_owner)
        if controller is not None:
            controller.changed.connect(self.touch)
        ms = host.measurements
        for sig in (ms.added, ms.changed, ms.removed):
            sig.connect(lambda *_: self.touch())
        for refusing in (ms, getattr(host, "tools", None)):  # a read-only window says why nothing happens
            if refusing is not None and hasattr(refusing, "refused"):
                refusing.refused.connect(lambda text: self.host.status(text, 6000))
        host.study_loaded.connect(self._study_loaded)
        host.window_closing.connect(self.close_clean)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.close_clean)
        if lesions is not None:
            lesions.masks_changed.connect(lambda: self.touch(masks=True))

    # -- change tracking ------------------------------------------------------------------------
    def _lesion_tools(self):
        return self.lesions

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

    @property
    def read_only(self) -> bool:
        return self.state == self.READ_ONLY

    def _tell(self, text: str, timeout_ms: int = 15000) -> None:
        self.last_message = text
        self.host.status(text, timeout_ms)

    # -- study ------------------------------------------------------------------------------------
    def study_uids(self) -> list[str]:
        return sorted({str(v.meta.get("study_uid")) for v in self.host.volumes().values()
                       if (v.meta or {}).get("study_uid")})

    def _study_loaded(self) -> None:
        uids = self.study_uids()
        if not uids:
            self._tell("Autosave is off: the study has no StudyInstanceUID", 8000)
            self.state = self.IDLE
            return
        key = study_key(uids)
        if self.store is not None:
            if self.store.key == key and self.state in (self.ACTIVE, self.READ_ONLY):
                return  # the same study announced again: already attached
            self.store.release()
        self._closed = False
        vols = list(self.host.volumes().values())
        self.store = store = SessionStore(key)
        store.set_source(self.host.study_path(), [v.modality for v in vols], len(vols))
        try:
            lock = store.acquire()
        except WorkstationError as exc:
            self.host.report_problem(f"Autosave: {exc}")
            self._tell(f"Autosave is off: {exc}", 15000)
            self.state = self.IDLE
            return
        if not lock.acquired:
            self._enter_read_only(lock.owner)
            return
        note = ""
        if lock.took_over is not None:
            note = f" (took over from {lock.took_over.describe()}, which is no longer running)"
        self._bring_back(note)

    def _bring_back(self, note: str = "") -> None:
        """Load the saved read and put it back (or archive it when the environment says so)."""
        st = self._load()
        if st is not None and st.has_work() and os.environ.get(AUTORESTORE_ENV, "").strip() == "0":
            try:
                rid = self.store.archive_current() if self.store is not None else None
            except (WorkstationError, OSError) as exc:
                self.host.report_problem(f"Autosave: {exc}")
                self.state = self.IDLE  # never save over a read that could not be archived
                self._tell(f"Autosave is off: the saved read could not be archived ({exc})"[:300])
                return
            self._activate()
            self._tell(f"Started a new read; the saved read is archived ({rid}){note}")
            return
        if st is not None and st.has_work():
            self.apply(st)
            self._activate()
            self._tell(f"Restored your read of this study (last edited {_when(st.saved_at)}: "
                       f"{describe_state(st)}){note}")
            self.restored.emit()
            return
        self._activate()
        if note:
            self._tell(f"Autosave is on{note}")

    def _load(self) -> SessionState | None:
        """The saved read; a damaged file is kept aside, the reader told, and None returned."""
        if self.store is None:
            return None
        try:
            return self.store.load()
        except WorkstationError as exc:
            msg = f"The saved read of this study was damaged and kept aside; autosave continues in a fresh file. {exc}"
            self.host.report_problem(f"Autosave: {exc}")
            self._show_bar(msg[:300], "error", (("OK", "dismiss_session_banner", self._close_bar),))
            self._tell(msg[:300], 20000)
            self.damaged.emit(str(exc))
            return None

    def _activate(self) -> None:
        self.state = self.ACTIVE
        self.masks_dirty = True  # the first save of this run writes the masks as they are now
        if self.dirty:
            self.timer.start()

    # -- one writer ---------------------------------------------------------------------------------
    def _enter_read_only(self, owner: LockOwner | None) -> None:
        self.state = self.READ_ONLY
        self.owner = owner
        who = owner.describe() if owner is not None else "another window"
        text = (f"Read-only: this study is open for editing in another window ({who}). "
                "Measurements and findings cannot be changed here.")
        self._show_bar(text, "warning", (("Take over editing", "take_over_session", self.try_take_over),))
        self._seen = self._saved_stamp()
        st = self._load_quietly()
        if st is not None and st.has_work():
            self.apply(st)
        self.dirty = False
        self._set_read_only(True)
        self._tell(text, 20000)
        self.owner_watch.start()
        self.read_only_changed.emit(True)

    def _saved_stamp(self) -> tuple[int, int, int] | None:
        """(inode, mtime in ns, size) of the saved read; None when there is none. Every save is a
        new file renamed into place, so the inode tells saves apart where a coarse clock and an
        equal size would not."""
        try:
            st = self.store.path.stat() if self.store is not None else None
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size) if st is not None else None

    def follow_owner(self) -> bool:
        """Read-only: show the read as the editing window last saved it, when it saved since this
        window last looked (checked with the owner, every ``OWNER_CHECK_MS``); True when the shown
        read was replaced. The window stays read-only throughout."""
        if self.state != self.READ_ONLY:
            return False
        stamp = self._saved_stamp()
        if stamp is None or stamp == self._seen:
            return False
        st = self._load_quietly()
        if st is None:
            return False  # half-seen or damaged: the next check tries again
        self._seen = stamp
        store, c = self.host.measurements, self.controller
        # the gates open for this swap only, silently: the window stays read-only on screen
        with _writable(store), _writable(c):
            self.apply(st, prune=True)
        self.dirty = False
        self._tell(f"Read-only: showing the editing window's save of {_when(st.saved_at)} "
                   f"({describe_state(st)})", 8000)
        self.followed.emit()
        return True

    def _set_read_only(self, on: bool) -> None:
        """Gate (or open again) everything that would change the read: the findings, the
        measurement store (and so every tool, handle, list edit, undo) and the editing tools."""
        if self.controller is not None and hasattr(self.controller, "set_read_only"):
            self.controller.set_read_only(on)
        for part in (self.host.measurements, getattr(self.host, "tools", None)):
            if part is not None and hasattr(part, "set_read_only"):
                part.set_read_only(on)

    def owner_gone(self) -> bool:
        """Read-only: True when the window that held the study has released it or its process ended
        (checked without taking the lock)."""
        if self.store is None:
            return False
        if not self.store.lock.path.exists():
            return True
        o = self.owner
        return o is not None and o.host == socket.gethostname() and not pid_alive(o.pid)

    def _check_owner(self) -> None:
        if self.state != self.READ_ONLY:
            self.owner_watch.stop()
            return
        self.follow_owner()
        if self.owner_gone() and self.bar is not None:
            self.owner_watch.stop()
            self.bar.label.setText("Read-only: the window that was editing this study has closed. "
                                   "Take over editing to continue the read here (it is reloaded as "
                                   "last saved).")
            self._tell("The window editing this study has closed: Take over editing is available", 10000)

    def _load_quietly(self) -> SessionState | None:
        """Read-only: the owner's saved read, never moved or changed (a damaged one is skipped)."""
        try:
            return self.store.load() if self.store is not None else None
        except WorkstationError:
            return None

    def try_take_over(self) -> bool:
        """Become the study's writer if the owner has gone: the read is reloaded as last saved and
        everything becomes editable."""
        if self.store is None or self.state != self.READ_ONLY:
            return self.state == self.ACTIVE
        lock = self.store.acquire()
        if not lock.acquired:
            who = lock.owner.describe() if lock.owner is not None else "another window"
            self._tell(f"Still open for editing in another window ({who}); this window stays read-only", 10000)
            return False
        self._close_bar()
        self.owner_watch.stop()
        self.owner = None
        self.state = self.IDLE
        self._set_read_only(False)  # before the reset: the reload below puts the saved read back
        self.reset_work()
        self.dirty = False
        self.read_only_changed.emit(False)
        note = " — this window now edits the study"
        if lock.took_over is not None:
            note += f" (took over from {lock.took_over.describe()}, which is no longer running)"
        self._bring_back(note)
        return True

    # -- banner -----------------------------------------------------------------------------------
    def _show_bar(self, text: str, kind: str, buttons) -> None:
        self._close_bar()
        self.bar = self.host.show_banner(text, kind, buttons=buttons, name="session_banner")

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.dismiss()
            self.bar = None

    # -- putting a read back ----------------------------------------------------------------------
    def apply(self, st: SessionState, prune: bool = False) -> None:
        """Put a saved state back: lesion masks, measurements, then the findings (exactly as saved).
        What is already shown as saved is left alone (a mask, a record); ``prune``: what the saved
        state no longer has goes (a read-only window following the editing window's saves)."""
        host = self.host
        records = {m.id: m for m in st.measurements}
        for text in st.problems:
            host.report_problem(f"Autosave: {text}")
        store = host.measurements
        if prune:
            for m in store.items():
                if m.id not in records:
                    store.remove(m.id)
        self._apply_masks(st, records)
        for m in st.measurements:
            old = store.get(m.id)
            if old is None:
                store.add(m)
            elif old.to_dict() != m.to_dict():
                store.update(m, undoable=False)
        store.undo_stack.clear()  # the restored state is where this session's undo history starts
        if self.controller is not None and st.findings and st.findings.get("schema"):
            self.controller.set_document(st.findings)
        elif self.controller is not None and prune:
            self.controller.reset()

    def _apply_masks(self, st: SessionState, records: dict[str, Any]) -> None:
        lt = self._lesion_tools()
        if lt is None:
            return
        lesions = (st.extra or {}).get("lesions") or {}
        active = (st.extra or {}).get("active_lesion")
        shown = lt.masks()
        # the target lesion last: restoring a lesion makes it the active one
        for name, mask in sorted(st.masks.items(), key=lambda kv: kv[0] == active):
            cur = shown.get(name)
            if cur is not None and cur.shape == mask.shape and np.array_equal(cur, mask):
                continue  # shown as saved (re-measuring it again would change nothing)
            rec = records.get(name)
            vol = self.host.volume(lesions.get(name) or (rec.series_uid if rec else ""))
            if isinstance(rec, Lesion3D) and vol is not None and mask.shape == vol.shape:
                lt.restore(rec, vol, mask)
            else:
                self.host.report_problem(f"Autosave: lesion mask {name} does not fit a loaded series; not restored")

    def _reset_minimal(self) -> None:
        """The read's own state emptied: lesion masks, measurements, findings."""
        lt = self._lesion_tools()
        if lt is not None:
            lt.close_study()
        self.host.measurements.reset()
        if self.controller is not None:
            self.controller.reset()

    # -- reads ------------------------------------------------------------------------------------
    def start_new_read(self) -> str | None:
        """Archive the read in progress (kept, listed, restorable) and start an empty one on the
        same study; the archived read's id (None when nothing was saved yet or not possible)."""
        if self.store is None or self.state != self.ACTIVE:
            self._tell("A new read needs a study this window edits" +
                       (" (this window is read-only)" if self.read_only else ""), 8000)
            return None
        self.save_now()
        try:
            rid = self.store.archive_current()
        except (WorkstationError, OSError) as exc:
            self.host.report_problem(f"Autosave: {exc}")
            self._tell(f"A new read could not be started: {exc}", 15000)
            return None
        self.state = self.IDLE  # the reset below is not a change of the new read
        self.reset_work()
        self.dirty = True
        self._activate()
        self.save_now()
        self._tell("Started a new read of this study; the previous read is kept (File › Reads of this study)"
                   if rid else "Started a new read of this study (the previous one held no work)")
        self.new_read.emit(rid or "")
        return rid

    def reads(self) -> list[ReadInfo]:
        """The archived reads of the open study, newest first."""
        return self.store.reads() if self.store is not None else []

    def switch_read(self, read_id: str) -> bool:
        """Bring the archived read ``read_id`` back; the read in progress is archived first."""
        if self.store is None or self.state != self.ACTIVE:
            self._tell("Reads can be switched in the window that edits the study", 8000)
            return False
        self.save_now()
        try:
            self.store.restore_read(read_id)
        except (WorkstationError, OSError) as exc:
            self._tell(f"That read could not be brought back: {exc}", 15000)
            return False
        self.state = self.IDLE
        self.reset_work()
        self.dirty = False
        self._bring_back()
        return True

    def current_key(self) -> str | None:
        return self.store.key if self.store is not None else None

    # -- saving ---------------------------------------------------------------------------------
    def current(self) -> dict[str, Any]:
        lt = self._lesion_tools()
        return {"findings": self.controller.findings_dict() if self.controller is not None else None,
                "measurements": self.host.measurements.items(),
                "masks": lt.masks() if lt is not None else {},
                "lesions": lt.lesion_series() if lt is not None else {},
                "active_lesion": getattr(lt, "active_id", None) if lt is not None else None}

    def save_now(self) -> bool:
        self.timer.stop()
        if self.state != self.ACTIVE or self.store is None or not self.dirty:
            return False
        try:
            cur = self.current()
            masks = cur["masks"] if self.masks_dirty else None
            self.store.save(cur["findings"], cur["measurements"], masks=masks,
                            extra={"lesions": cur["lesions"], "active_lesion": cur["active_lesion"]})
        except (WorkstationError, OSError, ValueError, TypeError) as exc:
            msg = f"Autosave failed: {exc}"[:300]
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
        """Flush the pending save, mark the read closed cleanly and give the study's lock back
        (window close / app quit / another study)."""
        if self._closed:
            return
        self.owner_watch.stop()
        if self.state == self.ACTIVE and self.store is not None:
            self.save_now()
            try:
                self.store.clean_close()
            except (WorkstationError, OSError) as exc:
                self.host.report_problem(f"Autosave: {exc}")
        if self.store is not None:
            self.store.release()
        self._closed = True

    def close_study(self) -> None:
        """Another study is being opened: flush and mark this one closed cleanly, give its lock
        back, then detach; the next ``study_loaded`` attaches to the new study as on the first
        opening."""
        self.close_clean()
        self._close_bar()
        self.owner_watch.stop()
        self.store = None
        self.owner = None
        was_read_only = self.state == self.READ_ONLY
        self.state = self.IDLE
        self.dirty = False
        self.masks_dirty = False
        self._closed = False  # changes from now on belong to the next study (saved once it is loaded)
        if was_read_only:
            self._set_read_only(False)
            self.read_only_changed.emit(False)

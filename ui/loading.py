"""Loading a study off the GUI thread.

``LoadWorker`` runs the core loader (``workstation.dicom.scan`` then ``read_series`` for each
series) in a ``QThread`` and reports through queued signals: the volume as soon as it is allocated
(the views show it while slices arrive), per-slice progress, each finished series, files skipped.
The GUI thread never waits on disk or decoding.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from workstation.errors import PASS_THROUGH, WorkstationError, report, user_line

from .startup import trace

if TYPE_CHECKING:
    from workstation.volume import Volume

log = logging.getLogger(__name__)

#: scans started ahead (by the app, before Qt and the window are built), by path
_prescans: dict[str, Future] = {}
#: first-slice previews started ahead (workstation.dicom.first_slice), by path
_previews: dict[str, Future] = {}


def prescan(path, preview: bool = False) -> None:
    """Start scanning ``path`` in a thread now; the :class:`LoadWorker` for that path takes the
    result instead of scanning again. The app calls this first thing at launch, so that reading the
    headers overlaps importing Qt and building the window (the first image comes sooner).

    ``preview``: first look for the first slice without pydicom (:func:`take_preview` hands it
    over); when there is one, the full scan is left to the loader, started once that slice is on
    screen (importing pydicom and parsing every header would only compete with Qt's start-up)."""
    key = os.fspath(path)
    fut: Future = Future()
    first: Future | None = Future() if preview else None

    def run() -> None:
        if first is not None:
            vol = _first_slice(key)
            trace("first slice found" if vol is not None else "no first slice: full scan")
            first.set_result(vol)
            if vol is not None and _prescans.get(key) is fut and _prescans.pop(key, None) is fut:
                return  # no one took the scan: the loader scans once the preview is shown
        try:
            from workstation.dicom import scan

            fut.set_result(scan(key))
            trace("headers scanned ahead")
        except BaseException as exc:  # handed to the worker, which reports it as a scan failure
            fut.set_exception(exc)

    _prescans[key] = fut
    if first is not None:
        _previews[key] = first
    threading.Thread(target=run, name="prescan", daemon=True).start()


def _first_slice(key: str):
    try:
        from workstation.dicom.first_slice import first_slice

        return first_slice(key)
    except Exception:  # noqa: BLE001 - no preview; the full scan reports what is wrong
        log.debug("no first-slice preview", exc_info=True)
        return None


#: how long the window waits for the prescan's first slice (normally ~0.2 s) before it shows
#: itself without one and the loader scans as usual; a slow share or a stuck helper then delays
#: the first image, never the window (project judgement)
PREVIEW_WAIT_S = 2.0


def take_preview(path):
    """The first-slice preview of ``path`` (a Volume with ``meta["preview"]``, only its middle
    slice read) or None: the one :func:`prescan` started (None when it is not ready within
    :data:`PREVIEW_WAIT_S`), else computed now."""
    key = os.fspath(path)
    fut = _previews.pop(key, None)
    if fut is None:
        return _first_slice(key)
    try:
        return fut.result(timeout=PREVIEW_WAIT_S)
    except FutureTimeout:
        trace("first slice not ready: the loader scans")
        return None


def _scan(path):
    """The prescanned result for ``path`` if there is one (raising what the scan raised), else a scan."""
    fut = _prescans.pop(os.fspath(path), None)
    if fut is not None:
        return fut.result()
    from workstation.dicom import scan

    return scan(path)


class LoadWorker(QObject):
    """Signals: ``scanned(scan)``, ``allocated(volume, index, count)``, ``progress(volume, k, done,
    total)``, ``series_loaded(volume)``, ``series_failed(description, message)``,
    ``failed(message)`` (nothing usable), ``finished()``."""

    scanned = pyqtSignal(object)
    allocated = pyqtSignal(object, int, int)
    progress = pyqtSignal(object, int, int, int)
    series_loaded = pyqtSignal(object)
    series_failed = pyqtSignal(str, str)
    failed = pyqtSignal(str)
    finished = pyqtSignal()

    def __init__(self, path) -> None:
        super().__init__()
        self.path = path
        self._cancel = False

    def cancel(self) -> None:
        self._cancel = True

    @pyqtSlot()
    def run(self) -> None:
        trace("loader started")
        try:
            from workstation.dicom import read_series

            trace("pydicom imported")
            try:
                sc = _scan(self.path)
                trace("headers scanned")
            except WorkstationError as exc:
                self.failed.emit(user_line(exc))
                return
            self.scanned.emit(sc)
            if not sc.series:
                self.failed.emit(f"{self.path}: no image series found")
                return
            n = len(sc.series)
            for idx, info in enumerate(sc.series):
                if self._cancel:
                    break
                current: dict[str, Volume] = {}
                last = [0.0]

                def on_allocated(vol, _idx=idx, current=current):
                    current["v"] = vol
                    self.allocated.emit(vol, _idx, n)

                def on_progress(k, done, total, current=current, last=last):
                    v = current.get("v")
                    if v is None:
                        return
                    now = time.monotonic()
                    # at most ~60 updates a second reach the GUI; the last one always does
                    if done == total or now - last[0] > 0.016:
                        last[0] = now
                        self.progress.emit(v, int(k), int(done), int(total))
                    if self._cancel:
                        raise _Cancelled()

                try:
                    vol = read_series(info, progress=on_progress, on_allocated=on_allocated)
                except _Cancelled:
                    break
                except Exception as exc:  # noqa: BLE001 - one series failing (MemoryError too) is that series'
                    where = f"series {info.series_uid}"
                    self.series_failed.emit(getattr(info, "description", "") or info.series_uid,
                                            report(exc, where, "loader: read_series"))
                    continue
                self.series_loaded.emit(vol)
        except BaseException as exc:  # noqa: BLE001 - the thread's boundary: a native panic too
            if isinstance(exc, PASS_THROUGH):
                raise
            self.failed.emit(report(exc, str(self.path), "loader"))
        finally:
            self.finished.emit()


class _Cancelled(Exception):
    pass


class Loader(QObject):
    """Owns the worker thread for one study."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.worker_thread: QThread | None = None
        self.worker: LoadWorker | None = None

    def start(self, path, defer: bool = False) -> LoadWorker:
        """The worker for ``path``, running -- or, with ``defer``, ready to run at :meth:`begin`
        (its signals can be connected first)."""
        self.stop()
        self.worker_thread = QThread()
        self.worker = LoadWorker(path)
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.worker_thread.quit)
        if not defer:
            self.worker_thread.start()
        return self.worker

    def begin(self) -> None:
        """Run the worker :meth:`start` prepared with ``defer`` (no-op when it runs or ran)."""
        t = self.worker_thread
        if t is not None and not t.isRunning() and not t.isFinished() and self.worker is not None \
                and not self.worker._cancel:
            t.start()

    def is_running(self) -> bool:
        return self.worker_thread is not None and self.worker_thread.isRunning()

    def stop(self, wait_ms: int = 5000) -> None:
        if self.worker is not None:
            self.worker.cancel()
        if self.worker_thread is not None:
            self.worker_thread.quit()
            self.worker_thread.wait(wait_ms)
        self.worker_thread = None
        self.worker = None

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
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from workstation.errors import PASS_THROUGH, WorkstationError, report, user_line

if TYPE_CHECKING:
    from workstation.volume import Volume

log = logging.getLogger(__name__)

#: scans started ahead (by the app, before Qt and the window are built), by path
_prescans: dict[str, Future] = {}


def prescan(path) -> None:
    """Start scanning ``path`` in a thread now; the :class:`LoadWorker` for that path takes the
    result instead of scanning again. The app calls this first thing at launch, so that reading the
    headers overlaps importing Qt and building the window (the first image comes sooner)."""
    key = os.fspath(path)
    fut: Future = Future()

    def run() -> None:
        try:
            from workstation.dicom import scan

            fut.set_result(scan(key))
        except BaseException as exc:  # handed to the worker, which reports it as a scan failure
            fut.set_exception(exc)

    _prescans[key] = fut
    threading.Thread(target=run, name="prescan", daemon=True).start()


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
        try:
            from workstation.dicom import read_series

            try:
                sc = _scan(self.path)
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

    def start(self, path) -> LoadWorker:
        self.stop()
        self.worker_thread = QThread()
        self.worker = LoadWorker(path)
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.worker_thread.quit)
        self.worker_thread.start()
        return self.worker

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

"""The open study: its volumes, and the wiring from the background loader to the views.

``StudyController`` starts the loader, registers each volume as soon as it is allocated, shows the
first one at once (slices appear as they arrive), feeds the progress bar and the series browser,
collects skipped files for the status area, and offers the pre/post pair (hanging protocol) when
the study has one.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QEvent, QObject, QTimer, pyqtSignal

from workstation.volume import Volume

from .display import hanging_pair
from .loading import Loader
from .startup import trace


class StudyController(QObject):
    """Signals: ``volume_added(volume)``, ``series_loaded(volume)``, ``study_loaded()`` (loading
    finished), ``load_failed(message)``, ``pair_found(pre, post)``, ``preview_done()`` (the
    first-slice preview was replaced by the loader's volume, or dropped).

    ``open(path, preview=True)`` (the app's launch) first shows the study's first slice found
    without pydicom (:func:`workstation.dicom.first_slice.first_slice`): a preview volume with
    only that slice, shown as the loaded series will be (same series, slice and window). The
    loader starts once it is painted and its volume takes the preview's place as soon as it holds
    the shown slice."""

    volume_added = pyqtSignal(object)
    series_loaded = pyqtSignal(object)
    study_loaded = pyqtSignal()
    load_failed = pyqtSignal(str)
    pair_found = pyqtSignal(object, object)
    preview_done = pyqtSignal()

    #: the loader starts at the preview's first paint, or after this long if the view is not painted
    PREVIEW_START_MS = 1000

    def __init__(self, viewer, browser, status, windows, parent=None) -> None:
        super().__init__(parent)
        self.viewer, self.browser, self.status, self.windows = viewer, browser, status, windows
        self.volumes: dict[str, Volume] = {}
        self.loaded: set[str] = set()
        self.infos: list = []
        self.path: Path | None = None
        self.loader = Loader(self)
        self.loading = False
        self.failed_message: str | None = None
        self.pair: tuple[Volume, Volume] | None = None
        self._generation = 0
        #: the first-slice preview on screen, and the loader's volume that will replace it
        self.preview: Volume | None = None
        self._pending: Volume | None = None
        browser.series_activated.connect(self.show_series)

    # -- loading ----------------------------------------------------------------------------
    def open(self, path, preview: bool = False) -> None:
        self.path = Path(path)
        self.loading = True
        self.failed_message = None
        self.status.message(f"Opening {self.path.name} …")
        self._generation += 1
        first = None
        if preview:
            from .loading import take_preview

            first = take_preview(self.path)
        w = self.loader.start(self.path, defer=first is not None)
        for sig, slot in ((w.scanned, self._scanned), (w.allocated, self._allocated),
                          (w.progress, self._progress), (w.series_loaded, self._series_loaded),
                          (w.series_failed, self._series_failed), (w.failed, self._failed),
                          (w.finished, self._finished)):
            sig.connect(self._current_only(slot))
        if first is not None:
            self._show_preview(first)

    def _show_preview(self, volume: Volume) -> None:
        """Show the preview, and start the loader once it is painted (its imports and header
        parsing would otherwise hold the interpreter while Qt draws the first image)."""
        self.preview = volume
        self.viewer.show_volume(volume, keep_point=False)
        self.status.set_progress(0, volume.shape[0], "Series 1")
        begin = self._current_only(self.loader.begin)
        _AfterPaint(self.viewer.axial.viewport(), begin, self)
        start = QTimer(self)  # owned by the study: gone with it, never fired at a deleted one
        start.setSingleShot(True)
        start.timeout.connect(begin)
        start.timeout.connect(start.deleteLater)
        start.start(self.PREVIEW_START_MS)

    def _preview_shown(self) -> bool:
        return self.preview is not None and self.viewer.volume is self.preview

    def _matches_preview(self, volume: Volume) -> bool:
        p = self.preview
        return (p is not None and volume.series_uid == p.series_uid and volume.shape == p.shape
                and volume.meta.get("sop_instance_uids") == p.meta.get("sop_instance_uids"))

    def _replace_preview(self, volume: Volume | None, same: bool = True) -> None:
        """The loader's ``volume`` in the preview's place -- ``same`` series as the preview: at the
        same point (the same slice, or the one the reader scrolled to); else as a first series is
        shown, at its centre -- or, with None, the first loaded volume if any, else empty views."""
        if not self._preview_shown():
            self.preview = self._pending = None
            return
        self.preview = self._pending = None
        if volume is None:
            volume = next((self.volumes[u] for u in self.volumes if u in self.loaded), None)
        if volume is None:
            self.viewer.clear()
        else:
            self.viewer.show_volume(volume, keep_point=same)
            self.browser.set_current(volume.series_uid)
        trace("preview replaced by the loaded series")
        self.preview_done.emit()

    def _current_only(self, slot):
        """``slot`` for this load only: a stopped load's signals still queued are dropped."""
        gen = self._generation

        def call(*args):
            if gen == self._generation:
                slot(*args)
        return call

    def close(self) -> None:
        self.loader.stop()

    def reset(self) -> None:
        """Stop loading and forget the study (volumes, series, pair); the views are the window's."""
        self.loader.stop()
        self._generation += 1  # whatever the stopped worker queued is dropped
        self.volumes.clear()
        self.loaded.clear()
        self.infos = []
        self.path = None
        self.loading = False
        self.failed_message = None
        self.pair = None
        self.preview = self._pending = None

    def _scanned(self, scan) -> None:
        self.infos = list(scan.series)
        for info in self.infos:
            self.browser.add_series(info)
        skipped = [f"{getattr(s, 'file', '?')}: {getattr(s, 'reason', '')}" for s in getattr(scan, "skipped", [])]
        if skipped:
            self.status.add_skipped(skipped)
        n = len(self.infos)
        self.status.message(f"{n} series found; loading …")

    def add_volume(self, volume: Volume) -> None:
        """Register a volume (from the loader, or built by a module) and list it in the browser."""
        self.volumes[volume.series_uid] = volume
        self.windows.ensure(volume)
        self.browser.add_series(volume)
        self.volume_added.emit(volume)

    def _allocated(self, volume: Volume, index: int, count: int) -> None:
        self.add_volume(volume)
        if self._preview_shown() and self._pending is None:
            if self._matches_preview(volume):
                self._pending = volume  # shown once it holds the shown slice (read first)
            else:
                self._replace_preview(volume, same=False)
        elif self.viewer.volume is None:
            self.viewer.show_volume(volume)
            self.browser.set_current(volume.series_uid)
        self.status.set_progress(0, volume.shape[0], f"Series {index + 1}/{count}")

    def _progress(self, volume: Volume, k: int, done: int, total: int) -> None:
        if volume is self._pending and self.preview is not None and k == self.preview.meta.get("preview_slice"):
            self._replace_preview(volume)
        self.viewer.volume_progress(volume, k)
        self.status.set_progress(done, total, self._series_label(volume))
        self.browser.set_progress(volume, done, total)

    def _series_label(self, volume: Volume) -> str:
        uids = [getattr(i, "series_uid", None) for i in self.infos]
        if volume.series_uid in uids:
            return f"Series {uids.index(volume.series_uid) + 1}/{len(uids)}"
        return "Series"

    def _series_loaded(self, volume: Volume) -> None:
        self.add_volume(volume) if volume.series_uid not in self.volumes else None
        self.volumes[volume.series_uid] = volume
        self.loaded.add(volume.series_uid)
        if volume is self._pending:
            self._replace_preview(volume)
        self.windows.refresh_auto(volume)
        self.viewer.volume_complete(volume)
        self.browser.set_loaded(volume)
        for w in volume.warnings:
            self.status.add_problem(f"{volume.description or volume.series_uid}: {w}")
        self.series_loaded.emit(volume)

    def _series_failed(self, desc: str, message: str) -> None:
        self.status.add_problem(f"{desc}: {message}")

    def _failed(self, message: str) -> None:
        if self._preview_shown():
            self._replace_preview(None, same=False)
        self.failed_message = message
        self.status.message(message)
        self.load_failed.emit(message)

    def _finished(self) -> None:
        if self._preview_shown():
            self._replace_preview(self._pending, same=self._pending is not None)
        self.loading = False
        self.status.set_progress(0, 0)
        if self.failed_message is None:
            n = len(self.loaded)
            self.status.message(f"Study loaded: {n} series", 8000)
        pair = hanging_pair([self.volumes[u] for u in self.volumes if u in self.loaded])
        if pair is not None:
            self.pair = pair
            self.pair_found.emit(*pair)
        self.study_loaded.emit()

    # -- reader actions ---------------------------------------------------------------------
    def show_series(self, uid: str) -> None:
        vol = self.volumes.get(uid)
        if vol is None:
            self.status.message("That series is not loaded yet", 3000)
            return
        from .viewer import COMPARE

        if self.viewer.layout == COMPARE and self.viewer.active_viewport() is self.viewer.compare:
            self.viewer.show_compare(self.viewer.volume, vol)
        else:
            self.viewer.show_volume(vol)
        self.browser.set_current(uid)

    def show_pair(self) -> bool:
        if self.pair is None:
            return False
        self.viewer.show_compare(*self.pair)
        self.browser.set_current(self.pair[0].series_uid)
        return True


class _AfterPaint(QObject):
    """Calls ``callback`` once, from the event loop, after ``widget``'s first paint."""

    def __init__(self, widget, callback, parent=None) -> None:
        super().__init__(parent)
        self._widget, self._callback = widget, callback
        widget.installEventFilter(self)

    def eventFilter(self, obj, ev):  # noqa: N802 - Qt API
        if ev.type() == QEvent.Type.Paint:
            self._widget.removeEventFilter(self)
            QTimer.singleShot(0, self._callback)
        return False

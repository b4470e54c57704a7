"""Start the workstation app: ``run_app(path=None, screenshot=None) -> int``.

With ``screenshot``, the window is opened (1600x1000), the study loaded, and once it is shown
(loading finished, the first series on screen, the event loop settled) the main window is grabbed
to a PNG and the app exits 0. An unusable path gives one line on stderr and exit status 2. Works
with ``QT_QPA_PLATFORM=offscreen``.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from workstation.resources import sample_study

from .startup import trace

SCREENSHOT_SIZE = (1600, 1000)
SCREENSHOT_TIMEOUT_S = 300
#: with this variable set, the app prints ``first-image <epoch seconds>`` when the first slice of
#: the study has been painted with its pixels, then quits (benchmarks/first_image.py)
FIRST_IMAGE_ENV = "WORKSTATION_FIRST_IMAGE_EXIT"


def dark_palette(app) -> None:
    from PyQt6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor(22, 22, 24), QColor(38, 38, 42), QColor(220, 220, 220)
    R = QPalette.ColorRole
    p.setColor(R.Window, window)
    p.setColor(R.WindowText, text)
    p.setColor(R.Base, base)
    p.setColor(R.AlternateBase, QColor(30, 30, 34))
    p.setColor(R.ToolTipBase, QColor(50, 50, 55))
    p.setColor(R.ToolTipText, text)
    p.setColor(R.Text, text)
    p.setColor(R.Button, QColor(48, 48, 54))
    p.setColor(R.ButtonText, text)
    p.setColor(R.Highlight, QColor(40, 110, 170))
    p.setColor(R.HighlightedText, QColor(255, 255, 255))
    p.setColor(R.PlaceholderText, QColor(130, 130, 130))
    for role in (R.Text, R.ButtonText, R.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 110, 110))
    app.setPalette(p)
    app.setStyleSheet("QToolBar { spacing: 3px; border: 0; } "
                      "QToolButton:checked { background: #2a5f8a; border-radius: 3px; } "
                      "QDockWidget::title { padding: 3px; background: #2b2b30; } "
                      "#ViewGrid { background: #303036; }")


#: Qt messages that say nothing to a reader (offscreen platform limitations)
_QUIET_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _qt_message_handler(mode, context, message) -> None:
    if message in _QUIET_QT_MESSAGES:
        return
    sys.stderr.write(message + "\n")


def make_app(argv=None):
    """The QApplication (created once), pyqtgraph configured for row-major images."""
    import pyqtgraph as pg
    from PyQt6.QtWidgets import QApplication

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    from PyQt6.QtCore import qInstallMessageHandler

    app = QApplication.instance()
    if app is None:
        qInstallMessageHandler(_qt_message_handler)
        app = QApplication(list(argv or [sys.argv[0]]))
        app.setApplicationName("Workstation")
        dark_palette(app)
    return app


def create_window(path=None, modules: bool = True, defer_modules: bool = False, preview: bool = False,
                  defer_menus: bool = False):
    """Main window with the modules activated and the study loading (for the app and tests).

    ``defer_modules`` (the app's launch): the study starts loading first and the modules are
    activated once its first image has been painted (their imports -- scipy, scikit-image,
    highdicom -- take about a second the first image does not need), or earlier when the loader
    reports a finished series or a failure, so that no module misses ``study_loaded``. With a
    first-slice ``preview`` (``StudyController.open``), once the loader's volume has replaced it.
    ``defer_menus``: the PACS menu items are added after the first image (their imports are not
    needed for it)."""
    from .main_window import MainWindow

    trace("main window imported")
    win = MainWindow(defer_pacs_menu=defer_menus)
    trace("main window built")
    if defer_menus:
        on_first_image(win, win.add_pacs_menu)
    if modules and not (defer_modules and path is not None):
        win.host.load_modules()
    if path is not None:
        win.study.open(path, preview=preview)
        if modules and defer_modules:
            _activate_modules_after_first_image(win)
    return win


def _private_file(path: Path) -> None:
    """Create (or empty) ``path`` owner-only (0o600 exactly, POSIX), its folder made if missing."""
    from workstation.atomic import PRIVATE_FILE, set_private

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        set_private(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def _is_preview(volume) -> bool:
    return volume is not None and bool(volume.meta.get("preview"))


def on_first_image(win, callback, now: bool = False) -> None:
    """Call ``callback()`` once the axial view has been painted with the slice it shows loaded
    (the loader reads that slice first): ``now`` -- at once, as soon as that paint has finished
    (the paint is done inside the filter); else from the event loop right after it."""
    from PyQt6.QtCore import QCoreApplication, QEvent, QObject, QTimer

    axial = win.viewer.axial
    state = {"loaded": False, "done": False}

    def shown_index() -> int:
        return -1 if axial.mapping is None else int(axial.mapping.slice_to_index(axial.slice))

    def progress(volume, k, *_rest) -> None:
        if axial.volume is volume and k == shown_index():
            state["loaded"] = True

    class FirstPaint(QObject):
        def eventFilter(self, obj, ev):  # noqa: N802 - Qt API
            if ev.type() == QEvent.Type.Paint and (state["loaded"] or _is_preview(axial.volume)) and not state["done"]:
                state["done"] = True
                obj.removeEventFilter(self)
                if now:
                    QCoreApplication.sendEvent(obj, ev)  # the paint itself, then the callback
                    callback()
                    return True
                QTimer.singleShot(0, callback)  # once this paint is on screen
            return False

    watch = FirstPaint(axial)
    axial.viewport().installEventFilter(watch)
    worker = win.study.loader.worker
    if worker is not None:
        worker.progress.connect(progress)
        worker.series_loaded.connect(lambda vol: progress(vol, shown_index()))


def _activate_modules_after_first_image(win) -> None:
    done = {"v": False}

    def activate(*_args) -> None:
        if not done["v"]:
            done["v"] = True
            win.viewer.axial.viewport().repaint()  # the first image first, if it is not painted yet
            win.host.load_modules()
            trace("modules active")

    study = win.study
    if study.preview is not None:  # modules never see the preview: they start with the real series
        for sig in (study.preview_done, study.series_loaded, study.load_failed, study.study_loaded):
            sig.connect(activate)
        return
    on_first_image(win, activate)
    worker = study.loader.worker
    if worker is not None:  # a finished series or a failure activates them at the latest
        worker.series_loaded.connect(activate)
        worker.failed.connect(activate)


def _resolve(path) -> Path:
    p = sample_study() if path is None else Path(path)
    return p


def run_app(path=None, screenshot=None) -> int:
    p = _resolve(path)
    if not p.exists():
        print(f"workstation: {p}: no such file or folder", file=sys.stderr)
        return 2
    import logging

    from workstation.dicom import quiet

    from .loading import prescan

    quiet.install()  # from this (main) thread, before any loading thread runs
    trace("launch")
    prescan(p, preview=True)  # the first slice is found while Qt is imported and the window built
    # a module that fails to load is reported in the status bar and the problems list
    logging.getLogger("workstation.plugins").setLevel(logging.ERROR)
    app = make_app()
    trace("Qt and pyqtgraph imported")
    from PyQt6.QtCore import QTimer

    win = create_window(p, defer_modules=True, preview=True, defer_menus=True)
    win.resize(*SCREENSHOT_SIZE)
    win.show()
    trace("window shown")
    on_first_image(win, lambda: trace("first image painted"), now=True)
    if os.environ.get(FIRST_IMAGE_ENV):
        return _first_image_then_quit(app, win)
    if not screenshot:
        return int(app.exec())

    result = {"code": 1}
    out = Path(screenshot)

    def fail(message: str) -> None:
        print(f"workstation: {message}", file=sys.stderr)
        result["code"] = 2
        app.quit()

    def grab() -> None:
        for _ in range(5):
            app.processEvents()
        img = win.grab()
        try:  # the overlay shows the patient's name and ID: owner-only before a byte is written
            _private_file(out)
        except OSError as exc:  # an exception here would leave the app running, not exit 2
            fail(f"{out}: could not write the PNG ({exc.strerror or type(exc).__name__})")
            return
        if not img.save(str(out), "PNG"):
            print(f"workstation: {out}: could not write the PNG", file=sys.stderr)
            result["code"] = 2
        else:
            result["code"] = 0
        app.quit()

    def loaded() -> None:
        if win.study.failed_message is not None or not win.study.loaded:
            fail(win.study.failed_message or f"{p}: no series could be loaded")
            return
        QTimer.singleShot(400, grab)  # let the views settle (refresh timers, layout)

    def timeout() -> None:
        fail(f"{p}: the study was not shown within {SCREENSHOT_TIMEOUT_S} s")

    win.study.study_loaded.connect(loaded)
    QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, timeout)
    app.exec()
    win.study.close()
    win.close()
    return result["code"]


def _first_image_then_quit(app, win) -> int:
    """Print the time the axial view was first painted with its shown slice loaded, and quit."""
    from PyQt6.QtCore import QTimer

    done = {"v": False}

    def report() -> None:
        if not done["v"]:
            done["v"] = True
            print(f"first-image {time.time():.6f} cpu {time.process_time():.3f}", flush=True)
            QTimer.singleShot(0, app.quit)

    on_first_image(win, report, now=True)
    win.study.load_failed.connect(lambda msg: (print(f"workstation: {msg}", file=sys.stderr), app.quit()))
    app.exec()
    win.study.close()
    return 0 if done["v"] else 1

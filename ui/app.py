"""Start the workstation app: ``run_app(path=None, screenshot=None) -> int``.

With ``screenshot``, the window is opened (1600x1000), the study loaded, and once it is shown
(loading finished, the first series on screen, the event loop settled) the main window is grabbed
to a PNG and the app exits 0. An unusable path gives one line on stderr and exit status 2. Works
with ``QT_QPA_PLATFORM=offscreen``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from workstation.resources import sample_study

SCREENSHOT_SIZE = (1600, 1000)
SCREENSHOT_TIMEOUT_S = 300


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


def create_window(path=None, modules: bool = True):
    """Main window with the modules activated and the study loading (for the app and tests)."""
    from .main_window import MainWindow

    win = MainWindow()
    if modules:
        win.host.load_modules()
    if path is not None:
        win.study.open(path)
    return win


def _resolve(path) -> Path:
    p = sample_study() if path is None else Path(path)
    return p


def run_app(path=None, screenshot=None) -> int:
    p = _resolve(path)
    if not p.exists():
        print(f"workstation: {p}: no such file or folder", file=sys.stderr)
        return 2
    import logging

    # a module that fails to load is reported in the status bar and the problems list
    logging.getLogger("workstation.plugins").setLevel(logging.ERROR)
    app = make_app()
    from PyQt6.QtCore import QTimer

    win = create_window(p)
    win.resize(*SCREENSHOT_SIZE)
    win.show()
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
        out.parent.mkdir(parents=True, exist_ok=True)
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

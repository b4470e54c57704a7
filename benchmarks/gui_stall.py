"""GUI responsiveness while a study loads: the longest gap between ticks of a 5 ms timer.

Ours: the main window opens the sample study (``StudyController.open``: the loader thread reads and
decodes, the GUI thread only receives slices). The peer: the same series loaded the plain way, with
``workstation.dicom.scan`` and ``read_series`` called on the GUI thread (what a quick script does), while the same timer
runs. For each: timer ticks seen, median and longest gap between ticks, and the load's wall time.
A shared machine stretches every figure; compare the two columns of one run, not runs on different days.

Target (issue 3, formerly asserted in tests/ui/test_study.py): ours never stalls the GUI 500 ms.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_stall.py [--runs 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PyQt6.QtCore import QEventLoop, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from workstation.resources import SAMPLE_DICOM  # noqa: E402

STUDY = SAMPLE_DICOM / "study"


class Ticks:
    """A 5 ms timer recording when it fires (the GUI thread's event loop turning)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))

    def gaps_ms(self, start: float, end: float) -> list[float]:
        """Gaps between ticks, counting from the load's start to its end (a stall at either end counts)."""
        t = [start, *self.times, end]
        return [(b - a) * 1000 for a, b in zip(t, t[1:])]


def _report(name: str, ticks: Ticks, t0: float) -> None:
    end = time.perf_counter()
    wall_s = end - t0
    gaps = ticks.gaps_ms(t0, end)
    print(f"{name:<34} ticks {len(ticks.times):5d}   median gap {statistics.median(gaps):7.1f} ms   "
          f"longest gap {max(gaps):7.1f} ms   load {wall_s:6.2f} s")


def ours() -> None:
    from ui.main_window import MainWindow

    win = MainWindow()
    win.resize(1400, 900)
    win.show()
    ticks = Ticks()
    loop = QEventLoop()
    win.study.study_loaded.connect(loop.quit)
    QTimer.singleShot(120000, loop.quit)  # a deadline, so a broken load cannot hang the benchmark
    t0 = time.perf_counter()
    ticks.timer.start()
    win.study.open(STUDY)
    loop.exec()
    ticks.timer.stop()
    _report("ours (loader thread)", ticks, t0)
    win.study.close()
    win.close()


def peer() -> None:
    from workstation.dicom import read_series, scan

    ticks = Ticks()
    t0 = time.perf_counter()
    ticks.timer.start()
    QApplication.processEvents()
    found = scan(STUDY)
    for info in found.series:
        QApplication.processEvents()
        read_series(info)
        QApplication.processEvents()
    ticks.timer.stop()
    _report("peer (read_series on GUI thread)", ticks, t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from ui.app import make_app

    app = make_app()  # held for the whole run
    if not STUDY.exists():
        sys.exit(f"{STUDY} missing: run sample_dicom/generate.py first")
    for _ in range(args.runs):
        ours()
        peer()
    app.quit()


if __name__ == "__main__":
    main()

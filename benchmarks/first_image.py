"""Launch-to-first-image: our app against a minimal quick-look script, same series, same run.

The quick-look (the peer) is what a developer would write to glance at a series: PyQt6 + pyqtgraph +
SimpleITK, GDCM's sorted file names of the folder, the middle file read, shown in an ``ImageItem``
at a fixed window. Ours is the ``workstation`` command with ``WORKSTATION_FIRST_IMAGE_EXIT=1``: it
prints the time its axial view was first painted with the shown slice's pixels, then quits. (Ours
finds that slice with GDCM's Scanner and decodes it with GDCM in a thread while Qt starts -- the
same series, slice, SOP instance and window the loaded viewer shows, tests/ui/test_study.py -- and
paints the full main window, tool bars, docks and overlays included; pydicom, the header scan and
the modules come after.) Both are
measured from just before the process is started to that paint (offscreen Qt), alternately, best and
median of ``--runs`` each, on a generated 300-slice 512 x 512 CT series stored uncompressed and as
JPEG 2000 (benchmarks/load.py writes both).

Also printed: the CPU time each process had used when its image was painted (all its threads; a
shared machine stretches the wall clock, not this).

Target (issue 14): ours no later than the quick-look.

``--trace`` also prints, for one launch of ours per series, where the time went
(``WORKSTATION_STARTUP_TRACE=1``: wall and CPU seconds from the process start at each stage).

    .venv/bin/python benchmarks/first_image.py [--runs 5] [--slices 300] [--keep DIR] [--trace]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

QUICK_LOOK = r'''
import sys, time
from PyQt6.QtCore import QEvent, QObject, QTimer
from PyQt6.QtWidgets import QApplication
import pyqtgraph as pg
import SimpleITK as sitk

folder = sys.argv[1]
reader = sitk.ImageSeriesReader()
files = reader.GetGDCMSeriesFileNames(folder)
image = sitk.GetArrayFromImage(sitk.ReadImage(files[len(files) // 2]))[0]
app = QApplication(sys.argv[:1])
win = pg.GraphicsLayoutWidget()
vb = win.addViewBox(lockAspect=True, invertY=True)
vb.addItem(pg.ImageItem(image, levels=(-160, 240), axisOrder="row-major"))
win.resize(1600, 1000)
done = []

def report():
    print(f"first-image {time.time():.6f} cpu {time.process_time():.3f}", flush=True)
    app.quit()

class Watch(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and not done:
            done.append(1)
            QTimer.singleShot(0, report)
        return False

watch = Watch()
win.viewport().installEventFilter(watch)
win.show()
app.exec()
'''


def _env() -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKSTATION_FIRST_IMAGE_EXIT="1")
    # as installed, with bytecode caches: a session that sets PYTHONDONTWRITEBYTECODE would make
    # ours compile its ~100 modules on every launch while the libraries' caches exist
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def trace(folder: str) -> None:
    """One launch of ours with the startup trace, its stages printed."""
    env = dict(_env(), WORKSTATION_STARTUP_TRACE="1")
    out = subprocess.run(ours_cmd(folder), env=env, capture_output=True, text=True, timeout=300)
    for ln in out.stderr.splitlines():
        if ln.startswith("startup "):
            print("    " + ln[len("startup "):])


def launch(cmd: list[str]) -> tuple[float, float]:
    """Seconds from just before the process starts to the ``first-image`` time it prints, and the
    CPU time the process had used by then (all its threads)."""
    t0 = time.time()
    out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    stamp = [ln for ln in out.stdout.splitlines() if ln.startswith("first-image ")]
    if out.returncode != 0 or not stamp:
        raise RuntimeError(f"{cmd[0]} gave no first image (exit {out.returncode}): {out.stderr.strip()[-300:]}")
    fields = stamp[-1].split()
    return float(fields[1]) - t0, float(fields[3])


def ours_cmd(folder: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from workstation.cli import main; sys.exit(main(sys.argv[1:]))",
            folder]


def quick_look_cmd(folder: str, script: str) -> list[str]:
    return [sys.executable, script, folder]


def report(folders: dict[str, str], runs: int, show_trace: bool = False) -> int:
    ok = True
    with tempfile.NamedTemporaryFile("w", suffix="_quicklook.py", delete=False) as f:
        f.write(QUICK_LOOK)
        script = f.name
    try:
        launch(quick_look_cmd(folders["raw"], script))  # warm the file cache and the imports once
        launch(ours_cmd(folders["raw"]))
        print(f"launch to first painted image, {runs} runs each, alternating "
              f"(load average {os.getloadavg()[0]:.1f})")
        print(f"  {'series':<12} {'ours best':>10} {'median':>8} {'(CPU)':>7} {'quick-look best':>16} "
              f"{'median':>8} {'(CPU)':>7}  target")
        for name, folder in folders.items():
            ours, peer = [], []
            for _ in range(runs):
                ours.append(launch(ours_cmd(folder)))
                peer.append(launch(quick_look_cmd(folder, script)))
            med = statistics.median(t for t, _ in ours)
            med_peer = statistics.median(t for t, _ in peer)
            cpu = statistics.median(c for _, c in ours)
            cpu_peer = statistics.median(c for _, c in peer)
            met = med <= med_peer
            ok = ok and met
            print(f"  {name:<12} {min(t for t, _ in ours):10.3f} {med:8.3f} {cpu:7.2f} "
                  f"{min(t for t, _ in peer):16.3f} {med_peer:8.3f} {cpu_peer:7.2f}  "
                  f"ours <= quick-look (median): {'met' if met else 'NOT met'}")
        if show_trace:
            for name, folder in folders.items():
                print(f"  ours, {name}: seconds from process start (wall, CPU of all threads)")
                trace(folder)
    finally:
        os.unlink(script)
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    from load import prepare

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--slices", type=int, default=300)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--keep", metavar="DIR", help="write (or reuse) the series in DIR instead of a temp dir")
    p.add_argument("--trace", action="store_true", help="also print where one launch of ours spends its time")
    args = p.parse_args(argv)
    syntaxes = ["raw", "jpeg-2000"]
    if args.keep:
        return report(prepare(args.keep, args.slices, args.size, syntaxes), args.runs, args.trace)
    with tempfile.TemporaryDirectory(prefix="ws-first-") as tmp:
        return report(prepare(tmp, args.slices, args.size, syntaxes), args.runs, args.trace)


if __name__ == "__main__":
    sys.exit(main())

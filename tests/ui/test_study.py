"""Loading, series switching, the pre/post side-by-side layout linked by patient position, broken
files, the screenshot command and modules (plugins) — on the sample study and generated data."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PyQt6 import sip
from PyQt6.QtCore import QTimer
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication
from viewer_helpers import STUDY, phantom, show, wheel

ROOT = Path(__file__).resolve().parents[2]


def _pos(vp):
    """Position of the shown slice along the view's volume normal (mm)."""
    k = vp.mapping.slice_to_index(vp.slice)
    return vp.volume.slice_position_mm(k)


def test_linked_scrolling_lands_on_the_same_patient_z(window):
    pre = phantom(shape=(40, 48, 48), spacing=(2.5, 0.9, 0.9), origin=(-20, -20, -30.0), uid="1.2.pre",
                  description="CT NON-CONTRAST")
    post = phantom(shape=(33, 40, 40), spacing=(3.0, 1.1, 1.1), origin=(-22, -21, -31.3), uid="1.2.post",
                   description="CT PORTAL VENOUS")
    show(window, pre)
    window.study.add_volume(post)
    window.viewer.show_compare(pre, post)
    left, right = window.viewer.axial, window.viewer.compare
    assert right.isVisible() and not window.viewer.coronal.isVisible()
    post_z = np.array([post.slice_position_mm(k) for k in range(post.shape[0])])
    for notches in (-1, -1, -3, 5, 2, -7):
        wheel(left, notches)
        z = _pos(left)
        if post_z.min() - 1.5 <= z <= post_z.max() + 1.5:
            # the post view shows its slice nearest to the pre slice's patient z (not the same index)
            assert _pos(right) == pytest.approx(post_z[np.argmin(np.abs(post_z - z))])
            assert abs(_pos(right) - z) <= post.spacing_mm[0] / 2 + 1e-6
    assert left.slice != right.slice  # different grids: index linking would be wrong
    # scrolling the right view moves the left one as well
    wheel(right, -2)
    assert abs(_pos(left) - _pos(right)) <= pre.spacing_mm[0] / 2 + 1e-6
    # unlinked: each scrolls alone
    window.act_link.setChecked(False)
    s_left = left.slice
    wheel(right, -3)
    assert left.slice == s_left
    window.act_link.setChecked(True)  # relinking realigns
    assert abs(_pos(left) - _pos(right)) <= post.spacing_mm[0] / 2 + 1e-6


def test_sample_study_offers_pre_post_compare_and_switches_series(sample_window, truth, qtbot):
    win = sample_window
    uids = {k: v["series_uid"] for k, v in truth["series"].items()}
    assert set(win.study.volumes) == set(uids.values())
    assert win.study.pair is not None
    pre, post = win.study.pair
    assert (pre.series_uid, post.series_uid) == (uids["ct_pre"], uids["ct_post"])
    # first shown: the first series of the study, fully displayed
    assert win.viewer.volume is not None
    # series switching from the browser
    item = win.browser.item_for(uids["mr_t2"])
    win.browser.setCurrentItem(item)
    win.browser.itemClicked.emit(item)
    ax = win.viewer.axial
    assert ax.volume.series_uid == uids["mr_t2"] and win.viewer.sagittal.volume.series_uid == uids["mr_t2"]
    assert "MR" in ax.t_topright.text() and "HU" not in ax.t_bottomleft.text()
    np.testing.assert_array_equal(ax.image.image, ax.mapping.image(ax.volume.voxels, ax.slice))
    # MR: an auto window from percentiles of the signal, not a CT preset
    w = ax.display_window()
    lo, hi = np.percentile(ax.volume.voxels[ax.volume.voxels > ax.volume.voxels.min()], [0.5, 99.5])
    assert w.level == pytest.approx((lo + hi) / 2, rel=0.1) and w.width == pytest.approx(hi - lo, rel=0.15)
    # the hanging protocol: C shows pre | post, linked by patient position
    ax.setFocus()
    qtbot.keyClick(ax, "c")
    assert win.viewer.layout == "compare"
    assert ax.volume.series_uid == uids["ct_pre"] and win.viewer.compare.volume.series_uid == uids["ct_post"]
    wheel(ax, -5)
    assert _pos(win.viewer.compare) == pytest.approx(_pos(ax), abs=post.spacing_mm[0] / 2)


def test_loading_runs_off_the_gui_thread_and_shows_slices_as_they_arrive(window, qtbot):
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(1))
    events: list[tuple[str, object]] = []
    window.study.volume_added.connect(lambda v: events.append(("allocated", v.series_uid)))
    window.viewer.series_shown.connect(lambda v: events.append(("shown", v.series_uid)))
    window.study.series_loaded.connect(lambda v: events.append(("loaded", v.series_uid)))
    partial = []

    def on_progress(vol, k, done, total):
        if done < total and window.viewer.volume is vol:
            partial.append((done, window.status_area.progress.isVisible()))
    timer.start()
    with qtbot.waitSignal(window.study.study_loaded, timeout=60000):
        window.study.open(STUDY)
        window.study.loader.worker.progress.connect(on_progress)
        worker_thread = window.study.loader.worker.thread()
    timer.stop()
    # the worker lives in its own thread, not the GUI's
    gui_thread = QApplication.instance().thread()
    assert worker_thread is not None and sip.unwrapinstance(worker_thread) != sip.unwrapinstance(gui_thread)
    kinds = [e[0] for e in events]
    first_loaded = kinds.index("loaded")
    # the first series was on screen before it finished loading
    assert kinds[:2] == ["allocated", "shown"] and first_loaded > 1
    assert events[1][1] == events[first_loaded][1]
    assert partial, "no progress reached the view while the series was loading"
    assert any(visible for _, visible in partial), "no progress bar while loading"
    # the event loop kept running: many timer ticks (how long it ever stalls, a wall-clock figure,
    # is measured by benchmarks/gui_stall.py against loading on the GUI thread)
    assert len(ticks) > 10
    assert not window.status_area.progress.isVisible()


def test_broken_files_give_one_status_message_with_details(window, qtbot, tmp_path):
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    src = STUDY / "S002_CT_ABD_NONCONTRAST"
    dst = tmp_path / "study" / src.name
    shutil.copytree(src, dst)
    for n in range(3):
        (dst / f"broken{n}.dcm").write_bytes(b"not a dicom file " * (n + 1))
    with qtbot.waitSignal(window.study.study_loaded, timeout=60000):
        window.study.open(tmp_path / "study")
    btn = window.status_area.problems_button
    assert btn.isVisible()
    assert btn.text() == "3 files skipped — details"
    dlg = window.status_area.show_problems()
    lines = [dlg.list.item(i).text() for i in range(dlg.list.count())]
    assert sorted(Path(ln.split(":")[0]).name for ln in lines) == ["broken0.dcm", "broken1.dcm", "broken2.dcm"]
    dlg.close()
    assert window.viewer.volume is not None and window.viewer.volume.shape[0] == 80


def _run_cli(args, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    exe = Path(sys.executable).with_name("workstation")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)


def test_screenshot_command_writes_the_shown_study(tmp_path):
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    out = tmp_path / "shot.png"
    r = _run_cli(["--screenshot", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_mode & 0o777 == 0o600  # patient overlay: owner-only whatever the umask
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1600, 1000)
    img = img.convertToFormat(QImage.Format.Format_Grayscale8)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    a = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())[:, :img.width()]
    # a dark viewer with an image in it: mostly dark, with real grey-level structure
    assert a.mean() < 110 and a.std() > 25
    centre = a[300:700, 400:900]
    assert len(np.unique(centre)) > 50


def test_screenshot_command_with_an_unusable_path_exits_2(tmp_path):
    r = _run_cli([str(tmp_path / "nowhere"), "--screenshot", str(tmp_path / "x.png")], tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "nowhere" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _run_cli([str(empty), "--screenshot", str(tmp_path / "y.png")], tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "y.png").exists()


PLUGINS = '''
from ui.host import PointTool
from workstation.measure.model import Landmark
from PyQt6.QtWidgets import QLabel

class Broken:
    id = "broken"
    title = "Broken"
    def activate(self, host):
        raise RuntimeError("this module is broken on purpose")

class Good:
    id = "good"
    title = "Good"
    def activate(self, host):
        self.host = host
        self.panel = QLabel("good module panel")
        host.add_panel(self.panel, "Good")
        host.add_tool(PointTool("renal_vein", "Renal vein", self.place, shortcut="V"))

    def place(self, volume, xyz, ev):
        self.host.measurements.add(Landmark(series_uid=volume.series_uid, landmark="renal_vein", point=xyz))
'''


def test_host_starts_with_broken_modules_and_runs_a_good_one(tmp_path, monkeypatch, qtbot):
    import importlib

    (tmp_path / "wstestplugins.py").write_text(PLUGINS)
    dist = tmp_path / "wstestplugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wstestplugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[workstation.modules]\n"
        "a_missing = no_such_module_for_tests:Module\n"
        "b_broken = wstestplugins:Broken\n"
        "c_good = wstestplugins:Good\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    from viewer_helpers import click, shown_window

    win = shown_window(qtbot, modules=True, size=(1200, 800))
    problems = win.host.module_problems
    assert any("a_missing" in p for p in problems)
    assert any("b_broken" in p and "broken on purpose" in p for p in problems)
    assert not any("c_good" in p for p in problems)
    assert win.status_area.problems_button.isVisible()
    assert "problem" in win.status_area.problems_button.text()
    assert [m.id for m in win.host.modules if m.id == "good"] == ["good"]
    # the good module's panel and tool are there, and its tool works through the Host API
    vol = phantom()
    show(win, vol)
    placed = []
    win.host.landmark_placed.connect(placed.append)
    win.host.select_tool("renal_vein")
    ax = win.viewer.axial
    target = vol.index_to_patient((ax.mapping.slice_to_index(ax.slice), 20, 30))
    click(ax, ax.patient_to_widget(target))
    assert len(placed) == 1 and np.linalg.norm(np.asarray(placed[0].point) - target) < 1.0
    assert win.host.current_volume() is vol and vol.series_uid in win.host.volumes()
    win.study.close()


# -- first image at once (issue 14) ------------------------------------------------------------
def _j2k_copy(src: Path, dst: Path) -> Path:
    """A copy of the series folder ``src`` with every file's pixel data JPEG 2000 (lossless)."""
    import pydicom
    from pydicom.uid import JPEG2000Lossless

    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        ds = pydicom.dcmread(f)
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        ds.save_as(dst / f.name, enforce_file_format=True)
    return dst


def _first_and_final(qtbot, path):
    """What the axial view painted first when the app's launch path opens ``path`` (the preview
    too), and what it shows once the study has loaded: (volume, slice index, SOP instance UID,
    window, pixels), the progress bar's visibility at the first paint and at the end."""
    from ui.app import create_window, make_app, on_first_image

    make_app()
    from ui.loading import prescan

    prescan(path, preview=True)  # as run_app: the first slice is looked for in a thread
    win = create_window(path, modules=False, preview=True)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    ax = win.viewer.axial

    def state():
        k = int(ax.mapping.slice_to_index(ax.slice))
        return (ax.volume, k, ax.volume.meta["sop_instance_uids"][k], ax.display_window(),
                np.array(ax.mapping.image(ax.volume.voxels, ax.slice)))

    first: list = []
    on_first_image(win, lambda: first.append((state(), win.status_area.progress.isVisible())), now=True)
    with qtbot.waitSignal(win.study.study_loaded, timeout=120000):
        win.show()
    qtbot.waitUntil(lambda: bool(first), timeout=60000)
    final = state()
    progress_at_end = win.status_area.progress.isVisible()
    win.study.close()
    return first[0][0], final, first[0][1], progress_at_end, win


@pytest.mark.parametrize("syntax", ["native", "jpeg-2000"])
def test_first_image_is_the_slice_the_loaded_viewer_shows(qtbot, tmp_path, syntax):
    """The launch paints a preview (the middle slice, read without pydicom) and the loaded series
    replaces it: same series, slice, SOP instance, window and pixels."""
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    path = STUDY if syntax == "native" else _j2k_copy(STUDY / "S002_CT_ABD_NONCONTRAST", tmp_path / "j2k")
    (vol0, k0, sop0, win0, px0), (vol1, k1, sop1, win1, px1), progress_first, progress_end, win = \
        _first_and_final(qtbot, path)
    assert vol0.meta.get("preview") is True, "the first paint did not come from the first-slice preview"
    assert vol1.meta.get("preview") is None and vol1 is win.study.volumes[vol1.series_uid]
    assert win.study.preview is None and win.viewer.volume is vol1
    assert vol1.series_uid == vol0.series_uid and vol1.shape == vol0.shape
    assert (k1, sop1) == (k0, sop0)
    assert k0 == (vol1.shape[0] - 1) // 2  # the middle slice, as the loader reads it first
    assert win1 == win0
    np.testing.assert_array_equal(px1, px0)
    assert px0.dtype == px1.dtype and px0.any()
    # the rest loaded behind a progress bar, gone at the end
    assert progress_first and not progress_end


def test_no_preview_when_the_folder_is_not_the_plain_case(qtbot, tmp_path):
    """A series with a missing slice (a gap the loader fills): no preview, the loader alone shows
    the study, as before."""
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    src = STUDY / "S002_CT_ABD_NONCONTRAST"
    dst = tmp_path / "gap"
    shutil.copytree(src, dst)
    import pydicom

    files = sorted(dst.iterdir(), key=lambda f: float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]))
    files[len(files) // 3].unlink()
    (vol0, k0, sop0, win0, _), (vol1, k1, sop1, win1, _), _, _, win = _first_and_final(qtbot, dst)
    assert vol0.meta.get("preview") is None and vol0 is vol1
    assert (k1, sop1, win1) == (k0, sop0, win0)


def test_a_first_slice_that_is_not_ready_never_holds_the_window(qtbot, monkeypatch):
    """A slow share or a stuck helper: the window waits PREVIEW_WAIT_S at most for the first
    slice, then the loader alone shows the study; the late preview is dropped."""
    import threading

    import ui.loading as L

    if not STUDY.exists():
        pytest.skip("sample study not generated")
    release = threading.Event()
    real = L._first_slice

    def stuck(path):
        release.wait(60)
        return real(path)

    monkeypatch.setattr(L, "_first_slice", stuck)
    monkeypatch.setattr(L, "PREVIEW_WAIT_S", 0.2)
    try:
        (vol0, k0, sop0, _, _), (vol1, k1, sop1, _, _), _, _, win = _first_and_final(qtbot, STUDY)
    finally:
        release.set()
    assert vol0.meta.get("preview") is None and vol0 is vol1 and (k0, sop0) == (k1, sop1)
    assert win.study.preview is None and len(win.study.volumes) == 3


def test_a_preview_the_loader_disagrees_with_is_replaced(qtbot, tmp_path):
    """A file GDCM lists but the loader refuses (its pixel data cut short): the preview counted
    it, the loaded series has a gap there -- the loaded series replaces the preview all the same
    and the views never keep showing the preview."""
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    dst = tmp_path / "cut"
    shutil.copytree(STUDY / "S002_CT_ABD_NONCONTRAST", dst)
    victim = sorted(dst.iterdir())[5]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 4096])
    (vol0, *_), (vol1, k1, sop1, _, px1), _, _, win = _first_and_final(qtbot, dst)
    assert vol0.meta.get("preview") is True
    assert vol1.meta.get("preview") is None and vol1 is win.study.volumes[vol1.series_uid]
    assert win.study.preview is None and win.viewer.volume is vol1
    assert None in vol1.meta["sop_instance_uids"]  # the loader's own verdict: a gap
    assert k1 == (vol1.shape[0] - 1) // 2  # shown as a first series is: at its centre
    assert all(vp.volume is None or not vp.volume.meta.get("preview") for vp in win.viewer.all_viewports())


#: packages the first image does not need (issue 14): the DICOM toolkit, image processing, PACS
#: clients and the reasoning/export core all come after it
NOT_BEFORE_FIRST_IMAGE = ("pydicom", "scipy", "skimage", "highdicom", "requests", "keyring",
                          "dicomweb_client", "pynetdicom", "PIL", "workstation.reasoning",
                          "workstation.export", "workstation.pacs", "ui.review", "ui.pacs_dialog")


def test_the_launch_imports_nothing_the_first_image_does_not_need(tmp_path):
    """The app launched as a reader launches it: at its first paint none of these is imported."""
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    code = f"""
import sys
import ui.app as app

NOT = {NOT_BEFORE_FIRST_IMAGE!r}
seen = []
real = app.on_first_image

def spy(win, callback, now=False):
    def check():
        if not seen:
            seen.append(1)
            print("LOADED", sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in NOT)))
        callback()
    real(win, check, now)

app.on_first_image = spy
from workstation.cli import main
sys.exit(main([{str(STUDY)!r}]))
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKSTATION_FIRST_IMAGE_EXIT="1",
               WORKSTATION_STATE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-800:]
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("LOADED ")]
    assert lines and "first-image " in out.stdout
    assert lines[0] == "LOADED []"


def test_screenshot_into_an_unwritable_place_is_one_line_and_exit_2(tmp_path):
    """A screenshot path whose folder cannot be made (a file is in the way): exit 2 with one line
    naming the path, not a traceback and an abort from inside the Qt timer."""
    if not STUDY.exists():
        pytest.skip("sample study not generated")
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "shot.png"
    r = _run_cli(["--screenshot", str(out)], tmp_path)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("workstation:")]
    assert len(lines) == 1 and "shot.png" in lines[0] and "Traceback" not in r.stderr

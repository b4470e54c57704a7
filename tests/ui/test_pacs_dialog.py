"""File › Open from PACS… and File › Send to PACS… driven through the real widgets against a real
Orthanc (started for this module; see tests/workstation/pacs/orthanc_server.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pydicom
import pytest
from PyQt6.QtCore import Qt
from viewer_helpers import STUDY, shown_window

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workstation" / "pacs"))
from orthanc_server import free_port, run_cli, start_orthanc  # noqa: E402


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-ui"))
    try:
        server.upload(sorted(f for f in STUDY.rglob("*") if f.is_file()))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    """A second, empty Orthanc that the send tests store into: sending to ``orthanc`` added the SR
    (and SEG) to the sample study there, so a search test run after a send counted 192 images, not
    190 (the tests depended on their order)."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-ui-inbox"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sample_series() -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in STUDY.rglob("*"):
        if f.is_file():
            uid = str(pydicom.dcmread(f, stop_before_pixels=True).SeriesInstanceUID)
            counts[uid] = counts.get(uid, 0) + 1
    return counts


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSTATION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKSTATION_CONFIG_DIR", str(tmp_path / "config"))
    w = shown_window(qtbot, modules=False)
    yield w
    w.study.close()


def _open_dialog(win, qtbot, url: str):
    assert win.act_open_pacs in win.file_menu.actions()
    win.act_open_pacs.trigger()
    dlg = win.pacs_dialog
    qtbot.waitExposed(dlg)
    dlg.server.setCurrentText(url)
    return dlg


def _search(dlg, qtbot, **fields: str) -> None:
    for name, value in fields.items():
        w = getattr(dlg, name)
        (w.setCurrentText if hasattr(w, "setCurrentText") else w.setText)(value)
    qtbot.mouseClick(dlg.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.busy() and dlg.series_list.count() > 0, timeout=60000)


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_search_retrieve_and_the_study_opens(win, qtbot, orthanc, sample_series, kind):
    url = orthanc.dicomweb_url if kind == "dicomweb" else orthanc.dimse_url
    dlg = _open_dialog(win, qtbot, url)
    _search(dlg, qtbot, patient_name="SYNTH*^*", modality="CT", date_from="20240101", date_to="20241231")
    assert dlg.results.rowCount() == 1
    assert dlg.results.item(0, 7).text() == str(sum(sample_series.values()))
    assert dlg.series_list.count() == len(sample_series)
    assert dlg.chosen_series() is None  # all ticked: the whole study
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        qtbot.mouseClick(dlg.retrieve_button, Qt.MouseButton.LeftButton)
    opened = Path(win.study.path)
    assert opened.parent == Path(dlg.cache().root)
    assert set(win.study.volumes) == set(sample_series)
    assert not dlg.isVisible()

    # the same study again: it opens from the cache, no retrieval started
    dlg2 = _open_dialog(win, qtbot, url)
    _search(dlg2, qtbot, patient_id=dlg.studies[0].patient_id)
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        qtbot.mouseClick(dlg2.retrieve_button, Qt.MouseButton.LeftButton)
    assert dlg2.task is not None and dlg2.task.isFinished()  # only the series listing ran
    assert Path(win.study.path) == opened


def test_one_series_and_cancel(win, qtbot, orthanc, sample_series):
    dlg = _open_dialog(win, qtbot, orthanc.dimse_url)
    _search(dlg, qtbot, patient_name="SYNTH*")
    for i in range(1, dlg.series_list.count()):
        dlg.series_list.item(i).setCheckState(Qt.CheckState.Unchecked)
    keep = dlg.chosen_series()
    assert keep is not None and len(keep) == 1
    qtbot.mouseClick(dlg.retrieve_button, Qt.MouseButton.LeftButton)
    assert dlg.progress.isVisible() and dlg.cancel_button.isEnabled()
    # Cancel pressed right when the first image is in (on the worker's thread, so that a busy GUI
    # thread cannot let the whole series through first)
    dlg.task.progressed.connect(lambda done, total: dlg.task.cancel.set(),
                                type=Qt.ConnectionType.DirectConnection)
    # the worker's "failed" signal is queued: it may land just after the thread has ended
    qtbot.waitUntil(lambda: not dlg.busy() and dlg.status.text() not in ("Retrieving…", "Cancelling…"),
                    timeout=60000)
    assert dlg.status.text() == "Cancelled"
    qtbot.waitUntil(lambda: not dlg.cancel_button.isEnabled(), timeout=60000)
    # the Cancel button itself, pressed as soon as the retrieve started
    qtbot.mouseClick(dlg.retrieve_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    # the worker's "failed" signal is queued: it may land just after the thread has ended
    qtbot.waitUntil(lambda: not dlg.busy() and dlg.status.text() not in ("Retrieving…", "Cancelling…"),
                    timeout=60000)
    assert dlg.status.text() == "Cancelled"
    assert win.study.path is None  # nothing opened
    assert [p for p in Path(dlg.cache().root).iterdir()] == []  # nothing half-retrieved kept
    # retrieve again to the end: only the ticked series opens
    with qtbot.waitSignal(win.study.study_loaded, timeout=60000):
        qtbot.mouseClick(dlg.retrieve_button, Qt.MouseButton.LeftButton)
    assert list(win.study.volumes) == keep


def test_unreachable_server_is_one_line_in_the_dialog(win, qtbot):
    port = free_port()
    dlg = _open_dialog(win, qtbot, f"dicom://PACS@127.0.0.1:{port}")
    qtbot.mouseClick(dlg.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.busy() and "connection refused" in dlg.status.text(), timeout=60000)
    assert dlg.status.text() == f"server dicom://PACS@127.0.0.1:{port}: connection refused"
    assert dlg.results.rowCount() == 0


@pytest.mark.parametrize("kind", ["dicomweb", "dimse"])
def test_send_an_exported_set_shows_each_file(win, qtbot, inbox, tmp_path, kind):
    # a real export of the sample's post-contrast series: findings.json, report.txt, the SR
    post = next(p for p in STUDY.iterdir() if "PORTAL" in p.name)
    findings = tmp_path / "findings-in.json"
    findings.write_text(json.dumps({"schema": "rp-findings/1", "age_years": 57, "sex": "female",
                                    "greatest_dimension_mm": 118.0}))
    out = tmp_path / "export"
    proc = run_cli("export", str(findings), "--series", str(post), "--out", str(out), "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    written = json.loads(proc.stdout)
    dicom_files = sorted(Path(v).name for k, v in written.items() if k in ("sr", "seg") and v)
    assert dicom_files
    win.act_send_pacs.trigger()
    dlg = win.pacs_send_dialog
    qtbot.waitExposed(dlg)
    dlg.server.setCurrentText(inbox.dicomweb_url if kind == "dicomweb" else inbox.dimse_url)
    dlg.folder.setText(str(out))
    before = inbox.instance_count()
    qtbot.mouseClick(dlg.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.busy() and dlg.results.rowCount() > 0, timeout=60000)
    assert dlg.file_results() == {name: "stored" for name in dicom_files}
    assert dlg.status.text() == f"{len(dicom_files)} stored, 0 failed"
    assert inbox.instance_count() == before + len(dicom_files)
    # to a server that refuses: the dialog says so in one line, nothing claimed stored
    dlg.server.setCurrentText(f"http://127.0.0.1:{free_port()}/dicom-web")
    qtbot.mouseClick(dlg.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.busy() and "connection refused" in dlg.status.text(), timeout=60000)
    assert dlg.results.rowCount() == 0


@pytest.fixture(scope="module")
def orthanc_tls(tmp_path_factory):
    """Orthanc over HTTPS with a self-signed certificate and two of the sample's files."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-ui-tls"), tls=True)
    try:
        server.upload(sorted(f for f in STUDY.rglob("*") if f.is_file())[:2])
        yield server
    finally:
        server.stop()


def test_https_servers_in_the_dialog(win, qtbot, orthanc_tls, tmp_path):
    """Verified by default (one line, no results), trusted through ca_bundle, and with
    verify_tls = false the search works under a visible warning."""
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    url = orthanc_tls.dicomweb_url
    (config / "servers.toml").write_text(
        f'[servers.strict]\nurl = "{url}"\n\n'
        f'[servers.trusted]\nurl = "{url}"\nca_bundle = "{orthanc_tls.tls.ca_pem}"\n\n'
        f'[servers.lax]\nurl = "{url}"\nverify_tls = false\n')
    dlg = _open_dialog(win, qtbot, "strict")
    assert [dlg.server.itemText(i) for i in range(dlg.server.count())] == ["lax", "strict", "trusted"]
    qtbot.mouseClick(dlg.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.busy() and "TLS" in dlg.status.text(), timeout=60000)
    assert dlg.status.text().startswith("server strict: TLS certificate verification failed (self-signed")
    assert dlg.results.rowCount() == 0 and not dlg.warning.isVisible()

    dlg.server.setCurrentText("lax")
    _search(dlg, qtbot, patient_name="SYNTH*")
    assert dlg.results.rowCount() == 1
    assert dlg.warning.isVisible()
    assert dlg.warning.text().startswith("Warning: server lax: TLS certificate verification is off")

    dlg.server.setCurrentText("trusted")
    dlg.series_list.clear()
    _search(dlg, qtbot, patient_name="SYNTH*")
    assert dlg.results.rowCount() == 1 and not dlg.warning.isVisible()

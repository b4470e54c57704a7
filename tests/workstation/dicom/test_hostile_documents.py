"""Hostile findings documents and crafted SRs: one clean line naming the file and the field, in the
CLI (subprocess under rlimits), in :func:`read_sr`, in the app's File > Open SR and in the loader
thread; never a traceback, never a planted patient name or header string."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from dicom_synth import image
from limited_cli import run_cli
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import Comprehensive3DSRStorage, ExplicitVRLittleEndian, generate_uid
from test_hostile_inputs import PLANTED, PLANTED_NAME, PLANTED_TEXT, clean, plant

from workstation.errors import InputError, WorkstationError
from workstation.export.sr import read_sr

GOOD = {"schema": "rp-findings/1", "greatest_dimension_mm": 80}


def _deep(n: int) -> str:
    return '{"schema": "rp-findings/1", "x_note": ' + "[" * n + "]" * n + "}"


FINDINGS = {
    "duplicate_key": ('{"schema": "rp-findings/1", "greatest_dimension_mm": 80, "greatest_dimension_mm": 90}',
                      "greatest_dimension_mm"),
    "duplicate_nested": ('{"schema": "rp-findings/1", "findings": {"necrosis": true, "necrosis": false}}',
                         "findings.necrosis"),
    "nan": ('{"schema": "rp-findings/1", "greatest_dimension_mm": NaN}', "greatest_dimension_mm"),
    "infinity": ('{"schema": "rp-findings/1", "enhancement_delta_hu": -Infinity}', "enhancement_delta_hu"),
    "overflow": ('{"schema": "rp-findings/1", "greatest_dimension_mm": 1e400}', "greatest_dimension_mm"),
    "huge_int": ('{"schema": "rp-findings/1", "age_years": ' + "9" * 5000 + "}", "age_years"),
    "deep": (_deep(100_000), "nested"),
    "big": ('{"schema": "rp-findings/1", "x_note": "' + "a" * (17 * 1024 * 1024) + '"}', "limit"),
    "planted_key_value": ('{"schema": "rp-findings/1", "x_note": "' + PLANTED_NAME + '", "x_note": "'
                          + PLANTED_TEXT + '"}', "x_note"),
    "not_json": ("{'schema': 'rp-findings/1'}", "invalid JSON"),
    "binary": (None, "UTF-8"),
    "array": ("[1, 2, 3]", ""),
    "wrong_types": ('{"schema": "rp-findings/1", "greatest_dimension_mm": "big", "ivc": [1]}', ""),
}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.mark.parametrize("case", sorted(FINDINGS))
def test_malformed_findings_are_refused_naming_the_field(tmp_path, state, case):
    text, field = FINDINGS[case]
    p = tmp_path / f"{case}.json"
    if text is None:
        p.write_bytes(b"\xff\xfe\x00" + PLANTED_NAME.encode())
    else:
        p.write_text(text, encoding="utf-8")
    proc = run_cli(["assess", str(p), "--json"], state)
    line = clean(proc, (2,))
    assert str(p) in line and field in line


def test_a_findings_fifo_is_refused_without_blocking(tmp_path, state):
    p = tmp_path / "findings.json"
    os.mkfifo(p)
    proc = run_cli(["assess", str(p)], state)
    assert "not a regular file" in clean(proc, (2,))


def test_sound_findings_still_assess(tmp_path, state):
    p = tmp_path / "ok.json"
    p.write_text(json.dumps(GOOD))
    proc = run_cli(["assess", str(p), "--json"], state)
    clean(proc, (0,))
    assert "differentials" in json.loads(proc.stdout)


# -- crafted SRs -----------------------------------------------------------------------------------
def _code(value: str, scheme: str = "DCM", meaning: str = "x") -> Dataset:
    c = Dataset()
    c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
    return c


def _item(vt: str, **attrs) -> Dataset:
    it = Dataset()
    it.RelationshipType, it.ValueType = "CONTAINS", vt
    it.ConceptNameCodeSequence = Sequence([_code("121071")])
    for k, v in attrs.items():
        setattr(it, k, v)
    return it


def _num(value: str) -> Dataset:
    mv = Dataset()
    mv.add_new(0x0040A30A, "DS", value)  # NumericValue, as given
    mv.MeasurementUnitsCodeSequence = Sequence([_code("mm", "UCUM")])
    return _item("NUM", MeasuredValueSequence=Sequence([mv]))


def _scoord3d(values: list[float], gt: str = "POLYLINE") -> Dataset:
    return _item("SCOORD3D", GraphicType=gt, GraphicData=values,
                 ReferencedFrameOfReferenceUID="1.2.826.0.1.3680043.8.498.3")


def _nest(depth: int) -> Dataset:
    root = inner = _item("CONTAINER", ContinuityOfContent="SEPARATE")
    for _ in range(depth):
        child = _item("CONTAINER", ContinuityOfContent="SEPARATE")
        inner.ContentSequence = Sequence([child])
        inner = child
    return root


def sr(items: list[Dataset] | None, sop: str = Comprehensive3DSRStorage, root_vt: str | None = "CONTAINER") -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("sr", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "SR"
    plant(ds)
    if root_vt:
        ds.ValueType = root_vt
    ds.ConceptNameCodeSequence = Sequence([_code("126000")])
    if items is not None:
        ds.ContentSequence = Sequence(items)
    return ds


SRS = {
    "wrong_sop_class": (lambda: sr([_item("TEXT", TextValue="x")], sop="1.2.840.10008.5.1.4.1.1.2"), "SOPClassUID"),
    "no_content": (lambda: sr(None), "ContentSequence"),
    "empty_content": (lambda: sr([]), "ContentSequence"),
    "root_not_container": (lambda: sr([_item("TEXT", TextValue="x")], root_vt=None), "CONTAINER"),
    "bogus_value_type": (lambda: sr([_item("BOGUS")]), "ValueType"),
    "text_without_value": (lambda: sr([_item("TEXT")]), "TextValue"),
    "num_not_a_number": (lambda: sr([_num("7.777e+07")]), "NumericValue"),
    "num_infinite": (lambda: sr([_num("inf")]), "NumericValue"),
    "scoord_absurd": (lambda: sr([_scoord3d([1e30, 0, 0, 0, 0, 0])]), "GraphicData"),
    "scoord_not_triples": (lambda: sr([_scoord3d([1.0, 2.0, 3.0, 4.0])]), "GraphicData"),
    "scoord_bad_type": (lambda: sr([_scoord3d([1.0, 2.0, 3.0], gt="STAR")]), "GraphicType"),
    "code_without_code": (lambda: sr([_item("CODE")]), "ConceptCodeSequence"),
    "concept_name_empty": (lambda: sr([_item("TEXT", TextValue="x", ConceptNameCodeSequence=Sequence([]))]),
                           "ConceptNameCodeSequence"),
    "nested_deep": (lambda: sr([_nest(40)]), "nested"),
    "findings_duplicate_keys": (lambda: sr([_item("TEXT", TextValue='{"x_note": "' + PLANTED_NAME
                                                  + '", "x_note": "b"}')]), "x_note"),
    "not_a_measurement_report": (lambda: sr([_item("TEXT", TextValue="free text " + PLANTED_TEXT)]), "measurement"),
}


def _write(ds: FileDataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    if b"7.777e+07" in data:  # a NumericValue that pydicom will not write: patched into the bytes
        path.write_bytes(data.replace(b"7.777e+07", b"abc\\12x  "[:9]))
    return path


@pytest.mark.parametrize("case", sorted(SRS))
def test_crafted_srs_are_refused_with_one_line(tmp_path, case):
    make, field = SRS[case]
    p = _write(make(), tmp_path / f"{case}.dcm")
    with pytest.raises(InputError) as err:
        read_sr(p)
    line = str(err.value)
    assert "\n" not in line and len(line) <= 300 and str(p) in line and field in line, line
    assert not any(s in line for s in PLANTED)


def test_sr_nested_beyond_the_parsers_recursion_is_one_line(tmp_path):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)
    try:
        p = _write(sr([_nest(1500)]), tmp_path / "very-deep.dcm")
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(InputError) as err:
        read_sr(p)
    assert len(str(err.value)) <= 300 and str(p) in str(err.value)


def test_truncated_and_special_sr_files_are_one_line(tmp_path):
    p = _write(sr([_scoord3d([1.0, 2.0, 3.0])]), tmp_path / "cut.dcm")
    p.write_bytes(p.read_bytes()[:300])
    fifo = tmp_path / "fifo.dcm"
    os.mkfifo(fifo)
    for path in (p, fifo, tmp_path / "missing.dcm", tmp_path):
        with pytest.raises(WorkstationError) as err:
            read_sr(path)
        assert len(str(err.value)) <= 300 and "\n" not in str(err.value)


@pytest.mark.parametrize("case", ["scoord_absurd", "nested_deep", "wrong_sop_class"])
def test_crafted_srs_through_the_cli_are_one_line(tmp_path, state, case):
    p = _write(SRS[case][0](), tmp_path / f"{case}.dcm")
    clean(run_cli(["info", str(p)], state), (2,))


# -- the app's boundaries --------------------------------------------------------------------------
@pytest.fixture
def main_window(qtbot):
    from ui.app import make_app
    from ui.main_window import MainWindow

    make_app()
    win = MainWindow()
    qtbot.addWidget(win)
    yield win
    win.study.close()


@pytest.mark.parametrize("case", ["scoord_absurd", "nested_deep", "findings_duplicate_keys",
                                  "not_a_measurement_report"])
def test_file_open_sr_shows_one_line_not_a_traceback(qtbot, main_window, tmp_path, case):
    from ui.review.export_dialog import ExportTools

    p = _write(SRS[case][0](), tmp_path / f"{case}.dcm")
    tools = ExportTools(main_window.host)
    assert tools.open_sr(p) == 0
    shown = main_window.status_area.bar.currentMessage()
    assert shown.startswith("Open SR: ") and str(p) in shown
    assert "\n" not in shown and len(shown) <= 320 and "Traceback" not in shown
    assert not any(s in shown for s in PLANTED)


class PanicException(BaseException):
    """What a pyo3 decoder raises on a Rust panic: a BaseException, not an Exception."""


def test_loader_thread_turns_a_native_panic_into_one_line(qtbot, monkeypatch, tmp_path):
    import workstation.dicom as wd
    from ui.loading import Loader

    folder = tmp_path / "s"
    folder.mkdir()
    _write(plant(image()), folder / "a.dcm")

    def panic(*_a, **_k):
        raise PanicException(f"called `Option::unwrap()` on {PLANTED_NAME}")

    monkeypatch.setattr(wd, "scan", panic)
    loader = Loader()
    worker = loader.start(folder, defer=True)  # started once the wait is connected: no lost signal
    with qtbot.waitSignal(worker.failed, timeout=60000) as got:
        loader.begin()
    line = got.args[0]
    assert "PanicException" in line and str(folder) in line and len(line) <= 300
    assert not any(s in line for s in PLANTED)
    loader.stop()

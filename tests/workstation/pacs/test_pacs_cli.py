"""``workstation pacs echo | query | series | retrieve | send`` against a real Orthanc, over DICOMweb
and over DIMSE (each test runs once per protocol)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from workstation.atomic import is_temp_name
from workstation.cli import main
from workstation.dicom import scan


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_echo(server_url, capsys):
    assert main(["pacs", "echo", server_url]) == 0
    out = capsys.readouterr().out
    assert server_url in out and "answers" in out


def test_query_by_each_key_matches_the_sample_headers(server_url, sample, capsys):
    family = sample.patient_name.split("^")[0]
    searches = [
        ["--patient-id", sample.patient_id],
        ["--patient-name", f"{family[:4]}*^*"],            # ^ and * must reach the PACS literally
        ["--study-date", f"{int(sample.study_date[:4]) - 1}0101-{sample.study_date}"],
        ["--modality", "CT"],
        ["--accession", sample.accession],
    ]
    for extra in searches:
        doc = _json(capsys, ["pacs", "query", server_url, *extra, "--json"])
        assert [s["study_uid"] for s in doc["studies"]] == [sample.study_uid], extra
        s = doc["studies"][0]
        assert (s["patient_id"], s["patient_name"], s["study_date"], s["accession"], s["description"]) == \
            (sample.patient_id, sample.patient_name, sample.study_date, sample.accession, sample.description)
        assert sorted(s["modalities"]) == ["CT", "MR"]
        assert s["n_series"] == len(sample.series) and s["n_instances"] == len(sample.files)
        assert set(s) == {"study_uid", "patient_id", "patient_name", "study_date", "accession",
                          "description", "modalities", "n_series", "n_instances"}


def test_query_without_a_match_and_with_a_limit(server_url, sample, capsys):
    assert _json(capsys, ["pacs", "query", server_url, "--patient-id", sample.patient_id + "X",
                          "--json"]) == {"studies": []}
    assert _json(capsys, ["pacs", "query", server_url, "--study-date", "19000101-19001231",
                          "--json"]) == {"studies": []}
    assert len(_json(capsys, ["pacs", "query", server_url, "--limit", "1", "--json"])["studies"]) == 1


def test_series_lists_every_series_with_its_count(server_url, sample, capsys):
    doc = _json(capsys, ["pacs", "series", server_url, sample.study_uid, "--json"])
    got = {s["series_uid"]: s for s in doc["series"]}
    assert set(got) == set(sample.series)
    for uid, files in sample.series.items():
        ds = pydicom.dcmread(files[0], stop_before_pixels=True)
        assert got[uid] == {"series_uid": uid, "modality": ds.Modality,
                            "description": ds.SeriesDescription, "n_instances": len(files)}


def test_retrieve_writes_every_instance_as_stored(server_url, sample, tmp_path, capsys):
    out = tmp_path / "out"
    doc = _json(capsys, ["pacs", "retrieve", server_url, sample.study_uid, "--out", str(out), "--json"])
    assert doc == {"study_uid": sample.study_uid, "n_instances": 190, "out": str(out)}
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == 190 and not any(is_temp_name(p) for p in files)
    assert {p.parent.name for p in files} == set(sample.series)  # one folder per series
    for p in files:
        got = pydicom.dcmread(p)
        orig = pydicom.dcmread(sample.sop_to_file[got.SOPInstanceUID])
        # the transfer syntax as stored (RLE stays RLE: nothing transcoded) and the same pixels
        assert got.file_meta.TransferSyntaxUID == orig.file_meta.TransferSyntaxUID
        assert got.PixelData == orig.PixelData
    found = scan(out)  # the folder opens as a study
    assert {s.series_uid for s in found.series} == set(sample.series)


def test_retrieve_one_series(server_url, sample, tmp_path, capsys):
    uid = sorted(sample.series, key=lambda u: len(sample.series[u]))[0]
    out = tmp_path / "one"
    doc = _json(capsys, ["pacs", "retrieve", server_url, sample.study_uid, "--series", uid,
                         "--out", str(out), "--json"])
    assert doc["n_instances"] == len(sample.series[uid])
    assert [p.name for p in out.iterdir()] == [uid]


def _new_instance(src: Path, dst: Path) -> str:
    ds = pydicom.dcmread(src)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    ds.save_as(dst, enforce_file_format=True)
    return str(ds.SOPInstanceUID)


def test_send_a_folder_reports_each_file(server_url, orthanc, sample, tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    sr = pydicom.data.get_testdata_file("test-SR.dcm")
    sr_copy = folder / "report-sr.dcm"
    sr_uid = _new_instance(Path(sr), sr_copy)
    img_uid = _new_instance(sample.files[0], folder / "image.dcm")
    (folder / "notes.txt").write_text("not DICOM")
    before = orthanc.instance_count()
    # a folder: its DICOM files are sent (an export's report.txt is not a file to store)
    assert _json(capsys, ["pacs", "send", server_url, str(folder), "--json"]) == {"stored": 2, "failed": []}
    assert orthanc.instance_count() == before + 2
    # a file named on the command line that is not DICOM is reported, and the exit status says so
    assert main(["pacs", "send", server_url, str(folder / "notes.txt"), str(sr_copy), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"stored": 1, "failed": [{"file": str(folder / "notes.txt"), "reason": "not a DICOM file"}]}
    for uid in (sr_uid, img_uid):
        assert _orthanc_has(orthanc, uid)
        _orthanc_delete(orthanc, uid)
    (folder / "notes.txt").unlink()
    shutil.copy(sr_copy, folder / "again.dcm")  # the same instance twice: a PACS accepts it again
    assert main(["pacs", "send", server_url, str(sr_copy), str(folder / "again.dcm"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"stored": 2, "failed": []}
    _orthanc_delete(orthanc, sr_uid)


def _orthanc_find(orthanc, sop_uid: str) -> list[str]:
    body = json.dumps({"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}}).encode()
    return json.loads(orthanc.request("POST", "/tools/find", body, "application/json"))


def _orthanc_has(orthanc, sop_uid: str) -> bool:
    return bool(_orthanc_find(orthanc, sop_uid))


def _orthanc_delete(orthanc, sop_uid: str) -> None:
    for oid in _orthanc_find(orthanc, sop_uid):
        orthanc.request("DELETE", f"/instances/{oid}")


@pytest.mark.parametrize("argv", [
    ["pacs", "query", "dicom://A@127.0.0.1:104", "--study-date", "2024"],
    ["pacs", "series", "dicom://A@127.0.0.1:104", "not-a-uid"],
    ["pacs", "echo", "dicom://AN_AE_TITLE_TOO_LONG@127.0.0.1:104"],
    ["pacs", "echo", "ftp://127.0.0.1/"],
    ["pacs", "retrieve", "dicom://A@127.0.0.1:104", "1.2.3"],  # --out missing
])
def test_bad_arguments_are_one_line_exit_2(argv, capsys, config_dir):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workstation:")


def test_killed_retrieve_leaves_only_whole_files_and_a_rerun_completes(server_url, sample, tmp_path):
    """SIGKILL in the middle of a retrieve: every file under its final name is whole (temporary
    names only for the ones in flight); retrieving again into the same folder completes the study
    and removes the leftovers."""
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "workstation.cli", "pacs", "retrieve", server_url,
                             sample.study_uid, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    try:
        while len(list(out.rglob("*.dcm"))) < 5:  # poll until a few files are there
            assert time.monotonic() < deadline, "no file retrieved within 30 s"
            try:
                proc.wait(timeout=0.01)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError("the retrieve ended before it could be killed")
        proc.kill()
    finally:
        proc.wait(timeout=30)
    final = [p for p in out.rglob("*.dcm") if not is_temp_name(p)]
    assert 5 <= len(final) < 190
    for p in final:
        ds = pydicom.dcmread(p)
        assert ds.PixelData == pydicom.dcmread(sample.sop_to_file[ds.SOPInstanceUID]).PixelData
    doc_rc = main(["pacs", "retrieve", server_url, sample.study_uid, "--out", str(out)])
    assert doc_rc == 0
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 190 and not any(is_temp_name(p) for p in files)

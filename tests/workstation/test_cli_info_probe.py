"""``workstation info`` and ``workstation probe`` as cli.md specifies them."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from workstation.cli import main

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "dicom"))
from dicom_synth import phantom, stack, write  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)


@pytest.fixture
def series_dir(tmp_path):
    write(tmp_path / "s", stack(4, series_uid="1.2.3.9"))
    (tmp_path / "s" / "junk.txt").write_text("not dicom")
    return tmp_path / "s"


def _json(capsys):
    out = capsys.readouterr().out
    return json.loads(out)


def test_info_json_lists_series_and_skipped(series_dir, capsys):
    assert main(["info", str(series_dir), "--json"]) == 0
    doc = _json(capsys)
    (s,) = doc["series"]
    assert s["series_uid"] == "1.2.3.9" and s["modality"] == "CT" and s["n_images"] == 4
    assert (s["rows"], s["columns"]) == (12, 10)
    assert s["spacing_mm"] == [2.0, 0.8, 0.6]
    assert s["orientation"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert s["origin_mm"] == [-10.0, -20.0, 30.0]
    assert doc["skipped"] == [{"file": str(series_dir / "junk.txt"),
                               "reason": "not DICOM (no preamble and no recognisable elements)"}]


def test_info_table_is_readable(series_dir, capsys):
    assert main(["info", str(series_dir)]) == 0
    out = capsys.readouterr().out
    assert "1.2.3.9" in out and "junk.txt" in out and "spacing" in out


def test_probe_json_value_and_voxel(series_dir, capsys):
    # voxel (k, j, i) = (2, 5, 7): x = -10 + 7*0.6, y = -20 + 5*0.8, z = 30 + 2*2
    assert main(["probe", str(series_dir), "--at", "-5.8,-16.0,34.0", "--json"]) == 0
    doc = _json(capsys)
    assert doc["inside"] is True and doc["voxel"] == [2, 5, 7]
    assert doc["hu"] == int(phantom(2)[5, 7]) - 1024 and doc["unit"] == "HU"


def test_probe_nearest_voxel_rounds(series_dir, capsys):
    assert main(["probe", str(series_dir), "--at=-5.6,-15.7,34.9", "--json"]) == 0
    assert _json(capsys)["voxel"] == [2, 5, 7]


def test_probe_outside_is_null(series_dir, capsys):
    assert main(["probe", str(series_dir), "--at", "0,0,500", "--json"]) == 0
    doc = _json(capsys)
    assert doc == {**doc, "inside": False, "voxel": None, "hu": None}


def test_probe_mr_reports_signal_under_hu(capsys):
    path = get_testdata_file("MR_small.dcm")
    ds = pydicom.dcmread(path)
    j, i = 20, 30
    xyz = (np.asarray(ds.ImagePositionPatient, float)
           + j * float(ds.PixelSpacing[0]) * np.asarray(ds.ImageOrientationPatient[3:], float)
           + i * float(ds.PixelSpacing[1]) * np.asarray(ds.ImageOrientationPatient[:3], float))
    assert main(["probe", path, "--at", ",".join(f"{v:.5f}" for v in xyz), "--json"]) == 0
    doc = _json(capsys)
    assert doc["voxel"] == [0, j, i] and doc["hu"] == int(ds.pixel_array[j, i]) and doc["unit"] == "signal"


def test_probe_table(series_dir, capsys):
    assert main(["probe", str(series_dir), "--at", "-5.8,-16.0,34.0"]) == 0
    assert "[2, 5, 7]" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["info", "/no/such/folder", "--json"], "/no/such/folder"),
    (["probe", "/no/such/folder", "--at", "1,2,3", "--json"], "/no/such/folder"),
    (["probe", "SERIES", "--at", "1,2", "--json"], "--at"),
])
def test_bad_input_is_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and captured.out == ""


def test_probe_several_series_needs_a_uid(tmp_path, capsys):
    write(tmp_path / "a", stack(2, series_uid="1.2.3.1"))
    write(tmp_path / "b", stack(2, series_uid="1.2.3.2"))
    assert main(["probe", str(tmp_path), "--at", "0,0,0", "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1.2.3.1" in err[0] and "1.2.3.2" in err[0]
    assert main(["probe", f"{tmp_path}#1.2.3.2", "--at", "-10,-20,30", "--json"]) == 0
    assert _json(capsys)["voxel"] == [0, 0, 0]


def test_folder_of_broken_files_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "x.dcm").write_bytes(b"\0" * 10)
    (tmp_path / "y.dcm").write_bytes(b"")
    assert main(["info", str(tmp_path), "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path) in err[0]


def test_console_script_bad_path_exit_2_single_line(tmp_path):
    exe = os.path.join(VENV_BIN, "workstation")
    if not os.path.exists(exe):
        pytest.skip("console script not installed next to this interpreter")
    proc = subprocess.run([exe, "info", str(tmp_path / "missing"), "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing" in lines[0] and "Traceback" not in proc.stderr

"""Compressed series: every lossless syntax decodes to SimpleITK's (GDCM's) voxels, through the
preferred plugin and the decoding processes; the shown slice comes first; a broken frame is a gap;
the loader leaves the process's GC, logging and warnings state alone."""
from __future__ import annotations

import gc
import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_synth import stack, write
from pydicom import uid

from workstation.dicom import load_series, read_series, scan
from workstation.dicom.decoding import decode_frames, decoding_plugin, use_pool

sitk = pytest.importorskip("SimpleITK")
# the GDCM encoder's one home is benchmarks/gdcm_jpeg.py (shared with benchmarks/load.py); appended,
# so nothing else in benchmarks/ can shadow a module the tests import
sys.path.append(str(Path(__file__).resolve().parents[3] / "benchmarks"))
from gdcm_jpeg import gdcm_jpeg_lossless  # noqa: E402

N, ROWS, COLS = 9, 48, 40


def _ct_pixels(k: int) -> np.ndarray:
    """CT-like stored values (air, tissue, bone, noise) over the whole 12-bit range."""
    rng = np.random.default_rng(k)
    j, i = np.mgrid[0:ROWS, 0:COLS]
    body = ((j - ROWS / 2) / (0.4 * ROWS)) ** 2 + ((i - COLS / 2) / (0.4 * COLS)) ** 2 <= 1
    arr = np.where(body, 1064, 24) + rng.integers(-30, 30, (ROWS, COLS)) + 20 * k
    arr[ROWS // 2, COLS // 2] = 3000  # bone
    return arr.astype(np.int16)


def _write_series(folder, syntax: str | None) -> list[str]:
    datasets = stack(N, rows=ROWS, cols=COLS)
    for k, ds in enumerate(datasets):
        ds.PixelData = _ct_pixels(k).astype("<i2").tobytes()
        if syntax == uid.JPEGLosslessSV1:
            ds.PixelData = gdcm_jpeg_lossless(_ct_pixels(k), os.path.join(folder, "gdcm.tmp"))
            ds["PixelData"].VR = "OB"
            ds.file_meta.TransferSyntaxUID = syntax
        elif syntax is not None:
            ds.compress(syntax)
    os.makedirs(folder, exist_ok=True)
    names = [f"img{(k * 5) % N:03d}.dcm" for k in range(N)]  # files not in slice order
    return write(folder, datasets, names)


def _sitk_voxels(folder) -> np.ndarray:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


SYNTAXES = [uid.RLELossless, uid.JPEGLSLossless, uid.JPEG2000Lossless, uid.JPEGLosslessSV1]


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda s: uid.UID(s).keyword)
def test_compressed_series_equals_simpleitk(tmp_path, syntax):
    _write_series(tmp_path, syntax)
    vol = load_series(tmp_path)
    theirs = _sitk_voxels(tmp_path)
    assert vol.voxels.shape == theirs.shape == (N, ROWS, COLS)
    assert vol.voxels.dtype == np.int16
    assert not vol.warnings
    assert np.array_equal(vol.voxels, theirs) or np.array_equal(vol.voxels[::-1], theirs)
    # and equal to the same series stored uncompressed, slice for slice
    _write_series(tmp_path / "raw", None)
    assert np.array_equal(vol.voxels, load_series(tmp_path / "raw").voxels)


def test_preferred_plugins_are_used():
    from pydicom.pixels import get_decoder

    assert decoding_plugin(uid.JPEGLSLossless) == "pyjpegls"  # CharLS, not libjpeg
    assert decoding_plugin(uid.RLELossless) == "pylibjpeg"
    assert decoding_plugin(uid.ExplicitVRLittleEndian) == ""
    for ts in (uid.JPEG2000Lossless, uid.JPEGLosslessSV1):
        assert decoding_plugin(ts) in get_decoder(ts).available_plugins


def test_decoding_processes_choose_by_cpu_a_frame(monkeypatch):
    """A worker decodes one frame at a time, one worker per core: JPEG 2000 goes to the
    single-threaded openjpeg plugin there (GDCM's runs on every core and the workers would
    contend); other syntaxes keep their choice."""
    from pydicom.pixels import get_decoder

    import workstation.dicom.decoding as D

    monkeypatch.setattr(D, "PREFERRED_PLUGINS", dict(D.PREFERRED_PLUGINS))
    monkeypatch.setattr(D, "_plugin_cache", {})
    before = {ts: D.decoding_plugin(ts) for ts in (uid.JPEGLSLossless, uid.JPEGLosslessSV1, uid.RLELossless)}
    D.prefer_throughput()
    if "pylibjpeg" in get_decoder(uid.JPEG2000Lossless).available_plugins:
        assert D.decoding_plugin(uid.JPEG2000Lossless) == D.decoding_plugin(uid.JPEG2000) == "pylibjpeg"
    assert {ts: D.decoding_plugin(ts) for ts in before} == before


def test_slow_syntaxes_go_to_the_decoding_processes():
    assert use_pool(uid.JPEG2000Lossless, 100) == (len(os.sched_getaffinity(0)) > 1)
    assert not use_pool(uid.RLELossless, 100)
    assert not use_pool(uid.ExplicitVRLittleEndian, 100)
    assert not use_pool(uid.JPEG2000Lossless, 1)


def test_decode_frames_of_a_compressed_multiframe_file(tmp_path):
    from dicom_synth import enhanced_ct

    ds = enhanced_ct(n=5, rows=48, cols=40)
    raw = ds.pixel_array.copy()
    ds.compress(uid.JPEG2000Lossless)
    path = tmp_path / "enh.dcm"
    ds.save_as(path, enforce_file_format=True)
    frames = decode_frames(str(path), [3, 0], uid.JPEG2000Lossless)
    assert np.array_equal(frames[0], raw[3]) and np.array_equal(frames[1], raw[0])
    vol = load_series(tmp_path)
    assert vol.shape == (5, 48, 40) and not vol.warnings


def test_the_shown_slice_is_read_first(tmp_path):
    _write_series(tmp_path, uid.JPEGLSLossless)
    info = scan(tmp_path).series[0]
    order: list[int] = []
    read_series(info, progress=lambda k, done, total: order.append(k))
    assert order[0] == (N - 1) // 2 and sorted(order) == list(range(N))
    order.clear()
    read_series(info, progress=lambda k, done, total: order.append(k), first=N - 1)
    assert order[0] == N - 1


def test_a_broken_compressed_file_becomes_a_gap(tmp_path):
    paths = _write_series(tmp_path, uid.JPEG2000Lossless)
    ds = pydicom.dcmread(paths[2])
    k_broken = int(ds.InstanceNumber) - 1
    with open(paths[2], "r+b") as f:  # overwrite the end of the codestream
        f.seek(-200, os.SEEK_END)
        f.write(b"\xff" * 200)
    vol = load_series(tmp_path)
    assert [s["file"] for s in vol.meta["skipped"]] == [paths[2]]
    assert any(f"slice {k_broken} " in w for w in vol.warnings)
    good = [k for k in range(N) if k != k_broken]
    raw = np.stack([_ct_pixels(k) - 1024 for k in range(N)])
    assert np.array_equal(vol.voxels[good], raw[good])


def test_loading_leaves_gc_logging_and_warnings_alone(tmp_path):
    _write_series(tmp_path, uid.JPEGLSLossless)
    logger = logging.getLogger("pydicom")
    before = (gc.isenabled(), logger.level, list(warnings.filters))
    seen = []
    vol = load_series(tmp_path, progress=lambda k, d, t: seen.append((gc.isenabled(), logger.level,
                                                                       list(warnings.filters))))
    assert vol.shape[0] == N
    assert all(s == before for s in seen)
    assert (gc.isenabled(), logger.level, list(warnings.filters)) == before

"""Generated series with the problems real folders have: the loader must put every voxel where the
headers say it is, whatever the file names, instance numbers or file order."""
from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
from dicom_synth import AXIAL, enhanced_ct, image, phantom, stack, write
from pydicom.uid import RLELossless

from workstation import load_series
from workstation.dicom import read_series, scan
from workstation.errors import DicomError

HU = -1024  # the synthetic series' RescaleIntercept


def _positions(datasets):
    return np.asarray([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])


def _assert_slices(vol, ks):
    """vol slice m holds phantom(ks[m]) rescaled."""
    for m, k in enumerate(ks):
        np.testing.assert_array_equal(vol.voxels[m], phantom(k) + HU, err_msg=f"slice {m}")


def test_shuffled_names_and_contradicting_instance_numbers(tmp_path):
    ds = stack(6)
    for d in ds:  # instance numbers run against position
        d.InstanceNumber = 100 - int(d.InstanceNumber)
    names = [f"{n}.dcm" for n in random.Random(3).sample(range(6), 6)]
    write(tmp_path, ds, names)
    vol = load_series(tmp_path)
    _assert_slices(vol, range(6))
    np.testing.assert_allclose(vol.index_to_patient((5, 0, 0)), _positions(ds)[5])
    assert vol.spacing_mm == (2.0, 0.8, 0.6) and not vol.warnings
    assert [os.path.basename(f) for f in vol.meta["files"]] == [names[k] for k in range(6)]
    assert vol.meta["sop_instance_uids"] == [d.SOPInstanceUID for d in ds]


def test_descending_positions_are_sorted_along_the_normal(tmp_path):
    ds = stack(5, dz=-3.0)  # slice k lies *below* slice k-1
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    _assert_slices(vol, [4, 3, 2, 1, 0])
    assert vol.spacing_mm[0] == pytest.approx(3.0)
    np.testing.assert_allclose(vol.normal, (0, 0, 1))
    np.testing.assert_allclose(vol.origin_mm, _positions(ds)[4])


def test_missing_slice_is_filled_and_reported_with_positions_kept(tmp_path):
    ds = stack(7)
    del ds[3]
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    assert vol.shape[0] == 7 and vol.spacing_mm[0] == pytest.approx(2.0)
    _assert_slices(vol, [0, 1, 2])
    np.testing.assert_array_equal(vol.voxels[4:], np.stack([phantom(k) + HU for k in (4, 5, 6)]))
    np.testing.assert_array_equal(vol.voxels[3], phantom(3) + HU)  # linear between 2 and 4
    gap = [w for w in vol.warnings if "gap" in w]
    assert len(gap) == 1 and "1 missing slice" in gap[0] and "34.00" in gap[0] and "38.00" in gap[0]
    np.testing.assert_allclose(vol.index_to_patient((4, 0, 0)), _positions(ds)[3])
    assert vol.meta["files"][3] is None


def test_duplicate_slice_is_dropped_with_a_warning(tmp_path):
    ds = stack(4)
    write(tmp_path, ds + [ds[2]], names=[f"a{i}.dcm" for i in range(5)])
    vol = load_series(tmp_path)
    assert vol.shape[0] == 4
    _assert_slices(vol, range(4))
    assert any("already occupied position" in w for w in vol.warnings)


def test_uneven_spacing_is_reported(tmp_path):
    ds = stack(5)
    ds[4].ImagePositionPatient = [-10.0, -20.0, 30.0 + 2 * 3 + 2.7]
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    assert any("uneven slice spacing" in w for w in vol.warnings)


def test_two_series_in_one_folder_need_a_uid(tmp_path):
    a = stack(4, series_uid="1.2.3.4.1", description="first")
    b = stack(3, series_uid="1.2.3.4.2", description="second", modality="MR", slope=None)
    write(tmp_path / "x", a)
    write(tmp_path / "y", b)
    found = scan(tmp_path)
    assert [(s.series_uid, s.n_images) for s in found.series] == [("1.2.3.4.1", 4), ("1.2.3.4.2", 3)]
    with pytest.raises(DicomError, match=r"1\.2\.3\.4\.1 \(series 3, CT, 4 images\).*1\.2\.3\.4\.2 \(series 3, MR, 3 images\)"
                       ) as refused:
        load_series(tmp_path)
    assert "first" not in str(refused.value) and "second" not in str(refused.value)  # free text: no description
    mr = load_series(f"{tmp_path}#1.2.3.4.2")
    assert mr.unit == "signal" and mr.modality == "MR"
    np.testing.assert_array_equal(mr.voxels[2], phantom(2))  # no rescale: stored signal
    with pytest.raises(DicomError, match="no series 9.9.9"):
        load_series(f"{tmp_path}#9.9.9")


def test_localizer_in_the_series_is_split_off(tmp_path):
    axial = stack(5)
    scout = image(k=9, ipp=(0, -100, 100), iop=(0, 1, 0, 0, 0, -1), instance=0)
    scout2 = image(k=8, ipp=(0, -100, 100), iop=(1, 0, 0, 0, 0, -1), instance=0)
    write(tmp_path, axial + [scout, scout2])
    found = scan(tmp_path)
    uids = [s.series_uid for s in found.series]
    base = axial[0].SeriesInstanceUID
    assert uids[0] == base and set(uids[1:]) == {base + "#2", base + "#3"}
    assert found.series[0].n_images == 5
    vol = load_series(tmp_path)  # parts of one series: the largest is taken
    _assert_slices(vol, range(5))
    part = load_series(f"{tmp_path}#{base}#2")
    assert part.shape[0] == 1


def test_oblique_series_geometry_matches_every_slice_header(tmp_path):
    th = np.radians(25)
    row = (np.cos(th), np.sin(th), 0.0)
    col = (0.0, np.cos(0.4), -np.sin(0.4))
    col = tuple(np.asarray(col) - np.dot(col, row) * np.asarray(row))
    col = tuple(np.asarray(col) / np.linalg.norm(col))
    iop = row + col
    ds = stack(5, dz=1.5, iop=iop, origin=(12.0, -40.0, 7.0), spacing=(0.9, 0.7))
    random.Random(1).shuffle(ds)
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    ipp = {int(d.InstanceNumber) - 1: np.asarray(d.ImagePositionPatient, float) for d in ds}
    for k in range(5):
        for j, i in ((0, 0), (11, 0), (0, 9), (7, 4)):
            expect = ipp[k] + j * 0.9 * np.asarray(col) + i * 0.7 * np.asarray(row)
            np.testing.assert_allclose(vol.index_to_patient((k, j, i)), expect, atol=1e-6)
        np.testing.assert_allclose(vol.patient_to_index(ipp[k]), (k, 0, 0), atol=1e-6)
    _assert_slices(vol, range(5))


def test_gantry_tilt_k_axis_follows_positions(tmp_path):
    ds = stack(4, dz=2.0)
    for k, d in enumerate(ds):  # positions shift along y as z rises (tilted gantry)
        d.ImagePositionPatient = [-10.0, -20.0 + 0.5 * k, 30.0 + 2.0 * k]
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    for k, d in enumerate(ds):
        np.testing.assert_allclose(vol.index_to_patient((k, 0, 0)), [float(v) for v in d.ImagePositionPatient])
    assert any("tilt" in w for w in vol.warnings)


def test_single_slice_uses_slice_thickness(tmp_path):
    write(tmp_path, [image(k=2, thickness=3.5)])
    vol = load_series(tmp_path)
    assert vol.shape == (1, 12, 10) and vol.spacing_mm[0] == 3.5


def test_zip_members_are_read_in_memory_and_named(tmp_path):
    ds = stack(4)
    paths = write(tmp_path / "src", ds)
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in reversed(paths):
            z.write(p, f"dir/{os.path.basename(p)}")
        z.writestr("dir/notes.txt", "not dicom")
    vol = load_series(archive)
    _assert_slices(vol, range(4))
    assert vol.meta["files"][0] == f"zip://{archive}!dir/slice000.dcm"
    found = scan(archive)
    assert [s.file for s in found.skipped] == [f"zip://{archive}!dir/notes.txt"]


def test_dicomdir_references_are_followed(tmp_path):
    from pydicom.fileset import FileSet

    fs = FileSet()
    for d in stack(4):
        fs.add(d)
    fs.write(tmp_path / "media")
    dicomdir = tmp_path / "media" / "DICOMDIR"
    vol = load_series(dicomdir)
    _assert_slices(vol, range(4))
    assert all(os.path.exists(f) for f in vol.meta["files"])


def test_broken_dicomdir_falls_back_to_its_folder(tmp_path):
    write(tmp_path, stack(3))
    (tmp_path / "DICOMDIR").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x01\x00garbage")
    vol = load_series(tmp_path / "DICOMDIR")
    _assert_slices(vol, range(3))


def test_enhanced_multiframe_frames_sorted_by_per_frame_position(tmp_path):
    ds = enhanced_ct(n=5, order=[3, 0, 4, 1, 2])
    path = tmp_path / "enh.dcm"
    ds.save_as(path, enforce_file_format=True)
    vol = load_series(path)
    for k in range(5):
        np.testing.assert_array_equal(vol.voxels[k], phantom(k, 6, 5) + HU)
    assert vol.meta["frame_numbers"] == [2, 4, 5, 1, 3]
    assert vol.spacing_mm == (3.0, 0.5, 0.4)
    np.testing.assert_allclose(vol.origin_mm, (1.0, 2.0, 50.0))
    assert len(vol.meta["headers"]) == 1 and "PixelData" not in vol.meta["headers"][0]


def test_enhanced_multiframe_compressed_frames(tmp_path):
    ds = enhanced_ct(n=3, order=[2, 0, 1])
    ds.compress(RLELossless)
    ds.save_as(tmp_path / "enh_rle.dcm", enforce_file_format=True)
    vol = load_series(tmp_path)
    for k in range(3):
        np.testing.assert_array_equal(vol.voxels[k], phantom(k, 6, 5) + HU)


def test_broken_files_beside_a_good_series_are_listed(tmp_path):
    paths = write(tmp_path, stack(4))
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello, not an image\n")
    raw = Path(paths[0]).read_bytes()
    (tmp_path / "truncated.dcm").write_bytes(raw[: len(raw) - 50])
    (tmp_path / "header_only.dcm").write_bytes(raw[:300])
    nopix = image(k=0, ipp=(0, 0, 99))
    del nopix.PixelData
    write(tmp_path, [nopix], ["nopixels.dcm"])
    found = scan(tmp_path)
    reasons = {os.path.basename(s.file): s.reason for s in found.skipped}
    assert reasons["empty.dcm"] == "empty file"
    assert reasons["notes.txt"].startswith("not DICOM")
    assert reasons["truncated.dcm"].startswith("truncated")
    assert reasons["nopixels.dcm"].startswith("no pixel data")
    assert "header_only.dcm" in reasons
    assert len(found.series) == 1 and found.series[0].n_images == 4
    _assert_slices(load_series(tmp_path), range(4))


def test_corrupted_compressed_slice_becomes_a_filled_gap(tmp_path):
    from pydicom.encaps import encapsulate

    ds = stack(5)
    for d in ds:
        d.compress(RLELossless)
    ds[2].PixelData = encapsulate([b"\x07\x00\x00\x00" + b"\xff" * 62])  # 7 RLE segments: impossible
    paths = write(tmp_path, ds)
    vol = load_series(tmp_path)
    assert vol.shape[0] == 5
    assert [w for w in vol.warnings if "unreadable" in w and "slice 2" in w]
    assert vol.meta["skipped"][0]["file"] == paths[2] and vol.meta["files"][2] is None
    np.testing.assert_array_equal(vol.voxels[2], phantom(2) + HU)  # interpolated between 1 and 3


def test_folder_of_nothing_usable_is_one_error_line(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.dcm").write_bytes(b"")
    with pytest.raises(DicomError) as err:
        scan(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DicomError, match="no such file"):
        scan(tmp_path / "nope")


def test_values_beyond_int16_promote_to_float32(tmp_path):
    big = np.full((12, 10), 32000, np.int16)
    ds = stack(3, intercept=1000.0)
    ds[1].PixelData = big.astype("<i2").tobytes()
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    assert vol.voxels.dtype == np.float32
    assert vol.voxels[1, 0, 0] == 33000.0 and vol.voxels[0, 1, 2] == phantom(0)[1, 2] + 1000


def test_fractional_slope_gives_float32_equal_to_pydicom(tmp_path):
    write(tmp_path, stack(3, slope=0.5, intercept=-3.25))
    vol = load_series(tmp_path)
    assert vol.voxels.dtype == np.float32
    np.testing.assert_allclose(vol.voxels[1], phantom(1) * 0.5 - 3.25)


def test_bits_stored_below_allocated_are_masked_like_pydicom(tmp_path):
    import pydicom
    from pydicom.pixels import apply_modality_lut

    ds = stack(2)
    for d in ds:
        d.BitsStored, d.HighBit, d.PixelRepresentation = 12, 11, 1
        arr = phantom(0).astype(np.uint16) | 0xF000  # junk in the unused high bits
        arr[0, 0] = 0x0FFF  # -1 as 12-bit two's complement
        d.PixelData = arr.astype("<u2").tobytes()
    paths = write(tmp_path, ds)
    vol = load_series(tmp_path)
    ref = pydicom.dcmread(paths[0])
    np.testing.assert_array_equal(vol.voxels[0], apply_modality_lut(ref.pixel_array, ref))


def test_progress_and_on_allocated_callbacks(tmp_path):
    ds = stack(5)
    del ds[2]
    write(tmp_path, ds)
    info = scan(tmp_path).series[0]
    seen, allocated = [], []
    vol = read_series(info, progress=lambda k, done, total: seen.append((k, done, total)),
                      on_allocated=allocated.append)
    assert allocated == [vol]
    assert sorted(k for k, _, _ in seen) == [0, 1, 2, 3, 4]
    assert [d for _, d, _ in seen] == [1, 2, 3, 4, 5] and {t for _, _, t in seen} == {5}


def test_info_json_fields(tmp_path):
    write(tmp_path, stack(3, iop=AXIAL))
    doc = scan(tmp_path).to_json()
    s = doc["series"][0]
    for key in ("series_uid", "modality", "description", "n_images", "rows", "columns", "spacing_mm",
                "orientation", "origin_mm"):
        assert key in s
    assert s["spacing_mm"] == [2.0, 0.8, 0.6] and s["rows"] == 12 and s["columns"] == 10
    assert s["origin_mm"] == [-10.0, -20.0, 30.0] and doc["skipped"] == []


def test_classic_multiframe_without_positions_stacks_frames_with_a_warning(tmp_path):
    ds = image(k=0)
    ds.NumberOfFrames = 3
    ds.SpacingBetweenSlices = 2.5
    ds.PixelData = np.stack([phantom(k) for k in range(3)]).astype("<i2").tobytes()
    ds.save_as(tmp_path / "mf.dcm", enforce_file_format=True)
    vol = load_series(tmp_path / "mf.dcm")
    _assert_slices(vol, range(3))
    assert vol.spacing_mm[0] == 2.5 and vol.meta["frame_numbers"] == [1, 2, 3]
    assert any("without per-frame positions" in w for w in vol.warnings)


def test_two_echoes_at_the_same_positions_are_split_by_echo(tmp_path):
    first, second = stack(3, modality="MR"), stack(3, modality="MR")
    for k, d in enumerate(second):
        d.EchoNumbers = 2
        d.PixelData = phantom(k + 10).astype("<i2").tobytes()
    for d in first:
        d.EchoNumbers = 1
    write(tmp_path, first + second, names=[f"e{i}.dcm" for i in range(6)])
    found = scan(tmp_path)
    assert [s.n_images for s in found.series] == [3, 3]
    assert not any(s.warnings for s in found.series)
    uid = first[0].SeriesInstanceUID
    echo2 = load_series(f"{tmp_path}#{found.series[1].series_uid}")
    assert found.series[1].series_uid == uid + "#2"
    assert {int(echo2.voxels[0, 0, 0]), int(load_series(f"{tmp_path}#{uid}").voxels[0, 0, 0])} == {1000 - 1024, -1024}


def test_stacks_far_apart_in_one_series_are_split_not_filled(tmp_path):
    write(tmp_path, stack(3) + stack(3, origin=(-10.0, -20.0, 230.0)), names=[f"f{i}.dcm" for i in range(6)])
    found = scan(tmp_path)
    assert [s.n_slices for s in found.series] == [3, 3]
    assert not any("gap" in w for s in found.series for w in s.warnings)


def test_files_without_preamble_or_meta_are_read_with_force(tmp_path):
    from pydicom import dcmwrite
    from pydicom.dataset import FileMetaDataset

    ds = stack(3)
    for i, d in enumerate(ds):
        d.preamble = None
        d.file_meta = FileMetaDataset()
        dcmwrite(tmp_path / f"raw{i}", d, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert (tmp_path / "raw0").read_bytes()[:2] == b"\x08\x00"
    vol = load_series(tmp_path)
    _assert_slices(vol, range(3))


def test_header_larger_than_the_read_ahead_is_read_whole(tmp_path):
    from workstation.dicom.headers import PREFETCH

    ds = stack(3)
    ds[1].add_new(0x00291010, "OB", b"\x01" * (PREFETCH + 5000))  # a big private blob before the pixels
    ds[1].add_new(0x00290010, "LO", "TEST PRIVATE")
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    _assert_slices(vol, range(3))


def test_values_below_int16_after_a_negative_intercept_promote_to_float32(tmp_path):
    """16-bit signed CT with intercept -1024: only the low end can overflow, and it is caught."""
    low = np.full((12, 10), -32000, np.int16)
    ds = stack(3, intercept=-1024.0)
    ds[2].PixelData = low.astype("<i2").tobytes()
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    assert vol.voxels.dtype == np.float32
    assert vol.voxels[2, 0, 0] == -33024.0 and vol.voxels[0, 1, 2] == phantom(0)[1, 2] - 1024


def test_uneven_slices_are_resampled_onto_the_regular_grid(tmp_path):
    """Slices at z = 0, 2, 4.6, 6, 8 mm (nominal 2): each grid slice must hold the value at its own
    position. The stored values vary linearly along z, so linear interpolation is exact."""
    zs = [0.0, 2.0, 4.6, 6.0, 8.0]
    ds = []
    for k, z in enumerate(zs):
        arr = np.full((12, 10), int(round(100 * z)), np.int16)  # value = 100 * z (mm)
        ds.append(image(k=k, ipp=(-10.0, -20.0, 30.0 + z), instance=k + 1, pixels=arr, intercept=0.0))
    write(tmp_path, ds)
    vol = load_series(tmp_path)
    assert vol.spacing_mm[0] == pytest.approx(2.0)
    assert any("resampled onto a regular grid" in w for w in vol.warnings)
    for k in range(vol.shape[0]):
        z = vol.index_to_patient((k, 0, 0))[2] - 30.0
        assert vol.voxels[k, 0, 0] == pytest.approx(100 * z, abs=1), k
    assert vol.voxels[2, 0, 0] == 400  # the slice that really lay at 4.6 mm now shows 4.0 mm


def test_evenly_spaced_series_is_not_resampled(tmp_path):
    write(tmp_path, stack(5))
    vol = load_series(tmp_path)
    for k in range(5):
        np.testing.assert_array_equal(vol.voxels[k], phantom(k) - 1024)
    assert not any("resampled" in w for w in vol.warnings)

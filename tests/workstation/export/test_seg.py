"""lesion-seg.dcm: dciodvfy, highdicom read-back of the coded segments and their source references,
the voxels against the lesion masks (exact count and position) through highdicom and through dcmqi's
segimage2itkimage, empty frames omitted, masks from the app or grown again from the seed."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from workstation import __version__
from workstation.export import seg as G
from workstation.measure.model import Lesion3D

from .conftest import volume_from_files, write_series


def _blob(vol, center_kji, radii_kji):
    k, j, i = np.ogrid[:vol.shape[0], :vol.shape[1], :vol.shape[2]]
    c, r = center_kji, radii_kji
    return ((k - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((i - c[2]) / r[2]) ** 2 <= 1.0


def _lesions(vol):
    """Two lesions; the second carries the target flag, so it must become segment 1."""
    a = Lesion3D(series_uid=vol.series_uid, label="satellite", seed=tuple(vol.index_to_patient((1, 30, 30))))
    b = Lesion3D(series_uid=vol.series_uid, label="mass", seed=tuple(vol.index_to_patient((3, 70, 75))),
                 figures={"target": 1.0})
    masks = {a.id: _blob(vol, (1.6, 30, 30), (1.2, 8, 10)), b.id: _blob(vol, (3.0, 70, 75), (2.2, 22, 18))}
    return [a, b], masks


@pytest.fixture
def seg_file(ct_series, tmp_path):
    vol, _ = ct_series
    recs, masks = _lesions(vol)
    seg, stats = G.export_seg(vol, recs, masks)
    p = tmp_path / G.SEG_FILE
    p.write_bytes(G.seg_bytes(seg))
    return p, vol, recs, masks, stats


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_dciodvfy_reports_no_errors(seg_file):
    p, *_ = seg_file
    r = subprocess.run(["dciodvfy", str(p)], capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert "Segmentation" in out
    assert [ln for ln in out.splitlines() if "Error" in ln] == []


def test_segments_are_coded_target_first_with_algorithm_colour_and_tracking(seg_file):
    p, vol, recs, masks, _ = seg_file
    seg = hd.seg.segread(p)
    assert seg.SegmentationType == "BINARY" and seg.number_of_segments == 2
    study = vol.meta["study_uid"]
    expected = [recs[1], recs[0]]                              # the target lesion first
    for n, rec in enumerate(expected, start=1):
        d = seg.get_segment_description(n)
        assert d.segment_label == rec.label
        assert d.segmented_property_category == codes.SCT.MorphologicallyAbnormalStructure
        assert d.segmented_property_type == codes.SCT.Mass
        assert d.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
        alg = d.algorithm_identification
        assert alg.name == "rp-workstation lesion grower" and alg.version == __version__
        assert alg.family == codes.DCM.NeighborhoodAnalysis
        assert d.tracking_uid == G.tracking_uid(study, "lesion", rec.id) and d.tracking_id == f"lesion {rec.id}"
        assert [c for c in d.anatomic_regions] == [codes.SCT.Retroperitoneum]
        assert len(d.RecommendedDisplayCIELabValue) == 3
    colours = {tuple(seg.get_segment_description(n).RecommendedDisplayCIELabValue) for n in (1, 2)}
    assert len(colours) == 2
    assert seg.StudyInstanceUID == study and seg.FrameOfReferenceUID == vol.meta["frame_of_reference_uid"]
    assert str(seg.PatientID) == vol.meta["patient_id"]


def test_frames_reference_their_source_slice_and_empty_frames_are_omitted(seg_file):
    p, vol, recs, masks, _ = seg_file
    ds = pydicom.dcmread(p)
    order = [recs[1].id, recs[0].id]
    nonempty = [(k, n) for n, lid in enumerate(order, start=1) for k in range(vol.shape[0]) if masks[lid][k].any()]
    assert int(ds.NumberOfFrames) == len(nonempty) < 2 * vol.shape[0]
    uids = vol.meta["sop_instance_uids"]
    seen = set()
    for fg in ds.PerFrameFunctionalGroupsSequence:
        src = fg.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        k = uids.index(src)
        ipp = np.array(fg.PlanePositionSequence[0].ImagePositionPatient, float)
        np.testing.assert_allclose(ipp, vol.index_to_patient((k, 0, 0)), atol=1e-4)
        n = int((fg.get("SegmentIdentificationSequence") or ds.SharedFunctionalGroupsSequence[0]
                 .SegmentIdentificationSequence)[0].ReferencedSegmentNumber)
        seen.add((k, n))
    assert seen == set(nonempty)


def test_highdicom_pixels_equal_the_masks_voxel_for_voxel(seg_file):
    p, vol, recs, masks, _ = seg_file
    seg = hd.seg.segread(p)
    uids = vol.meta["sop_instance_uids"]
    for n, lid in enumerate([recs[1].id, recs[0].id], start=1):
        ks = [k for k in range(vol.shape[0]) if masks[lid][k].any()]
        px = seg.get_pixels_by_source_instance(source_sop_instance_uids=[uids[k] for k in ks], segment_numbers=[n])
        got = np.zeros(vol.shape, bool)
        got[ks] = px[..., 0].astype(bool)
        assert got.sum() == masks[lid].sum() and np.array_equal(got, masks[lid])


def _read_mhd(path: Path):
    head = dict(ln.split(" = ", 1) for ln in path.read_text().splitlines() if " = " in ln)
    raw = (path.parent / head["ElementDataFile"]).read_bytes()
    if head.get("CompressedData") == "True":
        raw = zlib.decompress(raw)
    dtype = {"MET_SHORT": "<i2", "MET_UCHAR": "u1", "MET_USHORT": "<u2", "MET_CHAR": "i1"}[head["ElementType"]]
    dims = [int(v) for v in head["DimSize"].split()]
    arr = np.frombuffer(raw, dtype=dtype).reshape(dims[::-1])         # (z, y, x)
    offset = np.array(head["Offset"].split(), float)
    spacing = np.array(head["ElementSpacing"].split(), float)
    direction = np.array(head["TransformMatrix"].split(), float).reshape(3, 3)
    return arr, offset, spacing, direction


def test_dcmqi_segimage2itkimage_puts_every_voxel_where_the_mask_has_it(seg_file, tmp_path):
    """An independent reader (dcmqi, ITK geometry): the same voxels at the same patient positions."""
    p, vol, recs, masks, _ = seg_file
    exe = Path(sys.executable).parent / "segimage2itkimage"          # installed by the dcmqi package
    out = tmp_path / "itk"
    out.mkdir()
    r = subprocess.run([str(exe), "--inputDICOM", str(p), "--outputDirectory", str(out), "-t", "mhd"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-500:]
    meta = json.loads((out / "meta.json").read_text())
    labels = [s["labelID"] for grp in meta["segmentAttributes"] for s in grp]
    assert sorted(labels) == [1, 2]
    files = sorted(out.glob("*.mhd"))
    assert files
    got = {1: np.zeros(vol.shape, bool), 2: np.zeros(vol.shape, bool)}
    for f in files:
        arr, offset, spacing, direction = _read_mhd(f)
        for n in (1, 2):
            zyx = np.argwhere(arr == n)
            if not len(zyx):
                continue
            xyz_idx = zyx[:, ::-1] * spacing
            patient = offset + xyz_idx @ direction.T
            kji = np.rint(vol.patient_to_index(patient)).astype(int)
            got[n][tuple(kji.T)] = True
    for n, lid in enumerate([recs[1].id, recs[0].id], start=1):
        assert got[n].sum() == masks[lid].sum()
        assert np.array_equal(got[n], masks[lid])


def test_our_reader_gives_back_the_masks_by_tracking_id(seg_file):
    p, vol, recs, masks, _ = seg_file
    back = G.read_seg_masks(p, vol)
    assert set(back) == {f"lesion {r.id}" for r in recs}
    for r in recs:
        assert np.array_equal(back[f"lesion {r.id}"], masks[r.id])


def test_mask_statistics_are_those_of_the_voxels(seg_file):
    _, vol, recs, masks, stats = seg_file
    vals = vol.voxels[masks[recs[1].id]].astype(np.float64)
    st = stats[recs[1].id]
    assert st["n_voxels"] == vals.size and st["mean"] == pytest.approx(vals.mean()) and st["sd"] == pytest.approx(vals.std())
    assert st["volume_ml"] == pytest.approx(vals.size * vol.voxel_volume_ml)


def test_one_lesion_seg_is_valid_and_reads_back(ct_series, tmp_path):
    """One segment: highdicom puts the segment identification into the shared groups."""
    vol, _ = ct_series
    recs, masks = _lesions(vol)
    seg, _ = G.export_seg(vol, recs[:1], masks)
    p = tmp_path / "one.dcm"
    p.write_bytes(G.seg_bytes(seg))
    assert np.array_equal(G.read_seg_masks(p, vol)[f"lesion {recs[0].id}"], masks[recs[0].id])
    if shutil.which("dciodvfy"):
        r = subprocess.run(["dciodvfy", str(p)], capture_output=True, text=True)
        assert [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln] == []


def test_headers_off_the_grid_get_explicit_plane_positions(tmp_path):
    """Slices whose files do not sit on the volume's regular grid (a resampled series): the frames
    carry the grid's own plane positions and still reference the series."""
    paths = write_series(tmp_path / "s", n=6, dz=5.0)
    vol = volume_from_files(paths)
    h = vol.meta["headers"][2]
    h.ImagePositionPatient = [float(v) for v in h.ImagePositionPatient[:2]] + [float(h.ImagePositionPatient[2]) + 1.7]
    recs, masks = _lesions(vol)
    seg, _ = G.export_seg(vol, recs, masks)
    p = tmp_path / "seg.dcm"
    p.write_bytes(G.seg_bytes(seg))
    back = G.read_seg_masks(p, vol)
    for r in recs:
        assert np.array_equal(back[f"lesion {r.id}"], masks[r.id])
    if shutil.which("dciodvfy"):
        r = subprocess.run(["dciodvfy", str(p)], capture_output=True, text=True)
        assert [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln] == []


def test_masks_come_from_the_app_else_grown_again_from_the_seed(sample_post):
    from workstation.measure.segment import grow_lesion

    vol, seed = sample_post
    rec = Lesion3D(series_uid=vol.series_uid, label="mass", seed=tuple(seed))
    grown = G.lesion_masks(vol, [rec], {})
    assert len(grown) == 1
    expected = grow_lesion(vol, seed).mask
    assert np.array_equal(grown[0].mask, expected)
    edited = expected.copy()
    edited[int(np.flatnonzero(edited.any(axis=(1, 2)))[0])] = False
    [given] = G.lesion_masks(vol, [rec], {rec.id: edited})
    assert np.array_equal(given.mask, edited)
    [wrong_shape] = G.lesion_masks(vol, [rec], {rec.id: edited[1:]})
    assert np.array_equal(wrong_shape.mask, expected)
    other = Lesion3D(series_uid="1.2.826.0.1.3680043.8.498.1", label="on pre", seed=tuple(seed))
    [regrown] = G.lesion_masks(vol, [other], {other.id: edited})      # drawn on another series
    assert np.array_equal(regrown.mask, expected)
    far = Lesion3D(series_uid=vol.series_uid, seed=(0.0, 0.0, 5000.0))
    assert G.lesion_masks(vol, [far], {}) == []                        # nothing to grow: left out


@pytest.fixture(scope="module")
def sample_post():
    from workstation.dicom import load_series
    from workstation.resources import SAMPLE_DICOM

    truth = json.loads((SAMPLE_DICOM / "truth.json").read_text())
    post = truth["series"]["ct_post"]
    vol = load_series(f"{SAMPLE_DICOM / 'study'}#{post['series_uid']}")
    return vol, np.add(truth["mass"]["seed_mm"], truth["motion_mm"])


def test_an_enhanced_multiframe_ct_gets_a_seg_and_an_sr_that_reference_its_frames(tmp_path):
    """pydicom's enhanced CT (two frames stored in reverse slice order): the SEG frames carry the
    grid's plane positions, the SR's image coordinates name the frame, both validate."""
    from pydicom.data import get_testdata_file

    from workstation.dicom import load_series
    from workstation.export import sr as S
    from workstation.measure.model import Landmark

    vol = load_series(get_testdata_file("eCT_Supplemental.dcm"))
    assert vol.shape[0] == 2 and vol.meta["frame_numbers"] == [2, 1]
    mask = np.zeros(vol.shape, bool)
    mask[1, 200:240, 250:300] = True
    rec = Lesion3D(series_uid=vol.series_uid, label="mass", seed=tuple(vol.index_to_patient((1, 220, 275))))
    seg, _ = G.export_seg(vol, [rec], {rec.id: mask})
    lm = Landmark(landmark="renal_vein", point=tuple(vol.index_to_patient((1, 100, 100))))
    sr = S.build_sr({"schema": "rp-findings/1"}, vol, [rec, lm], segmentation=seg)
    sp, gp = tmp_path / "sr.dcm", tmp_path / "seg.dcm"
    sp.write_bytes(S.sr_bytes(sr))
    gp.write_bytes(G.seg_bytes(seg))
    assert np.array_equal(G.read_seg_masks(gp, vol)[f"lesion {rec.id}"], mask)
    report = hd.sr.MeasurementReport.from_sequence(hd.sr.srread(sp).content)
    [point] = report.get_planar_roi_measurement_groups(graphic_type=hd.sr.GraphicTypeValues.POINT)
    ref = point.roi.ContentSequence[0].ReferencedSOPSequence[0]
    assert ref.ReferencedSOPInstanceUID == vol.meta["sop_instance_uids"][1]
    assert [int(v) for v in np.atleast_1d(ref.ReferencedFrameNumber)] == [1]       # slice k=1 is frame 1
    _, restored = S.read_sr(sp, vol)
    [back] = [m for m in restored if m.kind == "landmark"]
    np.testing.assert_allclose(back.point, lm.point, atol=1e-6)
    if shutil.which("dciodvfy"):
        for f in (sp, gp):
            r = subprocess.run(["dciodvfy", str(f)], capture_output=True, text=True)
            assert [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln] == [], f.name

"""Integration on the bundled sample study (sample_dicom/study + truth.json), core and CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

from workstation import load_series
from workstation.cli import main
from workstation.measure.enhancement import measure_enhancement
from workstation.measure.segment import grow_lesion
from workstation.resources import SAMPLE_DICOM

TRUTH = json.loads((SAMPLE_DICOM / "truth.json").read_text())
STUDY = SAMPLE_DICOM


def _path(key: str) -> str:
    return str(STUDY / TRUTH["series"][key]["path"])


@pytest.fixture(scope="module")
def ct_pre():
    return load_series(_path("ct_pre"))


@pytest.fixture(scope="module")
def ct_post():
    return load_series(_path("ct_post"))


def _diag(vol) -> float:
    return float(np.linalg.norm(vol.spacing_mm))


def test_mass_grown_from_truth_seed_matches_truth(ct_pre):
    m = TRUTH["mass"]
    r = grow_lesion(ct_pre, m["seed_mm"])
    assert abs(r.greatest_dimension_mm - m["greatest_dimension_mm"]) <= _diag(ct_pre)
    assert abs(r.volume_ml / m["volume_ml"] - 1) < 0.05
    z0, z1 = m["z_range_mm"]
    assert r.craniocaudal_mm == pytest.approx(z1 - z0, abs=ct_pre.spacing_mm[0])
    nec = m["necrosis_volume_ml"] / m["volume_ml"]
    assert r.low_attenuation_fraction == pytest.approx(nec, abs=0.06)
    assert not m["contains_fat"] and "macroscopic_fat" not in r.suggestions
    assert not m["contains_calcification"] and "calcification" not in r.suggestions
    # the mask holds the necrotic core
    assert r.mask[ct_pre.nearest_index(m["necrosis_center_mm"])]


def test_mass_on_post_contrast_and_mr(ct_post):
    m = TRUTH["mass"]
    seed_post = np.add(m["seed_mm"], TRUTH["motion_mm"])
    r = grow_lesion(ct_post, seed_post)
    assert abs(r.greatest_dimension_mm - m["greatest_dimension_mm"]) <= _diag(ct_post)
    assert abs(r.volume_ml / m["volume_ml"] - 1) < 0.05
    assert "calcification" not in r.suggestions  # enhancing tissue on a contrast series is not calcium
    mr = load_series(_path("mr_t2"))
    r = grow_lesion(mr, m["seed_mm"])
    assert abs(r.greatest_dimension_mm - m["greatest_dimension_mm"]) <= _diag(mr)
    assert abs(r.volume_ml / m["volume_ml"] - 1) < 0.10
    assert r.fat_fraction is None


@pytest.mark.parametrize("where,what", [("outside_air", "air"), ("subcutaneous_fat", "fat"),
                                        ("vertebral_body", "bone")])
def test_bad_seeds_fail_clearly(ct_pre, where, what):
    with pytest.raises(Exception, match=what):
        grow_lesion(ct_pre, TRUTH["landmarks_mm"][where])


@pytest.mark.parametrize("point,radius,call", [
    (("mass", "solid_roi_point_mm"), 10.0, "enhancing"),
    (("ivc", "tumor_thrombus_point_mm"), 5.0, "enhancing"),
    (("bland_thrombus", "point_mm"), 5.0, "not_enhancing"),
])
def test_enhancement_at_truth_points(ct_pre, ct_post, point, radius, call):
    p = TRUTH[point[0]][point[1]]
    r = measure_enhancement(ct_pre, ct_post, p, radius_mm=radius)
    assert r.call == call
    assert np.linalg.norm(np.subtract(r.shift_mm, TRUTH["motion_mm"])) < 1.0
    if point[0] == "mass":
        truth = TRUTH["mass"]["hu_solid_post"] - TRUTH["mass"]["hu_solid_pre"]
        assert r.delta_hu == pytest.approx(truth, abs=4.0)


def test_cli_segment_and_enhancement_json(capsys):
    m = TRUTH["mass"]
    assert main(["segment", _path("ct_pre"), "--seed", ",".join(map(str, m["seed_mm"])), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for k in ("volume_ml", "greatest_dimension_mm", "axial_long_mm", "axial_short_mm", "craniocaudal_mm",
              "mean_hu", "fat_fraction", "calcification_fraction", "low_attenuation_fraction"):
        assert k in doc
    assert abs(doc["greatest_dimension_mm"] - m["greatest_dimension_mm"]) < 3.5
    at = ",".join(map(str, TRUTH["bland_thrombus"]["point_mm"]))
    assert main(["enhancement", "--pre", _path("ct_pre"), "--post", _path("ct_post"), "--at", at,
                 "--radius-mm", "5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["call"] == "not_enhancing" and {"mean", "sd", "n"} <= set(doc["pre"]) <= set(doc["post"])
    assert isinstance(doc["delta_hu"], float) and len(doc["shift_mm"]) == 3


def test_cli_errors_are_one_line(capsys):
    air = ",".join(map(str, TRUTH["landmarks_mm"]["outside_air"]))
    assert main(["segment", _path("ct_pre"), "--seed", air, "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "air" in cap.err and cap.err.count("\n") == 1
    assert main(["enhancement", "--pre", _path("ct_pre"), "--post", _path("ct_post"), "--at", "0,0,900"]) == 2
    assert "--at" in capsys.readouterr().err
    assert main(["enhancement", "--pre", _path("ct_pre"), "--post", _path("ct_post"), "--at", "0,0,0",
                 "--radius-mm", "abc"]) == 2
    assert "--radius-mm" in capsys.readouterr().err

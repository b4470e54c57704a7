"""The one contrast-phase classifier (workstation.phase), shared by the app and the report."""
from __future__ import annotations

import pytest

from workstation.dicom import load_series
from workstation.phase import PHASES, classify, phase_of_volume, pre_or_post
from workstation.resources import SAMPLE_DICOM


@pytest.mark.parametrize("description, agent, phase", [
    ("CT ABD NON-CONTRAST", None, "non-contrast"),
    ("CT ABD NON-CONTRAST", "Omnipaque", "non-contrast"),   # the description beats a copied agent tag
    ("Abdomen w/o contrast", None, "non-contrast"),
    ("NECT abdomen", None, "non-contrast"),
    ("T1 FS PRE", None, "non-contrast"),
    ("CT ABD PORTAL VENOUS", None, "portal venous"),
    ("CT ABD PORTAL 5mm", None, "portal venous"),
    ("CT ABD PV", None, "portal venous"),
    ("CTA arterial", None, "arterial"),
    ("Nephrographic", None, "nephrographic"),
    ("Delayed 10 min", None, "delayed"),
    ("CECT abdomen", None, "post-contrast"),
    ("MR T1 post gad", None, "post-contrast"),
    ("CT ABD", "Omnipaque", "post-contrast"),
    ("CT ABD", None, None),
    ("MR T2 AX", None, None),
    ("", "", None),
])
def test_classify(description, agent, phase):
    assert classify(description, agent) == phase


def test_keywords_are_whole_words():
    # "art" is arterial, but not inside "part" or "cartilage"; "pv" not inside "spv"
    assert classify("part of abdomen") is None
    assert classify("spv recon") is None
    assert classify("art phase") == "arterial"


def test_pre_or_post_folds_every_phase():
    assert pre_or_post(None) is None
    assert pre_or_post("non-contrast") == "pre"
    assert {pre_or_post(p) for p in PHASES if p != "non-contrast"} == {"post"}


def test_app_and_report_agree_on_the_sample_series():
    # the app's hanging protocol reads the same classifier
    from ui.display import contrast_phase

    study = SAMPLE_DICOM / "study"
    pre = load_series(str(study / "S002_CT_ABD_NONCONTRAST"))
    post = load_series(str(study / "S003_CT_ABD_PORTAL_VENOUS"))
    assert phase_of_volume(pre) == "non-contrast" and contrast_phase(pre) == "pre"
    assert phase_of_volume(post) == "portal venous" and contrast_phase(post) == "post"

"""A real Orthanc (DICOMweb plugin, DIMSE) on free loopback ports with the sample study loaded.

The fixture is session-scoped: Orthanc starts in well under a second, the 190 files upload in about
one. When Orthanc or its DICOMweb plugin is missing the tests FAIL (never skip): ./dev setup
installs both from Debian.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from orthanc_server import start_orthanc

from workstation.resources import SAMPLE_DICOM

SAMPLE = SAMPLE_DICOM / "study"


@dataclass(frozen=True)
class SampleStudy:
    study_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    accession: str
    description: str
    files: list[Path]
    series: dict[str, list[Path]]      # series uid -> files
    sop_to_file: dict[str, Path]


def _sample() -> SampleStudy:
    files = sorted(f for f in SAMPLE.rglob("*") if f.is_file())
    assert len(files) == 190, f"sample study incomplete under {SAMPLE}"
    series: dict[str, list[Path]] = {}
    sop: dict[str, Path] = {}
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        series.setdefault(str(ds.SeriesInstanceUID), []).append(f)
        sop[str(ds.SOPInstanceUID)] = f
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    return SampleStudy(str(ds.StudyInstanceUID), str(ds.PatientID), str(ds.PatientName),
                       str(ds.StudyDate), str(ds.AccessionNumber), str(ds.StudyDescription),
                       files, series, sop)


@pytest.fixture(scope="session")
def sample() -> SampleStudy:
    return _sample()


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory, sample):
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        server.upload(sample.files)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def orthanc_tls(tmp_path_factory, sample):
    """A second Orthanc serving DICOMweb over HTTPS only, with a fresh self-signed certificate
    (``orthanc_tls.tls.ca_pem`` is that certificate, to trust it with ca_bundle)."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-tls"), tls=True)
    try:
        server.upload(sample.files)
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["dicomweb", "dimse"])
def server_url(request, orthanc) -> str:
    return orthanc.dicomweb_url if request.param == "dicomweb" else orthanc.dimse_url


@pytest.fixture
def config_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "config"
    d.mkdir()
    monkeypatch.setenv("WORKSTATION_CONFIG_DIR", str(d))
    monkeypatch.setenv("WORKSTATION_CACHE_DIR", str(tmp_path / "cache"))
    return d

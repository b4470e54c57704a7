"""Header facts the viewer, the SR export and de-identification read from Volume.meta."""

from workstation import load_series
from workstation.resources import SAMPLE_DICOM


def test_person_name_and_multivalued_elements_are_kept_as_dicom_strings():
    vol = load_series(str(SAMPLE_DICOM / "study" / "S002_CT_ABD_NONCONTRAST"))
    # PersonName is iterable in pydicom; it must not be split into characters
    assert vol.meta["patient_name"] == "SYNTHETIC^RPMASS"
    assert vol.meta["patient_id"] == "RP-SAMPLE-001"
    assert vol.meta["window"] == (40.0, 400.0)
    assert len(vol.meta["headers"]) == vol.shape[0]
    assert all("PixelData" not in h for h in vol.meta["headers"])

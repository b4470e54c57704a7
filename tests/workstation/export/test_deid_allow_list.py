"""The allow-list in resources/deid.json against the IOD module tables highdicom ships (its copy
of PS3.3): every kept root attribute belongs to the IOD, every attribute the IOD requires (type 1
or 2 of a mandatory module) is kept, and PS3.15's removal list is never kept at the root."""
from __future__ import annotations

import pytest
from highdicom._standard_utils import get_iod_module_map, get_module_attribute_map, get_sop_class_iod_map
from pydicom.datadict import keyword_dict

from workstation.resources import load_json

TABLE = load_json("deid.json")
SOP_CLASSES = [k for k in TABLE["keep"] if k != "common"]
#: de-identification markers and retained characteristics PS3.15 adds to any object (type 3 or
#: from optional modules: Patient Study; SOP Common)
ADDED = {"PatientIdentityRemoved", "LongitudinalTemporalInformationModified", "PatientAge", "PatientSize",
         "PatientWeight"}


def _iod_root(sop_class: str) -> dict[str, set[str]]:
    iod = get_sop_class_iod_map()[sop_class]
    attrs: dict[str, set[str]] = {}
    for module in get_iod_module_map()[iod]:
        for a in get_module_attribute_map()[module["key"]]:
            if not a["path"]:
                attrs.setdefault(a["keyword"], set()).add(f"{module['usage']}{a['type']}")
    return attrs


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
def test_kept_attributes_belong_to_the_iod(sop_class):
    iod = _iod_root(sop_class)
    kept = set(TABLE["keep"]["common"]) | set(TABLE["keep"][sop_class])
    assert all(k in keyword_dict for k in kept)
    assert sorted(kept - set(iod) - ADDED) == []


@pytest.mark.parametrize("sop_class", SOP_CLASSES)
def test_required_attributes_of_mandatory_modules_are_kept(sop_class):
    iod = _iod_root(sop_class)
    kept = set(TABLE["keep"]["common"]) | set(TABLE["keep"][sop_class])
    # the root content item of an SR is a CONTAINER: its value attributes (Date, PersonName, ...)
    # do not apply; ReferencedSOPSequence etc. are content-item attributes too
    content_item = {"ReferencedSOPSequence", "ObservationDateTime", "DateTime", "Date", "Time", "PersonName",
                    "UID", "TemporalRangeType", "ReferencedSamplePositions", "ReferencedTimeOffsets",
                    "ReferencedDateTime", "TextValue", "ConceptCodeSequence", "MeasuredValueSequence",
                    "NumericValueQualifierCodeSequence", "TabulatedValuesSequence", "PixelOriginInterpretation",
                    "GraphicData", "GraphicType", "ReferencedFrameOfReferenceUID"}
    required = {k for k, uses in iod.items() if uses & {"M1", "M2"}} - content_item
    assert sorted(required - kept) == []


def test_removed_attributes_are_never_kept():
    removed = {k for k, a in TABLE["actions"].items() if a == "X"}
    for sop_class in SOP_CLASSES:
        kept = set(TABLE["keep"]["common"]) | set(TABLE["keep"][sop_class])
        assert sorted(removed & kept) == [], sop_class
    assert all(k in keyword_dict for k in TABLE["actions"])

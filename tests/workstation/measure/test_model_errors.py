"""A measurement record's refusal names the field and what was expected, never the value: records
come from files (saved reads, SR records, findings documents) and may carry anything."""
from __future__ import annotations

import pytest

from workstation.errors import InputError
from workstation.measure.model import Measurement

PHI = "DOE^JANE 19610203"


@pytest.mark.parametrize("record, field", [
    ({"kind": PHI}, "measurement.kind"),
    ({"kind": "caliper", "p1": PHI, "p2": [0, 0, 0]}, "p1"),
    ({"kind": "caliper", "p1": [PHI, 0, 0], "p2": [0, 0, 0]}, "p1"),
    ({"kind": "caliper", "p1": [1e400, 0, 0], "p2": [0, 0, 0]}, "p1"),
    ({"kind": "caliper", PHI: 1}, "measurement (caliper)"),
    ({"kind": "landmark", "landmark": PHI, "point": [0, 0, 0]}, "landmark.landmark"),
    ({"kind": "sphere", "center": [0, 0, 0], "radius_mm": PHI}, "sphere.radius_mm"),
    ({"kind": "sphere", "center": [0, 0, 0], "radius_mm": 19610203}, "sphere.radius_mm"),
])
def test_a_bad_record_is_refused_naming_the_field_never_the_value(record, field):
    with pytest.raises(InputError) as err:
        Measurement.from_dict(record)
    msg = str(err.value)
    assert field in msg and "expected" in msg
    assert "DOE" not in msg and "1961" not in msg and "inf" not in msg and len(msg.splitlines()) == 1

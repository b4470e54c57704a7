"""On-screen measurements as plain data in patient space (LPS mm).

The viewer draws them, the findings panel reads them, the session store autosaves them, the SR export
writes them and re-opening an SR restores them. They are kept in patient coordinates so that they
survive re-loading, re-sorting or another viewer's index order. A value that exists is valid: the
constructors check their arguments and name the one that is wrong.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError

Point = tuple[float, float, float]


def _what(v: Any) -> str:
    """What a bad value is, never the value itself (it may come from a file: no patient data)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return "a number"
    return "null" if v is None else f"a {type(v).__name__}"


def _point(v: Any, name: str) -> Point:
    try:
        a = [float(x) for x in v]
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected three coordinates (LPS mm), got {_what(v)}") from None
    if len(a) != 3 or not all(math.isfinite(x) for x in a):
        raise InputError(f"{name}: expected three finite coordinates (LPS mm), got {len(a)} value(s)"
                         + ("" if len(a) != 3 else ", not all finite"))
    return (a[0], a[1], a[2])


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class LandmarkKind(str, Enum):
    """IVC landmarks a reader marks for the segment call (findings-v1 ``ivc`` object)."""

    RENAL_VEIN = "renal_vein"          # renal-vein inflow into the IVC
    HEPATIC_VEIN = "hepatic_vein"      # hepatic-vein confluence
    TUMOR_CAUDAL = "tumor_caudal"      # caudal end of the intraluminal tumour
    TUMOR_CRANIAL = "tumor_cranial"    # cranial end of the intraluminal tumour
    RIGHT_ATRIUM = "right_atrium"      # cavo-atrial junction (findings 1.1 ivc.right_atrium_z_mm)


@dataclass
class Measurement:
    """Base: every measurement has an id, a label the reader can rename, and its series."""

    kind: ClassVar[str] = "measurement"
    series_uid: str = ""
    label: str = ""
    id: str = field(default_factory=new_id)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Measurement:
        kind = d.get("kind")
        cls = _KINDS.get(kind)  # type: ignore[arg-type]
        if cls is None:
            raise InputError(f"measurement.kind: expected one of {', '.join(sorted(_KINDS))}, got {_what(kind)}")
        args = {k: v for k, v in d.items() if k != "kind"}
        try:
            return cls(**args)
        except TypeError:
            # the TypeError names the offending key, which comes from the file: never echoed
            raise InputError(f"measurement ({kind}): unknown or missing fields (expected: "
                             f"{', '.join(f.name for f in fields(cls) if f.init)})") from None


@dataclass
class Caliper(Measurement):
    """A straight-line distance between two patient points."""

    kind: ClassVar[str] = "caliper"
    p1: Point = (0.0, 0.0, 0.0)
    p2: Point = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        self.p1 = _point(self.p1, "caliper.p1")
        self.p2 = _point(self.p2, "caliper.p2")

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(np.subtract(self.p2, self.p1)))


@dataclass
class EllipseROI(Measurement):
    """An in-plane ellipse given by the end points of its two axes (as SR SCOORD3D ELLIPSE).

    ``stats`` holds what was measured inside it on its series: mean, sd, min, max, n, area_mm2.
    """

    kind: ClassVar[str] = "ellipse"
    major: tuple[Point, Point] = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    minor: tuple[Point, Point] = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    stats: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.major = (_point(self.major[0], "ellipse.major[0]"), _point(self.major[1], "ellipse.major[1]"))
        self.minor = (_point(self.minor[0], "ellipse.minor[0]"), _point(self.minor[1], "ellipse.minor[1]"))

    @property
    def center(self) -> Point:
        c = (np.asarray(self.major[0]) + np.asarray(self.major[1])) / 2
        return (float(c[0]), float(c[1]), float(c[2]))


@dataclass
class SphereROI(Measurement):
    """A spherical ROI (enhancement measurement), centre and radius in patient space."""

    kind: ClassVar[str] = "sphere"
    center: Point = (0.0, 0.0, 0.0)
    radius_mm: float = 10.0
    stats: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.center = _point(self.center, "sphere.center")
        if not (isinstance(self.radius_mm, (int, float)) and 0 < float(self.radius_mm) < 500):
            raise InputError("sphere.radius_mm: expected a number of millimetres above 0 and below 500, "
                             f"got {_what(self.radius_mm)}")
        self.radius_mm = float(self.radius_mm)


@dataclass
class Landmark(Measurement):
    """A point with a meaning (IVC levels, tumour ends)."""

    kind: ClassVar[str] = "landmark"
    landmark: str = LandmarkKind.RENAL_VEIN.value
    point: Point = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        try:
            self.landmark = LandmarkKind(self.landmark).value
        except ValueError:
            allowed = ", ".join(k.value for k in LandmarkKind)
            raise InputError(f"landmark.landmark: expected one of {allowed}, got {_what(self.landmark)}") from None
        self.point = _point(self.point, "landmark.point")


@dataclass
class Lesion3D(Measurement):
    """A grown (and possibly brush-corrected) 3D lesion: its figures and the greatest-dimension line.

    The mask itself is kept beside the session (npz), not in this record.
    """

    kind: ClassVar[str] = "lesion"
    seed: Point = (0.0, 0.0, 0.0)
    endpoints: tuple[Point, Point] = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    figures: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seed = _point(self.seed, "lesion.seed")
        self.endpoints = (_point(self.endpoints[0], "lesion.endpoints[0]"),
                          _point(self.endpoints[1], "lesion.endpoints[1]"))


@dataclass
class Angle(Measurement):
    """The angle at ``vertex`` between the arms to ``p1`` and ``p2`` (Horos/OHIF angle tool)."""

    kind: ClassVar[str] = "angle"
    vertex: Point = (0.0, 0.0, 0.0)
    p1: Point = (0.0, 0.0, 0.0)
    p2: Point = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        self.vertex = _point(self.vertex, "angle.vertex")
        self.p1 = _point(self.p1, "angle.p1")
        self.p2 = _point(self.p2, "angle.p2")

    @property
    def angle_deg(self) -> float:
        """0-180 degrees; 0 when an arm has no length."""
        a = np.subtract(self.p1, self.vertex)
        b = np.subtract(self.p2, self.vertex)
        na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
        if na == 0.0 or nb == 0.0:
            return 0.0
        c = float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))
        return math.degrees(math.acos(c))


@dataclass
class FreehandROI(Measurement):
    """A closed outline drawn by hand in one slice plane (at least three points, in order).

    ``stats`` holds what was measured inside it on its series: mean, sd, min, max, n, area_mm2.
    """

    kind: ClassVar[str] = "freehand"
    points: tuple[Point, ...] = ()
    stats: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            pts = list(self.points)
        except TypeError:
            raise InputError("freehand.points: expected a list of points (LPS mm)") from None
        if len(pts) < 3:
            raise InputError(f"freehand.points: an outline needs at least 3 points, got {len(pts)}")
        self.points = tuple(_point(p, f"freehand.points[{i}]") for i, p in enumerate(pts))

    @property
    def center(self) -> Point:
        c = np.mean(np.asarray(self.points), axis=0)
        return (float(c[0]), float(c[1]), float(c[2]))

    @property
    def area_mm2(self) -> float:
        """The area enclosed by the outline (vector shoelace, valid in any plane)."""
        p = np.asarray(self.points, dtype=float)
        p = p - p[0]
        s = np.cross(p[:-1], p[1:]).sum(axis=0)
        return float(np.linalg.norm(s)) / 2.0


@dataclass
class Arrow(Measurement):
    """An arrow pointing at ``head`` from ``tail``, with its label as the note (OHIF arrow annotate)."""

    kind: ClassVar[str] = "arrow"
    head: Point = (0.0, 0.0, 0.0)
    tail: Point = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        self.head = _point(self.head, "arrow.head")
        self.tail = _point(self.tail, "arrow.tail")


_KINDS: dict[str, type[Measurement]] = {
    c.kind: c for c in (Caliper, EllipseROI, SphereROI, Landmark, Lesion3D, Angle, FreehandROI, Arrow)}

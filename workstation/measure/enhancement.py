"""Pre/post-contrast enhancement at one patient point: local registration, spheres, delta and call.

``measure_enhancement(pre, post, xyz, radius_mm)``: the post series is registered to the pre series
around ``xyz`` (rigid translation, :mod:`workstation.measure.registration`), a sphere is measured on
each series on its own grid (voxel centres within the radius in patient mm;
:func:`workstation.measure.roi.sphere_stats`) -- pre at ``xyz``, post at ``xyz + shift`` -- and
the difference is called with the thresholds in ``resources/knowledge/thresholds.json`` (via ``workstation.reasoning.rules``):
CT ``delta_hu`` (>= 20 enhancing, 10 to < 20 equivocal, < 10 not enhancing); MR ``percent`` =
(post - pre) / pre x 100 (>= 15 % enhancing, cited there). The series may lie on different grids.

The radius adapts to what the point sits in (``adapt=True``, the default): ``radius_mm`` is an
upper bound, and the sphere shrinks to stay inside the connected region of similar attenuation
around the point on *both* series (:func:`workstation.measure.roi.homogeneous_region`) less an
edge margin -- inside a vessel lumen with a thrombus it stays in the thrombus. ``adapt=False``
measures exactly ``radius_mm``. Either way the result says how far the sphere reaches outside that
region and flags a large SD (``high_sd``) or a sphere straddling a boundary
(``straddles_boundary``); thresholds in ``resources/measurement.json``
``enhancement.adaptive_roi`` (project judgement).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..volume import Volume
from .model import SphereROI
from .registration import local_shift
from .roi import Homogeneous, adaptive_params, homogeneous_region, sphere_stats

__all__ = ["EnhancementResult", "measure_enhancement", "enhancement_call"]

CALLS = ("enhancing", "equivocal", "not_enhancing")


def enhancement_call(value: float, modality: str = "CT") -> str:
    """``enhancing`` / ``equivocal`` / ``not_enhancing`` for a CT delta (HU) or an MR percent.

    The cut-offs are the reasoning rules' own (``resources/knowledge/thresholds.json``), so a
    measured call and the findings panel's call can never disagree.
    """
    from ..reasoning import rules

    call = rules.enhancement_call_ct(value) if modality == "CT" else rules.enhancement_call_mr(value)
    assert call is not None
    return call


@dataclass
class EnhancementResult:
    pre: dict[str, Any]
    post: dict[str, Any]
    delta_hu: float | None
    percent: float | None
    call: str
    shift_mm: tuple[float, float, float]
    radius_mm: float
    at_mm: tuple[float, float, float]
    modality: str
    registered: bool
    notes: list[str] = field(default_factory=list)
    radius_requested_mm: float | None = None
    flags: list[str] = field(default_factory=list)
    outside_fraction: float = 0.0

    @property
    def adapted(self) -> bool:
        """The sphere is smaller than the radius asked for (it adapted to a small region)."""
        return self.radius_requested_mm is not None and self.radius_mm < self.radius_requested_mm - 1e-9

    @staticmethod
    def _roi_json(s: dict[str, Any], ct: bool) -> dict[str, Any]:
        mean, sd, n = round(s["mean"], 2), round(s["sd"], 2), int(s["n"])
        d = {"mean": mean, "sd": sd, "n": n, "n_voxels": n,
             "mean_hu": mean if ct else None, "sd_hu": sd if ct else None,
             "min": round(s["min"], 2), "max": round(s["max"], 2),
             "center_mm": [round(v, 3) for v in s["center_mm"]]}
        return d

    def to_json(self) -> dict[str, Any]:
        """The ``enhancement --json`` document (cli.md fields first, then extras)."""
        ct = self.modality == "CT"
        return {
            "pre": self._roi_json(self.pre, ct),
            "post": self._roi_json(self.post, ct),
            "delta_hu": None if self.delta_hu is None else round(self.delta_hu, 2),
            "call": self.call,
            "percent": None if self.percent is None else round(self.percent, 2),
            "shift_mm": [round(v, 2) for v in self.shift_mm],
            "radius_mm": self.radius_mm,
            "at_mm": [round(v, 3) for v in self.at_mm],
            "modality": self.modality,
            "registered": self.registered,
            "notes": list(self.notes),
            "radius_requested_mm": self.radius_requested_mm,
            "radius_adapted": self.adapted,
            "outside_fraction": round(self.outside_fraction, 3),
            "flags": list(self.flags),
        }

    def to_measurements(self, pre_uid: str = "", post_uid: str = "", label: str = "") -> tuple[SphereROI, SphereROI]:
        """The two spheres as model records (stats: mean, sd, min, max, n)."""
        keys = ("mean", "sd", "min", "max", "n")
        return (SphereROI(series_uid=pre_uid, label=label, center=tuple(self.pre["center_mm"]),
                          radius_mm=self.radius_mm, stats={k: float(self.pre[k]) for k in keys}),
                SphereROI(series_uid=post_uid, label=label, center=tuple(self.post["center_mm"]),
                          radius_mm=self.radius_mm, stats={k: float(self.post[k]) for k in keys}))


def _fmt(p: Iterable[float]) -> str:
    return ",".join(f"{float(v):g}" for v in p)


def _check_inputs(pre: Volume, post: Volume, at: np.ndarray, radius_mm: Any) -> float:
    if not np.all(np.isfinite(at)):
        raise InputError(f"--at: coordinates must be finite numbers, got {list(at)}")
    try:
        radius = float(radius_mm)
    except (TypeError, ValueError):
        raise InputError(f"--radius-mm: expected a number of millimetres, got {radius_mm!r}") from None
    if not (0 < radius <= 100):
        raise InputError(f"--radius-mm: expected 0 < R <= 100 mm, got {radius:g}")
    for name, vol in (("pre", pre), ("post", post)):
        if vol.nearest_index(at) is None:
            raise InputError(f"--at {_fmt(at)}: lies outside the {name}-contrast series (--{name})")
    if (pre.unit == "HU") != (post.unit == "HU"):
        raise InputError("--pre/--post: one series is CT (HU) and the other is not; "
                         "enhancement compares two series of the same modality")
    return radius


def _fit_radius(regions: tuple[Homogeneous, Homogeneous], requested: float, adapt: bool) -> float:
    """The requested radius, or (adapting) the largest one that keeps clear of both regions' edges."""
    if not adapt:
        return requested
    prm = adaptive_params()
    inside = min(r.clearance_mm for r in regions) - float(prm["edge_margin_mm"])
    return float(min(requested, max(float(prm["min_radius_mm"]), inside)))


def _flags(regions: tuple[Homogeneous, Homogeneous], radius: float, stats: tuple[dict[str, Any], ...],
           modality: str) -> tuple[list[str], float, list[str]]:
    """(flags, outside fraction, notes) of the spheres finally measured."""
    lim = adaptive_params()["flags"]
    outside = max(r.outside_fraction(radius) for r in regions)
    flags, notes = [], []
    if outside > float(lim["max_outside_fraction"]) or not all(r.inside for r in regions):
        flags.append("straddles_boundary")
        notes.append(f"the sphere straddles a boundary ({outside * 100:.0f} % of it outside the "
                     "homogeneous region around the point)")
    if modality == "CT":
        high = [s["sd"] for s in stats if s["sd"] > float(lim["max_sd_hu"])]
    else:
        high = [s["sd"] for s in stats if s["mean"] > 0 and s["sd"] / s["mean"] > float(lim["max_sd_fraction_mr"])]
    if high:
        flags.append("high_sd")
        notes.append(f"large SD ({max(high):.1f}): the sphere holds mixed tissue")
    return flags, outside, notes


def measure_enhancement(pre: Volume, post: Volume, xyz: Iterable[float], radius_mm: float = 10.0,
                        register: bool = True, adapt: bool = True) -> EnhancementResult:
    """Spherical ROI on both series at one patient point, after local registration (see module)."""
    at = np.asarray(list(xyz), float).reshape(3)
    requested = _check_inputs(pre, post, at, radius_mm)
    modality = "CT" if pre.unit == "HU" else "MR"
    notes: list[str] = []
    shift = np.zeros(3)
    registered = False
    if register:
        ls = local_shift(pre, post, at)
        shift, registered = ls.shift_mm, ls.reliable
        notes += ls.notes
    post_at = at + shift
    if post.nearest_index(post_at) is None:
        raise InputError(f"--at {_fmt(at)}: after registration ({_fmt(np.round(shift, 2))} mm) the "
                         "point lies outside the post-contrast series (--post)")
    regions = (homogeneous_region(pre, at, requested), homogeneous_region(post, post_at, requested))
    radius = _fit_radius(regions, requested, adapt)
    if radius < requested:
        notes.append(f"sphere radius {radius:.1f} mm (asked {requested:g} mm): kept inside the "
                     "homogeneous region around the point")
    s_pre = sphere_stats(pre, at, radius)
    s_post = sphere_stats(post, post_at, radius)
    flags, outside, flag_notes = _flags(regions, radius, (s_pre, s_post), modality)
    delta = percent = None
    if modality == "CT":
        delta = s_post["mean"] - s_pre["mean"]
        call = enhancement_call(delta, "CT")
    else:
        if s_pre["mean"] <= 0:
            raise InputError(f"--at {_fmt(at)}: the pre-contrast signal there is {s_pre['mean']:.1f}; "
                             "percent enhancement needs a positive pre-contrast signal")
        percent = (s_post["mean"] - s_pre["mean"]) / s_pre["mean"] * 100.0
        call = enhancement_call(percent, "MR")
    return EnhancementResult(pre=s_pre, post=s_post, delta_hu=delta, percent=percent, call=call,
                             shift_mm=(float(shift[0]), float(shift[1]), float(shift[2])),
                             radius_mm=round(radius, 2), at_mm=(float(at[0]), float(at[1]), float(at[2])),
                             modality=modality, registered=registered, notes=notes + flag_notes,
                             radius_requested_mm=requested, flags=flags, outside_fraction=outside)

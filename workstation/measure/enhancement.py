"""Pre/post-contrast enhancement at one patient point: local registration, spheres, delta and call.

``measure_enhancement(pre, post, xyz, radius_mm)``: the post series is registered to the pre series
around ``xyz`` (rigid translation, :mod:`workstation.measure.registration`), a sphere of
``radius_mm`` is measured on each series on its own grid (voxel centres within the radius in patient
mm; :func:`workstation.measure.roi.sphere_stats`) -- pre at ``xyz``, post at ``xyz + shift`` -- and
the difference is called with the thresholds in ``resources/knowledge/thresholds.json`` (via ``workstation.reasoning.rules``):
CT ``delta_hu`` (>= 20 enhancing, 10 to < 20 equivocal, < 10 not enhancing); MR ``percent`` =
(post - pre) / pre x 100 (>= 15 % enhancing, cited there). The series may lie on different grids.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import InputError
from ..volume import Volume
from .model import SphereROI
from .registration import local_shift
from .roi import sphere_stats

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


def measure_enhancement(pre: Volume, post: Volume, xyz: Iterable[float], radius_mm: float = 10.0,
                        register: bool = True) -> EnhancementResult:
    """Spherical ROI on both series at one patient point, after local registration (see module)."""
    at = np.asarray(list(xyz), float).reshape(3)
    if not np.all(np.isfinite(at)):
        raise InputError(f"--at: coordinates must be finite numbers, got {list(at)}")
    try:
        radius_mm = float(radius_mm)
    except (TypeError, ValueError):
        raise InputError(f"--radius-mm: expected a number of millimetres, got {radius_mm!r}") from None
    if not (0 < radius_mm <= 100):
        raise InputError(f"--radius-mm: expected 0 < R <= 100 mm, got {radius_mm:g}")
    for name, vol in (("pre", pre), ("post", post)):
        if vol.nearest_index(at) is None:
            raise InputError(f"--at {_fmt(at)}: lies outside the {name}-contrast series (--{name})")
    ct_pre, ct_post = pre.unit == "HU", post.unit == "HU"
    if ct_pre != ct_post:
        raise InputError("--pre/--post: one series is CT (HU) and the other is not; "
                         "enhancement compares two series of the same modality")
    modality = "CT" if ct_pre else "MR"
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
    s_pre = sphere_stats(pre, at, radius_mm)
    s_post = sphere_stats(post, post_at, radius_mm)
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
                             shift_mm=tuple(float(v) for v in shift), radius_mm=radius_mm,  # type: ignore[arg-type]
                             at_mm=tuple(float(v) for v in at), modality=modality,  # type: ignore[arg-type]
                             registered=registered, notes=notes)

#!/usr/bin/env python
"""Regenerate the bundled synthetic abdominal study: ``sample_dicom/study/`` and ``truth.json``.

    .venv/bin/python sample_dicom/generate.py [--out DIR]

A fictitious patient with a ~11 cm heterogeneous right retroperitoneal mass (necrotic core), an
enhancing tumour thrombus in IVC segment 2 and a bland thrombus in the left common iliac vein.
Three series in one study:

* ``CT ABD NON-CONTRAST`` (Explicit VR Little Endian) and ``CT ABD PORTAL VENOUS`` (RLE Lossless),
  one FrameOfReferenceUID, 256 x 256 x 80, 1.5 mm pixels, 3 mm slices. The portal-venous anatomy is
  displaced by ``MOTION_MM`` (patient motion) on the same table grid.
* ``MR T2 AX``: 128 x 128 x 30, 2.8 mm pixels, 5 mm slices, its own FrameOfReferenceUID (another
  scanner); its anatomy sits at the same LPS coordinates as the non-contrast CT.

The anatomy is a set of analytic shapes (ellipses/ellipsoids/tubes) in patient coordinates (LPS mm)
evaluated at the voxel centres (three or five sub-samples through each slice thickness for partial
volume), so a shifted acquisition is sampled exactly rather than resampled. Everything is
deterministic: fixed seeds, UIDs hashed from fixed strings, fixed dates. Ground truth for tests is
written to ``truth.json`` (all coordinates LPS mm in the non-contrast frame; post = pre + motion).
"""
from __future__ import annotations

import abc
import argparse
import hashlib
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    RLELossless,
    generate_uid,
)
from scipy import ndimage

HERE = Path(__file__).resolve().parent
UID_ENTROPY_ROOT = "rp-workstation/sample_dicom/v1"
MOTION_MM = (3.0, -2.0, 4.5)  # pre point p is seen at p + MOTION_MM on the portal-venous series


def uid(*parts) -> str:
    return generate_uid(entropy_srcs=[UID_ENTROPY_ROOT, *map(str, parts)])


# --------------------------------------------------------------------------------------------------
# Tissues: (label, HU non-contrast, HU portal venous, MR T2 signal (fat-suppressed FSE))
TISSUES = [
    ("air", -1000, -1000, 0),
    ("subcutaneous_fat", -100, -100, 170),
    ("muscle", 50, 60, 300),
    ("visceral_fat", -95, -95, 150),
    ("bone_cortex", 700, 700, 60),
    ("bone_cancellous", 400, 405, 220),
    ("csf", 8, 8, 1500),
    ("aorta", 40, 150, 40),
    ("artery", 40, 150, 40),
    ("ivc", 40, 140, 90),
    ("vein", 40, 140, 90),
    ("hepatic_vein", 40, 150, 90),
    ("portal_vein", 40, 165, 90),
    ("kidney_cortex", 30, 160, 650),
    ("kidney_medulla", 30, 125, 820),
    ("renal_sinus_fat", -90, -90, 160),
    ("liver", 55, 110, 330),
    ("spleen", 45, 120, 620),
    ("pancreas", 40, 100, 430),
    ("gallbladder", 10, 10, 1450),
    ("bowel_wall", 40, 110, 420),
    ("bowel_fluid", 15, 15, 1300),
    ("gas", -1000, -1000, 0),
    ("psoas", 50, 60, 300),
    ("mass_solid", 40, 95, 760),
    ("mass_necrosis", 20, 22, 1150),
    ("tumor_thrombus", 40, 85, 700),
    ("bland_thrombus", 55, 57, 520),
]
LABEL = {name: i for i, (name, *_r) in enumerate(TISSUES)}
LUT = {
    "pre": np.array([t[1] for t in TISSUES], dtype=np.float32),
    "post": np.array([t[2] for t in TISSUES], dtype=np.float32),
    "mr": np.array([t[3] for t in TISSUES], dtype=np.float32),
}
TEXTURE_AMPLITUDE = {  # SD of the mass texture (HU / MR signal) by phase
    "pre": {"mass_solid": 6.0, "mass_necrosis": 2.0},
    "post": {"mass_solid": 12.0, "mass_necrosis": 2.0},
    "mr": {"mass_solid": 70.0, "mass_necrosis": 60.0},
}


# --------------------------------------------------------------------------------------------------
# Analytic shapes. mask(X, Y, z) takes 2-D arrays of x and y (mm) and a scalar z (mm).
class Shape(abc.ABC):
    label: str
    zmin: float = -math.inf
    zmax: float = math.inf

    def bbox(self, z):  # (xmin, xmax, ymin, ymax) or None
        return (-math.inf, math.inf, -math.inf, math.inf)

    @abc.abstractmethod
    def mask(self, X, Y, z):
        """Boolean array: which of the points (X, Y, z) lie inside the shape."""


def _interp(z, knots, values):
    return float(np.interp(z, knots, values))


class EllipseZ(Shape):
    """Elliptic cross-section whose centre and semi-axes vary piecewise-linearly with z."""

    def __init__(self, label, zk, cx, cy, sx, sy, rot_deg=0.0, zmin=None, zmax=None, power=2.0):
        self.label, self.zk, self.power = label, list(zk), power
        self.cx, self.cy, self.sx, self.sy = cx, cy, sx, sy
        self.rot = math.radians(rot_deg)
        self.zmin = zk[0] if zmin is None else zmin
        self.zmax = zk[-1] if zmax is None else zmax

    def _at(self, v, z):
        return _interp(z, self.zk, v) if isinstance(v, (list, tuple)) else float(v)

    def params(self, z):
        return self._at(self.cx, z), self._at(self.cy, z), self._at(self.sx, z), self._at(self.sy, z)

    def bbox(self, z):
        cx, cy, sx, sy = self.params(z)
        r = max(sx, sy)
        return (cx - r, cx + r, cy - r, cy + r)

    def mask(self, X, Y, z):
        cx, cy, sx, sy = self.params(z)
        c, s = math.cos(self.rot), math.sin(self.rot)
        u = (X - cx) * c + (Y - cy) * s
        v = -(X - cx) * s + (Y - cy) * c
        return np.abs(u / sx) ** self.power + np.abs(v / sy) ** self.power <= 1.0


class Ellipsoid(Shape):
    """Ellipsoid rotated about z by rot_deg (its a axis points along (cos r, sin r, 0))."""

    def __init__(self, label, center, semi, rot_deg=0.0):
        self.label = label
        self.c = np.asarray(center, float)
        self.semi = np.asarray(semi, float)
        self.rot = math.radians(rot_deg)
        self.zmin, self.zmax = self.c[2] - self.semi[2], self.c[2] + self.semi[2]

    def bbox(self, z):
        r = max(self.semi[0], self.semi[1])
        return (self.c[0] - r, self.c[0] + r, self.c[1] - r, self.c[1] + r)

    def local(self, X, Y, z):
        c, s = math.cos(self.rot), math.sin(self.rot)
        dx, dy = X - self.c[0], Y - self.c[1]
        return dx * c + dy * s, -dx * s + dy * c, z - self.c[2]

    def level(self, X, Y, z):
        u, v, w = self.local(X, Y, z)
        return (u / self.semi[0]) ** 2 + (v / self.semi[1]) ** 2 + (w / self.semi[2]) ** 2

    def mask(self, X, Y, z):
        return self.level(X, Y, z) <= 1.0


class Tube(Shape):
    """Chain of capsules along a polyline, radius interpolated along each segment."""

    def __init__(self, label, points, radii, zmin=None, zmax=None):
        self.label = label
        self.p = np.asarray(points, float)
        self.r = np.broadcast_to(np.asarray(radii, float), (len(self.p),)).copy()
        rmax = self.r.max()
        self.zmin = self.p[:, 2].min() - rmax if zmin is None else zmin
        self.zmax = self.p[:, 2].max() + rmax if zmax is None else zmax

    def bbox(self, z):
        rmax = self.r.max()
        lo, hi = self.p.min(0) - rmax, self.p.max(0) + rmax
        return (lo[0], hi[0], lo[1], hi[1])

    def closest(self, X, Y, z):
        """(distance - radius, y of the closest centre-line point) for every pixel."""
        best = np.full(X.shape, np.inf)
        cy = np.zeros(X.shape)
        for a, b, ra, rb in zip(self.p[:-1], self.p[1:], self.r[:-1], self.r[1:]):
            ab = b - a
            L2 = float(ab @ ab)
            t = ((X - a[0]) * ab[0] + (Y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / L2
            t = np.clip(t, 0.0, 1.0)
            px, py, pz = a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]
            d = np.sqrt((X - px) ** 2 + (Y - py) ** 2 + (z - pz) ** 2) - (ra + t * (rb - ra))
            better = d < best
            best = np.where(better, d, best)
            cy = np.where(better, py, cy)
        return best, cy

    def mask(self, X, Y, z):
        return self.closest(X, Y, z)[0] <= 0.0

    def centre_at_z(self, z):
        """Centre-line point at height z (the first segment spanning z)."""
        for a, b in zip(self.p[:-1], self.p[1:]):
            if min(a[2], b[2]) <= z <= max(a[2], b[2]) and a[2] != b[2]:
                t = (z - a[2]) / (b[2] - a[2])
                return a + t * (b - a)
        raise ValueError(z)


class Gas(Shape):
    """The non-dependent part (anterior, supine patient) of a lumen: air-fluid level."""

    def __init__(self, lumen: Shape, level_y):
        self.label, self.lumen, self.level_y = "gas", lumen, level_y
        self.zmin, self.zmax = lumen.zmin, lumen.zmax

    def bbox(self, z):
        return self.lumen.bbox(z)

    def mask(self, X, Y, z):
        return self.lumen.mask(X, Y, z) & (self.level_y > Y)


class Within(Shape):
    """shape restricted to the inside of container."""

    def __init__(self, shape: Shape, container: Shape, label=None):
        self.shape, self.container = shape, container
        self.label = label or shape.label
        self.zmin = max(shape.zmin, container.zmin)
        self.zmax = min(shape.zmax, container.zmax)

    def bbox(self, z):
        return self.shape.bbox(z)

    def mask(self, X, Y, z):
        return self.shape.mask(X, Y, z) & self.container.mask(X, Y, z)


@dataclass
class Texture:
    """Zero-mean, unit-SD smooth random field: a sum of plane waves (deterministic, analytic)."""

    seed: int
    n: int = 32
    wavelength_mm: tuple = (7.0, 22.0)
    k: np.ndarray = field(init=False)
    phi: np.ndarray = field(init=False)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        d = rng.normal(size=(self.n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        wl = rng.uniform(*self.wavelength_mm, size=self.n)
        self.k = d * (2 * math.pi / wl)[:, None]
        self.phi = rng.uniform(0, 2 * math.pi, size=self.n)

    def __call__(self, x, y, z):
        out = np.zeros(np.shape(x))
        for (kx, ky, kz), ph in zip(self.k, self.phi):
            out += np.cos(kx * x + ky * y + kz * z + ph)
        return out * math.sqrt(2.0 / self.n)


# --------------------------------------------------------------------------------------------------
# The phantom (pre-contrast frame, LPS mm). Values chosen so that z levels are:
#   iliac veins (< -62), renal veins -4, hepatic veins 85; mass centre -24; tumour thrombus 18..52.
RENAL_VEIN_Z = -4.0
HEPATIC_VEIN_Z = 85.0
IVC_CONFLUENCE_Z = -62.0

MASS = dict(center=(-71.5, -5.0, -24.0), semi=(55.0, 38.0, 45.0), rot=-30.0)
NECROSIS = dict(local_offset=(9.0, 3.0, 2.0), semi=(24.0, 16.0, 20.0))
THROMBUS_Z = (18.0, 52.0)
BLAND_Z = (-108.0, -86.0)


def mass_local_to_patient(u, v, w):
    cx, cy, cz = MASS["center"]
    r = math.radians(MASS["rot"])
    return (cx + u * math.cos(r) - v * math.sin(r), cy + u * math.sin(r) + v * math.cos(r), cz + w)


def build_phantom():
    S = []  # painted in order; later shapes overwrite earlier ones
    side = {"R": -1.0, "L": 1.0}

    # body: subcutaneous fat, abdominal wall muscle, abdominal cavity (visceral fat)
    # (superellipses: flatter flanks and back than an ellipse)
    body = EllipseZ("subcutaneous_fat", [-130, -80, 130], 0, 10, [172, 166, 164], [120, 118, 116],
                    power=2.5)
    S.append(body)
    S.append(EllipseZ("muscle", [-130, -80, 130], 0, 10, [152, 148, 147], [104, 102, 101], power=2.5))
    cavity = EllipseZ("visceral_fat", [-130, -80, 130], 0, 8, [140, 136, 136], [90, 89, 89], power=2.5)
    S.append(cavity)

    # liver (upper slices), gallbladder, hepatic veins come later with the vessels
    liver = Ellipsoid("liver", (-55.0, 5.0, 125.0), (110.0, 100.0, 100.0))
    S.append(Within(liver, cavity))
    gallbladder = Ellipsoid("gallbladder", (-62.0, -58.0, 58.0), (14.0, 16.0, 24.0), 20)
    S.append(Within(gallbladder, cavity))
    # spleen and stomach (left upper)
    spleen = Ellipsoid("spleen", (98.0, 48.0, 85.0), (26.0, 52.0, 45.0), 50)
    S.append(Within(spleen, cavity))
    stomach = Ellipsoid("bowel_wall", (52.0, -38.0, 96.0), (42.0, 32.0, 36.0), -20)
    st_lumen = Ellipsoid("bowel_fluid", (52.0, -38.0, 96.0), (37.0, 27.0, 31.0), -20)
    S += [Within(stomach, cavity), Within(st_lumen, cavity), Within(Gas(st_lumen, -50.0), cavity)]
    pancreas = Tube("pancreas", [(-8, -24, 26), (30, -16, 31), (68, 14, 38)], [12, 10, 9])
    S.append(pancreas)

    # bowel: colon and small-bowel loops (kept away from the mass)
    loops = [
        # (points, radius, gas level offset as a fraction of r or None)
        ([(-112, -10, -125), (-110, -25, -95), (-104, -50, -72)], 19, 0.35),  # caecum/ascending
        ([(-104, -50, -72), (-40, -84, -66), (40, -84, -62), (95, -55, -60)], 15, 0.3),  # transverse
        ([(112, 8, -125), (118, 5, -60), (115, 0, 10), (100, -20, 50)], 14, 0.4),  # descending
        ([(20, -70, -20), (60, -62, -10)], 11, None),
        ([(25, -45, -40), (70, -40, -35)], 11, None),
        ([(30, -55, 5), (72, -50, 12)], 11, 0.5),
        ([(40, -25, -15), (82, -20, -25)], 11, None),
        ([(-60, -60, -100), (-10, -70, -105)], 12, None),
        ([(5, -55, -95), (55, -60, -100)], 12, 0.5),
        ([(-40, -40, -120), (20, -35, -125)], 12, None),
        ([(-5, -70, -35), (-12, -80, -10)], 10, None),
    ]
    def add_bowel(pts, r, gas, into):
        wall = Tube("bowel_wall", pts, r)
        lumen = Tube("bowel_fluid", pts, r - 2.5)
        into += [Within(wall, cavity), Within(lumen, cavity)]
        if gas is not None:
            ymean = float(np.mean([p[1] for p in pts]))
            into.append(Within(Gas(lumen, ymean - gas * r), cavity))
        return wall

    bowel_walls = [add_bowel(pts, r, gas, S) for pts, r, gas in loops]
    bowel_at = len(S)  # small-bowel loops generated below (once the obstacles exist) go here

    # spine: vertebral bodies (cortex + cancellous, every slice), posterior arch, canal, processes
    zk = [-130, -95, -60, 0, 60, 130]
    yvb = [78, 64, 52, 47, 50, 55]
    sxb = [48, 30, 23, 22, 21, 20]
    S.append(EllipseZ("bone_cortex", zk, 0, yvb, sxb, [19, 18.5, 18, 18, 17.5, 17]))
    S.append(EllipseZ("bone_cancellous", zk, 0, yvb, [s - 2.5 for s in sxb],
                      [16.5, 16, 15.5, 15.5, 15, 14.5]))
    yarch = [y + 30 for y in yvb]
    S.append(EllipseZ("bone_cortex", zk, 0, yarch, 15.5, 13.5))
    S.append(EllipseZ("csf", zk, 0, [y - 2 for y in yarch], 9.5, 8.0))
    S.append(EllipseZ("bone_cortex", zk, 0, [y + 21 for y in yarch], 4.5, 11.0))
    for zc in (-85.0, -51.0, -17.0, 17.0, 51.0, 85.0):  # transverse processes
        for s in (-1, 1):
            S.append(EllipseZ("bone_cortex", [zc - 6, zc + 6], [s * 30, s * 30], [y + 25 for y in yvb[:2]],
                              17, 4.0, zmin=zc - 6, zmax=zc + 6))
    # paraspinal and quadratus lumborum muscles
    for s in (-1, 1):
        S.append(EllipseZ("muscle", zk, s * 38, [min(y + 44, 100) for y in yvb], 25, 18))
        S.append(EllipseZ("muscle", [-75, 0, 70], [s * 68, s * 66, s * 62], 78, [8, 17, 12], [6, 9, 7],
                          rot_deg=s * 30))
    # iliac wings, iliacus and gluteal muscles (pelvis, lower slices)
    for s in (-1, 1):
        S.append(EllipseZ("muscle", [-130, -72], s * 108, 90, [30, 10], [22, 8]))
        S.append(EllipseZ("bone_cortex", [-130, -100, -72], s * 104, 58, [13, 12, 6], [46, 42, 12],
                          rot_deg=s * 28))
        S.append(EllipseZ("bone_cancellous", [-130, -100, -72], s * 104, 58, [9, 8, 3], [42, 38, 9],
                          rot_deg=s * 28))
        S.append(EllipseZ("muscle", [-130, -100, -74], s * 84, 48, [14, 12, 5], [32, 30, 10],
                          rot_deg=s * 28))
    # ribs (upper slices): small cortical ovals inside the wall
    for s in (-1, 1):
        for zc, ang in ((40, 28), (65, 40), (90, 52), (115, 64), (30, -8), (55, 5), (80, 16), (105, 26)):
            a = math.radians(ang)
            x, y = s * 143 * math.cos(a), 6 + 96 * math.sin(a)
            S.append(EllipseZ("bone_cortex", [zc - 5, zc + 5], x, y, 6, 4, rot_deg=s * ang,
                              zmin=zc - 5, zmax=zc + 5))

    # psoas muscles (grow caudally)
    psoas = {}
    for k, s in side.items():
        psoas[k] = EllipseZ("psoas", [-130, -85, -30, 20, 62], [s * v for v in (62, 52, 41, 32, 27)],
                            [30, 38, 44, 46, 46], [20, 21, 17.5, 12, 5], [18, 19, 16, 11, 4.5],
                            rot_deg=s * 15)
        S.append(psoas[k])

    # kidneys: cortex, medulla, sinus fat (hilum antero-medial)
    kidneys = {}
    for k, cx, cy, cz, rot in (("R", -100.0, 62.0, -14.0, -45.0), ("L", 80.0, 54.0, -2.0, 30.0)):
        c = (cx, cy, cz)
        kid = Ellipsoid("kidney_cortex", c, (24.0, 20.0, 52.0), rot)
        kidneys[k] = kid
        S.append(kid)
        S.append(Ellipsoid("kidney_medulla", c, (17.0, 14.0, 42.0), rot))
        inward = -np.sign(cx)
        S.append(Ellipsoid("renal_sinus_fat", (cx + inward * 14, cy - 7, cz), (9.0, 8.0, 26.0), rot))

    # vessels
    aorta = Tube("aorta", [(12, 14, 131), (12, 16, 40), (12, 18, -50)], [12.5, 12, 10.5])
    ivc = Tube("ivc", [(-18, 25, IVC_CONFLUENCE_Z), (-22, 19, -30), (-22, 17, 20), (-21, 13, 60),
                       (-19, 8, HEPATIC_VEIN_Z), (-17, 4, 131)], [10, 11, 12, 12.5, 13, 13])
    veins = [
        Tube("vein", [(-18, 25, IVC_CONFLUENCE_Z), (-40, 34, -90), (-62, 30, -131)], [9.5, 8.5, 8.5]),
        Tube("vein", [(-18, 25, IVC_CONFLUENCE_Z), (8, 34, -78), (38, 36, -100), (62, 30, -131)],
             [9.5, 8.5, 8.5, 8.5]),
        # renal veins join the IVC at RENAL_VEIN_Z
        Tube("vein", [(-86, 50, -9), (-45, 36, -5), (-22, 17.6, RENAL_VEIN_Z)], [6, 6, 6]),
        Tube("vein", [(66, 45, -1), (36, 10, -2.5), (12, -3, -3.5), (-22, 17.6, RENAL_VEIN_Z)], [6, 5.5, 5, 6]),
    ]
    left_iliac_vein = veins[1]
    hv_end = (-19.0, 8.0, HEPATIC_VEIN_Z)
    hepatic = [Tube("hepatic_vein", [p, hv_end], [4.0, 6.0]) for p in
               [(-118, 22, 58), (-72, -55, 55), (12, -58, 70)]]
    arteries = [
        Tube("artery", [(12, 18, -50), (-10, 16, -75), (-48, 20, -131)], [7, 6.5, 6]),
        Tube("artery", [(12, 18, -50), (32, 16, -75), (55, 20, -131)], [7, 6.5, 6]),
        Tube("artery", [(12, 6, 48), (10, -14, 30), (6, -36, -40)], [4.5, 4.5, 3.5]),  # SMA
        Tube("artery", [(-80, 56, -11), (-10, 32, -6), (8, 20, -5)], 3.0),  # right renal a.
        Tube("artery", [(62, 40, 1), (20, 22, -3)], 3.0),  # left renal a.
    ]
    portal = [
        Tube("vein", [(-6, -36, -40), (-7, -22, 26)], [4.5, 6]),  # SMV
        Tube("portal_vein", [(-7, -22, 26), (-32, -15, 52), (-58, -6, 68)], [7, 7, 5.5]),
    ]
    S += [Within(t, cavity) for t in hepatic + portal]
    S += [aorta, ivc] + veins + arteries
    organs = [liver, gallbladder, spleen, stomach] + list(kidneys.values())
    tubes = [aorta, ivc, pancreas] + veins + arteries + hepatic + portal

    # the mass (after all normal anatomy: it displaces it), necrotic core, thrombi
    mass = Ellipsoid("mass_solid", MASS["center"], MASS["semi"], MASS["rot"])
    nec_c = mass_local_to_patient(*NECROSIS["local_offset"])
    necrosis = Ellipsoid("mass_necrosis", nec_c, NECROSIS["semi"], MASS["rot"])
    S += [mass, necrosis]
    S[bowel_at:bowel_at] = small_bowel(cavity, mass, organs, tubes, bowel_walls, add_bowel)

    zc = 0.5 * sum(THROMBUS_Z)
    c = ivc.centre_at_z(zc)
    thr = Ellipsoid("tumor_thrombus", (c[0] + 0.8, c[1] + 0.6, zc), (7.5, 6.5, 0.5 * (THROMBUS_Z[1] - THROMBUS_Z[0])))
    S.append(thr)
    bland = Tube("bland_thrombus", left_iliac_vein.p, 7.5, zmin=BLAND_Z[0], zmax=BLAND_Z[1])
    S.append(bland)

    named = dict(body=body, cavity=cavity, mass=mass, necrosis=necrosis, thrombus=thr, bland=bland,
                 ivc=ivc, aorta=aorta, psoas=psoas, kidneys=kidneys, liver=liver,
                 left_iliac_vein=left_iliac_vein)
    return S, named


def small_bowel(cavity, mass, organs, tubes, walls, add_bowel, seed=7, n_try=5000, n_max=80):
    """Fill the anterior peritoneal cavity with short small-bowel segments (fixed seed), each kept
    clear of the mass (>= 4 mm fat plane), solid organs, vessels and the other loops."""
    rng = np.random.default_rng(seed)
    shapes, accepted = [], list(walls)

    def expanded_level(e, p, margin):
        u, v, w = e.local(p[0], p[1], p[2])
        a, b, c = e.semi + margin
        return (u / a) ** 2 + (v / b) ** 2 + (w / c) ** 2

    def clear(p, r):
        cx, cy, sx, sy = cavity.params(p[2])
        if abs(p[0] / (sx - r - 4)) ** 2.5 + abs((p[1] - cy) / (sy - r - 4)) ** 2.5 > 1 or p[1] > 12:
            return False
        if expanded_level(mass, p, r + 4) <= 1:
            return False
        if any(expanded_level(e, p, r + 2) <= 1 for e in organs):
            return False
        X, Y = np.array([[p[0]]]), np.array([[p[1]]])
        return (all(t.closest(X, Y, p[2])[0][0, 0] > r + 2 for t in tubes)
                and all(t.closest(X, Y, p[2])[0][0, 0] > r + 0.5 for t in accepted))

    for _ in range(n_try):
        if len(shapes) >= 3 * n_max:
            break
        r = float(rng.uniform(9.0, 12.5))
        p0 = np.array([rng.uniform(-125, 125), rng.uniform(-85, 10), rng.uniform(-128, 40)])
        d = rng.normal(size=3)
        d[2] *= 0.5
        d /= np.linalg.norm(d)
        p1 = p0 + d * rng.uniform(15, 45)
        if all(clear(p0 + t * (p1 - p0), r) for t in np.linspace(0, 1, 7)):
            gas = 0.45 if rng.uniform() < 0.25 else None
            accepted.append(add_bowel([tuple(p0), tuple(p1)], r, gas, shapes))
    return shapes


# --------------------------------------------------------------------------------------------------
def paint(shapes, xs, ys, z):
    """Label image (ny, nx) of the anatomy at height z, for pixel-centre coordinates xs, ys."""
    lab = np.zeros((len(ys), len(xs)), dtype=np.uint8)
    for sh in shapes:
        if not (sh.zmin <= z <= sh.zmax):
            continue
        x0, x1, y0, y1 = sh.bbox(z)
        i0, i1 = np.searchsorted(xs, x0), np.searchsorted(xs, x1, side="right")
        j0, j1 = np.searchsorted(ys, y0), np.searchsorted(ys, y1, side="right")
        if i0 >= i1 or j0 >= j1:
            continue
        X, Y = np.meshgrid(xs[i0:i1], ys[j0:j1])
        m = sh.mask(X, Y, z)
        lab[j0:j1, i0:i1][m] = LABEL[sh.label]
    return lab


def render(shapes, phase, xs, ys, z_slices, sub_offsets, textures):
    """Noise-free values [k, j, i] (HU or MR signal) averaged over sub-samples of each slice."""
    out = np.zeros((len(z_slices), len(ys), len(xs)), dtype=np.float32)
    lut = LUT[phase]
    X, Y = np.meshgrid(xs, ys)
    for k, zs in enumerate(z_slices):
        acc = np.zeros((len(ys), len(xs)), dtype=np.float64)
        for dz in sub_offsets:
            z = zs + dz
            lab = paint(shapes, xs, ys, z)
            val = lut[lab].astype(np.float64)
            for name, amp in TEXTURE_AMPLITUDE[phase].items():
                m = lab == LABEL[name]
                if m.any():
                    val[m] += amp * textures[name](X[m], Y[m], z)
            acc += val
        out[k] = acc / len(sub_offsets)
    return out


def correlated_noise(rng, shape, sd, sigma_px):
    n = rng.standard_normal(shape).astype(np.float32)
    n = ndimage.gaussian_filter(n, sigma=(0, sigma_px, sigma_px))
    return n * (sd / n.std())


# --------------------------------------------------------------------------------------------------
@dataclass
class SeriesSpec:
    key: str
    folder: str
    description: str
    modality: str
    number: int
    phase: str
    nx: int
    dx: float
    z0: float
    dz: float
    nz: int
    thickness: float
    sub_offsets: tuple
    motion: tuple
    transfer_syntax: str
    seed: int
    time: str

    @property
    def xs(self):
        return (np.arange(self.nx) - (self.nx - 1) / 2.0) * self.dx

    @property
    def zs(self):
        return self.z0 + self.dz * np.arange(self.nz)


SERIES = [
    SeriesSpec("ct_pre", "S002_CT_ABD_NONCONTRAST", "CT ABD NON-CONTRAST", "CT", 2, "pre",
               256, 1.5, -118.5, 3.0, 80, 3.0, (-1.0, 0.0, 1.0), (0.0, 0.0, 0.0),
               ExplicitVRLittleEndian, 1002, "091510"),
    SeriesSpec("ct_post", "S003_CT_ABD_PORTAL_VENOUS", "CT ABD PORTAL VENOUS", "CT", 3, "post",
               256, 1.5, -118.5, 3.0, 80, 3.0, (-1.0, 0.0, 1.0), MOTION_MM,
               RLELossless, 1003, "091705"),
    SeriesSpec("mr_t2", "S501_MR_T2_AX", "MR T2 AX", "MR", 501, "mr",
               128, 2.8, -96.5, 5.0, 30, 5.0, (-2.0, -1.0, 0.0, 1.0, 2.0), (0.0, 0.0, 0.0),
               ExplicitVRLittleEndian, 1501, "143020"),
]

STUDY = dict(
    date="20240315",
    time="091000",
    mr_date="20240318",
    patient_name="SYNTHETIC^RPMASS",
    patient_id="RP-SAMPLE-001",
    birth_date="19660412",
    sex="F",
    age="057Y",
    accession="RPSYN0001",
    study_id="1",
    description="CT ABDOMEN PELVIS AND MR ABDOMEN (SYNTHETIC)",
)


def image_values(spec: SeriesSpec, shapes, textures):
    """Stored pixel values (uint16) for a series."""
    xs_anat = spec.xs - spec.motion[0]
    ys_anat = spec.xs - spec.motion[1]
    zs_anat = spec.zs - spec.motion[2]
    clean = render(shapes, spec.phase, xs_anat, ys_anat, zs_anat, spec.sub_offsets, textures)
    rng = np.random.default_rng(spec.seed)
    if spec.modality == "CT":
        # light in-plane blur (reconstruction kernel), then correlated quantum noise of SD ~9 HU
        img = ndimage.gaussian_filter(clean, sigma=(0, 0.6, 0.6))
        img += correlated_noise(rng, img.shape, 9.0, 0.7)
        stored = np.clip(np.rint(img + 1024.0), 0, 4095)
    else:
        img = ndimage.gaussian_filter(clean, sigma=(0, 0.5, 0.5))
        # receive-coil shading (posterior coil brighter) and Rician noise
        Y = spec.xs[None, :, None]
        img = img * (1.0 + 0.12 * Y / 180.0)
        sd = 14.0
        re = img + correlated_noise(rng, img.shape, sd, 0.5)
        im = correlated_noise(rng, img.shape, sd, 0.5)
        stored = np.clip(np.rint(np.sqrt(re ** 2 + im ** 2)), 0, 4095)
    return stored.astype(np.uint16)


def common_dataset(spec: SeriesSpec, k: int, frame_uids: dict) -> Dataset:
    n = spec.nz
    instance = n - k  # instance 1 is the most cranial slice (acquired head to feet)
    sop_class = CTImageStorage if spec.modality == "CT" else MRImageStorage
    sop_uid = uid(spec.key, "image", k)
    mr = spec.modality == "MR"
    date = STUDY["mr_date"] if mr else STUDY["date"]

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid("implementation")
    meta.ImplementationVersionName = "RPSAMPLE_1"

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"] if not mr else ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.InstanceCreationDate = date
    ds.InstanceCreationTime = spec.time
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = STUDY["date"]
    ds.SeriesDate = date
    ds.AcquisitionDate = date
    ds.ContentDate = date
    ds.StudyTime = STUDY["time"]
    ds.SeriesTime = spec.time
    ds.AcquisitionTime = spec.time
    ds.ContentTime = spec.time
    ds.AccessionNumber = STUDY["accession"]
    ds.Modality = spec.modality
    ds.Manufacturer = "RP Workstation synthetic phantom"
    ds.InstitutionName = "Synthetic Data Hospital"
    ds.ReferringPhysicianName = "REFERRER^SYNTHETIC"
    ds.StationName = "SYNTH01"
    ds.StudyDescription = STUDY["description"]
    ds.SeriesDescription = spec.description
    ds.ManufacturerModelName = "sample_dicom/generate.py"
    ds.PatientName = STUDY["patient_name"]
    ds.PatientID = STUDY["patient_id"]
    ds.PatientBirthDate = STUDY["birth_date"]
    ds.PatientSex = STUDY["sex"]
    ds.PatientAge = STUDY["age"]
    ds.PatientSize = "1.68"
    ds.PatientWeight = "66"
    ds.BodyPartExamined = "ABDOMEN"
    ds.SliceThickness = f"{spec.thickness:g}"
    ds.SoftwareVersions = "1"
    ds.PatientPosition = "HFS"
    if mr:
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "SK"
        ds.ScanOptions = "FS"
        ds.MRAcquisitionType = "2D"
        ds.SequenceName = "*tse2d1_16"
        ds.AngioFlag = "N"
        ds.RepetitionTime = "4200"
        ds.EchoTime = "96"
        ds.NumberOfAverages = "2"
        ds.ImagingFrequency = "63.676"
        ds.ImagedNucleus = "1H"
        ds.EchoNumbers = "1"
        ds.MagneticFieldStrength = "1.5"
        ds.SpacingBetweenSlices = f"{spec.dz:g}"
        ds.EchoTrainLength = "16"
        ds.PercentSampling = "100"
        ds.PercentPhaseFieldOfView = "100"
        ds.PixelBandwidth = "200"
        ds.ReceiveCoilName = "Body18"
        ds.TransmitCoilName = "Body"
        ds.AcquisitionMatrix = [0, spec.nx, spec.nx, 0]
        ds.InPlanePhaseEncodingDirection = "ROW"
        ds.FlipAngle = "150"
        ds.SAR = "1.2"
    else:
        ds.KVP = "120"
        ds.DataCollectionDiameter = "500"
        ds.ReconstructionDiameter = f"{spec.nx * spec.dx:g}"
        ds.GantryDetectorTilt = "0"
        ds.TableHeight = "150"
        ds.RotationDirection = "CW"
        ds.ExposureTime = "500"
        ds.XRayTubeCurrent = "250"
        ds.Exposure = "125"
        ds.ConvolutionKernel = "STANDARD"
        if spec.phase == "post":
            ds.ContrastBolusAgent = "IOHEXOL 350 MG I/ML"
            ds.ContrastBolusRoute = "IV"
            ds.ContrastBolusVolume = "100"
            ds.ContrastBolusStartTime = "091535"
            ds.ContrastBolusTotalDose = "35"
            ds.ContrastFlowRate = "3"
            ds.ContrastFlowDuration = "33.3"
            ds.ContrastBolusIngredient = "IODINE"
            ds.ContrastBolusIngredientConcentration = "350"
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid(spec.key, "series")
    ds.StudyID = STUDY["study_id"]
    ds.SeriesNumber = spec.number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = instance
    ds.PatientOrientation = ["L", "P"]
    x0 = float(spec.xs[0])
    z = float(spec.zs[k])
    ds.ImagePositionPatient = [f"{x0:g}", f"{x0:g}", f"{z:g}"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = frame_uids[spec.key]
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = f"{z:g}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = spec.nx
    ds.Columns = spec.nx
    ds.PixelSpacing = [f"{spec.dx:g}", f"{spec.dx:g}"]
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if mr:
        ds.WindowCenter = "700"
        ds.WindowWidth = "1400"
        ds.WindowCenterWidthExplanation = "T2"
    else:
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.WindowCenterWidthExplanation = "ABDOMEN"
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
    ds.LossyImageCompression = "00"
    return ds


def file_name(sop_uid: str) -> str:
    return "IM" + hashlib.sha1(sop_uid.encode()).hexdigest()[:10].upper() + ".dcm"


def write_series(spec: SeriesSpec, stored: np.ndarray, out_study: Path, frame_uids: dict):
    folder = out_study / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(spec.nz):
        ds = common_dataset(spec, k, frame_uids)
        arr = np.ascontiguousarray(stored[k])
        if spec.transfer_syntax == RLELossless:
            ds.compress(RLELossless, arr, encoding_plugin="pydicom", generate_instance_uid=False)
        else:
            ds.PixelData = arr.tobytes()
        ds.save_as(folder / file_name(ds.SOPInstanceUID), enforce_file_format=True)


# --------------------------------------------------------------------------------------------------
def _r(v, nd=3):
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_r(x, nd) for x in v]
    return round(float(v), nd) + 0.0


def truth(named, textures) -> dict:
    a, b, c = MASS["semi"]
    cx, cy, cz = MASS["center"]
    rot = math.radians(MASS["rot"])
    # caliper on the pre-series slice nearest the mass centre (off-centre plane: smaller section)
    pre = SERIES[0]
    z_cal = float(pre.zs[np.argmin(np.abs(pre.zs - cz))])
    s = math.sqrt(1.0 - ((z_cal - cz) / c) ** 2)
    d = np.array([math.cos(rot), math.sin(rot), 0.0]) * a * s
    p1 = np.array([cx, cy, z_cal]) - d
    p2 = np.array([cx, cy, z_cal]) + d
    solid = solid_roi_point(named, textures)
    nec_c = named["necrosis"].c
    thr = named["thrombus"]
    bl_point = named["left_iliac_vein"].centre_at_z(0.5 * sum(BLAND_Z))
    ivc_at = lambda z: named["ivc"].centre_at_z(z)  # noqa: E731
    kid = named["kidneys"]
    tex = {ph: {n: a_ for n, a_ in amps.items()} for ph, amps in TEXTURE_AMPLITUDE.items()}

    def tex_at(ph, name, p):
        return float(TEXTURE_AMPLITUDE[ph][name] * textures[name](p[0], p[1], p[2]))

    series = {}
    for sp in SERIES:
        series[sp.key] = {
            "series_uid": uid(sp.key, "series"),
            "path": f"study/{sp.folder}",
            "description": sp.description,
            "modality": sp.modality,
            "number": sp.number,
            "n_images": sp.nz,
            "rows": sp.nx,
            "columns": sp.nx,
            "spacing_mm": [sp.dz, sp.dx, sp.dx],
            "origin_mm": _r([sp.xs[0], sp.xs[0], sp.zs[0]]),
            "slice_z_mm": [_r(sp.zs[0]), _r(sp.zs[-1])],
            "transfer_syntax_uid": str(sp.transfer_syntax),
            "frame_of_reference_uid": uid("frame_of_reference", "mr" if sp.modality == "MR" else "ct"),
            "unit": "HU" if sp.modality == "CT" else "signal",
        }
    series["mr_t2"]["note"] = (
        "own FrameOfReferenceUID (another scanner, three days later); its anatomy was placed at the "
        "same LPS coordinates as ct_pre (no motion), so the truth points apply to it, but nothing in "
        "the headers entitles a tool to assume that")
    pre_hu = {t[0]: t[1] for t in TISSUES}
    post_hu = {t[0]: t[2] for t in TISSUES}
    return {
        "schema": "rp-sample-truth/1",
        "generator": "sample_dicom/generate.py",
        "coordinates": "DICOM patient LPS mm (+x left, +y posterior, +z head), non-contrast frame",
        "patient": {"name": STUDY["patient_name"], "id": STUDY["patient_id"], "sex": STUDY["sex"],
                    "birth_date": STUDY["birth_date"], "age": STUDY["age"]},
        "study_uid": uid("study"),
        "series": series,
        "motion_mm": list(MOTION_MM),
        "motion_note": "a point p of the non-contrast anatomy is seen at p + motion_mm on ct_post",
        "noise_sd_hu": 9.0,
        "mass": {
            "side": "right",
            "center_mm": _r(MASS["center"]),
            "semi_axes_mm": _r(MASS["semi"]),
            "rotation_deg_about_z": MASS["rot"],
            "rotation_note": "the first semi-axis points along (cos r, sin r, 0) in LPS",
            "greatest_dimension_mm": _r(2 * max(a, b, c)),
            "volume_ml": _r(4.0 / 3.0 * math.pi * a * b * c / 1000.0),
            "z_range_mm": _r([cz - c, cz + c]),
            "t_category": "T3",
            "seed_mm": _r(solid),
            "solid_roi_point_mm": _r(solid),
            "solid_roi_clearance_mm": 12.0,
            "necrosis_center_mm": _r(nec_c),
            "necrosis_semi_axes_mm": _r(NECROSIS["semi"]),
            "necrosis_volume_ml": _r(4.0 / 3.0 * math.pi * np.prod(NECROSIS["semi"]) / 1000.0),
            "hu_solid_pre": pre_hu["mass_solid"],
            "hu_solid_post": post_hu["mass_solid"],
            "hu_necrosis_pre": pre_hu["mass_necrosis"],
            "hu_necrosis_post": post_hu["mass_necrosis"],
            "texture_sd_hu": {"pre": tex["pre"]["mass_solid"], "post": tex["post"]["mass_solid"]},
            "noise_free_hu_at_solid_roi_point": {"pre": _r(40 + tex_at("pre", "mass_solid", solid), 1),
                                                 "post": _r(95 + tex_at("post", "mass_solid", solid), 1)},
            "mr_signal_solid": LUT["mr"][LABEL["mass_solid"]].item(),
            "mr_signal_necrosis": LUT["mr"][LABEL["mass_necrosis"]].item(),
            "contains_fat": False,
            "contains_calcification": False,
        },
        "ivc": {
            "renal_vein_z_mm": RENAL_VEIN_Z,
            "hepatic_vein_z_mm": HEPATIC_VEIN_Z,
            "confluence_z_mm": IVC_CONFLUENCE_Z,
            "tumor_thrombus_z_mm": list(THROMBUS_Z),
            "tumor_thrombus_point_mm": _r(thr.c),
            "tumor_thrombus_semi_axes_mm": _r(thr.semi),
            "hu_thrombus_pre": pre_hu["tumor_thrombus"],
            "hu_thrombus_post": post_hu["tumor_thrombus"],
            "hu_lumen_pre": pre_hu["ivc"],
            "hu_lumen_post": post_hu["ivc"],
            "segments": [2],
            "lumen_point_segment1_mm": _r(ivc_at(-40.0)),
            "lumen_point_segment3_mm": _r(ivc_at(100.0)),
        },
        "bland_thrombus": {
            "vessel": "left common iliac vein",
            "point_mm": _r(bl_point),
            "z_mm": list(BLAND_Z),
            "hu_pre": pre_hu["bland_thrombus"],
            "hu_post": post_hu["bland_thrombus"],
            "hu_vein_post": post_hu["vein"],
        },
        "caliper": {
            "series": "ct_pre",
            "p1_mm": _r(p1),
            "p2_mm": _r(p2),
            "length_mm": _r(np.linalg.norm(p2 - p1)),
            "slice_z_mm": _r(z_cal),
        },
        "landmarks_mm": {
            "aorta": _r(named["aorta"].centre_at_z(20.0)),
            "liver": [-90.0, 0.0, 90.0],
            "right_kidney": _r(kid["R"].c),
            "left_kidney": _r(kid["L"].c),
            "right_psoas": [round(named["psoas"]["R"].params(-60.0)[0], 3),
                            round(named["psoas"]["R"].params(-60.0)[1], 3), -60.0],
            "vertebral_body": [0.0, 47.0, 0.0],
            "subcutaneous_fat": [0.0, -105.0, 0.0],
            "outside_air": [0.0, -160.0, 0.0],
        },
        "hu": {"pre": pre_hu, "post": post_hu},
    }


def _surface_distance(ell: Ellipsoid, p) -> float:
    """Distance from p to the surface of an ellipsoid (dense sampling of the surface)."""
    th, ph = np.meshgrid(np.linspace(0, np.pi, 360), np.linspace(0, 2 * np.pi, 720))
    a, b, c = ell.semi
    u, v, w = a * np.sin(th) * np.cos(ph), b * np.sin(th) * np.sin(ph), c * np.cos(th)
    x = ell.c[0] + u * math.cos(ell.rot) - v * math.sin(ell.rot)
    y = ell.c[1] + u * math.sin(ell.rot) + v * math.cos(ell.rot)
    return float(np.sqrt((x - p[0]) ** 2 + (y - p[1]) ** 2 + (ell.c[2] + w - p[2]) ** 2).min())


def solid_roi_point(named, textures, clearance=12.0):
    """A point in the solid part >= clearance mm from the mass surface and from the necrosis, where
    the texture is ~0 (so the noise-free HU there is the nominal solid value). Deterministic search
    on a fixed grid of the mass's local coordinates, on the side away from the necrosis."""
    best = None
    for u in np.arange(-40.0, -24.0, 1.0):
        for v in np.arange(-10.0, 10.5, 1.0):
            for w in (-2.0, 0.0, 2.0):
                p = np.array(mass_local_to_patient(u, v, w))
                t = abs(float(textures["mass_solid"](p[0], p[1], p[2])))
                if best is None or t < best[0]:
                    best = (t, p)
    p = best[1]
    assert named["mass"].level(*p) < 1 and named["necrosis"].level(*p) > 1
    assert _surface_distance(named["mass"], p) >= clearance
    assert _surface_distance(named["necrosis"], p) >= clearance
    return p


def design_checks(shapes, named):
    """Assert the layout the truth promises: fat plane around the mass, thrombus inside segment 2."""
    mass = named["mass"]
    xs = np.arange(-200, 200, 0.5)
    problems = []
    for z in np.arange(mass.zmin + 1, mass.zmax - 1, 3.0):
        lab = paint(shapes, xs, xs, z)
        X, Y = np.meshgrid(xs, xs)
        m = mass.mask(X, Y, z)
        ring = ndimage.binary_dilation(m, iterations=3) & ~m  # 1.5 mm around the mass
        bad = set(np.unique(lab[ring])) & {LABEL[n] for n in ("psoas", "ivc", "kidney_cortex", "gas",
                                                             "air", "subcutaneous_fat", "liver")}
        if bad:
            problems.append((float(z), sorted(TISSUES[i][0] for i in bad)))
    assert THROMBUS_Z[0] >= RENAL_VEIN_Z + 10 and THROMBUS_Z[1] <= HEPATIC_VEIN_Z - 10
    # the solid ROI point: >= 12 mm inside the mass, >= 12 mm from the necrosis
    return problems


def generate(out: Path) -> dict:
    shapes, named = build_phantom()
    textures = {"mass_solid": Texture(11), "mass_necrosis": Texture(12, wavelength_mm=(10.0, 25.0))}
    study = out / "study"
    if study.exists():
        shutil.rmtree(study)
    frame_uids = {"ct_pre": uid("frame_of_reference", "ct"), "ct_post": uid("frame_of_reference", "ct"),
                  "mr_t2": uid("frame_of_reference", "mr")}
    for spec in SERIES:
        stored = image_values(spec, shapes, textures)
        write_series(spec, stored, study, frame_uids)
    t = truth(named, textures)
    (out / "truth.json").write_text(json.dumps(t, indent=2) + "\n")
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: sample_dicom/)")
    ap.add_argument("--check", action="store_true", help="only run the layout checks")
    args = ap.parse_args(argv)
    if args.check:
        shapes, named = build_phantom()
        for p in design_checks(shapes, named):
            print("mass touches", p)
        return 0
    generate(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

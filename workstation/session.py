"""Autosave and crash restore of a reader's work on one study.

Layout under the root (``$WORKSTATION_STATE_DIR`` or ``~/.local/state/rp-workstation/sessions``)::

    <study_key>/session.json        findings, measurements, extra, clean flag, mask file reference
    <study_key>/masks-<gen>.npz     lesion masks (cropped to their bounding box, bit-packed)

``study_key`` is a hash of the StudyInstanceUID(s): no patient name or ID ever appears in a path.
Every file is written atomically (:mod:`workstation.atomic`). ``session.json`` is written last and
names the mask file it belongs to (with its size and SHA-256), so a kill at any moment leaves the
previous complete save loadable; temporary files (``.*.tmp``) are never read.

``save()`` is cheap enough to call on every change (debouncing is the UI's job): with
``masks=None`` the masks of the previous save are kept and only the JSON is rewritten.
``clean_close()`` marks the session as closed cleanly; :meth:`SessionStore.has_unrestored` is true
when a session exists that was not.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .atomic import atomic_write_bytes, is_temp_name
from .errors import WorkstationError
from .measure.model import Measurement

SCHEMA = "rp-session/1"
SESSION_FILE = "session.json"


class SessionError(WorkstationError):
    """A session file that cannot be used (names the file)."""


def default_root() -> Path:
    env = os.environ.get("WORKSTATION_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "rp-workstation" / "sessions"


def study_key(study_uids: str | Iterable[str]) -> str:
    """A stable file-name-safe key for one study (or a set of studies read together)."""
    uids = [study_uids] if isinstance(study_uids, str) else list(study_uids)
    uids = sorted({str(u).strip() for u in uids if str(u).strip()})
    if not uids:
        raise SessionError("study_key: no StudyInstanceUID given")
    return hashlib.sha256("\\".join(uids).encode("ascii", "replace")).hexdigest()[:24]


@dataclass
class SessionState:
    """What a restore gives back."""

    findings: dict[str, Any]
    measurements: list[Measurement]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    saved_at: float = 0.0
    clean: bool = False
    generation: int = 0


# -- mask packing: bounding box + packbits (a lesion is small beside its volume) -------------------
def _pack_mask(mask: np.ndarray) -> dict[str, np.ndarray]:
    m = np.asarray(mask).astype(bool, copy=False)
    if m.ndim != 3:
        raise SessionError(f"masks: expected 3D arrays [k, j, i], got shape {m.shape}")
    lo = np.zeros(3, dtype=np.int64)
    hi = np.zeros(3, dtype=np.int64)
    for ax in range(3):
        other = tuple(a for a in range(3) if a != ax)
        nz = np.flatnonzero(m.any(axis=other))
        if nz.size:
            lo[ax], hi[ax] = nz[0], nz[-1] + 1
    crop = m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    return {"shape": np.asarray(m.shape, np.int64), "lo": lo, "hi": hi,
            "bits": np.packbits(crop, axis=None)}


def _unpack_mask(shape, lo, hi, bits) -> np.ndarray:
    shape = tuple(int(s) for s in shape)
    lo = [int(v) for v in lo]
    hi = [int(v) for v in hi]
    out = np.zeros(shape, dtype=bool)
    cshape = tuple(h - l for l, h in zip(lo, hi))
    n = int(np.prod(cshape))
    if n:
        crop = np.unpackbits(bits, count=n).astype(bool).reshape(cshape)
        out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = crop
    return out


class SessionStore:
    """Autosave store for one study. ``SessionStore(study_key(uids))``."""

    def __init__(self, study_key: str, root: str | os.PathLike | None = None) -> None:
        key = str(study_key)
        if not key or any(c in key for c in "/\\.") or len(key) > 128:
            raise SessionError(f"study_key: {key!r} is not a plain key (use session.study_key(uids))")
        self.key = key
        self.root = Path(root) if root is not None else default_root()
        self.dir = self.root / key
        self._masks_ref: dict[str, Any] | None = None  # mask file of the last save (cached)
        self._generation = 0
        self._synced = False  # generation and mask file of the saved session read once

    @classmethod
    def for_study(cls, study_uids: str | Iterable[str], root: str | os.PathLike | None = None) -> "SessionStore":
        return cls(study_key(study_uids), root)

    @property
    def path(self) -> Path:
        return self.dir / SESSION_FILE

    # -- writing -----------------------------------------------------------------------------
    def _read_header(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def save(self, findings: Mapping[str, Any] | None, measurements: Iterable[Measurement] = (),
             masks: Mapping[str, np.ndarray] | None = None, extra: Mapping[str, Any] | None = None,
             *, clean: bool = False) -> Path:
        """Save the current state atomically. ``masks=None`` keeps the masks of the previous save
        (so a findings or measurement change costs only the JSON); ``masks={}`` drops them."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self._synced:
            prev = self._read_header()
            if isinstance(prev, dict):
                self._masks_ref = prev.get("masks") or None
                with contextlib.suppress(TypeError, ValueError):
                    self._generation = int(prev.get("generation", 0))
            self._synced = True
        self._generation += 1
        gen = self._generation
        if masks is not None:
            if masks:
                arrays: dict[str, np.ndarray] = {}
                names = []
                for i, (name, m) in enumerate(masks.items()):
                    names.append(str(name))
                    for k, v in _pack_mask(m).items():
                        arrays[f"m{i}_{k}"] = v
                buf = io.BytesIO()
                np.savez(buf, **arrays)
                data = buf.getvalue()
                fname = f"masks-{gen}.npz"
                atomic_write_bytes(self.dir / fname, data, durable=False)
                self._masks_ref = {"file": fname, "names": names, "size": len(data),
                                   "sha256": hashlib.sha256(data).hexdigest()}
            else:
                self._masks_ref = None
        doc = {
            "schema": SCHEMA,
            "generation": gen,
            "saved_at": time.time(),
            "clean": bool(clean),
            "findings": dict(findings) if findings is not None else None,
            "measurements": [m.to_dict() for m in measurements],
            "masks": self._masks_ref,
            "extra": dict(extra) if extra else {},
        }
        try:
            text = json.dumps(doc, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise SessionError(f"{self.path}: state is not JSON-serialisable ({exc})") from None
        atomic_write_bytes(self.path, text.encode("utf-8"))
        new_file = (self._masks_ref or {}).get("file")
        if masks is not None:  # masks changed: drop every other mask file (also ones left by a kill)
            for f in self.dir.glob("masks-*.npz"):
                if f.name != new_file:
                    with contextlib.suppress(OSError):
                        f.unlink()
        return self.path

    def clean_close(self) -> None:
        """Mark the saved session as closed cleanly (no restore offer next time)."""
        doc = self._read_header()
        if doc is None:
            return
        doc["clean"] = True
        atomic_write_bytes(self.path, json.dumps(doc, allow_nan=False, separators=(",", ":")).encode())

    def has_unrestored(self) -> bool:
        """True when a session exists for this study that was not closed cleanly."""
        doc = self._read_header()
        if doc is None:
            return self.path.exists()  # unreadable: still offer (load() explains what is wrong)
        return not bool(doc.get("clean", False))

    def discard(self) -> None:
        """Forget the saved session (kept-aside corrupt files stay for inspection)."""
        if self.dir.is_dir():
            for f in self.dir.iterdir():
                if f.name == SESSION_FILE or (f.name.startswith("masks-") and f.suffix == ".npz") \
                        or is_temp_name(f.name):
                    with contextlib.suppress(OSError):
                        f.unlink()
        self._masks_ref = None
        self._synced = False

    # -- reading -----------------------------------------------------------------------------
    def _keep_aside(self, path: Path, why: str) -> SessionError:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        with contextlib.suppress(OSError):
            os.replace(path, aside)
            return SessionError(f"{path}: saved session is unusable ({why}); kept as {aside.name}")
        return SessionError(f"{path}: saved session is unusable ({why})")

    def load(self) -> SessionState | None:
        """The last completed save, or None when there is none. A corrupt session file is moved
        aside (``session.json.corrupt-<time>``) and reported as a :class:`SessionError`."""
        p = self.path
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SessionError(f"{p}: cannot read ({exc.strerror or exc})") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._keep_aside(p, f"not valid JSON: {exc}") from None
        try:
            state = self._validate(doc)
        except SessionError as exc:
            raise self._keep_aside(p, str(exc)) from None
        self._generation = state.generation
        self._masks_ref = doc.get("masks") or None
        self._synced = True
        return state

    def _validate(self, doc: Any) -> SessionState:
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise SessionError(f"schema is not {SCHEMA!r}")
        findings = doc.get("findings")
        if findings is not None and not isinstance(findings, dict):
            raise SessionError("findings: expected an object")
        ms = doc.get("measurements")
        if not isinstance(ms, list):
            raise SessionError("measurements: expected a list")
        measurements = []
        for i, d in enumerate(ms):
            if not isinstance(d, dict):
                raise SessionError(f"measurements[{i}]: expected an object")
            try:
                measurements.append(Measurement.from_dict(d))
            except WorkstationError as exc:
                raise SessionError(f"measurements[{i}]: {exc}") from None
        masks: dict[str, np.ndarray] = {}
        ref = doc.get("masks")
        if ref:
            mp = self.dir / str(ref.get("file", ""))
            try:
                data = mp.read_bytes()
            except OSError:
                raise SessionError(f"mask file {mp.name} is missing") from None
            if len(data) != ref.get("size") or hashlib.sha256(data).hexdigest() != ref.get("sha256"):
                raise SessionError(f"mask file {mp.name} does not match its checksum")
            with np.load(io.BytesIO(data)) as z:
                for i, name in enumerate(ref.get("names", [])):
                    masks[name] = _unpack_mask(z[f"m{i}_shape"], z[f"m{i}_lo"], z[f"m{i}_hi"], z[f"m{i}_bits"])
        extra = doc.get("extra") or {}
        if not isinstance(extra, dict):
            raise SessionError("extra: expected an object")
        return SessionState(findings=findings or {}, measurements=measurements, masks=masks,
                            extra=extra, saved_at=float(doc.get("saved_at", 0.0)),
                            clean=bool(doc.get("clean", False)), generation=int(doc.get("generation", 0)))

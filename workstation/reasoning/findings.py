"""The findings document ``rp-findings/1.1`` (docs/findings.md) as a validated value.

Version 1.1 adds ``side``, ``histology``, ``resected``, ``ivc.right_atrium_z_mm`` and five checklist
ids (``since`` in checklist.json). A ``rp-findings/1`` document reads unchanged and is written back
as it came; a version 1 document that uses a 1.1 field (e.g. an old autosave the reader then adds a
side to) is read as 1.1 and written back as ``rp-findings/1.1``.

A :class:`Findings` that exists is valid: :meth:`Findings.from_dict` checks every field against
``resources/checklist.json`` (the single source of truth the panel reads too) and raises
:class:`~workstation.errors.FindingsError` with one line naming the field path, e.g.
``findings.macroscopic_fat: expected true or false, got a string`` -- never the value itself
(a document may carry patient data where a field should be).

Unknown is absence: a field or checklist id left out weighs nothing. A ``null`` given in the input is
accepted as unknown and written back as ``null`` so that :meth:`Findings.to_dict` round-trips the
document exactly; nothing is ever serialised as ``null`` unless it was given so.

Project extensions (the spec allows added fields; anything else unknown is refused):

* ``x_sources``: field path -> where the number came from (a string, or an object of strings and
  numbers such as ``{"method": "caliper", "measurement_id": "..."}``). Keys must name a field of the
  document (``greatest_dimension_mm``, ``ivc.tumor_z_mm``, ``findings.calcification`` ...).
* ``x_measurements``: a list of measurement records (``workstation.measure.model`` ``to_dict``).
* ``x_note``: a free-text reader note.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import FindingsError
from ..jsonsafe import loads as strict_json
from ..jsonsafe import read_document
from ..resources import load_json

SCHEMA = "rp-findings/1.1"
#: every schema this reader accepts (version 1 documents read unchanged)
SCHEMAS: tuple[str, ...] = ("rp-findings/1", "rp-findings/1.1")

_CHECKLIST = load_json("checklist.json")
#: field name -> spec (type, range, enum, units, labels)
FIELD_SPECS: Mapping[str, Mapping[str, Any]] = MappingProxyType(_CHECKLIST["fields"])
#: the spec's groups, in order: [(group id, label, [item ids])]
CHECKLIST_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (g["id"], g["label"], tuple(it["id"] for it in g["items"])) for g in _CHECKLIST["groups"]
)
#: every checklist id, in the spec's order
CHECKLIST_IDS: tuple[str, ...] = tuple(i for _, _, ids in CHECKLIST_GROUPS for i in ids)
CHECKLIST_LABELS: Mapping[str, str] = MappingProxyType(
    {it["id"]: it["label"] for g in _CHECKLIST["groups"] for it in g["items"]}
)
EXTENSION_FIELDS: tuple[str, ...] = tuple(k for k in _CHECKLIST["extensions"] if k.startswith("x_"))
_IVC_KEYS = tuple(FIELD_SPECS["ivc"]["properties"])
_SCALAR_FIELDS = tuple(k for k in FIELD_SPECS if k not in ("ivc", "findings"))
_TOP_ORDER = ("schema", *FIELD_SPECS, *EXTENSION_FIELDS)
_CHECKLIST_SET = frozenset(CHECKLIST_IDS)
#: field paths and checklist ids that version 1.1 added (``since`` in checklist.json)
V11_PATHS: frozenset[str] = frozenset(
    [k for k, v in FIELD_SPECS.items() if v.get("since") == SCHEMA]
    + [f"ivc.{k}" for k, v in FIELD_SPECS["ivc"]["properties"].items() if v.get("since") == SCHEMA]
    + [f"findings.{it['id']}" for g in _CHECKLIST["groups"] for it in g["items"] if it.get("since") == SCHEMA]
)


def _differential_ids() -> tuple[str, ...]:
    return tuple(d["id"] for d in load_json("knowledge", "differentials.json")["differentials"])


#: every differential id, in the spec's order (from resources/knowledge/differentials.json)
DIFFERENTIAL_IDS: tuple[str, ...] = _differential_ids()


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _kind(v: Any) -> str:
    """What a value is, in JSON words (``a string``, ``a number`` ...) -- never the value itself."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true or false"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple)):
        return f"a list of {len(v)}"
    if isinstance(v, Mapping):
        return "an object"
    return "another kind of value"


def _key(k: Any) -> str:
    """A key of the document as it can be named in a message: a plain field-like name as it is,
    anything else (free text, very long, not a string) not echoed -- a key may be patient data."""
    return k if isinstance(k, str) and _KEY.match(k) else "(a key that is not a field name)"


_PATH_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63})?$")
_FIELD_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")


def _source_key(k: Any) -> str:
    """An ``x_sources`` key (a field path such as ``ivc.tumor_z_mm``) as it can be named."""
    return k if isinstance(k, str) and _PATH_KEY.match(k) else "(a key that is not a field path)"


def record_problem(exc: BaseException) -> str:
    """``.field: expected ...`` from a measurement record's refusal, without the value it quotes
    (the record's own messages end in ``got <value>``); ``: not a valid measurement record`` when
    the field cannot be told. For any reader of measurement records (findings, saved reads)."""
    parts = [p.strip() for p in str(exc).split(": ")]
    fields = [p for p in parts[:-1] if _FIELD_SEGMENT.match(p)]
    tail = parts[-1] if parts else ""
    expected = tail.split(", got", 1)[0].split(" got ", 1)[0] if tail.startswith("expected") else ""
    where = f".{fields[-1]}" if fields else ""
    what = expected or "not a valid measurement record (see docs/findings.md)"
    return f"{where}: {what}"


def _is_number(v: Any) -> bool:
    """A JSON number: int or float, never a bool (bool is a subclass of int in Python)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_number(path: str, v: Any, spec: Mapping[str, Any]) -> None:
    if not _is_number(v):
        raise FindingsError(f"{path}: expected a number, got {_kind(v)}")
    if not math.isfinite(v):
        raise FindingsError(f"{path}: expected a finite number")
    units = f" {spec['units']}" if spec.get("units") else ""
    if "min" in spec and v < spec["min"]:
        raise FindingsError(f"{path}: below the range (expected at least {spec['min']}{units})")
    if "max" in spec and v > spec["max"]:
        raise FindingsError(f"{path}: above the range (expected at most {spec['max']}{units})")
    if "exclusive_min" in spec and v <= spec["exclusive_min"]:
        raise FindingsError(f"{path}: out of range (expected more than {spec['exclusive_min']}{units})")


def _check_scalar(name: str, v: Any) -> None:
    spec = FIELD_SPECS[name]
    kind = spec["type"]
    if kind == "number":
        _check_number(name, v, spec)
    elif kind == "enum":
        if not isinstance(v, str) or v not in spec["enum"]:
            allowed = ", ".join(f'"{e}"' for e in spec["enum"])
            raise FindingsError(f"{name}: not an allowed value (expected one of {allowed})")
    elif kind == "boolean":
        if not isinstance(v, bool):
            raise FindingsError(f"{name}: expected true or false, got {_kind(v)}")
    elif kind == "integer_enum":
        if not (isinstance(v, int) and not isinstance(v, bool)) or v not in spec["enum"]:
            allowed = ", ".join(str(e) for e in spec["enum"])
            raise FindingsError(f"{name}: not an allowed value (expected one of {allowed}, an integer)")
    else:  # pragma: no cover - checklist.json is project data, its integrity is tested
        raise FindingsError(f"{name}: unsupported field type {kind!r} in checklist.json")


@dataclass(frozen=True)
class IVCExtent:
    """The ``ivc`` object: landmarks and intraluminal tumour extent (patient z, LPS mm, +z cranial).

    Any key may be absent (unknown). When both landmarks are given the hepatic-vein confluence must
    lie cranial to the renal-vein inflow (larger z); ``tumor_z_mm`` is ``(low, high)`` with low <= high.
    """

    renal_vein_z_mm: float | None = None
    hepatic_vein_z_mm: float | None = None
    tumor_z_mm: tuple[float, float] | None = None
    right_atrium_z_mm: float | None = None
    _given: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Any, path: str = "ivc") -> IVCExtent:
        if not isinstance(d, Mapping):
            raise FindingsError(f"{path}: expected an object, got {_kind(d)}")
        for k in d:
            if k not in _IVC_KEYS:
                allowed = ", ".join(_IVC_KEYS)
                raise FindingsError(f"{path}.{_key(k)}: unknown field (expected {allowed})")
        props = FIELD_SPECS["ivc"]["properties"]
        values: dict[str, Any] = {}
        for k in ("renal_vein_z_mm", "hepatic_vein_z_mm", "right_atrium_z_mm"):
            if d.get(k) is not None:
                _check_number(f"{path}.{k}", d[k], props[k])
                values[k] = d[k]
        t = d.get("tumor_z_mm")
        if t is not None:
            p = f"{path}.tumor_z_mm"
            if not isinstance(t, (list, tuple)) or len(t) != 2:
                raise FindingsError(f"{p}: expected [low, high] in mm (a list of two numbers), got {_kind(t)}")
            for i, x in enumerate(t):
                if not _is_number(x) or not math.isfinite(x):
                    raise FindingsError(f"{p}[{i}]: expected a finite number, got {_kind(x)}")
            if t[0] > t[1]:
                raise FindingsError(f"{p}: the first number is above the second (expected [low, high], low <= high)")
            values["tumor_z_mm"] = (t[0], t[1])
        r, h = values.get("renal_vein_z_mm"), values.get("hepatic_vein_z_mm")
        if r is not None and h is not None and not h > r:
            raise FindingsError(
                f"{path}.hepatic_vein_z_mm: expected cranial to (greater than) "
                f"{path}.renal_vein_z_mm (LPS, +z toward the head)"
            )
        a = values.get("right_atrium_z_mm")
        below = h if h is not None else r
        if a is not None and below is not None and not a > below:
            what = "hepatic_vein_z_mm" if h is not None else "renal_vein_z_mm"
            raise FindingsError(
                f"{path}.right_atrium_z_mm: expected cranial to (greater than) {path}.{what} "
                "(LPS, +z toward the head)"
            )
        return cls(**values, _given=tuple(d), _raw=dict(d))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self._given:
            v = getattr(self, k)
            out[k] = None if v is None else (list(v) if k == "tumor_z_mm" else v)
        return out


def _check_sources(v: Any) -> None:
    if not isinstance(v, Mapping):
        raise FindingsError(f"x_sources: expected an object (field path -> source), got {_kind(v)}")
    paths = set(_SCALAR_FIELDS) | {"ivc"} | {f"ivc.{k}" for k in _IVC_KEYS}
    paths |= {f"findings.{i}" for i in CHECKLIST_IDS}
    for k, src in v.items():
        if k not in paths:
            raise FindingsError(f"x_sources.{_source_key(k)}: not a field of the findings document")
        if isinstance(src, str):
            continue
        if isinstance(src, Mapping) and all(
            isinstance(x, str) or (_is_number(x) and math.isfinite(x)) for x in src.values()
        ):
            continue
        raise FindingsError(f"x_sources.{k}: expected a string or an object of strings and finite numbers, "
                         f"got {_kind(src)}")


def _check_measurements(v: Any) -> None:
    from ..errors import WorkstationError
    from ..measure.model import Measurement

    if not isinstance(v, list):
        raise FindingsError(f"x_measurements: expected a list of measurement records, got {_kind(v)}")
    for i, m in enumerate(v):
        if not isinstance(m, Mapping):
            raise FindingsError(f"x_measurements[{i}]: expected an object, got {_kind(m)}")
        try:
            Measurement.from_dict(dict(m))
        except (WorkstationError, TypeError, ValueError) as exc:
            raise FindingsError(f"x_measurements[{i}]{record_problem(exc)}") from None


def _check_extension(name: str, v: Any) -> None:
    if name == "x_sources":
        _check_sources(v)
    elif name == "x_measurements":
        _check_measurements(v)
    elif name == "x_note" and not isinstance(v, str):
        raise FindingsError(f"x_note: expected a string, got {_kind(v)}")


@dataclass(frozen=True)
class Findings:
    """One validated ``rp-findings/1`` document. ``None`` means unknown.

    Build it with :meth:`from_dict` (validates) or :meth:`with_changes`; read checklist items with
    :meth:`finding` (``True``/``False``/``None``) or the ``findings`` mapping (known items only).
    """

    age_years: float | None = None
    sex: str | None = None
    greatest_dimension_mm: float | None = None
    grade: int | None = None
    enhancement_delta_hu: float | None = None
    enhancement_percent: float | None = None
    thrombus_delta_hu: float | None = None
    enhancement_pattern: str | None = None
    growth_pattern: str | None = None
    side: str | None = None
    histology: str | None = None
    resected: bool | None = None
    ivc: IVCExtent | None = None
    findings: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    extensions: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # keys given as null (round-trip) and the original key order
    _nulls: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _order: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _finding_order: tuple[str, ...] = field(default=(), repr=False, compare=False)
    #: the schema given on read (``rp-findings/1`` or ``/1.1``); written back unless 1.1 fields are used
    schema: str = field(default=SCHEMA, compare=False)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_dict(cls, d: Any) -> Findings:
        if not isinstance(d, Mapping):
            raise FindingsError(f"findings document: expected a JSON object, got {_kind(d)}")
        if "schema" not in d:
            raise FindingsError(f'schema: missing (expected "{SCHEMA}")')
        if d["schema"] not in SCHEMAS:
            allowed = " or ".join(f'"{s}"' for s in SCHEMAS)
            raise FindingsError(f"schema: not a known schema (expected {allowed})")
        values: dict[str, Any] = {}
        nulls: set[str] = set()
        for k, v in d.items():
            if k == "schema":
                continue
            if not isinstance(k, str) or (k not in FIELD_SPECS and k not in EXTENSION_FIELDS):
                raise FindingsError(f"{_key(k)}: unknown field (not in {SCHEMA}; project fields are "
                                   f"{', '.join(EXTENSION_FIELDS)})")
            if v is None:
                nulls.add(k)
                continue
            if k == "ivc":
                values["ivc"] = IVCExtent.from_dict(v)
            elif k == "findings":
                continue  # below
            elif k in EXTENSION_FIELDS:
                _check_extension(k, v)
            else:
                _check_scalar(k, v)
                values[k] = v
        checklist: dict[str, bool] = {}
        order: list[str] = []
        raw = d.get("findings")
        if raw is not None:
            if not isinstance(raw, Mapping):
                raise FindingsError(f"findings: expected an object of checklist id -> true/false, got {_kind(raw)}")
            for fid, fv in raw.items():
                if fid not in _CHECKLIST_SET:
                    raise FindingsError(f"findings.{_key(fid)}: unknown checklist id")
                order.append(fid)
                if fv is None:
                    nulls.add(f"findings.{fid}")
                    continue
                if not isinstance(fv, bool):
                    raise FindingsError(f"findings.{fid}: expected true or false, got {_kind(fv)}")
                checklist[fid] = fv
        ext = {k: d[k] for k in EXTENSION_FIELDS if d.get(k) is not None}
        return cls(
            **{k: v for k, v in values.items()},
            findings=MappingProxyType(checklist),
            extensions=MappingProxyType(json.loads(json.dumps(ext))),
            _nulls=frozenset(nulls),
            _order=tuple(k for k in d),
            _finding_order=tuple(order),
            schema=str(d["schema"]),
        )

    # ------------------------------------------------------------------ writing
    def to_dict(self) -> dict[str, Any]:
        """The document as JSON-ready data; ``Findings.from_dict(d).to_dict() == d``."""
        present: dict[str, Any] = {"schema": self.schema if not self.uses_v11() else SCHEMA}
        for k in _SCALAR_FIELDS:
            v = getattr(self, k)
            if v is not None:
                present[k] = v
            elif k in self._nulls:
                present[k] = None
        if self.ivc is not None:
            present["ivc"] = self.ivc.to_dict()
        elif "ivc" in self._nulls:
            present["ivc"] = None
        fnull = {k.split(".", 1)[1] for k in self._nulls if k.startswith("findings.")}
        if self.findings or fnull or "findings" in self._order:
            if "findings" in self._nulls and not self.findings:
                present["findings"] = None
            else:
                ordered = [i for i in self._finding_order if i in self.findings or i in fnull]
                ordered += [i for i in CHECKLIST_IDS if i in self.findings and i not in ordered]
                present["findings"] = {i: self.findings.get(i) for i in ordered}
        for k in EXTENSION_FIELDS:
            if k in self.extensions:
                present[k] = json.loads(json.dumps(self.extensions[k]))
            elif k in self._nulls:
                present[k] = None
        keys = [k for k in self._order if k in present]
        keys += [k for k in _TOP_ORDER if k in present and k not in keys]
        return {k: present[k] for k in keys}

    # ------------------------------------------------------------------ use
    def uses_v11(self) -> bool:
        """True when a field or checklist id added by version 1.1 is known (given, not null)."""
        if any(getattr(self, k) is not None for k in ("side", "histology", "resected")):
            return True
        if self.ivc is not None and self.ivc.right_atrium_z_mm is not None:
            return True
        return any(f"findings.{k}" in V11_PATHS for k in self.findings)

    def finding(self, fid: str) -> bool | None:
        """``True``/``False`` for a known checklist item, ``None`` when unknown."""
        if fid not in _CHECKLIST_SET:
            raise FindingsError(f"findings.{_key(fid)}: unknown checklist id")
        return self.findings.get(fid)

    def with_changes(self, **changes: Any) -> Findings:
        """A new validated document with top-level fields replaced (``None`` = unknown, removed).

        ``findings={id: True/False/None}`` updates checklist items (``None`` removes one).
        """
        d = self.to_dict()
        for k, v in changes.items():
            if k == "findings":
                items = dict(d.get("findings") or {})
                for fid, fv in v.items():
                    if fv is None:
                        items.pop(fid, None)
                    else:
                        items[fid] = fv
                d["findings"] = items
            elif k == "ivc" and isinstance(v, IVCExtent):
                d["ivc"] = v.to_dict()
            elif v is None:
                d.pop(k, None)
            else:
                d[k] = v
        return Findings.from_dict(d)


_MASS_FIELDS = ("greatest_dimension_mm", "grade", "enhancement_delta_hu", "enhancement_percent", "thrombus_delta_hu",
                "enhancement_pattern", "growth_pattern", "side", "histology", "resected", "ivc")


def known_about_the_mass(f: Findings) -> int:
    """How many things about the mass the document records (age and sex do not count)."""
    return len(f.findings) + sum(getattr(f, k) is not None for k in _MASS_FIELDS)


def load_findings(path: str | Path) -> Findings:
    """Read and validate a findings JSON file; errors name the file (and line/column for bad JSON)."""
    p = Path(path)
    try:
        text = read_document(p)  # regular files only (never blocks on a FIFO), size-capped
    except FileNotFoundError:
        raise FindingsError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise FindingsError(f"{p}: is a folder, expected a findings JSON file") from None
    except UnicodeDecodeError:
        raise FindingsError(f"{p}: not UTF-8 text, expected a findings JSON file") from None
    except OSError as exc:
        raise FindingsError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        doc = strict_json(text, where=str(p))  # duplicate keys, NaN, depth, size: naming the field
    except json.JSONDecodeError as exc:
        raise FindingsError(f"{p}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    try:
        return Findings.from_dict(doc)
    except FindingsError as exc:
        raise FindingsError(f"{p}: {exc}") from None

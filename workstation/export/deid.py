"""De-identification of an export set by allow-list (DICOM PS3.15 Basic Application Level
Confidentiality Profile), with one salted UID map for every file of the set.

One :class:`Deidentifier` serves one export. It first *learns* the identifying strings of the
source headers (:meth:`Deidentifier.learn`: names and their parts, IDs, accession number, dates in
DICOM and ISO spelling, institution, physicians, free-text descriptions); then

* :func:`deidentify_dataset` (``ds``, ``ctx``) reduces every DICOM object the export writes (the SR,
  the SEG, ...) to the root attributes its IOD needs (``resources/deid.json`` ``keep``, per SOP
  class; an object of a SOP class without an allow-list is refused), applies the PS3.15 actions
  (dummy pseudonym and dates, empty, cleaned, removed) also inside sequences, drops SR content items
  that carry dates or person names, remaps every UID through the export's map and declares what
  was applied (PatientIdentityRemoved, DeidentificationMethod, DeidentificationMethodCodeSequence
  with the CID 7050 codes, LongitudinalTemporalInformationModified);
* :meth:`Deidentifier.scrub_text` / :meth:`Deidentifier.scrub_findings` do the same for text
  (``report.txt``, ``findings.json``): UIDs remapped with the same map, identifying strings and
  dates replaced by ``[removed]``; :meth:`Deidentifier.leaks` is the post-check.

The map is ``uid -> 2.25.<int>`` from a salted SHA-256 of the UID (PS3.5 B.2), so the SR's
references to the series, the SEG's and ``findings.json``'s agree, and two exports with different
salts cannot be linked. Applying the map twice changes nothing (outputs map to themselves).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from pydicom._uid_dict import UID_dictionary
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes

from ..errors import WorkstationError
from ..resources import load_json

__all__ = ["Deidentifier", "deidentify_dataset", "without_label", "REMOVED"]

#: what replaces an identifying string in text
REMOVED = "[removed]"
_UID_RE = re.compile(r"(?<![0-9A-Za-z.])[0-2](?:\.(?:0|[1-9][0-9]*)){3,}(?![0-9A-Za-z]|\.[0-9])")
_ID_FORM = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
_DATE_VRS = frozenset({"DA", "DT", "TM"})
_MONTH = r"(?:0[1-9]|1[0-2])"
_DAY = r"(?:0[1-9]|[12][0-9]|3[01])"
_DATES = re.compile(
    rf"(?<![0-9A-Za-z.])(?:(?:19|20)[0-9]{{2}}(?:{_MONTH}{_DAY}|-{_MONTH}-{_DAY}|/{_MONTH}/{_DAY}|\.{_MONTH}\.{_DAY})"
    rf"|{_DAY}[./-]{_MONTH}[./-](?:19|20)[0-9]{{2}}|{_MONTH}/{_DAY}/(?:19|20)[0-9]{{2}})(?![0-9A-Za-z]|\.[0-9])")
_DESCRIPTIVE = re.compile(r"Description|Comments|Protocol|Reason|Diagnos|History|Label")


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    t = load_json("deid.json")
    return dict(t)


class Deidentifier:
    """Consistent de-identification for one export (one salt, one UID map, one pseudonym).

    ``salt``: any string; the same salt gives the same UIDs and pseudonym. ``phi``: more strings
    known to identify the patient (they are scrubbed from text). ``sources``: headers to
    :meth:`learn` from (the evidence series).
    """

    def __init__(self, salt: str | None = None, phi: Iterable[Any] = (),
                 sources: Iterable[Dataset] = ()) -> None:
        self.salt = salt if salt is not None else secrets.token_hex(16)
        self.uid_map: dict[str, str] = {}
        self._outputs: set[str] = set()
        self._phi: set[str] = set()
        self._patient_key: str | None = None
        t = _table()
        self.actions: dict[str, str] = dict(t["actions"])
        self.prefix = str(t.get("pseudonym_prefix", "ANON-"))
        self._uid_keep = frozenset(t["uid_keep"])
        self._pattern: re.Pattern[str] | None = None
        for s in phi:
            self.add_phi(s)
        for ds in sources:
            self.learn(ds)

    # -- what identifies the patient -------------------------------------------------------
    def add_phi(self, value: Any, *, person: bool = False, descriptive: bool = False) -> None:
        """Remember an identifying string to scrub from text. A person name also adds its parts;
        a descriptive value (a description, a comment) only when it is distinctive (more than one
        word, or digits or punctuation in it: a lone word such as ``ABDOMEN`` is not)."""
        if value is None:
            return
        s = " ".join(str(value).split())
        if not s:
            return
        parts = [s]
        if person or "^" in s:
            parts += [p for p in re.split(r"[\^=\s,]+", s) if p]
        for part in parts:
            if descriptive and part == s and re.fullmatch(r"[A-Za-z]+", part):
                continue
            if (re.search(r"[A-Za-z]", part) and len(part) >= 3) or len(re.sub(r"\W", "", part)) >= 6:
                self._phi.add(part)
        if re.fullmatch(r"(?:19|20)\d{6}", s):  # a DA date: its other spellings too
            y, m, d = s[:4], s[4:6], s[6:]
            self._phi.update({f"{y}-{m}-{d}", f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{d}.{m}.{y}", f"{y}/{m}/{d}"})
        self._pattern = None

    def learn(self, ds: Dataset) -> None:
        """Collect the identifying values of a source header (every attribute PS3.15 removes,
        empties or replaces, at any depth, and the free-text descriptions)."""
        if self._patient_key is None:
            key = str(ds.get("PatientID") or ds.get("PatientName") or "").strip()
            self._patient_key = key or None
        for elem in ds.iterall():
            kw = elem.keyword
            if not kw or elem.VR == "SQ" or elem.value in (None, "", b""):
                continue
            act = self.actions.get(kw)
            descriptive = bool(_DESCRIPTIVE.search(kw))
            identifying = act in ("X", "Z", "D") or (descriptive and act == "C")
            if identifying and (elem.VR in _TEXT_VRS or elem.VR in _DATE_VRS or elem.VR == "PN"):
                values = elem.value if elem.VM > 1 else [elem.value]
                for v in values:
                    self.add_phi(v, person=elem.VR == "PN", descriptive=descriptive and elem.VR != "PN")

    @property
    def phi(self) -> frozenset[str]:
        return frozenset(self._phi)

    def pseudonym(self, value: Any = None) -> str:
        """The patient's pseudonym in this export (the same for every object of the set)."""
        key = self._patient_key if value is None else value
        h = hashlib.sha256(f"{self.salt}\0{key}".encode()).hexdigest()[:10].upper()
        return f"{self.prefix}{h}"

    def uid(self, uid: Any) -> str:
        """The remapped UID (well-known DICOM UIDs kept; an already remapped UID is returned as is)."""
        u = str(uid).strip().rstrip("\0")
        if not u or u in UID_dictionary or u in self._outputs:
            return u
        out = self.uid_map.get(u)
        if out is None:
            digest = hashlib.sha256(f"{self.salt}\0{u}".encode()).digest()[:16]
            out = f"2.25.{int.from_bytes(digest, 'big')}"
            self.uid_map[u] = out
            self._outputs.add(out)
        return out

    # -- text -------------------------------------------------------------------------------
    def _phi_re(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._phi:
            alts = "|".join(re.escape(s) for s in sorted(self._phi, key=len, reverse=True))
            self._pattern = re.compile(rf"(?<![0-9A-Za-z.])(?:{alts})(?![0-9A-Za-z])", re.I)
        return self._pattern

    def scrub_text(self, text: str) -> str:
        """UIDs remapped (the export's map), identifying strings and dates -> ``[removed]``."""
        out = _UID_RE.sub(lambda m: self.uid(m.group(0)), text)
        pat = self._phi_re()
        if pat is not None:
            out = pat.sub(REMOVED, out)
        return _DATES.sub(REMOVED, out)

    def leaks(self, text: str) -> list[str]:
        """Post-check: which kinds of identifying content remain in ``text`` (never the values)."""
        found = []
        pat = self._phi_re()
        if pat is not None and pat.search(text):
            found.append("identifying string")
        if _DATES.search(text):
            found.append("date")
        if any(u in text for u in self.uid_map):
            found.append("original UID")
        return found

    def scrub_findings(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A findings document fit for a de-identified export: the reader's free text dropped (the
        note, the prose of ``x_sources``, measurement labels: a reader can type a name there that
        no header holds, so scrubbing known strings is not enough), every other string scrubbed
        (UIDs remapped, identifying strings and dates removed)."""
        def walk(v: Any) -> Any:
            if isinstance(v, str):
                return self.scrub_text(v)
            if isinstance(v, dict):
                return {k: walk(x) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x) for x in v]
            return v

        kept = {k: v for k, v in doc.items() if k not in ("x_note", "x_sources", "x_measurements")}
        sources = {k: src for k, v in (doc.get("x_sources") or {}).items()
                   if isinstance(v, Mapping) and (src := self._structured_source(v))}
        if sources:
            kept["x_sources"] = sources
        if doc.get("x_measurements"):
            kept["x_measurements"] = [without_label(m) for m in doc["x_measurements"]]
        cap = int(_table()["age_cap"]["above_years"])
        age = kept.get("age_years")
        if isinstance(age, (int, float)) and not isinstance(age, bool) and age > cap:
            kept["age_years"] = cap + 1  # the same grouping as PatientAge (age_cap): "over 89" is one value
        out: dict[str, Any] = walk(kept)
        return out

    def _structured_source(self, src: Mapping[str, Any]) -> dict[str, Any]:
        """Of one ``x_sources`` entry only what a program wrote: a known ``method``, measurement
        ids and numbers (its ``text`` and any other string are reader prose)."""
        methods = frozenset(_table().get("x_sources_methods", ()))

        def program_written(k: str, v: Any) -> bool:
            if k == "method":
                return v in methods
            if k.startswith("measurement_id"):
                return isinstance(v, str) and _ID_FORM.fullmatch(v) is not None
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        out = {k: v for k, v in src.items() if program_written(k, v)}
        return out

    # -- datasets ---------------------------------------------------------------------------
    def dataset(self, ds: Dataset) -> Dataset:
        """A de-identified copy of ``ds`` (see :func:`deidentify_dataset`)."""
        return deidentify_dataset(copy.deepcopy(ds), self)

    def apply(self, ds: Dataset) -> Dataset:
        """De-identify ``ds`` in place (see :func:`deidentify_dataset`); returns it."""
        return deidentify_dataset(ds, self)


def without_label(measurement: Any) -> Any:
    """A measurement (a record dict or a dataclass with ``label``) without its reader-typed label,
    for a de-identified export; anything else unchanged."""
    if isinstance(measurement, Mapping):
        return {k: v for k, v in measurement.items() if k != "label"}
    if dataclasses.is_dataclass(measurement) and not isinstance(measurement, type) \
            and getattr(measurement, "label", None):
        return dataclasses.replace(measurement, label="")
    return measurement


# ------------------------------------------------------------------------------------------ DICOM


class _Applied:
    """What one object's de-identification did (for the declared options)."""

    def __init__(self) -> None:
        self.characteristics = False
        self.descriptors = False
        self.structured = False


def _allow_list(sop_class: str) -> frozenset[str]:
    keep = _table()["keep"]
    own = keep.get(sop_class)
    if own is None:
        raise WorkstationError(f"de-identification: no allow-list for SOP class {sop_class}; "
                               "the object is not exported")
    return frozenset(keep["common"]) | frozenset(own)


def deidentify_dataset(ds: Dataset, ctx: Deidentifier) -> Dataset:
    """De-identify one DICOM object of the export in place and return it.

    Root attributes not in the allow-list of ``ds.SOPClassUID`` are removed (and private tags);
    the kept ones and everything inside kept sequences get their PS3.15 action; UIDs are remapped
    with ``ctx``'s map; the profile and options applied are declared. Raises
    :class:`~workstation.errors.WorkstationError` for a SOP class without an allow-list.

    Copy on write: a changed element (or sequence item) is a new object, so element objects that
    a builder shares with the source headers (highdicom copies the patient and study modules by
    reference) are never modified.
    """
    allowed = _allow_list(str(ds.get("SOPClassUID", "")))
    done = _Applied()
    for elem in list(ds):
        if elem.tag.is_private or elem.keyword not in allowed:
            del ds[elem.tag]
            continue
        out = _element(elem, ctx, done, nested=False)
        if out is None:
            del ds[elem.tag]
        elif out is not elem:
            ds[elem.tag] = out
    _file_meta(ds, ctx)
    _mark(ds, done)
    return ds


def _element(elem: DataElement, ctx: Deidentifier, done: _Applied, *, nested: bool) -> DataElement | None:
    """The de-identified element: ``elem`` itself when unchanged, a new one, or None (removed)."""
    t = _table()
    kw, vr = elem.keyword, elem.VR
    act = ctx.actions.get(kw)
    if act == "X" or (nested and act is None and (vr in _DATE_VRS or vr == "PN")):
        return None
    if act == "Z":
        return DataElement(elem.tag, vr, DicomSequence() if vr == "SQ" else None)
    if act == "D":
        if kw in ("PatientName", "PatientID"):
            return DataElement(elem.tag, vr, ctx.pseudonym() + ("^" if vr == "PN" else ""))
        return DataElement(elem.tag, vr, t["dummy"].get(vr, "0"))
    if act == "K":  # a coded concept's parts: never rewritten (a pseudonym-like match would corrupt the code)
        return elem
    if kw in t["patient_characteristics"] and elem.value not in (None, ""):
        if kw in ("PatientSize", "PatientWeight") and not _positive(elem.value):
            return None          # 0 means "not recorded": nothing to retain
        done.characteristics = True
    if vr == "SQ":
        return _sequence(elem, ctx, done)
    if vr == "UI":
        if not elem.value or kw in ctx._uid_keep:
            return elem
        value: Any = [ctx.uid(v) for v in elem.value] if elem.VM > 1 else ctx.uid(elem.value)
        return DataElement(elem.tag, vr, value)
    if kw == "PatientAge":
        return _age(elem)
    if elem.value not in (None, "") and (vr in _TEXT_VRS or act == "C"):
        return _clean(elem, ctx, done)
    return elem


def _sequence(elem: DataElement, ctx: Deidentifier, done: _Applied) -> DataElement:
    drop = set(_table()["drop_content_value_types"])
    items = []
    for item in elem.value:
        if item.get("ValueType") in drop:
            done.structured = True
            continue
        new = Dataset()
        for sub in item:
            if sub.tag.is_private:
                continue
            out = _element(sub, ctx, done, nested=True)
            if out is not None:
                new.add(out)
        items.append(new)
    return DataElement(elem.tag, "SQ", DicomSequence(items))


def _clean(elem: DataElement, ctx: Deidentifier, done: _Applied) -> DataElement:
    if elem.keyword in _table()["descriptors_cleaned"]:
        done.descriptors = True
    if elem.keyword in ("TextValue", "TrackingID"):
        done.structured = True
    values = list(elem.value) if elem.VM > 1 else [elem.value]
    cleaned = []
    for v in values:
        c = ctx.scrub_text(str(v))
        if elem.VR == "CS" and c != str(v):
            c = "REMOVED"
        cleaned.append(c)
    if cleaned == [str(v) for v in values]:
        return elem
    return DataElement(elem.tag, elem.VR, cleaned if elem.VM > 1 else cleaned[0])


def _positive(value: Any) -> bool:
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


def _age(elem: DataElement) -> DataElement:
    cap = _table()["age_cap"]
    m = re.fullmatch(r"(\d{3})([DWMY])", str(elem.value or ""))
    if m and m.group(2) == "Y" and int(m.group(1)) > int(cap["above_years"]):
        return DataElement(elem.tag, elem.VR, str(cap["value"]))
    return elem


def _file_meta(ds: Dataset, ctx: Deidentifier) -> None:
    fm = getattr(ds, "file_meta", None)
    if not isinstance(fm, FileMetaDataset):
        return
    keep = set(_table()["file_meta_keep"])
    for elem in list(fm):
        if elem.keyword not in keep:
            del fm[elem.tag]
    if "MediaStorageSOPInstanceUID" in fm and "SOPInstanceUID" in ds:
        fm.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def _mark(ds: Dataset, done: _Applied) -> None:
    """PatientIdentityRemoved, DeidentificationMethod(CodeSequence): the options actually applied."""
    t = _table()
    applied = ["profile"]
    if done.characteristics:
        applied.append("patient_characteristics")
    if done.descriptors:
        applied.append("clean_descriptors")
    if done.structured and "ContentSequence" in ds:
        applied.append("clean_structured_content")
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = [str(t["method_text"][k])[:64] for k in applied] + [str(t["method_text"]["uids"])[:64]]
    items = []
    for key in applied:
        c = getattr(codes.DCM, t["method_codes"][key])
        item = Dataset()
        item.CodeValue = c.value
        item.CodingSchemeDesignator = c.scheme_designator
        item.CodeMeaning = c.meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = DicomSequence(items)
    # dates were emptied or replaced by dummies, not shifted (no 113107 option)
    ds.LongitudinalTemporalInformationModified = "REMOVED"

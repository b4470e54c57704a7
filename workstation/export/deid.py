"""De-identification of an export: DICOM PS3.15 basic profile (subset) with consistent UID remapping.

One :class:`Deidentifier` serves one export: the same input UID always maps to the same output UID
(``2.25.<digits>`` derived from the UID and the export's salt), so the SR's references to its
evidence match the remapped evidence headers. Patient name and ID become one salted pseudonym,
the birth date and other identifying attributes are emptied or removed (``resources/deid.json``),
private tags are dropped, and PatientIdentityRemoved / DeidentificationMethod(CodeSequence) are
set. :meth:`Deidentifier.scrub_text` does the same for text (findings.json, report.txt).
"""
from __future__ import annotations

import copy
import hashlib
import re
import secrets
from typing import Any, Iterable

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import UID_dictionary

from ..resources import load_json

_UID_RE = re.compile(r"\b[0-2](?:\.(?:0|[1-9][0-9]*))+\b")


def _table() -> dict[str, Any]:
    return load_json("deid.json")


class Deidentifier:
    """Consistent de-identification for one export.

    ``salt``: any string; the same salt gives the same UIDs and pseudonym (deterministic per export).
    ``phi``: extra strings known to identify the patient (name, ID, birth date from the volume's
    meta); they are also scrubbed from text.
    """

    def __init__(self, salt: str | None = None, phi: Iterable[str] = ()) -> None:
        self.salt = salt if salt is not None else secrets.token_hex(16)
        self.uid_map: dict[str, str] = {}
        self._phi: set[str] = set()
        for s in phi:
            self.add_phi(s)
        t = _table()
        self.actions: dict[str, str] = dict(t["actions"])
        self.prefix = str(t.get("pseudonym_prefix", "ANON-"))

    # -- identifiers ------------------------------------------------------------------------
    def add_phi(self, value: Any) -> None:
        """Remember an identifying string (and, for a person name, its parts) to scrub from text."""
        if value is None:
            return
        s = str(value).strip()
        if not s:
            return
        for part in [s, *re.split(r"[\^=\s,]+", s)]:
            # words of 3+ letters, or identifiers with 6+ characters (never a short number that
            # could be a measurement)
            if (re.search(r"[A-Za-z]", part) and len(part) >= 3) or len(part) >= 6:
                self._phi.add(part)
        if re.fullmatch(r"\d{8}", s):  # a DA date: also its ISO spelling
            self._phi.add(f"{s[:4]}-{s[4:6]}-{s[6:]}")

    def pseudonym(self, value: Any) -> str:
        h = hashlib.sha256(f"{self.salt}\0{value}".encode()).hexdigest()[:10].upper()
        return f"{self.prefix}{h}"

    def uid(self, uid: Any) -> str:
        """The remapped UID (well-known DICOM UIDs such as SOP classes are kept)."""
        u = str(uid).strip()
        if not u or u in UID_dictionary:
            return u
        if u not in self.uid_map:
            # PS3.5 B.2: a 2.25 UID from a 128-bit integer, here a salted hash of the original
            digest = hashlib.sha256(f"{self.salt}\0{u}".encode()).digest()[:16]
            self.uid_map[u] = f"2.25.{int.from_bytes(digest, 'big')}"
        return self.uid_map[u]

    # -- datasets ---------------------------------------------------------------------------
    def dataset(self, ds: Dataset, *, mark: bool = True) -> Dataset:
        """A de-identified copy of ``ds`` (file meta included)."""
        out = copy.deepcopy(ds)
        self.add_phi(out.get("PatientName"))
        self.add_phi(out.get("PatientID"))
        self.add_phi(out.get("PatientBirthDate"))
        self._clean(out)
        fm = getattr(out, "file_meta", None)
        if fm is not None:
            for elem in fm:
                if elem.VR == "UI" and elem.value:
                    elem.value = self.uid(elem.value)
        if mark:
            self.mark(out)
        return out

    def _clean(self, ds: Dataset) -> None:
        ds.remove_private_tags()
        pid = ds.get("PatientID")
        for elem in list(ds):
            kw = elem.keyword
            action = self.actions.get(kw)
            if action == "X":
                del ds[elem.tag]
                continue
            if action == "Z":
                elem.value = None if elem.VR != "SQ" else []
                continue
            if action == "D":
                elem.value = self.pseudonym(pid if pid else elem.value) + ("^" if elem.VR == "PN" else "")
                continue
            if elem.VR == "UI" and elem.value:
                if elem.VM > 1:
                    elem.value = [self.uid(v) for v in elem.value]
                else:
                    elem.value = self.uid(elem.value)
            elif elem.VR == "SQ":
                for item in elem.value:
                    self._clean(item)

    def mark(self, ds: Dataset) -> None:
        t = _table()
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = str(t["method_text"])[:64]
        items = []
        for name in t["method_codes"]:
            c = getattr(codes.DCM, name)
            item = Dataset()
            item.CodeValue = c.value
            item.CodingSchemeDesignator = c.scheme_designator
            item.CodeMeaning = c.meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = DicomSequence(items)

    # -- text -------------------------------------------------------------------------------
    def scrub_text(self, text: str) -> str:
        """Known UIDs -> remapped; identifying strings -> ``[removed]``."""
        out = _UID_RE.sub(lambda m: self.uid_map.get(m.group(0), m.group(0)), text)
        for s in sorted(self._phi, key=len, reverse=True):
            out = re.sub(rf"(?<![0-9A-Za-z]){re.escape(s)}(?![0-9A-Za-z])", "[removed]", out, flags=re.I)
        return out

    def scrub_findings(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A findings document fit for a de-identified export (free-text note dropped; UIDs and
        identifying strings in extension fields scrubbed)."""
        def walk(v: Any) -> Any:
            if isinstance(v, str):
                return self.scrub_text(v)
            if isinstance(v, dict):
                return {k: walk(x) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x) for x in v]
            return v

        return walk({k: v for k, v in doc.items() if k != "x_note"})

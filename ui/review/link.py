"""``MeasurementLink``: the one writer of the measurement-derived findings fields.

The review tools only put measurements into ``host.measurements`` (calipers, grown lesions,
landmarks); this link turns them into findings, so each field has one writer whatever order the
signals arrive in (issue 15):

* ``greatest_dimension_mm`` comes from **the target lesion** — the mass the reader reports — when
  the study has a grown lesion, else from the **largest caliper**. The target is an explicit choice
  kept in the lesion record (``figures["target"]`` 1.0 / 0.0, so the autosave and the SR see it):
  the first lesion grown becomes the target; a later one becomes lesion 2, 3 … unless the reader
  makes it the target (:meth:`MeasurementLink.make_target`, the panel's "Target lesion" box or the
  "Make target" action, Shift+T, on the selected lesion). When a first lesion or a change of
  target would move the T category (e.g. a 95 mm caliper, T2, then a 111 mm lesion, T3) the reader
  is asked first (:attr:`MeasurementLink.confirm`). A value typed by the reader is never
  overwritten; the panel's "use measurements" button hands the field back to the measurements.
* IVC landmarks: ``renal_vein`` -> ``ivc.renal_vein_z_mm``, ``hepatic_vein`` ->
  ``ivc.hepatic_vein_z_mm``, ``right_atrium`` -> ``ivc.right_atrium_z_mm`` (findings 1.1),
  ``tumor_caudal`` + ``tumor_cranial`` -> ``ivc.tumor_z_mm`` ([low, high] of the two; needs both).
  z is the landmark's patient z (LPS). The most recently placed landmark of a kind wins; removing
  it falls back to an earlier one or clears the field — again only while the
  field still comes from landmarks.

While the controller is read-only (a window on a study another window edits) the link writes
nothing: the fields stay as saved by the editing window, "Make target" is disabled and refused.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QMessageBox

from workstation.measure.model import Caliper, Landmark, LandmarkKind, Lesion3D, Measurement
from workstation.reasoning.rules import t_category

from .controller import ReviewController

__all__ = ["AUTO_METHODS", "GREATEST", "MeasurementLink", "is_target_flagged", "measurement_length_mm"]

#: ``x_sources`` ``method`` values written by the link; a field with another (or no) source is the reader's
AUTO_METHODS = ("caliper", "lesion", "landmark")
GREATEST = "greatest_dimension_mm"
TARGET_KEY = "target"
LESION_SOURCE = "3D lesion growing"


def measurement_length_mm(m: Measurement) -> float | None:
    """The greatest dimension a caliper or a 3D lesion gives, in mm."""
    if isinstance(m, Caliper):
        return m.length_mm
    if isinstance(m, Lesion3D):
        v = m.figures.get("greatest_dimension_mm")
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
        a, b = m.endpoints
        d = sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
        return d if d > 0 else None
    return None


def is_target_flagged(m: Measurement) -> bool | None:
    """A lesion's stored target choice: True, False, or None (not decided yet)."""
    v = m.figures.get(TARGET_KEY) if isinstance(m, Lesion3D) else None
    return None if v is None else bool(v >= 0.5)


def ask_question(parent: Any) -> Callable[[str, str], bool]:
    """A Yes/No QMessageBox (default No) parented to ``parent``."""
    def ask(title: str, text: str) -> bool:
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        answer = QMessageBox.question(parent, title, text, buttons, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes
    return ask


class MeasurementLink(QObject):
    """Keeps the measurement-derived findings fields in step with ``host.measurements``.

    Signal ``lesions_changed()``: a lesion was added, removed, re-measured or made the target.
    ``confirm(title, text) -> bool`` asks the reader (a QMessageBox; tests replace it)."""

    lesions_changed = pyqtSignal()

    def __init__(self, host: Any, controller: ReviewController) -> None:
        super().__init__(controller)
        self.host, self.c = host, controller
        self.confirm: Callable[[str, str], bool] = ask_question(getattr(host, "dialog_parent", lambda: None)())
        store = host.measurements
        store.added.connect(self._on_added)
        store.changed.connect(self._on_measurement)
        store.removed.connect(self._on_measurement)
        self.act_make_target = None
        if hasattr(host, "new_action"):
            self.act_make_target = host.new_action(
                "Make target", "Shift+T", "Make the selected lesion the mass reported (target lesion)",
                slot=self.make_selected_target)
            if hasattr(host, "add_menu_action"):
                host.add_menu_action("&Review", self.act_make_target)
        controller.read_only_changed.connect(self._read_only_changed)
        self.refresh()

    def _read_only_changed(self, on: bool) -> None:
        if self.act_make_target is not None:
            self.act_make_target.setEnabled(not on)

    def _refuse(self, what: str) -> bool:
        """True (and the reader told) while the findings are read-only."""
        if self.c.read_only:
            self.host.status(f"{what}: this window is read-only", 6000)
        return self.c.read_only

    # -- describing -----------------------------------------------------------------------
    def _series_name(self, m: Measurement) -> str:
        vol = self.host.volume(m.series_uid) if m.series_uid else None
        return (vol.description or vol.modality) if vol is not None else ""

    def _describe(self, what: str, m: Measurement) -> str:
        name = m.label or m.kind
        series = self._series_name(m)
        return f"{what} '{name}'" + (f" on {series}" if series else "")

    def _source(self, m: Measurement) -> dict[str, Any]:
        if isinstance(m, Caliper):
            return {"text": self._describe("caliper", m), "method": "caliper", "measurement_id": m.id}
        series = self._series_name(m)
        text = f"{LESION_SOURCE} ('{m.label or 'lesion'}'" + (f" on {series})" if series else ")")
        return {"text": text + ", target lesion", "method": "lesion", "measurement_id": m.id}

    # -- rules ----------------------------------------------------------------------------
    def is_auto(self, path: str) -> bool:
        """True when ``path`` is unset or was filled from a measurement (its source names a
        ``measurement_id``) — not typed by the reader."""
        if self.c.value(path) is None:
            return True
        src = self.c.source_of(path)
        return isinstance(src, dict) and (src.get("method") in AUTO_METHODS or "measurement_id" in src)

    def lesions(self) -> list[Lesion3D]:
        return [m for m in self.host.measurements.items() if isinstance(m, Lesion3D)]

    def target_lesion(self) -> Lesion3D | None:
        """The lesion flagged as target, else the first lesion whose choice is not 'no'."""
        lesions = self.lesions()
        flagged = [m for m in lesions if is_target_flagged(m) is True]
        if flagged:
            return flagged[-1]
        return next((m for m in lesions if is_target_flagged(m) is None), None)

    def source_measurement(self) -> Measurement | None:
        """What ``greatest_dimension_mm`` follows: the target lesion, else the largest caliper."""
        target = self.target_lesion()
        if target is not None and measurement_length_mm(target):
            return target
        calipers = [(measurement_length_mm(m) or 0.0, m) for m in self.host.measurements.items()
                    if isinstance(m, Caliper)]
        calipers = [c for c in calipers if c[0] > 0]
        return max(calipers, key=lambda c: c[0])[1] if calipers else None

    # -- store events -----------------------------------------------------------------------
    def _on_added(self, m: Measurement) -> None:
        # read-only: nothing is decided or written; the panel still lists the lesions shown
        if not self.c.read_only and isinstance(m, Lesion3D) and is_target_flagged(m) is None:
            self._decide_new_lesion(m)
        self._on_measurement(m)

    def _on_measurement(self, m: Measurement) -> None:
        # read-only: refresh_greatest and refresh_ivc write nothing
        if isinstance(m, (Caliper, Lesion3D)):
            self.refresh_greatest(m)
        elif isinstance(m, Landmark):
            self.refresh_ivc()
        if isinstance(m, Lesion3D):
            self.lesions_changed.emit()

    def _decide_new_lesion(self, m: Lesion3D) -> None:
        """A lesion just grown: the target when it is the first, else lesion 2, 3 … (see module)."""
        others = [x for x in self.lesions() if x.id != m.id and is_target_flagged(x) is True]
        if others:
            self._flag(m, False)
            self.host.status(f"{m.label or 'Lesion'} kept as another lesion; the target stays "
                             f"{others[-1].label or 'the first lesion'} ('Make target' to change)", 10000)
            return
        self._flag(m, self._accept_t_change(m))

    def _accept_t_change(self, m: Lesion3D) -> bool:
        """True unless taking ``m`` as the mass changes a known T category and the reader says no."""
        new = measurement_length_mm(m)
        old = self.c.value(GREATEST)
        if new is None or old is None or not self.is_auto(GREATEST):
            return True
        t_old, t_new = t_category(float(old)), t_category(new)
        if t_old == t_new:
            return True
        return self.confirm("Change the T category?",
                            f"{m.label or 'This lesion'} ({new:.1f} mm) as the mass changes the greatest "
                            f"dimension from {float(old):g} mm ({t_old}) to {new:.1f} mm ({t_new}).\n\n"
                            "Use it as the target lesion?")

    def _flag(self, m: Lesion3D, target: bool) -> None:
        """Store the choice in the record itself (in place, so an undo/redo of the add keeps it)."""
        if is_target_flagged(m) is target:
            return
        m.figures[TARGET_KEY] = 1.0 if target else 0.0
        if self.host.measurements.get(m.id) is m:
            self.host.measurements.update(m, undoable=False)

    # -- the reader's choice ------------------------------------------------------------------
    def make_target(self, lesion_id: str, ask: bool = True) -> bool:
        """Make a lesion the mass reported; asks first when the T category would change."""
        m = self.host.measurements.get(lesion_id)
        if not isinstance(m, Lesion3D) or self._refuse("Make target"):
            return False
        if is_target_flagged(m) is True:
            return True
        if ask and not self._accept_t_change(m):
            return False
        for other in self.lesions():
            if other.id != m.id and is_target_flagged(other) is not False:
                self._flag(other, False)
        self._flag(m, True)
        self.refresh_greatest()
        self.host.status(f"{m.label or 'Lesion'} is the target lesion (the mass reported)", 6000)
        return True

    def clear_target(self) -> None:
        """No lesion is the mass: the greatest dimension follows the largest caliper."""
        if self._refuse("Target lesion"):
            return
        for m in self.lesions():
            self._flag(m, False)
        self.refresh_greatest()

    def make_selected_target(self) -> None:
        mid = self.host.measurements.selected_id()
        m = self.host.measurements.get(mid) if mid else None
        if not isinstance(m, Lesion3D):
            self.host.status("Make target: select a grown lesion in the measurement list first", 6000)
            return
        self.make_target(m.id)

    # -- fields -------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_greatest()
        self.refresh_ivc()

    def refresh_greatest(self, trigger: Measurement | None = None, force: bool = False) -> None:
        """Set ``greatest_dimension_mm`` from the target lesion or the largest caliper.

        ``force``: the reader asked for the measurements to decide again (overrides a typed value)."""
        if self.c.read_only:
            if force:
                self._refuse("Use measurements")
            return
        m = self.source_measurement()
        v = None if m is None else measurement_length_mm(m)
        if not force and not self.is_auto(GREATEST):
            if trigger is not None and m is not None and m.id == trigger.id and v is not None:
                self.host.status(f"Greatest dimension kept as typed ({self.c.value(GREATEST):g} mm); "
                                 f"{v:.1f} mm measured — 'use measurements' to take it", 8000)
            return
        if m is None or v is None:
            if self.c.value(GREATEST) is not None:
                self.c.set_field(GREATEST, None)
            return
        src = self._source(m)
        if self.c.value(GREATEST) != round(v, 1) or self.c.source_of(GREATEST) != src:
            self.c.set_field(GREATEST, round(v, 1), source=src)

    def _latest(self, kind: str) -> Landmark | None:
        found = [m for m in self.host.measurements.items()
                 if isinstance(m, Landmark) and m.landmark == kind]
        return found[-1] if found else None

    def refresh_ivc(self) -> None:
        """Set the ``ivc`` keys from the landmarks (see module doc)."""
        if self.c.read_only:
            return
        for key, kind in (("renal_vein_z_mm", LandmarkKind.RENAL_VEIN.value),
                          ("hepatic_vein_z_mm", LandmarkKind.HEPATIC_VEIN.value),
                          ("right_atrium_z_mm", LandmarkKind.RIGHT_ATRIUM.value)):
            self._refresh_level(key, kind)
        self._refresh_tumour()

    def _refresh_level(self, key: str, kind: str) -> None:
        path = f"ivc.{key}"
        if not self.is_auto(path):
            return
        lm = self._latest(kind)
        if lm is None:
            if self.c.value(path) is not None:
                self.c.set_ivc(key, None)
            return
        src = {"text": self._describe("landmark", lm), "method": "landmark", "measurement_id": lm.id}
        if self.c.value(path) != round(lm.point[2], 2) or self.c.source_of(path) != src:
            self.c.set_ivc(key, round(lm.point[2], 2), source=src)

    def _refresh_tumour(self) -> None:
        path = "ivc.tumor_z_mm"
        if not self.is_auto(path):
            return
        lo = self._latest(LandmarkKind.TUMOR_CAUDAL.value)
        hi = self._latest(LandmarkKind.TUMOR_CRANIAL.value)
        if lo is None or hi is None:
            if self.c.value(path) is not None:
                self.c.set_ivc("tumor_z_mm", None)
            return
        z = sorted((round(lo.point[2], 2), round(hi.point[2], 2)))
        src = {"text": f"landmarks '{lo.label or 'caudal end'}' and '{hi.label or 'cranial end'}'",
               "method": "landmark", "measurement_id": lo.id, "measurement_id_2": hi.id}
        if self.c.value(path) != z or self.c.source_of(path) != src:
            self.c.set_ivc("tumor_z_mm", z, source=src)

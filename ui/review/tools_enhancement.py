"""In-viewer enhancement measurement (H): the same sphere on the pre- and post-contrast series.

Click a point in any viewport: the pre/post pair is the study's hanging-protocol pair
(``StudyController.pair``, the one "Compare" shows; the contrast phase from the one classifier,
:mod:`workstation.phase`), or for MR two series of the clicked modality told apart by their
description; when none is found a small dialog asks which. Then
:func:`workstation.measure.enhancement.measure_enhancement` runs on a worker thread (post registered
to pre around the point), and the result goes

* to the status bar and a small result card beside the click (pre / post mean ± SD, n; the sphere
  radius used; shift; delta or percent; call; a warning when the SD is large or the sphere
  straddles a boundary),
* into ``host.measurements`` as two ``SphereROI`` records (pre at the point, post at the point plus
  the registration shift),
* into the findings: the mass ROI fills ``enhancement_delta_hu`` (CT) or ``enhancement_percent``
  (MR); with the target "intraluminal defect" (Shift-click, or the Shift+H toggle) it fills
  ``thrombus_delta_hu``. The source says where: series, point, radius, shift.

``[`` / ``]`` change the largest sphere radius while the tool is current (default 10 mm). The
sphere adapts to what it sits in: it shrinks to stay inside the region of similar attenuation
around the point on both series (inside an opacified vein it stays in the thrombus; see
:func:`workstation.measure.enhancement.measure_enhancement`).
"""
from __future__ import annotations

from typing import Any

from PyQt6.QtCore import QObject, QPoint, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel

from workstation.measure.enhancement import EnhancementResult, measure_enhancement
from workstation.volume import Volume

from ..display import contrast_phase, hanging_pair, is_ct
from ..tools import Tool
from .tools_lesion import Worker

__all__ = ["EnhancementTools", "EnhancementTool", "find_pair",
           "PairDialog", "MASS", "DEFECT"]

MASS, DEFECT = "mass", "defect"
RADIUS_MM = (3.0, 10.0, 30.0)  # min, default, max of the largest radius (the sphere may adapt smaller)
#: how the result's flags read on the card, the status line and the field's source
FLAG_WORDS = {"high_sd": "large SD: the sphere holds mixed tissue",
              "straddles_boundary": "the sphere straddles a boundary"}
CARD_MS = 12000


def find_pair(host, clicked: Volume | None) -> tuple[Volume, Volume] | None:
    """(pre, post) for the clicked series: the study's hanging pair for CT; for MR two series of
    that modality whose descriptions say non-contrast / contrast. None when not found."""
    loaded = set(host.loaded_series())
    vols = [v for uid, v in host.volumes().items() if uid in loaded]
    if clicked is None or is_ct(clicked):
        pair = host.study_pair() or hanging_pair(vols)
        if pair is not None:
            return pair
        if clicked is None:
            return None
    same = [v for v in vols if v.modality == clicked.modality and v.unit == clicked.unit]
    pre = [v for v in same if contrast_phase(v) == "pre"]
    post = [v for v in same if contrast_phase(v) == "post"]
    if pre and post:
        # prefer the pair that contains the clicked series
        a = clicked if clicked in pre else pre[0]
        b = clicked if clicked in post else post[0]
        return a, b
    return None


class PairDialog(QDialog):
    """Asks which series is pre- and which post-contrast."""

    def __init__(self, volumes: list[Volume], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Enhancement: which series?")
        self.volumes = volumes
        lay = QFormLayout(self)
        lay.addRow(QLabel("No pre/post-contrast pair was recognised. Choose the two series:"))
        self.pre = QComboBox()
        self.post = QComboBox()
        for v in volumes:
            text = f"{v.modality} {v.description or v.series_uid}"
            self.pre.addItem(text)
            self.post.addItem(text)
        if len(volumes) > 1:
            self.post.setCurrentIndex(1)
        lay.addRow("Pre-contrast", self.pre)
        lay.addRow("Post-contrast", self.post)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addRow(bb)

    def chosen(self) -> tuple[Volume, Volume] | None:
        a, b = self.pre.currentIndex(), self.post.currentIndex()
        if a < 0 or b < 0 or a == b:
            return None
        return self.volumes[a], self.volumes[b]


class EnhancementTool(Tool):
    id, title, shortcut = "enhancement", "Enhancement", "H"
    tooltip = ("Enhancement: click the solid mass (Shift-click: an intraluminal filling defect); the "
               "same sphere on pre and post after registration; [ and ] change the radius (H)")

    def __init__(self, tools: EnhancementTools) -> None:
        self.tools = tools

    def adjust_radius(self, step: int) -> None:
        self.tools.set_radius(self.tools.radius_mm + step)

    def click(self, ev) -> None:
        shift = bool(ev.modifiers & Qt.KeyboardModifier.ShiftModifier)
        target = DEFECT if (shift or self.tools.target == DEFECT) else MASS
        self.tools.measure_at(ev.volume, tuple(float(v) for v in ev.point), target, ev.viewport)


class EnhancementTools(QObject):
    """Signals: ``measured(result, target)``, ``failed(message)``."""

    measured = pyqtSignal(object, str)
    failed = pyqtSignal(str)

    def __init__(self, host, controller=None) -> None:
        super().__init__(host)
        self.host, self.controller = host, controller
        self.worker = Worker(self)
        self.radius_mm = RADIUS_MM[1]
        self.target = MASS
        self.pair_override: tuple[Volume, Volume] | None = None
        self.results: list[dict[str, Any]] = []   # {"result", "target", "pre", "post", "ids"}
        self._gen = 0
        self._card: QLabel | None = None
        self._card_timer = QTimer(self)
        self._card_timer.setSingleShot(True)
        self._card_timer.timeout.connect(self._hide_card)
        self.tool = EnhancementTool(self)
        host.add_tool(self.tool)
        self.act_target = host.new_action("Enhancement target: intraluminal defect", "Shift+H",
                                          tip="Enhancement tool measures an intraluminal filling defect "
                                              "(thrombus_delta_hu) instead of the mass (Shift+H)",
                                          checkable=True)
        self.act_target.toggled.connect(lambda on: self.set_target(DEFECT if on else MASS))

    # -- options -----------------------------------------------------------------------------
    def set_radius(self, r: float) -> None:
        lo, _, hi = RADIUS_MM
        self.radius_mm = float(min(hi, max(lo, r)))
        self.host.status(f"Enhancement sphere radius up to {self.radius_mm:.0f} mm "
                         "(smaller where the region around the point is)", 3000)

    def set_target(self, target: str) -> None:
        self.target = DEFECT if target == DEFECT else MASS
        if self.act_target.isChecked() != (self.target == DEFECT):
            self.act_target.setChecked(self.target == DEFECT)
        self.host.status("Enhancement target: " + ("intraluminal filling defect (thrombus)"
                                                   if self.target == DEFECT else "mass"), 4000)

    def last(self) -> dict[str, Any] | None:
        """The latest mass measurement (what the report's enhancement line uses), else the latest."""
        mass = [r for r in self.results if r["target"] == MASS]
        found = mass or self.results
        return found[-1] if found else None

    def close_study(self) -> None:
        """Another study is being opened: forget its results and chosen pair; a measurement still
        running is ignored when it finishes."""
        self._gen += 1
        self.results.clear()
        self.pair_override = None
        self._card_timer.stop()
        self._hide_card()

    # -- measuring ---------------------------------------------------------------------------
    def choose_pair(self, clicked: Volume | None) -> tuple[Volume, Volume] | None:
        if self.pair_override is not None:
            return self.pair_override
        pair = find_pair(self.host, clicked)
        if pair is not None:
            return pair
        loaded = set(self.host.loaded_series())
        vols = [v for uid, v in self.host.volumes().items() if uid in loaded]
        if len(vols) < 2:
            return None
        dlg = PairDialog(vols, self.host.dialog_parent())
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return None
        pair = dlg.chosen()
        if pair is not None:
            self.pair_override = pair  # ask once per study
        return pair

    def measure_at(self, clicked: Volume | None, xyz, target: str = MASS, viewport=None) -> None:
        pair = self.choose_pair(clicked)
        if pair is None:
            msg = "Enhancement: no pre- and post-contrast series to compare"
            self.host.status(msg, 8000)
            self.failed.emit(msg)
            return
        pre, post = pair
        radius = self.radius_mm
        self._gen += 1
        gen = self._gen
        xyz = tuple(float(v) for v in xyz)
        self.host.status(f"Enhancement: registering '{post.description}' to '{pre.description}' "
                         f"around ({xyz[0]:.1f}, {xyz[1]:.1f}, {xyz[2]:.1f}) mm …")
        self.worker.run(lambda: measure_enhancement(pre, post, xyz, radius_mm=radius),
                        lambda res: self._done(gen, res, target, pre, post, viewport),
                        lambda msg: self._failed(gen, msg))

    def _failed(self, gen: int, message: str) -> None:
        if gen != self._gen:
            return
        self.host.status(f"Enhancement: {message}", 15000)
        self.failed.emit(message)

    def _done(self, gen: int, res: EnhancementResult, target: str, pre: Volume, post: Volume, viewport) -> None:
        if gen != self._gen:
            return
        store = self.host.measurements
        n = 1 + sum(1 for r in self.results if r["target"] == target)
        base = ("Enhancement" if target == MASS else "Defect") + f" {n}"
        s_pre, s_post = res.to_measurements(pre.series_uid, post.series_uid)
        s_pre.label, s_post.label = f"{base} pre", f"{base} post"
        store.add(s_pre)
        store.add(s_post)
        self.results.append({"result": res, "target": target, "pre": pre, "post": post,
                             "ids": (s_pre.id, s_post.id)})
        text = self.summary(res)
        self.host.status(f"{base}: {text}", 30000)
        self._show_card(viewport, res, f"{base}\n" + self.summary(res, multiline=True))
        self._fill_controller(res, target, pre, post, s_pre.id)
        self.measured.emit(res, target)

    @staticmethod
    def summary(res: EnhancementResult, multiline: bool = False) -> str:
        unit = "HU" if res.modality == "CT" else ""
        p, q = res.pre, res.post

        def roi(name, s):
            return f"{name} {s['mean']:.1f} ± {s['sd']:.1f} {unit} (n={int(s['n'])})".replace("  ", " ")

        if res.modality == "CT":
            d = f"Δ {res.delta_hu:+.1f} HU"
        else:
            d = f"enhancement {res.percent:+.1f} %"
        shift = ", ".join(f"{v:+.1f}" for v in res.shift_mm)
        reg = f"shift ({shift}) mm" + ("" if res.registered else " (registration not reliable)")
        call = res.call.replace("_", " ")
        parts = [roi("pre", p), roi("post", q), EnhancementTools.radius_text(res), reg, f"{d} → {call}"]
        parts += [f"⚠ {FLAG_WORDS.get(f, f)}" for f in res.flags]
        return "\n".join(parts) if multiline else "; ".join(parts)

    @staticmethod
    def radius_text(res: EnhancementResult) -> str:
        if res.adapted:
            return f"sphere r {res.radius_mm:g} mm (up to {res.radius_requested_mm:g}: kept in the region)"
        return f"sphere r {res.radius_mm:g} mm"

    def _fill_controller(self, res: EnhancementResult, target: str, pre: Volume, post: Volume, mid: str) -> None:
        c = self.controller
        if c is None:
            return
        at = ", ".join(f"{v:.1f}" for v in res.at_mm)
        shift = ", ".join(f"{v:+.1f}" for v in res.shift_mm)
        what = "intraluminal defect" if target == DEFECT else "mass"
        flags = "".join(f"; ⚠ {FLAG_WORDS.get(f, f)}" for f in res.flags)
        src = {"text": f"{self.radius_text(res)} on the {what} at ({at}) mm LPS, "
                       f"'{pre.description}' → '{post.description}', post shifted ({shift}) mm, "
                       f"SD {res.pre['sd']:.0f} / {res.post['sd']:.0f}{flags}",
               "measurement_id": mid}
        if target == DEFECT:
            if res.modality != "CT":
                self.host.status("Enhancement: thrombus_delta_hu is a CT field; MR result not filled in", 8000)
                return
            c.set_field("thrombus_delta_hu", round(float(res.delta_hu or 0.0), 1), source=src)
        elif res.modality == "CT":
            c.set_field("enhancement_delta_hu", round(float(res.delta_hu or 0.0), 1), source=src)
        else:
            c.set_field("enhancement_percent", round(float(res.percent or 0.0), 1), source=src)

    # -- result card ---------------------------------------------------------------------------
    def _show_card(self, viewport, res: EnhancementResult, text: str) -> None:
        if viewport is None:
            return
        self._hide_card()
        card = QLabel(text, viewport)
        card.setObjectName("enhancement_card")
        color = {"enhancing": "#5fd35f", "equivocal": "#e0c040"}.get(res.call, "#d0d0d0")
        if res.flags:
            color = "#ff9d4f"  # a warning outranks the call's colour
        card.setStyleSheet(f"QLabel {{ background: rgba(20,20,24,220); color: #e8e8e8; border: 1px solid {color};"
                           " border-radius: 4px; padding: 5px; }")
        card.adjustSize()
        try:
            p = viewport.patient_to_widget(res.at_mm)
            pos = QPoint(int(p.x()) + 18, int(p.y()) - card.height() // 2)
        except Exception:
            pos = QPoint(10, 40)
        w = viewport.width()
        pos.setX(max(4, min(pos.x(), w - card.width() - 4)))
        pos.setY(max(4, pos.y()))
        card.move(pos)
        card.show()
        self._card = card
        self._card_timer.start(CARD_MS)

    def _hide_card(self) -> None:
        if self._card is not None:
            self._card.deleteLater()
            self._card = None

    def card_text(self) -> str:
        return self._card.text() if self._card is not None else ""

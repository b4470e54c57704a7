"""IVC landmark tools: renal-vein level, hepatic-vein level, tumour caudal and cranial ends, and the
cavo-atrial junction (right atrium).

Five point tools (Alt+1 … Alt+5, in the tool bar): a click in any viewport adds a ``Landmark``
record (``workstation.measure.model.LandmarkKind``) at the clicked patient point to
``host.measurements``; placing a kind again moves it (the old one is removed in the same undo step).
The review plugin's measurement link turns the landmarks into ``ivc.renal_vein_z_mm``,
``ivc.hepatic_vein_z_mm``, ``ivc.right_atrium_z_mm`` (findings 1.1) and ``ivc.tumor_z_mm`` (its
rule: the latest landmark of a kind; a typed value wins), so the segment call and (for a renal
primary) the thrombus level appear in the panel, and the distances from each landmark in the
assessment's ``ivc_extent`` and the report. The link is the one writer of those fields: the tools
only place landmarks.

Drawing: on coronal and sagittal views each level is a labelled horizontal line at its patient z
(in every series of the same frame of reference); on the axial view the landmark's own marker is
drawn by the host's measurement layer on its slice.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, Qt

from workstation.measure.model import Landmark, LandmarkKind

from ..tools import PointTool

__all__ = ["IVC_TOOLS", "IvcTools"]

#: kind -> (tool id, title, shortcut, colour)
IVC_TOOLS: dict[str, tuple[str, str, str, tuple[int, int, int]]] = {
    LandmarkKind.RENAL_VEIN.value: ("ivc_renal_vein", "Renal veins", "Alt+1", (90, 170, 255)),
    LandmarkKind.HEPATIC_VEIN.value: ("ivc_hepatic_vein", "Hepatic veins", "Alt+2", (80, 230, 200)),
    LandmarkKind.TUMOR_CAUDAL.value: ("ivc_tumor_caudal", "Tumour caudal end", "Alt+3", (255, 120, 160)),
    LandmarkKind.TUMOR_CRANIAL.value: ("ivc_tumor_cranial", "Tumour cranial end", "Alt+4", (255, 160, 90)),
    LandmarkKind.RIGHT_ATRIUM.value: ("ivc_right_atrium", "Cavo-atrial junction", "Alt+5", (190, 150, 255)),
}
_TIPS = {
    LandmarkKind.RENAL_VEIN.value: "IVC: click the level where the renal veins enter the IVC",
    LandmarkKind.HEPATIC_VEIN.value: "IVC: click the level of the hepatic-vein confluence",
    LandmarkKind.TUMOR_CAUDAL.value: "IVC: click the caudal end of the intraluminal tumour",
    LandmarkKind.TUMOR_CRANIAL.value: "IVC: click the cranial end of the intraluminal tumour",
    LandmarkKind.RIGHT_ATRIUM.value: "IVC: click the cavo-atrial junction, where the IVC enters the right atrium",
}


class IvcOverlay:
    """Horizontal level lines of the IVC landmarks in one coronal / sagittal viewport."""

    def __init__(self, tools: IvcTools, vp) -> None:
        self.tools, self.vp = tools, vp
        self.items: dict[str, tuple[pg.InfiniteLine, pg.TextItem]] = {}
        vp.layers.append(self)

    def volume_changed(self, _vp=None) -> None:
        self.update()

    def slice_changed(self, _vp=None) -> None:
        pass  # a level line does not depend on the slice

    def _shares_frame(self, m: Landmark) -> bool:
        v = self.vp.volume
        if v is None:
            return False
        if m.series_uid == v.series_uid:
            return True
        other = self.tools.host.volume(m.series_uid)
        f1 = (v.meta or {}).get("frame_of_reference_uid")
        f2 = (other.meta or {}).get("frame_of_reference_uid") if other is not None else None
        return bool(f1) and f1 == f2

    def update(self) -> None:
        vp = self.vp
        wanted = {}
        if vp.volume is not None and vp.view in ("coronal", "sagittal"):
            for m in self.tools.landmarks():
                if self._shares_frame(m):
                    wanted[m.id] = m
        for mid in list(self.items):
            if mid not in wanted:
                line, text = self.items.pop(mid)
                vp.vb.removeItem(line)
                vp.vb.removeItem(text)
        for mid, m in wanted.items():
            color = IVC_TOOLS[m.landmark][3]
            if mid not in self.items:
                line = pg.InfiniteLine(angle=0, movable=False,
                                       pen=pg.mkPen(color=color + (220,), width=1.4, style=Qt.PenStyle.DashLine))
                line.setZValue(52)
                text = pg.TextItem(color=color, anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 140))
                text.setZValue(60)
                vp.vb.addItem(line, ignoreBounds=True)
                vp.vb.addItem(text, ignoreBounds=True)
                self.items[mid] = (line, text)
            line, text = self.items[mid]
            s = vp.patient_to_scene(np.asarray(m.point, float))
            line.setPos(float(s[1]))
            text.setText(f"{m.label or IVC_TOOLS[m.landmark][1]}  z {m.point[2]:.1f}")
            x0 = vp.mapping.image_rect()[0]
            text.setPos(float(x0), float(s[1]))

    def level_y(self, mid: str) -> float | None:
        it = self.items.get(mid)
        return None if it is None else float(it[0].value())


class IvcTools(QObject):
    def __init__(self, host, controller=None) -> None:
        super().__init__(host)
        self.host, self.controller = host, controller
        self.store = host.measurements
        self.tools: dict[str, PointTool] = {}
        for kind, (tid, title, key, _c) in IVC_TOOLS.items():
            t = PointTool(tid, title, lambda vol, xyz, ev, k=kind: self.place(k, vol, xyz),
                          shortcut=key, tooltip=_TIPS[kind])
            self.tools[kind] = t
            host.add_tool(t)
        self.overlays = {id(vp): IvcOverlay(self, vp) for vp in host.viewer.all_viewports()}
        for sig in (self.store.added, self.store.changed, self.store.removed):
            sig.connect(self._store_changed)

    def landmarks(self) -> list[Landmark]:
        return [m for m in self.store.items() if isinstance(m, Landmark) and m.landmark in IVC_TOOLS]

    def place(self, kind: str, volume, xyz) -> Landmark | None:
        if volume is None:
            return None
        title = IVC_TOOLS[kind][1]
        x, y, z = (float(v) for v in xyz)
        lm = Landmark(series_uid=volume.series_uid, label=title, landmark=kind, point=(x, y, z))
        old = [m for m in self.landmarks() if m.landmark == kind]
        st = self.store.undo_stack
        st.beginMacro(f"place {title}")
        try:
            for m in old:
                self.store.remove(m.id)
            self.store.add(lm)
        finally:
            st.endMacro()
        self.host.status(f"{title}: z {lm.point[2]:.1f} mm (LPS)", 6000)
        return lm

    def _store_changed(self, m) -> None:
        if isinstance(m, Landmark):
            for ov in self.overlays.values():
                ov.update()

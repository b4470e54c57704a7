"""Review core: the findings document, rules (T, stage, IVC, calls), knowledge base and ranking.

Public API::

    from workstation.reasoning import Findings, load_findings, assess
    f = Findings.from_dict(doc)          # validates (FindingsError names the field)
    a = assess(f)                        # Assessment; a.to_dict() == `workstation assess --json`
"""
from __future__ import annotations

from .findings import CHECKLIST_GROUPS, CHECKLIST_IDS, DIFFERENTIAL_IDS, Findings, IVCExtent, load_findings
from .ranking import Assessment, assess

__all__ = ["Assessment", "CHECKLIST_GROUPS", "CHECKLIST_IDS", "DIFFERENTIAL_IDS", "Findings", "IVCExtent",
           "assess", "load_findings"]

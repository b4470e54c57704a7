"""Review core: the findings document, rules (T, stage, IVC, calls), knowledge base and ranking.

Public API::

    from workstation.reasoning import Findings, load_findings, assess
    f = Findings.from_dict(doc)          # validates (FindingsError names the field); rp-findings/1 or 1.1
    a = assess(f)                        # Assessment; a.to_dict() == `workstation assess --json`
    a.staging                            # Staging: applies / basis / note, cT cN cM labels, size_text
    a.recommendations                    # (Recommendation(id, text, reason, source, urgency), ...)
    a.ivc_extent                         # dict (mm from renal/hepatic veins, right atrium; level) or None
    a.differentials[0].likelihood_word   # "most likely"; one entry has id OTHER_ID ("other")

The interface is documented in docs/findings.md.
"""
from __future__ import annotations

from .findings import CHECKLIST_GROUPS, CHECKLIST_IDS, DIFFERENTIAL_IDS, Findings, IVCExtent, load_findings
from .knowledge import OTHER_ID
from .ranking import Assessment, assess
from .recommendations import Recommendation
from .staging import Staging, size_text

__all__ = ["Assessment", "CHECKLIST_GROUPS", "CHECKLIST_IDS", "DIFFERENTIAL_IDS", "Findings", "IVCExtent",
           "OTHER_ID", "Recommendation", "Staging", "assess", "load_findings", "size_text"]

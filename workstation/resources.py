"""Where the project's data lives: knowledge base, checklist, presets, codes, sample study."""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = Path(os.environ.get("WORKSTATION_RESOURCES", ROOT / "resources"))
SAMPLE_DICOM = Path(os.environ.get("WORKSTATION_SAMPLE", ROOT / "sample_dicom"))


def resource_path(*parts: str) -> Path:
    return RESOURCES.joinpath(*parts)


@lru_cache(maxsize=None)
def load_json(*parts: str):
    """Parsed JSON resource (cached; treat the result as read-only)."""
    with open(resource_path(*parts), encoding="utf-8") as fh:
        return json.load(fh)

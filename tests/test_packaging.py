"""Packaging: the wheel's package list matches the folders, data is found through the package, and the
core keeps its import contract (no Qt, no ui)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from workstation import resources

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _package_folders() -> set[str]:
    found = set()
    for top in ("workstation", "ui"):
        for init in (ROOT / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_folder_is_listed_for_the_wheel():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    mapped = set(PYPROJECT["tool"]["setuptools"]["package-dir"])
    assert _package_folders() == listed - mapped, "pyproject.toml [tool.setuptools] packages is out of date"


def test_mapped_data_folders_exist_and_hold_what_the_code_reads():
    dirs = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert (ROOT / dirs["workstation.data"] / "checklist.json").is_file()
    assert (ROOT / dirs["workstation.data.sample"] / "generate.py").is_file()
    assert resources.resource_path("checklist.json").is_file()
    assert resources.load_json("presets.json")


def test_sample_is_generated_into_the_cache_when_the_package_carries_no_study(tmp_path, monkeypatch):
    sample = tmp_path / "pkg"
    sample.mkdir()
    for name in ("generate.py", "truth.json"):
        (sample / name).write_bytes((resources.ROOT / "sample_dicom" / name).read_bytes())
    monkeypatch.setattr(resources, "SAMPLE_DICOM", sample)
    monkeypatch.setenv("WORKSTATION_CACHE_DIR", str(tmp_path / "cache"))
    assert not resources.sample_study(generate=False).exists()
    study = resources.sample_study()
    assert study.parent == tmp_path / "cache" / "sample"
    shipped = resources.ROOT / "sample_dicom" / "study"
    made = sorted(p.relative_to(study) for p in study.rglob("*.dcm"))
    assert made == sorted(p.relative_to(shipped) for p in shipped.rglob("*.dcm"))
    one = made[len(made) // 2]
    assert (study / one).read_bytes() == (shipped / one).read_bytes()  # the generator is deterministic
    assert not [p for p in study.parent.parent.iterdir() if p.name.startswith(".sample-")]
    assert resources.sample_study() == study  # second call: no regeneration


def test_the_core_never_imports_qt_or_ui():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("import-linter is not installed: ./dev setup installs the test extra")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]

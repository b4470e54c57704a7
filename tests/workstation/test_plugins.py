"""Modules are found through the entry point group; a broken one is reported, not fatal."""
from importlib.metadata import EntryPoint

import workstation.plugins as plugins


def test_review_module_is_declared_in_the_installed_metadata():
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group=plugins.GROUP)}
    assert names.get("rp_review") == "ui.review.plugin:ReviewModule"


def test_broken_module_is_reported_and_skipped(monkeypatch):
    good = EntryPoint("good", "workstation.volume:Volume", plugins.GROUP)
    bad = EntryPoint("bad", "workstation.no_such_module:Thing", plugins.GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [bad, good])
    entries, problems = plugins.discover()
    assert [e.name for e in entries] == ["good"]
    assert len(problems) == 1 and "bad" in problems[0] and "no_such_module" in problems[0]

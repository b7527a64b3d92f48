"""The lock and the pinned ranges agree, so the README's install command resolves on a fresh machine."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT


def test_every_dependency_pin_is_inside_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, ver = line.partition("==")
            pins[canonicalize_name(name)] = ver.strip()
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    missing = [r.name for r in reqs if canonicalize_name(r.name) not in pins]
    outside = [
        f"{r} (lock: {pins[canonicalize_name(r.name)]})"
        for r in reqs
        if canonicalize_name(r.name) in pins
        and not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert not missing and not outside, (missing, outside)

"""One source of truth for dependencies: pyproject pins == lock == environment.yml."""

from __future__ import annotations

import re
import tomllib

import yaml

REQUIRED_EXACT = {"torch": "2.13.0", "jupyter-book": "1.0.4.post1"}


def _norm(name: str) -> str:
    name = name.split("[", 1)[0]  # extras ("dask[distributed]") pin the package itself
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[_norm(name)] = version.strip()
    return out


def test_pyproject_lock_and_environment_agree(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    direct = project["dependencies"] + [
        p for group in project["optional-dependencies"].values() for p in group
    ]
    assert all("==" in p for p in direct), "every direct dependency is pinned exactly"
    pyproject = _pins(direct)
    lock = _pins((root / "requirements.lock").read_text().splitlines())
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    environment = _pins(pip_section)
    for name, version in pyproject.items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"
        assert environment.get(name) == version, (
            f"{name}: pyproject {version}, environment.yml {environment.get(name)}")
    assert set(environment) == set(pyproject)
    for name, version in REQUIRED_EXACT.items():
        assert pyproject[name] == version
    assert "python=3.11" in env["dependencies"]

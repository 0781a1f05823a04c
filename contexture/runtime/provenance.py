"""Provenance shared by the pipeline and the results registry: commit, versions, platform."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["KEY_PACKAGES", "git_commit", "package_versions", "repo_root", "environment_summary",
           "compute_device"]

# Packages whose versions appear on the status page and in every results file.
KEY_PACKAGES = (
    "numpy", "scipy", "pandas", "scikit-learn", "torch", "matplotlib", "seaborn",
    "jupyter-book", "myst-nb", "sphinx-proof", "papermill", "jupytext",
)


def repo_root() -> Path:
    """The project root: the directory holding ``pyproject.toml`` above this package."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "contexture").is_dir():
            return parent
    return Path.cwd()


@functools.cache
def git_commit(short: bool = True) -> str:
    """The current commit (``+dirty`` if the work tree has changes), or ``CONTEXTURE_COMMIT``."""
    if os.environ.get("CONTEXTURE_COMMIT"):
        return os.environ["CONTEXTURE_COMMIT"]
    root = repo_root()
    try:
        args = ["git", "rev-parse", "--short=12" if short else "--verify", "HEAD"]
        sha = subprocess.run(args, cwd=root, capture_output=True, text=True, check=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty.strip() else "")


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` where absent)."""
    out: dict[str, str] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def environment_summary() -> dict[str, object]:
    """Python, platform and key package versions, as recorded on the status page."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
    }


@functools.cache
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compute_device() -> dict[str, str]:
    """The device and floating-point types a chapter computed with.

    ``device`` is the GPU torch used when torch is loaded and sees one, else the CPU (model and
    core count). Spectra are computed by numpy in float64; ``torch_dtype`` is torch's default
    floating type when torch was loaded (``"not used"`` otherwise).
    """
    torch = sys.modules.get("torch")
    device = f"cpu ({_cpu_model()}, {os.cpu_count()} cores)"
    torch_dtype = "not used"
    if torch is not None:
        torch_dtype = str(torch.get_default_dtype()).removeprefix("torch.")
        if torch.cuda.is_available():
            device = f"cuda ({torch.cuda.get_device_name(0)})"
    return {"device": device, "numpy_dtype": "float64", "torch_dtype": torch_dtype}

"""Installing the course where torch and torchvision already are (as in Colab) keeps them.

This asks pip, offline, what it would install for the course package into this
environment, which already has torch and torchvision: only the course package
itself. `tools/check_colab_install.sh` does the same in a fresh virtual
environment with an older torch, the way Colab has one.
"""

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_pip_keeps_the_installed_torch_and_torchvision(tmp_path):
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-index",
         "--no-build-isolation", "--report", str(report), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    would_install = {item["metadata"]["name"] for item in json.loads(report.read_text())["install"]}
    assert would_install == {"dlvision-coursekit"}, would_install


def test_dependencies_are_lower_bounds_only():
    try:
        import tomllib
    except ImportError:  # Python 3.10, the oldest claimed (tools/lower_bounds.py): tomli
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        assert "<" not in requirement and "==" not in requirement and "~=" not in requirement, (
            f"{requirement!r}: runtime dependencies take a lower bound only, so that installing "
            "the course in Colab never replaces Colab's torch")

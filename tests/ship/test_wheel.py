"""The wheel (what the image installs) holds the controller and nothing of the test sandbox.

The image runs `pip wheel .` on a build context of `controller/` and the project files
(`.dockerignore` is an allow-list), so the wheel built here from a copy of exactly that
context is the one the image gets. The sandbox, tests and benchmarks must not be in it, and
its one console script is the controller's (import-linter keeps `controller` from importing
the sandbox, moto or aiohttp, none of which the image has).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .artefacts import REPO

# What the Dockerfile copies into its build stage (besides requirements.lock).
CONTEXT = ("pyproject.toml", "README.md", "controller")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = tmp_path_factory.mktemp("context")
    for name in CONTEXT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, context / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out),
         str(context)],
        check=True, timeout=300,
    )  # fmt: skip
    [built] = out.glob("*.whl")
    return built


def test_the_wheel_holds_only_the_controller_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"controller"}
    assert not [n for n in names if "sandbox" in n], "the test sandbox leaked into the wheel"
    assert "controller/cli.py" in names and "controller/py.typed" in names


def test_the_console_script_is_the_controller_cli_only(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    [entry_points] = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
    text = archive.read(entry_points).decode()
    assert "alb-ingress-controller = controller.cli:main" in text
    assert "sandbox" not in text

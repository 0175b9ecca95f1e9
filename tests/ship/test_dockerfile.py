"""The Dockerfile's promises that hold without a Docker daemon.

hadolint lints it; dockerfile-parse splits it into stages, so each promise is checked on the
stage it concerns: a pinned base, a build stage, a final stage without compilers that runs as
a numeric non-root user with a read-only root filesystem, and the `run` entrypoint.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement

from .artefacts import DOCKERFILE, REPO, venv_tool

Instruction = dict[str, str]

COMPILERS = ("gcc", "g++", "clang", "build-essential", "cc ", "make ", "rustc", "cargo")


def instructions() -> list[Instruction]:
    parser = DockerfileParser(path=str(DOCKERFILE))
    return [{"instruction": i["instruction"], "value": i["value"]} for i in parser.structure]


def stages() -> list[list[Instruction]]:
    """Instructions grouped by stage, each group starting with its FROM."""
    grouped: list[list[Instruction]] = []
    for ins in instructions():
        if ins["instruction"] == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(ins)
    return grouped


def build_args() -> dict[str, str]:
    """Global ARG defaults (those before the first FROM)."""
    args: dict[str, str] = {}
    for ins in instructions():
        if ins["instruction"] == "FROM":
            break
        if ins["instruction"] == "ARG" and "=" in ins["value"]:
            key, _, value = ins["value"].partition("=")
            args[key.strip()] = value.strip()
    return args


def base_image(stage: list[Instruction]) -> str:
    image = stage[0]["value"].split()[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: build_args()[m.group(1)], image)


def final_stage() -> list[Instruction]:
    return stages()[-1]


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [venv_tool("hadolint"), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_an_unpinned_base(tmp_path: Path) -> None:
    # The lint check above can fail: an unpinned `latest` base is reported.
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM python:latest\nENTRYPOINT ["python"]\n')
    result = subprocess.run(
        [venv_tool("hadolint"), "--no-color", "-f", "json", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3007" in {finding["code"] for finding in json.loads(result.stdout)}


def test_multi_stage_on_one_pinned_slim_python() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    bases = {base_image(stage) for stage in all_stages}
    # One base for all stages: the venv built in the first runs unchanged in the last.
    assert len(bases) == 1, bases
    (base,) = bases
    # An exact patch version of 3.11 on slim Debian (a digest may follow).
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base


def test_final_stage_copies_the_built_venv_and_compiles_nothing() -> None:
    final = final_stage()
    copies = [i["value"] for i in final if i["instruction"] == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    # No package installs at all in the final stage, so no compilers either.
    runs = [i["value"] for i in final if i["instruction"] == "RUN"]
    assert runs == []
    text = " ".join(i["value"] for i in final).lower()
    assert not [c for c in COMPILERS if c in f"{text} "]


def test_dependencies_come_from_the_lock_as_wheels() -> None:
    builder = stages()[0]
    runs = [i["value"] for i in builder if i["instruction"] == "RUN"]
    lock_installs = [r for r in runs if "-r requirements.lock" in r]
    assert lock_installs, "the builder must install from requirements.lock"
    assert all("--only-binary=:all:" in r and "--no-deps" in r for r in lock_installs)
    # The project itself: a wheel built here, installed without resolving anything.
    assert any("pip wheel --no-deps" in r and "pip install --no-deps" in r for r in runs)


def test_lock_pins_every_runtime_dependency() -> None:
    pins: dict[str, str] = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"requirements.lock: {line!r} is not pinned with =="
            pins[name.lower().replace("_", "-")] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is a dependency but not in requirements.lock: make lock"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} violates {req}"


def test_runs_as_numeric_non_root_user() -> None:
    users = [i["value"] for i in final_stage() if i["instruction"] == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, users[-1]
    assert not gid or (gid.isdigit() and int(gid) != 0), users[-1]


def test_read_only_root_filesystem_friendly() -> None:
    env = " ".join(i["value"] for i in final_stage() if i["instruction"] == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp", "TMPDIR=/tmp"):
        assert setting in env, setting
    # Nothing declares a volume outside /tmp that would need to be writable.
    assert not [i for i in final_stage() if i["instruction"] == "VOLUME"]


def test_entrypoint_is_run() -> None:
    entrypoints = [i["value"] for i in final_stage() if i["instruction"] == "ENTRYPOINT"]
    assert entrypoints
    # Exec form: SIGTERM reaches the controller, so kopf stops cleanly.
    assert json.loads(entrypoints[-1]) == ["alb-ingress-controller", "run"]


def test_exposes_health_and_metrics_ports() -> None:
    exposed = {p for i in final_stage() if i["instruction"] == "EXPOSE" for p in i["value"].split()}
    assert exposed == {"8080", "8081"}


@pytest.mark.parametrize(
    "source", ["requirements.lock", "pyproject.toml", "README.md", "controller"]
)
def test_dockerignore_lets_the_copied_sources_through(source: str) -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignore, ".dockerignore should be an allow-list"
    assert f"!{source}" in ignore or f"!{source}/" in ignore
    assert any(source in i["value"] for i in instructions() if i["instruction"] == "COPY")

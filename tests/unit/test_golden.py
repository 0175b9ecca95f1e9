"""Golden tests: manifests in `golden/cases/`, the plan JSON they must give in `golden/expected/`.

`UPDATE_GOLDEN=1` rewrites the expected files from the current output instead of comparing;
review the diff (`git diff tests/unit/golden`) before committing it. A case may hold a
document `kind: PlanDefaults` whose other keys override the `ModelDefaults` for that case.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from controller.config import ModelDefaults
from controller.manifests import load_manifests
from controller.plan import plan_objects, render_json

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parents[2]
CASES = {case.stem: case for case in sorted((GOLDEN / "cases").glob("*.yaml"))}
CASES["example-2048"] = ROOT / "examples" / "2048"


def _defaults_and_objects(path: Path) -> tuple[ModelDefaults, list[dict[str, Any]]]:
    objects = load_manifests([path])
    overrides: dict[str, Any] = {"cluster_name": "golden"}
    kept = []
    for obj in objects:
        if obj.get("kind") == "PlanDefaults":
            overrides.update({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
        else:
            kept.append(obj)
    return ModelDefaults(**overrides), kept


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    defaults, objects = _defaults_and_objects(CASES[name])
    actual = render_json(plan_objects(objects, defaults))
    expected_file = GOLDEN / "expected" / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_file.write_text(actual)
    assert expected_file.exists(), f"no golden file for {name}; run with UPDATE_GOLDEN=1"
    assert json.loads(actual) == json.loads(expected_file.read_text())


def test_every_golden_file_has_a_case() -> None:
    stale = {p.stem for p in (GOLDEN / "expected").glob("*.json")} - set(CASES)
    assert not stale, f"golden files without a case: {sorted(stale)}"

"""scripts/kind-e2e.sh: it needs Docker and kind, which CI lacks, so it is linted instead.

shellcheck at its strictest severity that still makes sense (style included), plus the
promises the e2e fixtures rely on: the variables they read are exported to pytest.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.ship.artefacts import venv_tool

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kind-e2e.sh"


def _shellcheck(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("shellcheck"), "--severity=style", "--shell=bash", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_shellcheck_passes() -> None:
    result = _shellcheck(SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_catches_an_unquoted_variable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/tmp\n")
    result = _shellcheck(bad)
    assert result.returncode != 0
    assert "SC2086" in result.stdout


def test_the_script_is_strict_and_executable() -> None:
    text = SCRIPT.read_text()
    assert "set -euo pipefail" in text
    assert SCRIPT.stat().st_mode & 0o111


def test_the_script_hands_the_suite_what_its_fixtures_read() -> None:
    text = SCRIPT.read_text()
    for variable in ("E2E_KUBECONFIG", "E2E_CLUSTER_NAME", "E2E_AWS_ENDPOINT_URL"):
        assert f"{variable}=" in text, variable

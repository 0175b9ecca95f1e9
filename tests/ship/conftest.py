"""Shared fixture of the ship tests: one recorded controller run per session."""

from __future__ import annotations

import pytest

from .recorded_run import RecordedRun, run_controller


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> RecordedRun:
    return run_controller(tmp_path_factory.mktemp("recorded-run"))

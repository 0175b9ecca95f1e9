"""Fixtures for the end-to-end tests: one target per session, a controller per test.

`target` is the local sandbox (started once per session: a few seconds) or, with
`E2E_KUBECONFIG`, a real cluster (see `tests.e2e.harness`). `controller` is a fresh,
stopped controller for the test; `running` starts it. `scenario` gives the test unique
namespaces and cleans up after a failure; tests end with `scenario.finish()`, the leak scan.
All tests here are marked `e2e`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import config

from controller.sandbox.runner import Sandbox
from tests.e2e.harness import (
    Controller,
    DeploymentController,
    ProcessController,
    Scenario,
    Target,
)

# Short enough that a test of drift or of a missed event does not wait long.
RESYNC_SECONDS = "20"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    kubeconfig = os.environ.get("E2E_KUBECONFIG")
    if kubeconfig:
        api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        yield Target(
            api=api,
            cluster_name=os.environ["E2E_CLUSTER_NAME"],
            aws_endpoint_url=os.environ.get("E2E_AWS_ENDPOINT_URL") or None,
            make_controller=lambda _: DeploymentController(api),
        )
        api.close()
        return
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    sandbox = Sandbox(
        cluster_name="e2e", kubeconfig=tmp_path_factory.mktemp("sandbox") / "kubeconfig"
    ).start()
    api = config.new_client_from_config(config_file=str(sandbox.kubeconfig))  # type: ignore[no-untyped-call]
    env = {**sandbox.env(), "RESYNC_SECONDS": RESYNC_SECONDS}
    try:
        yield Target(
            api=api,
            cluster_name=sandbox.cluster_name,
            aws_endpoint_url=sandbox.aws_endpoint_url,
            make_controller=lambda path: ProcessController(env, path / "controller.log"),
            sandbox=sandbox,
        )
    finally:
        api.close()
        sandbox.stop()


@pytest.fixture
def controller(target: Target, tmp_path: Path) -> Iterator[Controller]:
    made = target.make_controller(tmp_path)
    try:
        yield made
    finally:
        logs = made.logs()
        made.stop()
        # Shown with the test's report when it fails.
        print(f"--- controller log ---\n{logs[-20000:]}")


@pytest.fixture
def running(controller: Controller) -> Controller:
    controller.start()
    return controller


@pytest.fixture
def scenario(target: Target, controller: Controller) -> Iterator[Scenario]:
    made = Scenario(target, controller)
    yield made
    # After `finish` nothing is left; after a failure, clean up with a controller running.
    if made.ingresses:
        controller.stop()
        controller.start()
    made.cleanup()

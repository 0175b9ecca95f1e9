"""The sandbox's commands (`python -m sandbox up`, `python -m sandbox demo`), run as a person
runs them: subprocesses, each with a control plane of its own."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubernetes import client, config

from sandbox.aws import aws_client
from tests.e2e.harness import REPO

CLI = [sys.executable, "-m", "sandbox"]


def test_sandbox_prints_exports_and_serves_until_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [*CLI, "up", "--kubeconfig", str(kubeconfig), "--nodes", "1",
         "--cluster-name", "cmdtest"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        while "CLUSTER_NAME" not in env:
            line = proc.stdout.readline()
            assert line, "the sandbox exited before printing its environment"
            assert line.startswith("export "), line
            name, value = line.removeprefix("export ").strip().split("=", 1)
            env[name] = value
        assert env["KUBECONFIG"] == str(kubeconfig.resolve())
        assert env["CLUSTER_NAME"] == "cmdtest"

        api = config.new_client_from_config(config_file=env["KUBECONFIG"])  # type: ignore[no-untyped-call]
        classes: list[Any] = client.NetworkingV1Api(api).list_ingress_class().items
        nodes: list[Any] = client.CoreV1Api(api).list_node().items
        api.close()
        assert [(c.metadata.name, c.spec.controller) for c in classes] == [
            ("alb", "ingress.k8s.aws/alb")
        ]
        assert len(nodes) == 1
        subnets = aws_client("ec2", env["AWS_ENDPOINT_URL"]).describe_subnets(
            Filters=[{"Name": "tag-key", "Values": ["kubernetes.io/cluster/cmdtest"]}]
        )["Subnets"]
        assert len(subnets) == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sandbox ready" in err and "sandbox stopped" in err


def test_demo_runs_the_2048_example_and_cleans_up() -> None:
    result = subprocess.run(
        [*CLI, "demo"], capture_output=True, text=True, cwd=REPO, timeout=180, check=False
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    for expected in (
        "Applying examples/2048/",
        "status.loadBalancer.ingress[0].hostname: k8s-game2048-ingress2-",
        "(internet-facing, active)",
        "host-header 2048.example.com; path-pattern /* -> forward to k8s-game2048-service2-",
        "(instance, HTTP:",
        "healthy",
        "2048.example.com  A  alias -> k8s-game2048-ingress2-",
        "_alb-a.2048.example.com  TXT",
        "Everything the controller made is gone.",
    ):
        assert expected in out, f"{expected!r} not in the demo's output:\n{out}"


def test_demo_stops_at_the_controllers_warning(tmp_path: Path) -> None:
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(
        (REPO / "examples" / "2048" / "2048.yaml")
        .read_text()
        .replace("scheme: internet-facing", "scheme: sideways")
    )
    result = subprocess.run(
        [*CLI, "demo", "-f", str(manifest), "--timeout", "30"],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        "demo failed: the controller reported FailedBuildModel on Ingress "
        "game-2048/ingress-2048: " in result.stdout
    ), result.stdout
    assert "sideways" in result.stdout
    assert "lines of the controller log" in result.stdout

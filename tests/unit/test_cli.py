"""The `plan` command: output formats, exit codes, and the 2048 example."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import EXIT_BUILD_ERRORS, EXIT_OK, EXIT_UNREADABLE, main

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "2048"
GOLDEN = Path(__file__).parent / "golden"

BAD_INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: broken
  namespace: default
  annotations:
    alb.ingress.kubernetes.io/scheme: public
spec:
  ingressClassName: alb
  defaultBackend: {service: {name: web, port: {number: 80}}}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLUSTER_NAME", "INGRESS_CLASS", "DEFAULT_TAGS", "DEFAULT_SCHEME"):
        monkeypatch.delenv(name, raising=False)


def test_plan_2048_text() -> None:
    code, out, err = run("plan", "-f", str(EXAMPLE))
    assert (code, err) == (EXIT_OK, "")
    assert out.startswith("stack game-2048/ingress-2048\n")
    assert "(internet-facing, ipv4)" in out
    assert "listener HTTP:80" in out
    assert "if host-header 2048.example.com and path-pattern /*" in out
    assert "dns A 2048.example.com" in out


def test_plan_2048_json_matches_the_golden_file() -> None:
    code, out, _ = run("plan", "-f", str(EXAMPLE), "-o", "json", "--cluster-name", "golden")
    assert code == EXIT_OK
    assert json.loads(out) == json.loads((GOLDEN / "expected" / "example-2048.json").read_text())


def test_cluster_name_from_environment_and_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLUSTER_NAME", "from-env")
    _, out, _ = run("plan", "-f", str(EXAMPLE), "-o", "json")
    tags = json.loads(out)["stacks"][0]["loadBalancer"]["tags"]
    assert tags["elbv2.k8s.aws/cluster"] == "from-env"
    _, out, _ = run("plan", "-f", str(EXAMPLE), "-o", "json", "--cluster-name", "flag")
    assert json.loads(out)["stacks"][0]["loadBalancer"]["tags"]["elbv2.k8s.aws/cluster"] == "flag"


def test_errors_exit_2_and_still_print_the_rest(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD_INGRESS)
    code, out, _ = run("plan", "-f", str(EXAMPLE), "-f", str(tmp_path / "bad.yaml"), "-o", "json")
    assert code == EXIT_BUILD_ERRORS
    plan = json.loads(out)
    assert [s["id"] for s in plan["stacks"]] == ["game-2048/ingress-2048"]
    [error] = plan["errors"]
    assert error["ingress"] == "default/broken"
    assert error["field"] == "metadata.annotations[alb.ingress.kubernetes.io/scheme]"
    code, out, _ = run("plan", "-f", str(tmp_path / "bad.yaml"))
    assert code == EXIT_BUILD_ERRORS
    assert "errors (1):\n  default/broken: metadata.annotations[" in out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("kind: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "not a Kubernetes object"),
        ("metadata: {name: x}\n", "not a Kubernetes object"),
    ],
)
def test_unreadable_input_exits_1(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / "m.yaml").write_text(content)
    code, out, err = run("plan", "-f", str(tmp_path / "m.yaml"))
    assert (code, out) == (EXIT_UNREADABLE, "")
    assert fragment in err and "m.yaml" in err


def test_missing_path_exits_1(tmp_path: Path) -> None:
    code, _, err = run("plan", "-f", str(tmp_path / "nope"))
    assert code == EXIT_UNREADABLE
    assert "no such file or folder" in err


def test_usage_errors_exit_1_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["plan"])
    assert exc.value.code == EXIT_UNREADABLE
    assert "-f/--filename" in capsys.readouterr().err


def test_no_ingress_of_our_class(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    code, out, _ = run("plan", "-f", str(tmp_path))
    assert code == EXIT_OK
    assert "No stacks" in out


def test_an_ingress_class_in_the_input_is_respected(tmp_path: Path) -> None:
    other = (
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: alb}\n"
        "spec: {controller: example.com/other}\n"
    )
    (tmp_path / "class.yaml").write_text(other)
    code, out, _ = run("plan", "-f", str(EXAMPLE), "-f", str(tmp_path), "-o", "json")
    assert code == EXIT_OK
    assert json.loads(out)["stacks"] == []


def test_console_script_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "plan", "-f", str(EXAMPLE), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["apiVersion"] == "plan.alb.ingress/v1"


def test_warnings_are_listed_after_the_stacks_and_do_not_fail_the_plan(tmp_path: Path) -> None:
    typo = BAD_INGRESS.replace(
        "alb.ingress.kubernetes.io/scheme: public", "alb.ingress.kubernetes.io/shceme: internal"
    )
    (tmp_path / "typo.yaml").write_text(typo)
    code, out, _ = run("plan", "-f", str(tmp_path / "typo.yaml"))
    assert code == EXIT_OK
    assert out.startswith("stack default/broken\n")
    warnings = out[out.index("warnings (2):\n") :]  # the typo, and the missing Service web
    assert "  default/broken: metadata.annotations[alb.ingress.kubernetes.io/shceme]" in warnings
    assert "  default/broken: spec.defaultBackend.service: service 'web' not found" in warnings


def test_plan_reads_ingress_class_params_among_the_manifests() -> None:
    case = GOLDEN / "cases" / "class-params.yaml"
    code, out, _ = run("plan", "-f", str(case), "-o", "json", "--cluster-name", "golden")
    assert code == EXIT_BUILD_ERRORS  # the Ingress outside the namespaceSelector
    assert json.loads(out) == json.loads((GOLDEN / "expected" / "class-params.json").read_text())
    shop = next(s for s in json.loads(out)["stacks"] if s["id"] == "shop")
    assert shop["loadBalancer"]["scheme"] == "internet-facing"  # the params', not the annotation's

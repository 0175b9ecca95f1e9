"""What an operator sees of the recorded real run: JSON logs, AWS_DEBUG without credentials,
the metrics endpoint, the health endpoint, and a clean stop on SIGTERM."""

from __future__ import annotations

import re

from .recorded_run import ACCESS_KEY, OIDC_CLIENT_SECRET, SECRET_KEY, RecordedRun, log_records


def test_every_log_line_is_one_json_object(recorded_run: RecordedRun) -> None:
    records = list(log_records(recorded_run))  # raises on a line that is not JSON
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()


def test_every_reconcile_line_names_its_group_or_ingress(recorded_run: RecordedRun) -> None:
    lines = [r for r in log_records(recorded_run) if r["logger"] == "controller.kube.reconciler"]
    assert any(r["message"].startswith("deploying group") for r in lines)
    assert any(r["message"].startswith("tearing down group") for r in lines)
    for record in lines:
        assert record.get("group") or record.get("ingress"), record["message"]
    assert {r.get("group") for r in lines} == {"shop/web"}


def test_aws_debug_logs_each_call_with_parameters(recorded_run: RecordedRun) -> None:
    calls = [r["message"] for r in log_records(recorded_run) if r["message"].startswith("aws call")]
    create = [m for m in calls if m.startswith("aws call elbv2.CreateLoadBalancer ")]
    assert len(create) == 1
    assert "'Scheme': 'internal'" in create[0]
    assert any(
        m.startswith("aws call elbv2.DescribeLoadBalancers -> LoadBalancerNotFound") for m in calls
    )


def test_credentials_never_reach_the_logs(recorded_run: RecordedRun) -> None:
    text = "\n".join(recorded_run.log_lines)
    assert "aws call" in text  # the debug path was on
    assert SECRET_KEY not in text
    assert ACCESS_KEY not in text
    # The OIDC client secret was sent (CreateRule) and never logged, not even masked-in-part.
    assert "ClientSecret" in text
    assert OIDC_CLIENT_SECRET not in text


def test_metrics_count_the_runs_aws_calls_and_reconciles(recorded_run: RecordedRun) -> None:
    text = recorded_run.metrics_text

    def sample(name: str, **labels: str) -> float:
        label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        match = re.search(rf"^{name}{{{re.escape(label_text)}}} (\S+)$", text, re.M)
        assert match, f"{name}{{{label_text}}} not exposed"
        return float(match.group(1))

    ok = {"error_code": "", "service": "elbv2"}
    assert sample("aws_api_calls_total", operation="CreateLoadBalancer", **ok) == 1
    assert sample("alb_controller_reconcile_total", result="success") >= 1
    assert sample("alb_controller_reconcile_duration_seconds_count", stage="deploy_model") >= 1
    assert re.search(r"^alb_controller_managed_stacks 1\.0$", text, re.M)
    assert re.search(r"^alb_controller_targets_registered 1\.0$", text, re.M)


def test_health_endpoint_and_clean_stop(recorded_run: RecordedRun) -> None:
    assert recorded_run.liveness_status == 200
    assert recorded_run.exit_code == 0

"""iam/controller-role.yaml: cfn-lint passes, the inline policy is iam/policy.json exactly, the
trust policy admits only the controller's ServiceAccount through the cluster's OIDC provider,
and the role carries the tags the policy scopes itself by.
"""

from __future__ import annotations

import json
from typing import Any

from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]
from cfnlint.decode import decode_str  # type: ignore[import-untyped]

from .artefacts import APP, NAMESPACE, POLICIES, ROLE_TEMPLATE, load_policy, load_policy_file

# Regions with different partitions' quirks are not in scope: the policy names arn:aws.
LINT_REGIONS = ["us-east-1", "eu-west-1"]


def template() -> dict[str, Any]:
    decoded, errors = decode_str(ROLE_TEMPLATE.read_text())
    assert not errors, errors
    assert decoded is not None
    return dict(decoded)


def role() -> dict[str, Any]:
    resources = template()["Resources"]
    (name,) = [n for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    properties: dict[str, Any] = resources[name]["Properties"]
    return properties


def test_cfn_lint_passes() -> None:
    matches = lint(ROLE_TEMPLATE.read_text(), config=ManualArgs(regions=LINT_REGIONS))
    assert [str(m) for m in matches] == []


def test_cfn_lint_catches_a_misspelt_action() -> None:
    # The lint check above can fail: an IAM action AWS does not have is reported.
    bad = ROLE_TEMPLATE.read_text().replace("DescribeTargetHealth", "DescribeTargetHealthz")
    matches = lint(bad, config=ManualArgs(regions=LINT_REGIONS))
    assert "W3037" in {m.rule.id for m in matches}


def test_inline_policies_are_the_policy_files() -> None:
    inline = role()["Policies"]
    assert len(inline) == len(POLICIES)
    for policy, path in zip(inline, POLICIES, strict=True):
        # Through JSON: the decoder's node types compare by value like plain dicts and strings.
        assert json.loads(json.dumps(policy["PolicyDocument"])) == load_policy_file(path)


def test_parameters_cover_the_irsa_inputs() -> None:
    parameters = template()["Parameters"]
    assert {"ClusterName", "VpcId", "OidcProviderArn", "OidcIssuer"} <= parameters.keys()
    assert parameters["Namespace"]["Default"] == NAMESPACE
    assert parameters["ServiceAccountName"]["Default"] == APP


def test_trust_policy_admits_only_the_service_account() -> None:
    document, variables = role()["AssumeRolePolicyDocument"]["Fn::Sub"], {}
    if isinstance(document, list):
        document, variables = document
    assert not variables
    # Fill the Sub placeholders the way CloudFormation would, then read the JSON.
    filled = document
    for name, value in {
        "OidcProviderArn": "arn:aws:iam::111122223333:oidc-provider/oidc.example/id/X",
        "OidcIssuer": "oidc.example/id/X",
        "Namespace": NAMESPACE,
        "ServiceAccountName": APP,
    }.items():
        filled = filled.replace("${" + name + "}", value)
    (statement,) = json.loads(filled)["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {
        "Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example/id/X"
    }
    assert statement["Condition"] == {
        "StringEquals": {
            "oidc.example/id/X:sub": f"system:serviceaccount:{NAMESPACE}:{APP}",
            "oidc.example/id/X:aud": "sts.amazonaws.com",
        }
    }


def test_role_tags_are_the_policys_scope() -> None:
    tags = {t["Key"]: t["Value"] for t in role()["Tags"]}
    assert tags == {
        "elbv2.k8s.aws/cluster": {"Ref": "ClusterName"},
        "alb-ingress-controller/vpc-id": {"Ref": "VpcId"},
    }
    policy_text = json.dumps(load_policy())
    for key in tags:
        assert "${aws:PrincipalTag/" + key + "}" in policy_text


def test_outputs_the_role_arn() -> None:
    assert template()["Outputs"]["RoleArn"]["Value"] == {"Fn::GetAtt": ["ControllerRole", "Arn"]}

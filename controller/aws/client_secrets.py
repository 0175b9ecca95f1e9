"""OIDC client secrets: read when AWS needs one, never kept, never compared.

The model holds only where a client secret is (`ClientSecretRef`: the Kubernetes Secret and
a digest of its value). AWS never returns the secret (DescribeRules and DescribeListeners
leave `ClientSecret` out), so whether the live one is current is known from a tag on the
rule or listener, `DIGEST_TAG`, holding the digest of the secret last sent. Then:
- creating a rule or listener with an authenticate-oidc action reads the value from the
  `ClientSecretSource` the deployer was given (the kube layer's cache) and sends it;
- modifying one whose tag equals the desired digest sends `UseExistingClientSecret: true`
  (AWS keeps the secret it has) instead of the value; any other modify sends the value;
- a rule whose tag names another digest (the Secret was rotated) is modified for that alone;
- a live authenticate-oidc action without the tag (made by aws-load-balancer-controller, or
  by hand) is taken to hold the current secret: adopting LBC's rules costs no call. A
  rotation is sent with its next modify.
The tag is written with the value (in CreateRule's tags, or right after ModifyRule) and
never added on its own, so an adopted rule stays untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from controller.aws.errors import AwsError
from controller.model.auth import secret_digest
from controller.model.stack import Action, AuthenticateOidcAction, ClientSecretRef

DIGEST_TAG = "alb-ingress-controller/oidc-client-secret"
OIDC = "authenticate-oidc"

# (namespace, name) of a Secret -> its `clientSecret`, or None when it has none (now).
ClientSecretSource = Callable[[str, str], str | None]


def secret_ref(actions: Sequence[Action]) -> ClientSecretRef | None:
    """The client secret an action list needs (a rule has at most one authenticate action)."""
    for action in actions:
        if isinstance(action, AuthenticateOidcAction):
            return action.authenticate_oidc_config.client_secret_ref
    return None


def live_digest(actions: Sequence[Mapping[str, Any]], tags: Mapping[str, str]) -> str | None:
    """The digest of the secret a live rule or listener holds, when known."""
    if any(action.get("Type") == OIDC for action in actions):
        return tags.get(DIGEST_TAG)
    return None


def stale(ref: ClientSecretRef | None, digest: str | None) -> bool:
    """Whether the live secret is known to differ from the desired one."""
    return ref is not None and digest is not None and digest != ref.digest


class ClientSecrets:
    """Reads client secrets from the source, for one AWS call at a time."""

    def __init__(self, source: ClientSecretSource | None) -> None:
        self.source = source  # settable: the kube layer's cache is made after the deployer

    def read(self, ref: ClientSecretRef, ingress: str) -> tuple[str, str]:
        """(value, digest); an `AwsError` when the source has it no more (deleted since the
        model was built: the next reconcile reports it)."""
        value = self.source(ref.namespace, ref.name) if self.source is not None else None
        if value is None:
            raise AwsError(
                f"client secret of {ref.namespace}/{ref.name}",
                "ClientSecretUnavailable",
                "the Secret or its clientSecret key is gone since the model was built",
                retryable=True,
                ingresses=[ingress] if ingress else [],
            )
        return value, secret_digest(value)

    def prepare(
        self,
        actions: list[dict[str, Any]],
        ref: ClientSecretRef | None,
        have: str | None,
        ingress: str = "",
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The actions to send in a create (`have` None) or modify, and the digest to tag
        the resource with (None: leave its tag as it is)."""
        if ref is None:
            return actions, None
        if have is not None and have == ref.digest:
            return _with_secret(actions, None), None
        value, digest = self.read(ref, ingress)
        return _with_secret(actions, value), digest


def tags_with_digest(
    tags: Mapping[str, str], ref: ClientSecretRef | None, sent: str | None
) -> tuple[dict[str, str], list[str]]:
    """(desired tags, tag keys to leave alone) once the secret `sent` (a digest, or None
    when no secret was sent) is in place."""
    if ref is None:
        return dict(tags), []  # no secret wanted: a leftover digest tag goes
    if sent is not None:
        return {**tags, DIGEST_TAG: sent}, []
    return dict(tags), [DIGEST_TAG]


def _with_secret(actions: list[dict[str, Any]], value: str | None) -> list[dict[str, Any]]:
    """Copies of `actions`, each authenticate-oidc one with its secret (or, for None, told to
    keep the secret it has)."""
    result = []
    for action in actions:
        if action.get("Type") != OIDC:
            result.append(action)
            continue
        config = dict(action["AuthenticateOidcConfig"])
        if value is None:
            config["UseExistingClientSecret"] = True
        else:
            config["ClientSecret"] = value
        result.append({**action, "AuthenticateOidcConfig": config})
    return result

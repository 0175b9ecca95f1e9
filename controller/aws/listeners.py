"""Listeners: one per port, created with tags right after the load balancer (AWS accepts that
while it provisions), modified in place only when protocol, SSL policy, default certificate
or default actions differ, and SNI certificates added/removed in one call each per listener.
Listener attributes (`listener-attributes.*`) are read only for a listener that has some
wanted, and only the keys wanted that differ are modified (LBC's map diff). mTLS
(`mutual-authentication`) is compared only for a listener the annotation names: a live
listener without it is mode off, as AWS describes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from controller.aws.client_secrets import ClientSecrets, live_digest, stale, tags_with_digest
from controller.aws.clients import AwsClients
from controller.aws.errors import about, has_code
from controller.aws.shapes import canonical_actions
from controller.aws.tags import changed_attributes, sync_elbv2_tags, to_aws
from controller.model.stack import ClientSecretRef, Listener, MutualAuthentication


def mutual_authentication_to_aws(
    wanted: MutualAuthentication | None, trust_stores: Mapping[str, str]
) -> dict[str, Any] | None:
    """ModifyListener's MutualAuthentication for `wanted` (None: leave it), a trust store
    name replaced by its ARN (`trust_stores`, resolved before the deploy began)."""
    if wanted is None:
        return None
    shape: dict[str, Any] = {"Mode": wanted.mode}
    if wanted.mode == "verify" and wanted.trust_store is not None:
        store = wanted.trust_store
        shape["TrustStoreArn"] = store if store.startswith("arn:") else trust_stores[store]
        shape["IgnoreClientCertificateExpiry"] = bool(wanted.ignore_client_certificate_expiry)
        if wanted.advertise_trust_store_ca_names is not None:
            shape["AdvertiseTrustStoreCaNames"] = wanted.advertise_trust_store_ca_names
    return shape


def _mtls_differs(live: Mapping[str, Any] | None, wanted: dict[str, Any]) -> bool:
    """Whether the live listener's mTLS differs from `wanted` in a key `wanted` sets."""
    have = dict(live or {"Mode": "off"})
    have.setdefault("Mode", "off")
    if wanted["Mode"] == "verify":
        have.setdefault("IgnoreClientCertificateExpiry", False)
    return any(have.get(key) != value for key, value in wanted.items())


def _certificate_list(arns: list[str] | tuple[str, ...] | set[str]) -> list[dict[str, str]]:
    return [{"CertificateArn": arn} for arn in sorted(arns)]


class Listeners:
    def __init__(self, clients: AwsClients, secrets: ClientSecrets | None = None) -> None:
        self._clients = clients
        self._secrets = secrets or ClientSecrets(None)

    @property
    def _elbv2(self) -> Any:
        return self._clients.elbv2

    def create(
        self,
        lb_arn: str,
        listener: Listener,
        *,
        certificates: tuple[str, ...],
        default_actions: list[dict[str, Any]],
        tags: dict[str, str],
        secret: ClientSecretRef | None = None,
        mutual_authentication: dict[str, Any] | None = None,
    ) -> str:
        default_actions, digest = self._secrets.prepare(default_actions, secret, None)
        tags, _ = tags_with_digest(tags, secret, digest)
        params: dict[str, Any] = {
            "LoadBalancerArn": lb_arn,
            "Port": listener.port,
            "Protocol": listener.protocol,
            "DefaultActions": default_actions,
            "Tags": to_aws(tags),
        }
        if listener.protocol == "HTTPS":
            if listener.ssl_policy:
                params["SslPolicy"] = listener.ssl_policy
            params["Certificates"] = [{"CertificateArn": certificates[0]}]
            if mutual_authentication is not None:
                params["MutualAuthentication"] = mutual_authentication
        with about(f"listener {listener.port} of {lb_arn}"):
            try:
                arn = str(self._elbv2.create_listener(**params)["Listeners"][0]["ListenerArn"])
            except ClientError as error:
                # The port is taken: a listener we made just before a crash. Take it over.
                if not has_code(error, "DuplicateListener"):
                    raise
                found = [
                    item
                    for page in self._elbv2.get_paginator("describe_listeners").paginate(
                        LoadBalancerArn=lb_arn
                    )
                    for item in page["Listeners"]
                    if item["Port"] == listener.port
                ]
                if not found:
                    raise
                arn = str(found[0]["ListenerArn"])
                return arn
            sni = set(certificates[1:]) if listener.protocol == "HTTPS" else set()
            if sni:
                self._elbv2.add_listener_certificates(
                    ListenerArn=arn, Certificates=_certificate_list(sni)
                )
        return arn

    def update(
        self,
        live: dict[str, Any],
        live_tags: dict[str, str],
        *,
        listener: Listener,
        certificates: tuple[str, ...],
        default_actions: list[dict[str, Any]],
        tags: dict[str, str],
        secret: ClientSecretRef | None = None,
        mutual_authentication: dict[str, Any] | None = None,
    ) -> None:
        arn = str(live["ListenerArn"])
        https = listener.protocol == "HTTPS"
        changes: dict[str, Any] = {}
        if live.get("Protocol") != listener.protocol:
            changes["Protocol"] = listener.protocol
        if https and listener.ssl_policy and live.get("SslPolicy") != listener.ssl_policy:
            changes["SslPolicy"] = listener.ssl_policy
        live_default = [c["CertificateArn"] for c in live.get("Certificates") or ()]
        if https and live_default[:1] != list(certificates[:1]):
            changes["Certificates"] = [{"CertificateArn": certificates[0]}]
        if (
            https
            and mutual_authentication is not None
            and _mtls_differs(live.get("MutualAuthentication"), mutual_authentication)
        ):
            changes["MutualAuthentication"] = mutual_authentication
        live_actions = live.get("DefaultActions") or ()
        have = live_digest(live_actions, live_tags)
        sent: str | None = None
        if canonical_actions(live_actions) != canonical_actions(default_actions) or stale(
            secret, have
        ):
            changes["DefaultActions"], sent = self._secrets.prepare(default_actions, secret, have)
        tags, keep = tags_with_digest(tags, secret, sent)
        with about(f"listener {listener.port} ({arn})"):
            if changes:
                if https and "Protocol" in changes:
                    changes.setdefault("Certificates", [{"CertificateArn": certificates[0]}])
                    if listener.ssl_policy:
                        changes.setdefault("SslPolicy", listener.ssl_policy)
                self._elbv2.modify_listener(ListenerArn=arn, **changes)
            if https:
                self._sync_sni(arn, set(certificates[1:]), default=certificates[0])
            ignore = [*keep, *self._clients.external_tags]
            sync_elbv2_tags(self._elbv2, arn, live_tags, tags, ignore=ignore)

    def _sync_sni(self, arn: str, desired: set[str], default: str) -> None:
        """Make the listener's extra certificates `desired`. LBC also lists the default
        certificate among them (AddListenerCertificates with every ARN): one listed so is
        left there, so an adopted listener sees no change."""
        desired = desired - {default}
        pages = self._elbv2.get_paginator("describe_listener_certificates").paginate(
            ListenerArn=arn
        )
        have = {
            c["CertificateArn"]
            for page in pages
            for c in page["Certificates"]
            if not c.get("IsDefault")
        }
        if desired - have:
            self._elbv2.add_listener_certificates(
                ListenerArn=arn, Certificates=_certificate_list(desired - have)
            )
        extra = have - desired - {default}
        if extra:
            self._elbv2.remove_listener_certificates(
                ListenerArn=arn, Certificates=_certificate_list(extra)
            )

    def sync_attributes(self, arn: str, port: int, wanted: dict[str, str]) -> None:
        """Give the listener the `wanted` attribute values; other keys are left as they are
        (a key dropped from the annotation is not reset, as in LBC)."""
        if not wanted:
            return  # nothing managed: no read
        with about(f"attributes of listener {port} ({arn})"):
            current = self._elbv2.describe_listener_attributes(ListenerArn=arn)["Attributes"]
            changed = changed_attributes(current, wanted)
            if changed:
                self._elbv2.modify_listener_attributes(ListenerArn=arn, Attributes=changed)

    def delete(self, arn: str) -> None:
        with about(f"listener {arn}"):
            try:
                self._elbv2.delete_listener(ListenerArn=arn)
            except ClientError as error:
                if not has_code(error, "ListenerNotFound"):
                    raise

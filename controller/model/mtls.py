"""`mutual-authentication`: mTLS on HTTPS listeners, its JSON checked as LBC and AWS check it.

One entry per HTTPS listen port: `mode` off, passthrough (the ALB forwards the client's
certificate chain in headers) or verify (the ALB checks it against a trust store, named
by ARN or by name; the AWS layer resolves a name with DescribeTrustStores before anything
changes). `trustStore` and `ignoreClientCertificateExpiry` are for verify only, as AWS
requires; `advertiseTrustStoreCaNames` (on/off) too. Keys match case-insensitively, as
LBC's Go JSON reads them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from controller.model.values import GoJson

# AWS: a trust store name is 1-32 alphanumerics and hyphens, no hyphen first or last.
_TRUST_STORE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
_TRUST_STORE_ARN = re.compile(r"^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:truststore/.+")


def _trust_store(value: str) -> str:
    if value.startswith("arn:"):
        if not _TRUST_STORE_ARN.match(value):
            raise ValueError(
                f"{value[:60]!r} is not a trust store ARN "
                "(arn:aws:elasticloadbalancing:<region>:<account>:truststore/<name>/<id>)"
            )
    elif not _TRUST_STORE_NAME.match(value):
        raise ValueError(
            f"{value[:40]!r} is not a trust store name (1-32 letters, digits and hyphens, "
            "no hyphen first or last) nor an ARN"
        )
    return value


class MutualAuthEntry(GoJson):
    """One listener's mTLS, as in the annotation."""

    port: int = Field(ge=1, le=65535, strict=True)
    mode: Literal["off", "passthrough", "verify"]
    trust_store: Annotated[str, AfterValidator(_trust_store)] | None = Field(
        default=None, alias="trustStore"
    )
    ignore_client_certificate_expiry: bool | None = Field(
        default=None, alias="ignoreClientCertificateExpiry", strict=True
    )
    advertise_trust_store_ca_names: Literal["on", "off"] | None = Field(
        default=None, alias="advertiseTrustStoreCaNames"
    )

    @model_validator(mode="after")
    def _verify_only(self) -> MutualAuthEntry:
        if self.mode == "verify" and self.trust_store is None:
            raise ValueError(f"port {self.port}: mode verify needs a trustStore (name or ARN)")
        if self.mode != "verify":
            extra = [
                key
                for key, value in (
                    ("trustStore", self.trust_store),
                    ("ignoreClientCertificateExpiry", self.ignore_client_certificate_expiry),
                    ("advertiseTrustStoreCaNames", self.advertise_trust_store_ca_names),
                )
                if value is not None
            ]
            if extra:
                raise ValueError(
                    f"port {self.port}: {', '.join(extra)} only go with mode verify "
                    f"(AWS refuses them with mode {self.mode})"
                )
        return self


class EntriesByPort(dict[int, MutualAuthEntry]):
    """The entries by port; shown (in a group conflict) as the annotation's JSON."""

    def __repr__(self) -> str:
        return (
            "["
            + ", ".join(
                entry.model_dump_json(by_alias=True, exclude_none=True) for entry in self.values()
            )
            + "]"
        )


def _by_port(entries: list[MutualAuthEntry]) -> EntriesByPort:
    if not entries:
        raise ValueError("must list at least one port")
    found = EntriesByPort()
    for entry in entries:
        if entry.port in found:
            raise ValueError(f"port {entry.port} is listed twice")
        found[entry.port] = entry
    return found


# The annotation's value: entries by port.
MutualAuthenticationValue = Annotated[list[MutualAuthEntry], AfterValidator(_by_port)]

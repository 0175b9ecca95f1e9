"""The JSON of LBC v3.5's rule-level annotations, as pydantic types: `transforms.<name>`
(rule transforms) and `jwt-validation` (the JWT validation action).

Keys match the way Go's encoding/json reads them (case-insensitively, `GoJson`), so
manifests written for LBC parse the same here; AWS's limits are checked field by field, so
an error names the JSON location (`[0].urlRewriteConfig.rewrites[0].regex`) and the limit.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from controller.limits import (
    JWT_DEFAULT_CLAIMS,
    MAX_JWT_CLAIM_VALUE_LENGTH,
    MAX_JWT_CLAIM_VALUES,
    MAX_JWT_CLAIMS,
    MAX_JWT_URL_LENGTH,
    MAX_REWRITE_PART_LENGTH,
)
from controller.model.regexes import check_regex
from controller.model.values import GoJson, _https_url

# --- transforms.<name> -----------------------------------------------------------------


class RewriteValue(GoJson):
    regex: Annotated[
        str, Field(min_length=1, max_length=MAX_REWRITE_PART_LENGTH), AfterValidator(check_regex)
    ]
    # May be empty: a rewrite can delete what it matches. `$1`.. name capture groups.
    replace: str = Field(max_length=MAX_REWRITE_PART_LENGTH)


class RewriteConfigValue(GoJson):
    rewrites: list[RewriteValue] = Field(min_length=1)


class TransformValue(GoJson):
    """One transform: LBC's Transform JSON, the config named after its type."""

    type: Literal["host-header-rewrite", "url-rewrite"]
    host_header_rewrite_config: RewriteConfigValue | None = Field(
        default=None, alias="hostHeaderRewriteConfig"
    )
    url_rewrite_config: RewriteConfigValue | None = Field(default=None, alias="urlRewriteConfig")

    @model_validator(mode="after")
    def _config_matches_type(self) -> TransformValue:
        wanted, other = (
            ("urlRewriteConfig", self.host_header_rewrite_config)
            if self.type == "url-rewrite"
            else ("hostHeaderRewriteConfig", self.url_rewrite_config)
        )
        if self.config is None:
            raise ValueError(f"a {self.type} transform needs {wanted}")
        if other is not None:
            raise ValueError(f"a {self.type} transform takes only {wanted}")
        return self

    @property
    def config(self) -> RewriteConfigValue | None:
        if self.type == "url-rewrite":
            return self.url_rewrite_config
        return self.host_header_rewrite_config


def _one_per_type(transforms: list[TransformValue]) -> list[TransformValue]:
    """AWS takes one host-header-rewrite and one url-rewrite transform per rule."""
    seen: set[str] = set()
    for transform in transforms:
        if transform.type in seen:
            raise ValueError(
                f"two {transform.type} transforms; AWS allows one host-header-rewrite and one "
                f"url-rewrite transform per rule"
            )
        seen.add(transform.type)
    return transforms


Transforms = Annotated[list[TransformValue], AfterValidator(_one_per_type)]


# --- jwt-validation ----------------------------------------------------------------------

ClaimValue = Annotated[str, Field(min_length=1, max_length=MAX_JWT_CLAIM_VALUE_LENGTH)]


class JwtClaimValue(GoJson):
    name: str = Field(min_length=1)
    format: Literal["single-string", "string-array", "space-separated-values"]
    values: list[ClaimValue] = Field(min_length=1, max_length=MAX_JWT_CLAIM_VALUES)

    @model_validator(mode="after")
    def _aws_rules(self) -> JwtClaimValue:
        if self.name in JWT_DEFAULT_CLAIMS:
            raise ValueError(
                f"claim {self.name!r} is always validated by AWS (exp, iss, nbf, iat) and may "
                f"not be given"
            )
        if self.format == "space-separated-values" and any(" " in v for v in self.values):
            raise ValueError("space-separated-values values may not hold spaces")
        return self


def _distinct_claims(claims: list[JwtClaimValue]) -> list[JwtClaimValue]:
    names = [claim.name for claim in claims]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"claim {twice[0]!r} is given twice")
    return claims


class JwtValidationValue(GoJson):
    """The `jwt-validation` annotation: LBC's JwtValidationConfig JSON."""

    jwks_endpoint: Annotated[
        str, Field(max_length=MAX_JWT_URL_LENGTH), AfterValidator(_https_url)
    ] = Field(alias="jwksEndpoint")
    issuer: str = Field(min_length=1, max_length=MAX_JWT_URL_LENGTH)
    additional_claims: Annotated[list[JwtClaimValue], Field(max_length=MAX_JWT_CLAIMS)] | None = (
        Field(default=None, alias="additionalClaims")
    )

    @model_validator(mode="after")
    def _distinct(self) -> JwtValidationValue:
        _distinct_claims(self.additional_claims or [])
        return self

"""The value syntax of the `dns-*` annotations (Route 53 routing policies), as pydantic types.

Each type checks one value the way Route 53 checks the field it becomes, so a bad value is a
`FailedBuildModel` error naming its annotation rather than an `InvalidChangeBatch` after the
load balancer was made: a SetIdentifier of 1..128 characters, a Weight of 0..255, a Region
that looks like an AWS region, PRIMARY or SECONDARY, a continent code, an ISO 3166-1 country
code (or `*`, the default location) and a subdivision code. Codes are read case-insensitively
and kept upper case, as Route 53 returns them. Which of them go together is checked on the
whole Ingress (`controller.model.dns`), not here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from controller.limits import (
    GEO_CONTINENT_CODES,
    MAX_DNS_WEIGHT,
    MAX_SET_IDENTIFIER_LENGTH,
    MAX_SUBDIVISION_CODE_LENGTH,
)

# Region names as AWS spells them (us-east-1, ap-southeast-4, us-gov-west-1, eu-isoe-west-1).
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_COUNTRY = re.compile(r"^([A-Z]{2}|\*)$")
_SUBDIVISION = re.compile(rf"^[A-Z0-9]{{1,{MAX_SUBDIVISION_CODE_LENGTH}}}$")


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _set_identifier(value: str) -> str:
    if not 1 <= len(value) <= MAX_SET_IDENTIFIER_LENGTH:
        raise ValueError(
            f"must have at least 1 character and at most {MAX_SET_IDENTIFIER_LENGTH} characters"
            f" ({len(value)})"
        )
    return value


def _region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region name (e.g. us-east-1)")
    return value


def _continent(value: str) -> str:
    if value not in GEO_CONTINENT_CODES:
        raise ValueError(f"{value!r} is not a continent code: {', '.join(GEO_CONTINENT_CODES)}")
    return value


def _country(value: str) -> str:
    if not _COUNTRY.match(value):
        raise ValueError(
            f"{value!r} is not a country code: two letters (ISO 3166-1, e.g. DE), or * for "
            "the default location"
        )
    return value


def _subdivision(value: str) -> str:
    if not _SUBDIVISION.match(value):
        raise ValueError(
            f"{value!r} is not a subdivision code: 1..{MAX_SUBDIVISION_CODE_LENGTH} letters or "
            "digits (e.g. WA)"
        )
    return value


SetIdentifier = Annotated[str, BeforeValidator(_stripped), AfterValidator(_set_identifier)]
DnsWeight = Annotated[int, Field(ge=0, le=MAX_DNS_WEIGHT)]
AwsRegion = Annotated[str, BeforeValidator(_stripped), AfterValidator(_region)]
Failover = Annotated[Literal["PRIMARY", "SECONDARY"], BeforeValidator(_upper)]
ContinentCode = Annotated[str, BeforeValidator(_upper), AfterValidator(_continent)]
CountryCode = Annotated[str, BeforeValidator(_upper), AfterValidator(_country)]
SubdivisionCode = Annotated[str, BeforeValidator(_upper), AfterValidator(_subdivision)]

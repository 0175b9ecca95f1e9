"""The `auth-*` and `jwt-validation` annotations -> the action a backend's rules run first.

For each backend, the auth annotations of the Ingress apply, and those of the backend's
Service win key by key when the backend forwards to exactly one Service (a plain service
backend, or a `use-annotation` forward action with one target group naming a Service that
exists). `auth-type` none (the default) means no action; `oidc` and `cognito` give an
`authenticate-*` action that the listeners put before the rule's own action on HTTPS
listeners only (`RouteRule.on`), in rules and default actions alike. `jwt-validation` gives
a `jwt-validation` action in the same place, read the same way (the Service's value wins);
AWS runs at most one such action per rule, so a backend given both it and an auth-type is an
error naming `jwt-validation` (LBC's migration tool refuses the pair the same way).

OIDC's client credentials come from a Secret in the Ingress's namespace (`secretName`), with
keys `clientID` (or `clientId`, as LBC accepts for the old AWS ALB Ingress Controller) and
`clientSecret`. The client ID goes into the model; the secret never does: the action
carries the Secret's namespace and name and a digest of the value, and the AWS layer reads
the value itself when it has to send it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from controller.model.annotation_reader import AnnotationValues, annotation_field
from controller.model.annotations import SPECS
from controller.model.backends import FieldError
from controller.model.inputs import metadata_of
from controller.model.rule_values import JwtValidationValue
from controller.model.stack import (
    DEFAULT_AUTH_SCOPE,
    DEFAULT_AUTH_SESSION_COOKIE,
    DEFAULT_AUTH_SESSION_TIMEOUT,
    AuthAction,
    AuthenticateCognitoAction,
    AuthenticateCognitoConfig,
    AuthenticateOidcAction,
    AuthenticateOidcConfig,
    ClientSecretRef,
    JwtClaim,
    JwtValidationAction,
    JwtValidationConfig,
)
from controller.model.values import AuthIdpCognito, AuthIdpOidc

CLIENT_ID_KEYS = ("clientID", "clientId")  # LBC reads clientID, then clientId
CLIENT_SECRET_KEY = "clientSecret"
# Every key of a Secret the model may read; the kube layer's cache keeps only these.
OIDC_SECRET_KEYS = (*CLIENT_ID_KEYS, CLIENT_SECRET_KEY)

SecretsIndex = Mapping[tuple[str, str], Mapping[str, Any]]  # (namespace, name) -> Secret
# A top-level key the kube layer puts on the last version of a Secret deleted while named by
# `auth-idp-oidc` (the API server never sends one): the authentication deployed with it is
# kept, with a warning, rather than dropped (`GoneSecretError`).
GONE = "alb-ingress-controller/gone"


class GoneSecretError(FieldError):
    """The Secret was deleted; `action` is built from its last version, to keep serving."""

    def __init__(self, field: str, message: str, action: AuthAction) -> None:
        super().__init__(field, message)
        self.action = action


def secret_digest(value: str) -> str:
    """The digest of a client secret that the stack and the rule tag carry."""
    hashed = hashlib.sha256(b"alb-ingress-controller/client-secret\0" + value.encode())
    return "sha256:" + hashed.hexdigest()


def secret_value(secret: Mapping[str, Any], key: str) -> str | None:
    """One key of a Secret as text: `stringData` (manifests) wins over `data` (base64), as
    the API server merges them; None when absent or not decodable."""
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping) and isinstance(string_data.get(key), str):
        return str(string_data[key])
    data = secret.get("data")
    raw = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(raw, str):
        return None
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def client_credentials(secret: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(client ID, client secret) of an OIDC Secret, each None when missing."""
    client_id = next(
        (v for k in CLIENT_ID_KEYS if (v := secret_value(secret, k)) is not None), None
    )
    if client_id is not None:
        client_id = client_id.rstrip()  # LBC trims trailing whitespace from the ID only
    return client_id, secret_value(secret, CLIENT_SECRET_KEY)


def _jwt_validation(settings: _AuthSettings, auth_type: str) -> JwtValidationAction | None:
    """The backend's jwt-validation action; AWS runs one first action per rule, so not
    beside an authenticate one."""
    jwt: JwtValidationValue | None = settings.get("jwt-validation")
    if jwt is None:
        return None
    if auth_type != "none":
        raise FieldError(
            settings.field("jwt-validation"),
            f"auth-type {auth_type} applies to this backend too; a rule runs one of "
            f"authentication and JWT validation (set auth-type none, or drop this)",
        )
    return jwt_validation_action(jwt)


def jwt_validation_action(value: JwtValidationValue) -> JwtValidationAction:
    return JwtValidationAction(
        jwt_validation_config=JwtValidationConfig(
            jwks_endpoint=value.jwks_endpoint,
            issuer=value.issuer,
            additional_claims=tuple(
                JwtClaim(name=c.name, format=c.format, values=tuple(c.values))
                for c in value.additional_claims or ()
            ),
        )
    )


def secrets_index(secrets: Any) -> dict[tuple[str, str], Mapping[str, Any]]:
    index: dict[tuple[str, str], Mapping[str, Any]] = {}
    for secret in secrets:
        meta = metadata_of(secret)
        index.setdefault((meta.namespace, meta.name), secret)
    return index


class _AuthSettings:
    """The auth annotations of the Ingress and, for a single-Service backend, the Service's,
    which win key by key (LBC merges the two maps)."""

    def __init__(self, ingress: AnnotationValues, service: AnnotationValues | None, owner: str):
        self._ingress = ingress.values
        self._service = service.values if service is not None else {}
        self._owner = owner

    def get(self, name: str, default: Any = None) -> Any:
        if name in self._service:
            return self._service[name]
        return self._ingress.get(name, default)

    def field(self, name: str) -> str:
        owner = self._owner if name in self._service else ""
        return annotation_field(SPECS[name].key, owner)


def build_auth(
    *,
    ingress: AnnotationValues,
    service: AnnotationValues | None,
    owner: str,
    namespace: str,
    secrets: SecretsIndex,
) -> AuthAction | None:
    """The authenticate action of one backend, or None (auth-type none); raises
    `FieldError` naming the annotation at fault."""
    settings = _AuthSettings(ingress, service, owner)
    auth_type: str = settings.get("auth-type", "none")
    jwt = _jwt_validation(settings, auth_type)
    if jwt is not None:
        return jwt
    if auth_type == "none":
        return None
    common: dict[str, Any] = {
        "on_unauthenticated_request": settings.get(
            "auth-on-unauthenticated-request", "authenticate"
        ),
        "scope": settings.get("auth-scope", DEFAULT_AUTH_SCOPE),
        "session_cookie_name": settings.get("auth-session-cookie", DEFAULT_AUTH_SESSION_COOKIE),
        "session_timeout": settings.get("auth-session-timeout", DEFAULT_AUTH_SESSION_TIMEOUT),
    }
    if auth_type == "cognito":
        cognito: AuthIdpCognito | None = settings.get("auth-idp-cognito")
        if cognito is None:
            raise FieldError(
                settings.field("auth-idp-cognito"), "not set, and auth-type cognito needs it"
            )
        return AuthenticateCognitoAction(
            authenticate_cognito_config=AuthenticateCognitoConfig(
                user_pool_arn=cognito.user_pool_arn,
                user_pool_client_id=cognito.user_pool_client_id,
                user_pool_domain=cognito.user_pool_domain,
                authentication_request_extra_params=cognito.authentication_request_extra_params
                or {},
                **common,
            )
        )
    oidc: AuthIdpOidc | None = settings.get("auth-idp-oidc")
    where = settings.field("auth-idp-oidc")
    if oidc is None:
        raise FieldError(where, "not set, and auth-type oidc needs it")
    secret = secrets.get((namespace, oidc.secret_name))
    if secret is None:
        raise FieldError(
            where,
            f"secretName: secret {oidc.secret_name!r} not found in namespace {namespace!r}",
        )
    client_id, client_secret = client_credentials(secret)
    if not client_id:
        raise FieldError(
            where, f"secretName: secret {oidc.secret_name!r} has no clientID (or clientId) key"
        )
    if not client_secret:
        raise FieldError(where, f"secretName: secret {oidc.secret_name!r} has no clientSecret key")
    action = AuthenticateOidcAction(
        authenticate_oidc_config=AuthenticateOidcConfig(
            issuer=oidc.issuer,
            authorization_endpoint=oidc.authorization_endpoint,
            token_endpoint=oidc.token_endpoint,
            user_info_endpoint=oidc.user_info_endpoint,
            client_id=client_id,
            client_secret_ref=ClientSecretRef(
                namespace=namespace, name=oidc.secret_name, digest=secret_digest(client_secret)
            ),
            authentication_request_extra_params=oidc.authentication_request_extra_params or {},
            **common,
        )
    )
    if secret.get(GONE):
        raise GoneSecretError(
            where,
            f"secretName: secret {oidc.secret_name!r} was deleted; the authentication "
            f"deployed with its last version is kept until it is back or the annotation "
            f"changes",
            action,
        )
    return action

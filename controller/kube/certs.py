"""The pod readiness gate webhook's serving certificate: made, kept, rotated, loaded.

Two sources (`WEBHOOK_CERT_DIR` chooses):
- **Our own** (the default): a self-signed CA and a serving certificate for the webhook
  Service's DNS names (and `WEBHOOK_CERT_HOSTS`), kept in the Secret `WEBHOOK_SECRET_NAME`
  of `POD_NAMESPACE` (shipped empty: the controller only reads and updates it). The leader
  makes them when the Secret has none, or when `renewal_reason` says so (unreadable, other
  names, not yet valid, or less than a third of its lifetime left), and keeps the
  MutatingWebhookConfiguration's `caBundle` equal to the CA, plus the previous CA until
  it expires, so a replica still serving the old certificate for a moment is trusted too.
  Every replica reads the Secret every `WEBHOOK_CERT_CHECK_SECONDS` (every 2 s while it has
  nothing to serve) and serves what it holds.
- **A directory** of `tls.crt` and `tls.key` (a mounted cert-manager Secret; cert-manager's
  CA injector fills the `caBundle`): read, and read again when the files change; nothing
  is written.

`Certificates.load` hands the PEM pair to the server (`kube.webhook`), which swaps it into
its TLS context; new connections get it, open ones keep theirs.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

CA_KEY, CERT_KEY, KEY_KEY, PREVIOUS_CA_KEY = "ca.crt", "tls.crt", "tls.key", "previous-ca.crt"
RENEW_FRACTION = 3  # renew once less than a third of the lifetime is left
UNSERVED_RETRY = 2.0  # seconds between reads while there is nothing to serve


class CertificateError(Exception):
    """A certificate or key that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Bundle:
    """A CA and the serving certificate and key it signed, PEM."""

    ca: bytes
    cert: bytes
    key: bytes


def service_hosts(service: str, namespace: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The names the API server may call the webhook Service by, then `extra`."""
    names = (
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    )
    return (*names, *(h for h in extra if h not in names))


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_bundle(hosts: Sequence[str], now: datetime.datetime, days: int) -> Bundle:
    """A new CA (its key is thrown away) and a certificate for `hosts` signed by it, both
    valid `days` days from `now` (a minute before, for clocks a little behind)."""
    start, end = now - datetime.timedelta(minutes=1), now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alb-ingress-controller-ca")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    return Bundle(
        ca=ca.public_bytes(pem),
        cert=cert.public_bytes(pem),
        key=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=not cert_sign,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _hosts_of(cert: x509.Certificate) -> set[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(n.value) for n in names if isinstance(n, x509.DNSName | x509.IPAddress)}


def renewal_reason(
    bundle: Bundle | None, hosts: Sequence[str], now: datetime.datetime
) -> str | None:
    """Why a new bundle must be made (None: this one is good): none, unreadable, not signed
    by its CA, other names, not valid yet, or less than a third of its lifetime left."""
    if bundle is None or not bundle.cert or not bundle.key or not bundle.ca:
        return "there is none yet"
    try:
        cert = x509.load_pem_x509_certificate(bundle.cert)
        ca = x509.load_pem_x509_certificate(bundle.ca)
        serialization.load_pem_private_key(bundle.key, password=None)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as error:
        return f"it cannot be used ({error})"
    if _hosts_of(cert) != {str(_san(h).value) for h in hosts}:
        return f"it names {', '.join(sorted(_hosts_of(cert)))}, not {', '.join(hosts)}"
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        return f"it is valid only from {start.isoformat()}"
    if end - now < (end - start) / RENEW_FRACTION:
        return f"it expires at {end.isoformat()}, less than a third of its lifetime away"
    return None


def ca_bundle(data: dict[str, bytes], now: datetime.datetime) -> bytes:
    """The CAs the webhook configuration should trust: the current one, and the previous
    one while it is valid (replicas load a rotated certificate within a check period)."""
    bundle = data.get(CA_KEY, b"")
    previous = data.get(PREVIOUS_CA_KEY, b"")
    if previous:
        try:
            if x509.load_pem_x509_certificate(previous).not_valid_after_utc > now:
                bundle = bundle.rstrip(b"\n") + b"\n" + previous
        except ValueError:
            pass
    return bundle


def check_pair(cert: bytes, key: bytes, where: str) -> None:
    """Raise `CertificateError` unless `cert` is a PEM certificate and `key` its key."""
    try:
        loaded = x509.load_pem_x509_certificate(cert)
    except ValueError as error:
        raise CertificateError(f"{where}/{CERT_KEY} is not a PEM certificate ({error})") from None
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as error:
        raise CertificateError(f"{where}/{KEY_KEY} is not a PEM private key ({error})") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if private.public_key().public_bytes(der, public) != loaded.public_key().public_bytes(
        der, public
    ):
        raise CertificateError(f"{where}/{KEY_KEY} is not the key of {where}/{CERT_KEY}")


def read_dir(directory: str) -> tuple[bytes, bytes]:
    """`tls.crt` and `tls.key` of `directory`, checked; `CertificateError` otherwise."""
    path = Path(directory)
    try:
        cert, key = (path / CERT_KEY).read_bytes(), (path / KEY_KEY).read_bytes()
    except OSError as error:
        raise CertificateError(f"cannot read {error.filename}: {error.strerror}") from None
    check_pair(cert, key, directory)
    return cert, key


# --- the loop ---------------------------------------------------------------------------


class Secrets:
    """The Kubernetes side of our own certificates (faked in tests)."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        # Plain dict bodies, as kubectl sends; the client's models type them as V1 classes.
        self._core: Any = k8s.CoreV1Api(api_client)
        self._admission: Any = k8s.AdmissionregistrationV1Api(api_client)

    def read(self, namespace: str, name: str) -> tuple[dict[str, bytes], str] | None:
        """The Secret's data (decoded) and resourceVersion; None when it does not exist."""
        try:
            secret = self._core.read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        data = {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}
        return data, str(secret.metadata.resource_version)

    def write(
        self, namespace: str, name: str, data: dict[str, bytes], resource_version: str
    ) -> None:
        """Replace the Secret's data (an update: refused if it changed since it was read)."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": resource_version},
            "type": "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in sorted(data.items())},
        }
        self._core.replace_namespaced_secret(name, namespace, body)

    def ca_bundles(self, configuration: str) -> dict[str, str] | None:
        """Each webhook of the configuration and its caBundle; None when it does not exist."""
        try:
            found = self._admission.read_mutating_webhook_configuration(configuration)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return {w.name: w.client_config.ca_bundle or "" for w in found.webhooks or ()}

    def set_ca_bundle(self, configuration: str, webhooks: Sequence[str], bundle: str) -> None:
        patch = {"webhooks": [{"name": n, "clientConfig": {"caBundle": bundle}} for n in webhooks]}
        self._admission.patch_mutating_webhook_configuration(configuration, patch)


@dataclass
class Certificates:
    """Keeps the webhook's certificate current and tells `load` whenever it changes."""

    load: Callable[[bytes, bytes], None]  # (cert PEM, key PEM): serve these from now on
    leading: Callable[[], bool]
    hosts: Sequence[str]
    namespace: str
    secret: str
    configuration: str
    days: int
    interval: float
    secrets: Secrets | None = None  # None: the directory source
    directory: str | None = None
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    _served: str = ""  # digest of the pair being served
    _warned: str = ""

    def check(self) -> bool:
        """One round (blocking: run it in a thread); True when something is served."""
        if self.directory is not None:
            try:
                pair = read_dir(self.directory)
            except CertificateError as error:  # a half-written update: the next round
                self._warn(f"webhook certificate: {error}; still serving the last one")
                return bool(self._served)
            self._serve(*pair)
            return True
        return self._check_secret()

    def _check_secret(self) -> bool:
        assert self.secrets is not None
        found = self.secrets.read(self.namespace, self.secret)
        if found is None:
            self._warn(
                f"the webhook Secret {self.namespace}/{self.secret} does not exist: apply "
                "deploy/manifests (webhook.yaml), or set ENABLE_POD_READINESS_GATE_INJECT=false"
            )
            return bool(self._served)
        data, version = found
        now = self.clock()
        if self.leading():
            current = Bundle(data.get(CA_KEY, b""), data.get(CERT_KEY, b""), data.get(KEY_KEY, b""))
            reason = renewal_reason(current, self.hosts, now)
            if reason is not None:
                data = self._renew(data, version, reason, now)
            self._publish_ca(ca_bundle(data, now))
        cert, key = data.get(CERT_KEY, b""), data.get(KEY_KEY, b"")
        if not cert or not key:
            return bool(self._served)  # the leader has not made one yet
        try:
            check_pair(cert, key, f"Secret {self.namespace}/{self.secret}")
        except CertificateError as error:
            self._warn(f"webhook certificate: {error}")
            return bool(self._served)
        self._serve(cert, key)
        return True

    def _renew(
        self, data: dict[str, bytes], version: str, reason: str, now: datetime.datetime
    ) -> dict[str, bytes]:
        assert self.secrets is not None
        made = make_bundle(self.hosts, now, self.days)
        new = {CA_KEY: made.ca, CERT_KEY: made.cert, KEY_KEY: made.key}
        if data.get(CA_KEY):
            new[PREVIOUS_CA_KEY] = data[CA_KEY]
        self.secrets.write(self.namespace, self.secret, new, version)
        logger.info(
            "webhook certificate renewed in Secret %s/%s: %s", self.namespace, self.secret, reason
        )
        return new

    def _publish_ca(self, bundle: bytes) -> None:
        assert self.secrets is not None
        if not bundle:
            return
        current = self.secrets.ca_bundles(self.configuration)
        if current is None:
            self._warn(
                f"the MutatingWebhookConfiguration {self.configuration} does not exist: "
                "apply deploy/manifests (webhook.yaml); pods get no readiness gates until then"
            )
            return
        wanted = base64.b64encode(bundle).decode()
        stale = sorted(name for name, value in current.items() if value != wanted)
        if stale:
            self.secrets.set_ca_bundle(self.configuration, stale, wanted)
            logger.info("caBundle of %s set for %s", self.configuration, ", ".join(stale))

    def _serve(self, cert: bytes, key: bytes) -> None:
        digest = hashlib.sha256(cert + b"\0" + key).hexdigest()
        if digest != self._served:
            self.load(cert, key)
            self._served = digest
            logger.info("webhook: serving certificate %s", _describe(cert))

    def _warn(self, message: str) -> None:
        if message != self._warned:  # once per problem, not every round
            logger.warning(message)
            self._warned = message

    async def run(self) -> None:
        """Check every `interval` (every 2 s while nothing is served); errors are logged
        and tried again."""
        while True:
            serving = False
            try:
                serving = await asyncio.to_thread(self.check)
            except ApiException as error:
                self._warn(f"webhook certificate: the Kubernetes API answered {error.status} "
                           f"{error.reason}; trying again")  # fmt: skip
            except Exception as error:  # an API outage (urllib3), or our bug: go on serving
                self._warn(f"webhook certificate: {type(error).__name__}: {error}; trying again")
            await asyncio.sleep(self.interval if serving else min(self.interval, UNSERVED_RETRY))


def _describe(cert: bytes) -> str:
    loaded = x509.load_pem_x509_certificate(cert)
    return f"for {', '.join(sorted(_hosts_of(loaded)))} until {loaded.not_valid_after_utc:%Y-%m-%d}"

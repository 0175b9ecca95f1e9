"""The certificates and keys of the local control plane, made fresh for each start.

One CA signs the API server's serving certificate (127.0.0.1 and localhost) and a client
certificate per component: the admin user (`system:masters`), kube-controller-manager,
kube-scheduler and kwok. The service-account key pair signs the tokens that
`TokenRequest` hands out, so the controller can run as its own ServiceAccount under the
shipped RBAC. Everything is written to one directory as PEM files, keys with mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = datetime.timedelta(days=7)


@dataclass(frozen=True)
class ClientCert:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    """Paths of everything `make_pki` wrote."""

    ca: Path
    ca_key: Path  # kube-controller-manager signs CertificateSigningRequests with it
    serving_cert: Path
    serving_key: Path
    service_account_key: Path  # private: signs tokens
    service_account_pub: Path
    clients: dict[str, ClientCert]  # by component: admin, controller-manager, scheduler, kwok


# file stem -> (common name, organisation). Every component is in system:masters: the
# controller manager runs its controllers with its own credentials
# (--use-service-account-credentials=false), which needs more than its default role. The
# names still tell who did what in the audit log.
CLIENTS = {
    "admin": ("admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", "system:masters"),
    "scheduler": ("system:kube-scheduler", "system:masters"),
    "kwok": ("kwok", "system:masters"),
}


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)
    return path


def _name(common: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALID_FOR)
    )


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("alb-sandbox-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca = _write(directory / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_key_path = _write(directory / "ca.key", _pem_key(ca_key), private=True)

    def issue(stem: str, subject: x509.Name, usage: x509.ObjectIdentifier,
              sans: list[x509.GeneralName] | None = None) -> tuple[Path, Path]:  # fmt: skip
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(subject, ca_name, key).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return (
            _write(directory / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            _write(directory / f"{stem}.key", _pem_key(key), private=True),
        )

    serving_cert, serving_key = issue(
        "apiserver",
        _name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        [
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes.default.svc"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ],
    )
    clients = {}
    for stem, (common, org) in CLIENTS.items():
        cert, key = issue(stem, _name(common, org), ExtendedKeyUsageOID.CLIENT_AUTH)
        clients[stem] = ClientCert(cert, key)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_private = _write(directory / "service-account.key", _pem_key(sa_key), private=True)
    sa_public = _write(
        directory / "service-account.pub",
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return Pki(ca, ca_key_path, serving_cert, serving_key, sa_private, sa_public, clients)

"""The webhook's certificate: when a new one is made, who makes it, who serves it."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field

from cryptography import x509

from controller.kube.certs import (
    CA_KEY,
    CERT_KEY,
    KEY_KEY,
    PREVIOUS_CA_KEY,
    Bundle,
    Certificates,
    ca_bundle,
    make_bundle,
    renewal_reason,
    service_hosts,
)

NOW = datetime.datetime(2030, 6, 1, tzinfo=datetime.UTC)
HOSTS = service_hosts("alb-ingress-controller-webhook-service", "alb", ["127.0.0.1"])


def test_a_fresh_bundle_is_kept_and_one_with_a_third_of_its_life_left_is_renewed() -> None:
    bundle = make_bundle(HOSTS, NOW, days=90)
    assert renewal_reason(bundle, HOSTS, NOW) is None
    assert renewal_reason(bundle, HOSTS, NOW + datetime.timedelta(days=59)) is None
    later = renewal_reason(bundle, HOSTS, NOW + datetime.timedelta(days=61))
    assert later is not None and "less than a third" in later
    assert renewal_reason(bundle, HOSTS, NOW - datetime.timedelta(days=1)) is not None


def test_a_bundle_that_cannot_serve_these_hosts_is_renewed() -> None:
    bundle = make_bundle(HOSTS, NOW, days=90)
    assert renewal_reason(None, HOSTS, NOW) == "there is none yet"
    assert renewal_reason(Bundle(b"", b"", b""), HOSTS, NOW) == "there is none yet"
    other = renewal_reason(bundle, [*HOSTS, "extra.example.com"], NOW)
    assert other is not None and "extra.example.com" in other
    garbage = Bundle(bundle.ca, b"-----BEGIN CERTIFICATE-----\nnope\n", bundle.key)
    assert "cannot be used" in (renewal_reason(garbage, HOSTS, NOW) or "")
    # Signed by another CA than the one the webhook configuration trusts.
    stranger = make_bundle(HOSTS, NOW, days=90)
    mixed = Bundle(stranger.ca, bundle.cert, bundle.key)
    assert "cannot be used" in (renewal_reason(mixed, HOSTS, NOW) or "")


def test_the_certificate_names_the_service_and_the_extra_hosts() -> None:
    cert = x509.load_pem_x509_certificate(make_bundle(HOSTS, NOW, days=1).cert)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(n.value) for n in names} == {
        "alb-ingress-controller-webhook-service",
        "alb-ingress-controller-webhook-service.alb",
        "alb-ingress-controller-webhook-service.alb.svc",
        "alb-ingress-controller-webhook-service.alb.svc.cluster.local",
        "127.0.0.1",
    }


def test_the_previous_ca_is_trusted_until_it_expires() -> None:
    old, new = make_bundle(HOSTS, NOW, days=10), make_bundle(HOSTS, NOW, days=90)
    data = {CA_KEY: new.ca, PREVIOUS_CA_KEY: old.ca}
    assert ca_bundle(data, NOW) == new.ca.rstrip(b"\n") + b"\n" + old.ca
    assert ca_bundle(data, NOW + datetime.timedelta(days=11)) == new.ca


@dataclass
class FakeSecrets:
    data: dict[str, bytes] = field(default_factory=dict)
    version: int = 1
    bundles: dict[str, str] = field(default_factory=lambda: {"mpod.elbv2.k8s.aws": ""})
    writes: int = 0

    def read(self, namespace: str, name: str) -> tuple[dict[str, bytes], str] | None:
        return dict(self.data), str(self.version)

    def write(self, namespace: str, name: str, data: dict[str, bytes], version: str) -> None:
        assert version == str(self.version), "an update of a Secret read before"
        self.data, self.version, self.writes = dict(data), self.version + 1, self.writes + 1

    def ca_bundles(self, configuration: str) -> dict[str, str] | None:
        return dict(self.bundles)

    def set_ca_bundle(self, configuration: str, webhooks: list[str], bundle: str) -> None:
        for name in webhooks:
            self.bundles[name] = bundle


def certificates(
    secrets: FakeSecrets, *, leading: bool, now: list[datetime.datetime]
) -> tuple[Certificates, list[bytes]]:
    served: list[bytes] = []
    made = Certificates(
        load=lambda cert, key: served.append(cert),
        leading=lambda: leading,
        hosts=HOSTS,
        namespace="alb",
        secret="webhook-tls",
        configuration="webhook",
        days=90,
        interval=60,
        secrets=secrets,  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    return made, served


def test_the_leader_makes_rotates_and_publishes_and_the_others_serve_what_it_wrote() -> None:
    secrets, now = FakeSecrets(), [NOW]
    standby, standby_served = certificates(secrets, leading=False, now=now)
    assert standby.check() is False  # nothing to serve yet, and it writes nothing
    assert secrets.writes == 0 and standby_served == []
    leader, leader_served = certificates(secrets, leading=True, now=now)
    assert leader.check() is True
    assert secrets.writes == 1
    first_ca = secrets.data[CA_KEY]
    assert base64.b64decode(secrets.bundles["mpod.elbv2.k8s.aws"]) == first_ca
    assert leader_served == [secrets.data[CERT_KEY]]
    assert standby.check() is True and standby_served == [secrets.data[CERT_KEY]]
    # Again, nothing due: no write, nothing reloaded.
    assert leader.check() and standby.check()
    assert secrets.writes == 1 and len(leader_served) == len(standby_served) == 1
    # Two thirds of its life later the leader renews it; the old CA stays trusted.
    now[0] = NOW + datetime.timedelta(days=61)
    leader.check()
    assert secrets.writes == 2
    assert secrets.data[PREVIOUS_CA_KEY] == first_ca
    published = base64.b64decode(secrets.bundles["mpod.elbv2.k8s.aws"])
    assert secrets.data[CA_KEY] in published and first_ca in published
    # The standby reloads the new certificate; only the leader ever wrote.
    standby.check()
    assert standby_served[-1] == secrets.data[CERT_KEY] != standby_served[0]
    assert len(leader_served) == 2


def test_a_secret_with_an_unusable_key_is_not_served_by_a_standby() -> None:
    bundle = make_bundle(HOSTS, NOW, days=90)
    other = make_bundle(HOSTS, NOW, days=90)
    secrets = FakeSecrets({CA_KEY: bundle.ca, CERT_KEY: bundle.cert, KEY_KEY: other.key})
    standby, served = certificates(secrets, leading=False, now=[NOW])
    assert standby.check() is False and served == []

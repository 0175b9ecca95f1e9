"""Log formatting: JSON lines with the `extra` fields, text on a terminal, secrets masked."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from controller.aws.clients import redact
from controller.logs import JsonFormatter, configure_logging


def record(**extra: object) -> logging.LogRecord:
    made = logging.LogRecord(
        "controller.kube.reconciler", logging.INFO, "f", 1, "deploying %s", ("g",), None
    )
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_json_lines_carry_the_extra_fields_but_not_kopfs_internals() -> None:
    line = JsonFormatter().format(
        record(group="shop/web", settings=object(), k8s_ref={"namespace": "shop", "name": "web"})
    )
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "deploying g"
    assert entry["group"] == "shop/web"
    assert entry["object"] == "shop/web"
    assert "settings" not in entry and "k8s_ref" not in entry


@pytest.mark.parametrize(("tty", "is_json"), [(False, True), (True, False)])
def test_auto_is_json_unless_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tty: bool, is_json: bool
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(stream, "isatty", lambda: tty)
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("auto")
        logging.getLogger("controller.test").info("hello", extra={"group": "g"})
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    output = stream.getvalue().strip()
    if is_json:
        assert json.loads(output)["group"] == "g"
    else:
        assert output.endswith("INFO controller.test: hello")


def test_redact_masks_secret_looking_parameters_at_any_depth() -> None:
    params = {
        "Name": "k8s-shop-web",
        "SecretAccessKey": "s3cr3t",
        "Certificates": [{"CertificateArn": "arn:cert", "PrivateKey": "pem"}],
        "Nested": {"SessionToken": "tok", "Password": "pw"},
    }
    shown = json.dumps(redact(params))
    for secret in ("s3cr3t", "pem", "tok", "pw"):
        assert secret not in shown
    assert "k8s-shop-web" in shown and "arn:cert" in shown

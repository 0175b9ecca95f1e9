"""How `register` wires kopf: a login handler, and handlers that run in the event loop.

kopf adds its default login handlers only to its global registry, so `register` must add
one; without it `alb-ingress-controller run` stopped at once with "Ran out of valid
credentials" (found by the end-to-end tests).
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import kopf
import pytest
from kubernetes.client import Configuration
from kubernetes.config import kube_config

from controller.operator import register
from controller.sandbox.kubeconfig import write_kubeconfig


def test_register_adds_a_login_handler_that_reads_the_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = kopf.OperatorRegistry()
    register(registry)
    logins = [
        h
        for h in registry._activities.get_all_handlers()
        if getattr(h.activity, "value", None) == "authentication"
    ]
    assert len(logins) == 1
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, "http://127.0.0.1:6443")
    # The client reads $KUBECONFIG at import time, and logging in sets its default
    # configuration: patch the first and restore the second afterwards.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    monkeypatch.setattr(Configuration, "_default", Configuration._default)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    info = logins[0].fn(logger=logging.getLogger("test"), settings=kopf.OperatorSettings())
    assert info is not None
    assert info.server == "http://127.0.0.1:6443"
    assert info.token == "sandbox"


def test_watch_handlers_run_in_the_event_loop() -> None:
    """kopf runs sync handlers in worker threads, where the scheduler's timers cannot be set
    ("no running event loop": events were dropped until the periodic resync)."""
    registry = kopf.OperatorRegistry()
    register(registry)
    handlers = registry._watching.get_all_handlers()
    assert len(handlers) == 5
    assert all(inspect.iscoroutinefunction(h.fn) for h in handlers)

"""The kube layer against the session's real kube-apiserver (`tests/conftest.py`, which also
gives each test a namespace of its own)."""

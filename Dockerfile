# syntax=docker/dockerfile:1
# The controller's image: `docker build -t alb-ingress-controller .`
#
# Two stages on the same pinned base, so the virtualenv built in the first runs unchanged in the
# second (same Python, same path). Dependencies come only from requirements.lock (exact pins,
# wheels only: nothing is compiled, so neither stage needs a compiler). The final stage runs as
# a numeric non-root user and writes nothing outside /tmp, so it works with
# readOnlyRootFilesystem and an emptyDir on /tmp.
#
# The base is pinned by exact version tag. To pin by digest as well, resolve it where a registry
# is reachable (`docker buildx imagetools inspect python:3.11.14-slim-bookworm`) and build with
# --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/venv

# The lock first: this layer is reused until a pin changes.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --only-binary=:all: --no-deps -r requirements.lock

# Build the project's wheel here and install it without resolving anything else: every
# dependency is already present at its locked version, and `pip check` proves the set consistent.
COPY pyproject.toml README.md ./
COPY controller ./controller
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-deps /wheels/*.whl \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="alb-ingress-controller" \
      org.opencontainers.image.description="Kubernetes ALB ingress controller (kopf), a drop-in replacement for aws-load-balancer-controller's Ingress support" \
      org.opencontainers.image.licenses="Apache-2.0"

# HOME and TMPDIR point at /tmp (an emptyDir in the Deployment): the root filesystem stays
# read-only. Bytecode was compiled in the builder, so Python never tries to write it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp

COPY --from=builder /opt/venv /opt/venv

# 65532 is the conventional "nonroot" uid/gid (distroless); numeric so that Kubernetes'
# runAsNonRoot can verify it without an /etc/passwd entry.
USER 65532:65532

# 8080: kopf's health endpoint (--liveness). 8081: Prometheus metrics (METRICS_PORT).
EXPOSE 8080 8081

ENTRYPOINT ["alb-ingress-controller", "run"]

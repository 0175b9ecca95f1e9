#!/usr/bin/env bash
# Run the end-to-end suite (tests/e2e) against a real Kubernetes cluster made with kind.
#
#   scripts/kind-e2e.sh            # create the cluster, run the suite, delete the cluster
#   KEEP_CLUSTER=1 scripts/kind-e2e.sh   # leave the cluster up afterwards
#
# What it does: creates a kind cluster; builds the controller image and loads it into kind;
# runs moto (motoserver/moto) in the cluster as the AWS endpoint; seeds it with the VPC,
# tagged subnets, hosted zones and certificate the sandbox uses; deploys the controller from
# deploy/manifests (scaled to 0: the tests start, stop and kill it) pointed at moto; then runs
# pytest with E2E_KUBECONFIG, E2E_AWS_ENDPOINT_URL (moto, port-forwarded) and E2E_CLUSTER_NAME.
#
# kind nodes are not EC2 instances (their providerID is kind://...), so the controller runs
# with DEFAULT_TARGET_TYPE=ip here; the tests that need instance targets on sandbox Nodes
# skip themselves against a real cluster.
#
# Needs: docker, kind, kubectl, and the project's venv (`make install`).
# Unverified on this project's CI, which has no Docker engine; shellcheck lints it there.
set -euo pipefail

CLUSTER="${KIND_CLUSTER:-alb-e2e}"
AWS_CLUSTER_NAME="${E2E_CLUSTER_NAME:-kind-e2e}"
IMAGE="alb-ingress-controller:e2e"
MOTO_IMAGE="${MOTO_IMAGE:-motoserver/moto:5.1.0}"
MOTO_LOCAL_PORT="${MOTO_LOCAL_PORT:-15000}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d)"
PYTHON="${REPO}/.venv/bin/python"
PORT_FORWARD_PID=""

log() { printf '==> %s\n' "$*" >&2; }

need() {
  local tool
  for tool in "$@"; do
    command -v "${tool}" >/dev/null 2>&1 || { log "missing: ${tool}"; exit 1; }
  done
}

cleanup() {
  if [[ -n "${PORT_FORWARD_PID}" ]]; then
    kill "${PORT_FORWARD_PID}" 2>/dev/null || true
  fi
  if [[ -z "${KEEP_CLUSTER:-}" ]]; then
    log "deleting kind cluster ${CLUSTER}"
    kind delete cluster --name "${CLUSTER}" || true
  else
    log "keeping cluster ${CLUSTER}; kubeconfig: ${WORK}/kubeconfig"
  fi
}

create_cluster() {
  if kind get clusters | grep -qx "${CLUSTER}"; then
    log "kind cluster ${CLUSTER} exists"
  else
    log "creating kind cluster ${CLUSTER}"
    kind create cluster --name "${CLUSTER}" --wait 120s
  fi
  kind get kubeconfig --name "${CLUSTER}" >"${WORK}/kubeconfig"
  export KUBECONFIG="${WORK}/kubeconfig"
}

build_image() {
  log "building ${IMAGE}"
  docker build -t "${IMAGE}" "${REPO}"
  kind load docker-image "${IMAGE}" --name "${CLUSTER}"
}

run_moto() {
  log "starting moto (${MOTO_IMAGE}) in the cluster"
  kubectl apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: moto
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: moto
  namespace: moto
spec:
  replicas: 1
  selector:
    matchLabels: {app: moto}
  template:
    metadata:
      labels: {app: moto}
    spec:
      containers:
        - name: moto
          image: ${MOTO_IMAGE}
          env:
            - {name: MOTO_EC2_LOAD_DEFAULT_AMIS, value: "false"}
          ports:
            - containerPort: 5000
          readinessProbe:
            httpGet: {path: /moto-api/, port: 5000}
---
apiVersion: v1
kind: Service
metadata:
  name: moto
  namespace: moto
spec:
  selector: {app: moto}
  ports:
    - port: 5000
      targetPort: 5000
EOF
  kubectl -n moto rollout status deployment/moto --timeout=180s
  kubectl -n moto port-forward service/moto "${MOTO_LOCAL_PORT}:5000" >"${WORK}/port-forward.log" 2>&1 &
  PORT_FORWARD_PID=$!
  local i
  for i in $(seq 1 30); do
    if curl -fsS "http://127.0.0.1:${MOTO_LOCAL_PORT}/moto-api/" >/dev/null 2>&1; then
      return 0
    fi
    log "waiting for the moto port-forward (${i})"
    sleep 1
  done
  log "moto did not answer on 127.0.0.1:${MOTO_LOCAL_PORT}"
  exit 1
}

seed_aws() {
  log "seeding moto for cluster ${AWS_CLUSTER_NAME}"
  PYTHONPATH="${REPO}" "${PYTHON}" - "http://127.0.0.1:${MOTO_LOCAL_PORT}" "${AWS_CLUSTER_NAME}" <<'EOF'
import sys

from sandbox.aws import seed

seeded = seed(sys.argv[1], sys.argv[2])
print(f"seeded {seeded.vpc_id}, certificate {seeded.certificate_arn}", file=sys.stderr)
EOF
}

deploy_controller() {
  log "deploying the controller from deploy/manifests"
  mkdir -p "${WORK}/overlay"
  cp -r "${REPO}/deploy/manifests" "${WORK}/base"
  cat >"${WORK}/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base
images:
  - name: alb-ingress-controller
    newName: ${IMAGE%%:*}
    newTag: ${IMAGE##*:}
patches:
  - target: {kind: Deployment, name: alb-ingress-controller}
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: alb-ingress-controller
        namespace: alb-ingress-controller
      spec:
        replicas: 0
        template:
          spec:
            containers:
              - name: controller
                imagePullPolicy: Never
                env:
                  - {name: CLUSTER_NAME, value: "${AWS_CLUSTER_NAME}"}
                  - {name: AWS_ENDPOINT_URL, value: "http://moto.moto.svc.cluster.local:5000"}
                  - {name: AWS_ACCESS_KEY_ID, value: sandbox}
                  - {name: AWS_SECRET_ACCESS_KEY, value: sandbox}
                  - {name: DEFAULT_TARGET_TYPE, value: ip}
                  - {name: RESYNC_SECONDS, value: "20"}
EOF
  kubectl apply -k "${WORK}/overlay"
}

run_suite() {
  log "running tests/e2e against ${CLUSTER}"
  E2E_KUBECONFIG="${WORK}/kubeconfig" \
    E2E_CLUSTER_NAME="${AWS_CLUSTER_NAME}" \
    E2E_AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_LOCAL_PORT}" \
    E2E_DEFAULT_TARGET_TYPE=ip \
    AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_REGION=us-east-1 \
    "${REPO}/.venv/bin/pytest" "${REPO}/tests/e2e" -m e2e "$@"
}

main() {
  need docker kind kubectl curl
  [[ -x "${PYTHON}" ]] || { log "no venv: run 'make install' first"; exit 1; }
  trap cleanup EXIT
  create_cluster
  build_image
  run_moto
  seed_aws
  deploy_controller
  run_suite "$@"
}

main "$@"

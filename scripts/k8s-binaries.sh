#!/usr/bin/env bash
# Build the binaries of the local control plane from the Go module proxy into a cache outside
# the work tree, keyed by version, and print the directory that holds them on stdout.
#
#   scripts/k8s-binaries.sh           # build what is missing (minutes the first time), then
#                                     # print e.g. ~/.cache/alb-ingress-controller/k8s-v1.37.2
#   K8S_BIN_CACHE=/some/dir scripts/k8s-binaries.sh    # another cache root
#
# What it builds: kube-apiserver, kube-controller-manager, kube-scheduler and kubectl of one
# Kubernetes release; the etcd that release pairs with; kwok (fake Nodes and Pods through the
# API) with its stage manifests; helm (the chart in deploy/helm is linted, rendered and
# installed by the tests). A no-op when the stamps of a finished build are there. Progress
# and the time of each step go to stderr: a first build takes about 10 minutes on two idle
# cores, and a silent minute reads as a hang.
#
# helm has a stamp of its own, so a cache built before helm was added gets helm alone (about
# 1.5 minutes on two busy cores) instead of everything again.
#
# Why a throwaway module per binary: k8s.io/kubernetes is not meant to be required; its go.mod
# replaces every k8s.io/* staging module with a relative path, so our go.mod pins each of those
# to the matching v0.x.y from the proxy instead. etcd's server module has relative replaces too,
# so `go install ...@version` refuses it, while a module that requires it builds.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"

CACHE_ROOT="${K8S_BIN_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/alb-ingress-controller}"
DEST="${CACHE_ROOT}/k8s-${K8S_VERSION}"
STAMP="${DEST}/.complete-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}"
HELM_STAMP="${DEST}/.complete-helm-${HELM_VERSION}"

log() { printf '[k8s-binaries] %s\n' "$*" >&2; }

if [[ -f "${STAMP}" && -f "${HELM_STAMP}" ]]; then
  printf '%s\n' "${DEST}"
  exit 0
fi

command -v go >/dev/null 2>&1 || { log "go is not installed: install Go >= 1.26 (it builds the control plane)"; exit 1; }
mkdir -p "${CACHE_ROOT}"

# One build at a time: `make demo` and `make test` may both ask at once.
exec 9>"${CACHE_ROOT}/.lock-${K8S_VERSION}"
if ! flock -n 9; then
  log "another build of ${K8S_VERSION} is running; waiting for it"
  flock 9
fi
if [[ -f "${STAMP}" && -f "${HELM_STAMP}" ]]; then
  printf '%s\n' "${DEST}"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
WORK="${CACHE_ROOT}/build-${K8S_VERSION}"
mkdir -p "${WORK}"
TOTAL_START=${SECONDS}

step() {  # step NAME COMMAND...: run it, say how long it took, show its log tail on failure
  local name="$1" start=${SECONDS} logfile="${WORK}/${1// /-}.log"
  shift
  log "${name} ..."
  if ! "$@" >"${logfile}" 2>&1; then
    log "${name} FAILED after $((SECONDS - start)) s; last lines of ${logfile}:"
    tail -n 30 "${logfile}" >&2
    exit 1
  fi
  log "${name}: done in $((SECONDS - start)) s"
}

k8s_module() {
  local dir="${WORK}/kubernetes" minor="${K8S_VERSION#v1.}"
  local staging="v0.${minor}"
  mkdir -p "${dir}"
  cd "${dir}"
  [[ -f go.mod ]] || go mod init local/k8s-binaries
  go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" >kubernetes.json
  local gomod
  gomod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' kubernetes.json)"
  # Each `k8s.io/x => ./staging/src/k8s.io/x` becomes `k8s.io/x => k8s.io/x v0.N.M`; the two
  # sample modules are not served by the proxy and nothing we build needs them.
  {
    echo "module local/k8s-binaries"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\1#p' "${gomod}" |
      grep -v -e '^k8s.io/sample-cli-plugin$' -e '^k8s.io/sample-controller$' |
      while read -r mod; do printf '\t%s => %s %s\n' "${mod}" "${mod}" "${staging}"; done
    echo ")"
  } >go.mod
  cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  go mod tidy
}

k8s_build() {
  local minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION}"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor}"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=${K8S_VERSION}"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"
  cd "${WORK}/kubernetes"
  go build -trimpath -ldflags "${ldflags}" -o "${DEST}.partial/$1" "k8s.io/kubernetes/cmd/$1"
}

etcd_build() {
  local dir="${WORK}/etcd"
  mkdir -p "${dir}"
  cd "${dir}"
  [[ -f go.mod ]] || go mod init local/etcd-binary
  cat >tools.go <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
  go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "${DEST}.partial/etcd" go.etcd.io/etcd/server/v3
}

kwok_build() {
  GOBIN="${DEST}.partial" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  # The stages (node heartbeat, pod ready, ...) ship in the module as kustomize trees of plain
  # YAML; kwok runs nothing without them.
  local mod
  mod="$(go env GOMODCACHE)/sigs.k8s.io/kwok@${KWOK_VERSION}"
  rm -rf "${DEST}.partial/kwok-stages"
  cp -r "${mod}/kustomize/stage" "${DEST}.partial/kwok-stages"
  chmod -R u+w "${DEST}.partial/kwok-stages"
}

helm_build() {
  # helm's go.mod has no relative replaces, so `go install` builds it as released, with the
  # ldflags of helm's own Makefile: its version, and the Kubernetes version it renders for
  # (`.Capabilities.KubeVersion`, checked against a chart's kubeVersion; v1.20 otherwise),
  # the one of the client-go it is built with.
  local gomod minor bin="${WORK}/helm-bin"
  cd "${WORK}"
  gomod="$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  minor="$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "${gomod}")"
  [[ -n "${minor}" ]] || { echo "no k8s.io/client-go in ${gomod}"; return 1; }
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  local pkg
  for pkg in pkg/chartutil pkg/lint/rules; do
    ldflags+=" -X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1 -X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${minor}"
  done
  rm -rf "${bin}"
  GOBIN="${bin}" go install -trimpath -ldflags "${ldflags}" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  mv "${bin}/helm" "${DEST}/helm"
}

if [[ ! -f "${STAMP}" ]]; then
  log "building the control plane ${K8S_VERSION} (etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}) into ${DEST}"
  log "first time only: about 10 minutes on two idle cores, ~750 MiB of modules, ~3 GB of memory"
  mkdir -p "${DEST}.partial"
  step "kubernetes modules" k8s_module
  for binary in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "${DEST}.partial/${binary}" ]] || step "build ${binary}" k8s_build "${binary}"
  done
  [[ -x "${DEST}.partial/etcd" ]] || step "build etcd ${ETCD_VERSION}" etcd_build
  [[ -x "${DEST}.partial/kwok" ]] || step "build kwok ${KWOK_VERSION}" kwok_build

  rm -rf "${DEST}"
  mv "${DEST}.partial" "${DEST}"
  touch "${STAMP}"
fi
# Into the finished directory, after the rest: an existing cache gets helm alone.
if [[ ! -f "${HELM_STAMP}" ]]; then
  step "build helm ${HELM_VERSION}" helm_build
  touch "${HELM_STAMP}"
fi
rm -rf "${WORK}"
log "all binaries in ${DEST} ($((SECONDS - TOTAL_START)) s)"
printf '%s\n' "${DEST}"

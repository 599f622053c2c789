#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, etcd) and a matching kubectl from the Go module
# proxy into $1 (default bin/k8s). setup-envtest downloads prebuilt binaries from a site that many
# sandboxes and air-gapped CI runners cannot reach; the module proxy is always there.
# Idempotent: a binary that exists and reports the wanted version is not rebuilt.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
STAGING_VERSION="${STAGING_VERSION:-v0.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bin/k8s}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$root/bin/.envtest-src"

log() { printf 'envtest: %s\n' "$*" >&2; }

has_version() { # expected-substring binary args...
  local want="$1"; shift
  [ -x "$1" ] && "$@" 2>/dev/null | grep -qF "$want"
}

build_kube() {
  local dir="$work/kube" minor
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  mkdir -p "$dir"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  {
    echo "module envtest.local/kube"
    echo
    grep -m1 '^go ' "$gomod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging;
    # a consumer must replace them with the published versions instead.
    grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk -v v="$STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
  } > "$dir/go.mod"
  (
    cd "$dir"
    log "resolving k8s.io/kubernetes $K8S_VERSION"
    go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >/dev/null
    log "building kube-apiserver and kubectl (slow the first time: 10-25 min on 2 cores)"
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  )
}

build_etcd() {
  local dir="$work/etcd"
  mkdir -p "$dir"
  printf 'module envtest.local/etcd\n\ngo 1.25\n' > "$dir/go.mod"
  (
    cd "$dir"
    log "resolving etcd $ETCD_VERSION"
    go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
    log "building etcd"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  )
}

if has_version "$K8S_VERSION" "$out/kube-apiserver" --version && has_version "$K8S_VERSION" "$out/kubectl" version --client; then
  :
else
  build_kube
fi
if has_version "${ETCD_VERSION#v}" "$out/etcd" --version; then
  :
else
  build_etcd
fi
log "ready in $out"

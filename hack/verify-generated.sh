#!/usr/bin/env bash
# Fails when generated files (CRDs, RBAC, deepcopy, the chart's CRD copy) differ from what
# `make manifests generate` produces. It compares against the working tree, not against git, so
# it works the same in CI (clean clone) and in a developer's dirty checkout.
set -euo pipefail
make_cmd="${1:-make}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

generated=(config/crd/bases config/rbac/role.yaml charts/vmcp-operator/crds)
snapshot="$(mktemp -d)"
trap 'rm -rf "$snapshot"' EXIT

for p in "${generated[@]}"; do
  [ -e "$p" ] && mkdir -p "$snapshot/$(dirname "$p")" && cp -r "$p" "$snapshot/$p"
done
while IFS= read -r f; do
  mkdir -p "$snapshot/$(dirname "$f")" && cp "$f" "$snapshot/$f"
done < <(find api -name 'zz_generated.*.go')

$make_cmd --no-print-directory manifests generate >/dev/null

status=0
for p in "${generated[@]}"; do
  if [ -e "$p" ] || [ -e "$snapshot/$p" ]; then
    diff -ruN "$snapshot/$p" "$p" || status=1
  fi
done
while IFS= read -r f; do
  diff -uN "$snapshot/$f" "$f" || status=1
done < <(find api -name 'zz_generated.*.go')

if [ "$status" -ne 0 ]; then
  echo "verify: generated files were out of date (see the diff above); run 'make manifests generate' and commit the result" >&2
  exit 1
fi
echo "verify: generated files are up to date"

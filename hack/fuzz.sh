#!/usr/bin/env bash
# Runs every Fuzz* target in the module for a short, bounded time each (default 10s).
set -euo pipefail
fuzztime="${1:-10s}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
found=0
while IFS= read -r file; do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    found=1
    echo "fuzz: $pkg $target for $fuzztime"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done < <(grep -rlE '^func Fuzz' --include='*_test.go' . | sort)
[ "$found" -eq 1 ] || echo "fuzz: no fuzz targets found"

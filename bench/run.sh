#!/usr/bin/env bash
# make bench: Go benchmarks of every package plus the cross-checks against reference
# implementations measured in the same run. Prints Markdown tables and writes them to
# bench/results/<date>.md (and the cross-checks' own files beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$(mktemp); trap 'rm -f "$raw"' EXIT
echo "== Go benchmarks (go test -bench, 2 cores)"
CGO_ENABLED=1 go test -run '^$' -bench . -benchmem -benchtime=${BENCHTIME:-1s} -timeout 60m ./... | tee "$raw"
{
  echo "# make bench, $stamp"
  echo
  echo "Machine: $(nproc) cores, $(go version | cut -d' ' -f3-)."
  echo
  go run ./bench/table < "$raw"
} > "$out/bench-$stamp.md"
cp "$out/bench-$stamp.md" "$out/latest.md"
echo
cat "$out/latest.md"
# Cross-checks against reference implementations, each printing its own table.
for x in bench/*/crosscheck.sh; do
  [ -x "$x" ] || continue
  echo; echo "== $x"
  "$x" "$out"
done

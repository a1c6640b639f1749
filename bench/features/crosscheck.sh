#!/usr/bin/env bash
# Cross-check for make bench: the features batch driver over a 10-million-event synthetic
# history against the same aggregation as SQL in DuckDB, measured in the same run.
# Usage: bench/features/crosscheck.sh OUTDIR (FEATURES_EVENTS, FEATURES_REPEAT: fastest of that many runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench/results}
bash scripts/install-duckdb.sh
go run ./bench/features -events "${FEATURES_EVENTS:-10000000}" -repeat "${FEATURES_REPEAT:-3}"
[ "$out" = bench/results ] || cp bench/results/features.md "$out/"

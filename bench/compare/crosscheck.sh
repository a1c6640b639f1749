#!/usr/bin/env bash
# Cross-check for make bench: our GBDT and logistic regression against scikit-learn and
# XGBoost (Debian packages) on UCI bank marketing, measured in the same run.
# Usage: bench/compare/crosscheck.sh OUTDIR
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench/results}
if ! /usr/bin/python3 -c 'import sklearn, xgboost, pandas' 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn python3-xgboost python3-pandas >/dev/null
fi
CGO_ENABLED=1 go run ./bench/compare/bank -python /usr/bin/python3
[ "$out" = bench/results ] || cp bench/results/bank-compare.md "$out/"

#!/usr/bin/env bash
# Short closed-loop simulation for `make bench`: every policy (bau, random,
# model, oracle) played through the decision engine and the compliance firewall
# on a small synthetic world, two seeds, plus the off-policy validation.
# Writes OUTDIR/simulate.md and OUTDIR/simulate.json; fails on any compliance
# violation found by the independent re-check.
# Usage: bench/simulate/crosscheck.sh OUTDIR
# The full-size run (50,000 accounts x 90 days, seeds 1-3):
#   engage simulate --accounts 50000 --days 90 --seeds 1,2,3 --out bench/results/simulate-50000x90.md
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
bin=bin/engage
if ! [ -x "$bin" ] || ! "$bin" simulate --help >/dev/null 2>&1; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  bin=$tmp/engage
  CGO_ENABLED=0 go build -o "$bin" ./cmd/engage
fi
accounts=${SIM_ACCOUNTS:-5000}
days=${SIM_DAYS:-45}
seeds=${SIM_SEEDS:-1,2}
"$bin" simulate --accounts "$accounts" --days "$days" --seeds "$seeds" \
  --pretrain-accounts 5000 --pretrain-days 45 --train-accounts 5000 --train-rows 60000 \
  --quiet --out "$out/simulate.md" >/dev/null
cat "$out/simulate.md"

#!/usr/bin/env bash
# make run: the main job end to end on the embedded default — generate the demo
# world, build features, train and register models, then serve the demo tenant.
# Usage: scripts/run-demo.sh BIN DEMO_DIR ACCOUNTS DAYS SEED ADDR
set -euo pipefail
bin=$1 demo=$2 accounts=$3 days=$4 seed=$5 addr=$6
mkdir -p "$demo"
echo "== 1/2 synthetic debtor world: $accounts accounts x $days days (seed $seed) -> $demo/world"
"$bin" datasets synth --accounts "$accounts" --days "$days" --seed "$seed" --out "$demo/world"
echo "== 2/2 summary"
"$bin" datasets inspect "$demo/world"

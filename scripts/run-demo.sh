#!/usr/bin/env bash
# make run: the main job end to end on the embedded default — generate the demo
# world, then each stage that exists: features, training, serving.
# Usage: scripts/run-demo.sh BIN DEMO_DIR ACCOUNTS DAYS SEED ADDR
set -euo pipefail
bin=$1 demo=$2 accounts=$3 days=$4 seed=$5 addr=$6
mkdir -p "$demo"
echo "== synthetic debtor world: $accounts accounts x $days days (seed $seed) -> $demo/world"
"$bin" datasets synth --accounts "$accounts" --days "$days" --seed "$seed" --out "$demo/world"
for t in accounts events decisions; do
  "$bin" datasets validate --table "$t" "$demo/world/$t.parquet"
done
"$bin" datasets inspect --head 3 "$demo/world/events.parquet"

#!/usr/bin/env bash
# make run: the main job end to end on the embedded default — generate the demo
# world, build the feature table, train and register models, then serve.
# Usage: scripts/run-demo.sh BIN DEMO_DIR ACCOUNTS DAYS SEED ADDR
set -euo pipefail
bin=$1 demo=$2 accounts=$3 days=$4 seed=$5 addr=$6
mkdir -p "$demo"
step() { printf '\n== %s\n' "$*"; }

step "1/5 synthetic debtor world: $accounts accounts x $days days (seed $seed) -> $demo/world"
"$bin" datasets synth --accounts "$accounts" --days "$days" --seed "$seed" --out "$demo/world"
for t in accounts events decisions; do
  "$bin" datasets validate --table "$t" "$demo/world/$t.parquet"
done

step "2/5 features: point-in-time logged-decisions table -> $demo/X.parquet"
"$bin" features build --accounts "$demo/world/accounts.parquet" --events "$demo/world/events.parquet" \
  --decisions "$demo/world/decisions.parquet" --out "$demo/X.parquet"

step "3/5 training: engagement (action value, promoted) and payment propensity -> $demo/models"
rm -rf "$demo/models"
"$bin" train --data "$demo/X.parquet" --target engaged_48h --registry "$demo/models" --seed "$seed" --promote
"$bin" train --data "$demo/X.parquet" --target paid_7d --registry "$demo/models" --seed "$seed"
"$bin" models list --registry "$demo/models"

step "4/5 reports over the demo history"
"$bin" report uplift --data "$demo/world" --format csv --table metrics

step "5/5 serving the demo tenant on $addr with the promoted model (Ctrl-C to stop)"
# The world is loaded through the API's own ingestion path; a fresh store each run keeps the
# demo reproducible.
rm -rf "$demo/store"
exec "$bin" serve --data "$demo/store" --registry "$demo/models" --bootstrap "$demo/world" --tenant demo --addr "$addr"

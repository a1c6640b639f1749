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

step "3/5 training: engagement (action value, promoted), payment propensity and channel uplift -> $demo/models"
rm -rf "$demo/models"
"$bin" train --data "$demo/X.parquet" --target engaged_48h --registry "$demo/models" --seed "$seed" --promote
"$bin" train --data "$demo/X.parquet" --target paid_7d --registry "$demo/models" --seed "$seed"
# Uplift: the effect of the contact's channel (sms, call, push, letter) against email, the
# cheapest, on payment within 7 days. The demo's logs hold no other treatment to learn from:
# every logged decision is a contact (no "not contacted" rows), and the holdout ran the same
# business-as-usual policy as everyone else (an A/A split, no effect by construction); the
# channel varies (30% uniform exploration, logged propensities) and the world's debtors differ
# in which channel reaches them. Features are the debtor's context only (no other action part,
# no action-dependent column), so the score ranks debtors. Not promoted: serving keeps the
# engagement model; the reports evaluate the newest uplift model.
"$bin" train --data "$demo/X.parquet" --target paid_7d --registry "$demo/models" --seed "$seed" \
  --uplift-treatment channel --control email --uplift-method t \
  --context-only \
  --title "Channel uplift on payment within 7 days (against email)"
"$bin" models list --registry "$demo/models"

step "4/5 reports over the demo history"
"$bin" report uplift --data "$demo/world" --format csv --table metrics
# Qini and AUUC of the uplift model per channel, on the decisions after its training cut-off
# (the start of its test split), each scored from its point-in-time features.
"$bin" report model-uplift --data "$demo/world" --registry "$demo/models" --format csv --table arms

step "5/5 serving the demo tenant on $addr with the promoted model (Ctrl-C to stop)"
# The world is loaded through the API's own ingestion path; a fresh store each run keeps the
# demo reproducible.
rm -rf "$demo/store"
exec "$bin" serve --data "$demo/store" --registry "$demo/models" --bootstrap "$demo/world" --tenant demo --addr "$addr"

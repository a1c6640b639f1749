#!/usr/bin/env bash
# Short closed-loop simulation for `make bench` (about 2 minutes on 2 cores):
#  1. every policy (bau, random, model, oracle) played through the decision
#     engine and the compliance firewall in process on a small synthetic world,
#     two seeds, plus the off-policy validation: OUTDIR/simulate.md (.json);
#  2. the HTTP cross-check: the model policy played through a real `engage
#     serve` (a fresh store on a free port; referrals, events, decisions and
#     model promotions over HTTP) and in process, with no exploration on either
#     side, must give the same table row: OUTDIR/simulate-http.md (.json).
# Fails on any compliance violation found by the independent re-check and on
# any difference between the HTTP and the in-process runs.
# Usage: bench/simulate/crosscheck.sh OUTDIR   (SIM_HTTP=0 skips step 2)
# The full-size run (50,000 accounts x 90 days, seeds 1-3):
#   engage simulate --accounts 50000 --days 90 --seeds 1,2,3 --out bench/results/simulate-50000x90.md
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
bin=bin/engage
if ! [ -x "$bin" ] || ! "$bin" simulate --help 2>/dev/null | grep -q -- --api-key-file; then
  bin=$work/engage
  CGO_ENABLED=0 go build -o "$bin" ./cmd/engage
fi
accounts=${SIM_ACCOUNTS:-3000}
days=${SIM_DAYS:-30}
seeds=${SIM_SEEDS:-1,2}
"$bin" simulate --accounts "$accounts" --days "$days" --seeds "$seeds" \
  --pretrain-accounts 3000 --pretrain-days 30 --train-accounts 3000 --train-rows 40000 \
  --quiet --out "$out/simulate.md" >/dev/null
cat "$out/simulate.md"

[ "${SIM_HTTP:-1}" = 0 ] && exit 0
echo
echo "== HTTP cross-check: the model policy through engage serve vs in process (ε = 0)"
(umask 077; "$bin" keys create --data "$work/srv" --tenant sim --scopes referrals,events,decisions,admin >"$work/key" 2>/dev/null)
"$bin" serve --data "$work/srv" --registry "$work/models" --addr 127.0.0.1:0 --holdout 0 --epsilon 0 --seed 1 \
  --budget 10s --rate-limit 0 --no-sync --log-level info 2>"$work/serve.log" &
pid=$!
url=
for _ in $(seq 100); do
  addr=$(grep -o '"msg":"serving","addr":"[^"]*"' "$work/serve.log" | head -1 | sed 's/.*"addr":"\([^"]*\)"/\1/' || true)
  if [ -n "$addr" ] && curl -fs "http://$addr/readyz" >/dev/null 2>&1; then url=http://$addr; break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "engage serve did not become ready" >&2; cat "$work/serve.log" >&2; exit 1; }
common=(--accounts 1000 --days 20 --seeds 1 --policies model --ope=false --bootstrap 0
  --pretrain-accounts 2000 --pretrain-days 30 --train-accounts 1000 --train-rows 30000 --quiet)
"$bin" simulate "${common[@]}" --epsilon 0 --out "$work/inprocess.md" >/dev/null
ENGAGE_API_KEY=$(cat "$work/key") "$bin" simulate "${common[@]}" --server "$url" --registry "$work/models" \
  --out "$out/simulate-http.md" >/dev/null
# The policy table's model row without its last column (decisions/s, a timing).
row() { grep -m1 '^| 1 | model |' "$1" | awk -F'|' '{for (i = 2; i <= 11; i++) printf "%s|", $i; print ""}'; }
a=$(row "$work/inprocess.md")
b=$(row "$out/simulate-http.md")
echo "in process: $a"
echo "over HTTP:  $b"
if [ -z "$a" ] || [ "$a" != "$b" ]; then
  echo "FAIL: the HTTP run differs from the in-process run" >&2
  exit 1
fi
echo "OK: identical (see $out/simulate-http.md)"

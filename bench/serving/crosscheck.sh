#!/usr/bin/env bash
# Serving cross-check: engage's single-account decision endpoint against a
# trivial echo v4 handler, both driven by the same load generators in the same
# run, on 127.0.0.1 only, with bounded durations. Prints a Markdown table and
# writes it to OUTDIR/serving.md.
# Usage: bench/serving/crosscheck.sh OUTDIR   (env: DUR=10s RATE=2000 ACCOUNTS=2000 REGISTRY=dir)
set -euo pipefail
out=${1:?usage: crosscheck.sh OUTDIR}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install -y wrk); skipping serving cross-check"; exit 0; }
dur=${DUR:-10s} rate=${RATE:-2000} accounts=${ACCOUNTS:-2000}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/engage" ./cmd/engage
go build -o "$tmp/trivial" ./bench/serving/trivial
go build -o "$tmp/loadgen" ./bench/serving/loadgen
"$tmp/engage" datasets synth --accounts "$accounts" --days 30 --seed 1 --out "$tmp/world" >/dev/null 2>&1
args=(serve --data "$tmp/data" --addr 127.0.0.1:18180 --bootstrap "$tmp/world" --rate-limit 0 --log-level warn)
if [ -n "${REGISTRY:-}" ]; then args+=(--registry "$REGISTRY"); else args+=(--rate-scorer); fi
"$tmp/engage" "${args[@]}" >"$tmp/serve.out" 2>"$tmp/serve.err" & pids+=($!)
"$tmp/trivial" --addr 127.0.0.1:18181 & pids+=($!)
for _ in $(seq 1 600); do grep -q curl "$tmp/serve.out" 2>/dev/null && break; sleep 0.2; done
grep -q curl "$tmp/serve.out" || { echo "engage serve did not start"; cat "$tmp/serve.err"; exit 1; }
key=$(cat "$tmp/data/demo.key")
acct=$(grep -o '"account_id\\\?":\\\?"[^"\\]*' "$tmp/serve.out" | head -1 | sed 's/.*"//')
now=$(grep -o '"now\\\?":\\\?"[^"\\]*' "$tmp/serve.out" | head -1 | sed 's/.*"//')
body="{\"account_id\":\"$acct\",\"now\":\"$now\"}"
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
curl -sf -X POST http://127.0.0.1:18180/v1/decisions -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$body" >/dev/null
rps() { wrk -t2 -c32 -d"$dur" -s "$tmp/post.lua" "$1" | awk '/Requests\/sec/ {print $2}'; }
triv=$(rps http://127.0.0.1:18181/)
dec=$(rps http://127.0.0.1:18180/v1/decisions)
lg=$("$tmp/loadgen" -url http://127.0.0.1:18180/v1/decisions -key "$key" -body "$body" -rate "$rate" -duration "$dur")
p99=$(echo "$lg" | awk '{print $10}'); errs=$(echo "$lg" | awk '{print $4}'); got=$(echo "$lg" | awk '{print $2}'); p50=$(echo "$lg" | awk '{print $6}')
ratio=$(awk -v a="$dec" -v b="$triv" 'BEGIN{printf "%.2f", a/b}')
ok_ratio=$(awk -v r="$ratio" 'BEGIN{print (r+0 >= 0.5) ? "yes" : "NO"}')
ok_p99=$(awk -v p="$p99" -v e="$errs" 'BEGIN{print (p+0 <= 5 && e+0 == 0) ? "yes" : "NO"}')
{
  echo "## Serving cross-check ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, loopback, load generator on the same machine)"
  echo
  echo "Model: ${REGISTRY:-built-in rate scorer}; world: $accounts accounts x 30 days; synced audit write per decision."
  echo
  echo "| measure | value | target | met |"
  echo "|---|---|---|---|"
  echo "| trivial echo handler, wrk -t2 -c32 $dur | $triv req/s | reference | |"
  echo "| POST /v1/decisions (1 account), same wrk | $dec req/s | >= 0.5 x trivial | $ok_ratio ($ratio x) |"
  echo "| POST /v1/decisions at $rate req/s open loop, $dur | p50 $p50 ms, p99 $p99 ms, $errs errors, achieved $got req/s | p99 <= 5 ms | $ok_p99 |"
  echo
  echo "Command: bench/serving/crosscheck.sh $out (DUR=$dur RATE=$rate ACCOUNTS=$accounts)"
} | tee "$out/serving.md"

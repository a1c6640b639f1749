#!/usr/bin/env bash
# Installs DuckDB's Node client (the independent Parquet reader used by interoperability
# tests and the features benchmark) into a cache folder outside the checkout.
set -euo pipefail
dir=${ENGAGE_DUCKDB_DIR:-$HOME/.cache/engage-duckdb}
if [ -d "$dir/node_modules/@duckdb/node-api" ]; then exit 0; fi
mkdir -p "$dir"
npm install --prefix "$dir" --silent --no-audit --no-fund @duckdb/node-api@1.5.6-r.1 >/dev/null
echo "installed @duckdb/node-api into $dir"

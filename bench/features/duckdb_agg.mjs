// Runs the DuckDB side of the features benchmark: per-account, per-channel event
// counts and amount sums over events.parquet, the same GROUP BY the Go side
// computes. Prints {"seconds": <query wall time>, "groups": <groups>} as JSON.
//
//   node bench/features/duckdb_agg.mjs events.parquet
//
// @duckdb/node-api is resolved from ENGAGE_DUCKDB_PREFIX/node_modules (the Go
// driver installs the pinned version there).
import { createRequire } from "node:module";
import path from "node:path";

const file = process.argv[2];
if (!file) {
  console.error("usage: duckdb_agg.mjs events.parquet");
  process.exit(2);
}
const prefix = process.env.ENGAGE_DUCKDB_PREFIX;
const require = createRequire(prefix ? path.join(prefix, "package.json") : import.meta.url);
const { DuckDBInstance } = require("@duckdb/node-api");

const instance = await DuckDBInstance.create(":memory:", { threads: "2" });
const conn = await instance.connect();
const sql = `
  SELECT count(*) AS groups, sum(n) AS events, sum(s) AS amount FROM (
    SELECT account_id, channel, count(*) AS n, sum(amount) AS s
    FROM read_parquet('${file.replaceAll("'", "''")}')
    GROUP BY account_id, channel
  )`;
const t0 = process.hrtime.bigint();
const reader = await conn.runAndReadAll(sql);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const row = reader.getRowObjects()[0];
console.log(JSON.stringify({ seconds, groups: Number(row.groups), events: Number(row.events) }));

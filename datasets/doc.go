// Package datasets holds the canonical tables of engage — accounts (referrals),
// events and logged decisions — with their Parquet schemas, streaming readers and
// writers, row validation, importers for outside tabular data and the synthetic
// debtor world with known ground truth.
//
// Every table is Parquet so that pandas, Spark and DuckDB read what engage writes.
// Times are UTC microseconds since the Unix epoch (Parquet TIMESTAMP(MICROS, UTC));
// the debtor's IANA zone is on the account. Money is integer minor units plus an
// ISO 4217 currency code.
package datasets

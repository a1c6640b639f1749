// Package atomicfile writes files whole or not at all.
//
// Reports, results and tables (every Parquet and CSV table the datasets
// package writes) are written through a temporary file in the destination's
// folder, synced and renamed onto it only when every byte is written, so an
// error, a Ctrl-C or a crash leaves the previous file (or none), never a part
// of the new one that a reader would take for the whole.
package atomicfile

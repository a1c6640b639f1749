// Package atomicfile writes files whole or not at all.
//
// Reports, results and tables are written through a temporary file in the
// destination's folder and renamed onto it only when every byte is written,
// so an error or a Ctrl-C leaves the previous file (or none), never a part of
// the new one that a reader would take for the whole.
package atomicfile

// Package progress builds the progress bars of engage's long-running commands
// (synthesis, feature builds, training, bootstrap, simulation) in one way.
//
// On a terminal the bar redraws in place. Anywhere else (CI logs, files,
// pipes) a redrawing bar would leave thousands of fragments, so the same bar
// prints a plain line at a slow, fixed interval instead: description, count,
// rate and ETA, one line each time.
package progress

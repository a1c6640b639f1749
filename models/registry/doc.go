// Package registry is the versioned store of trained models on the file
// system. Each registered model is an immutable folder
//
//	<dir>/v0001/model.json     the Artifact: family, family payload, features,
//	                           priors, training-data hash, seed, target, metrics
//	<dir>/v0001/card.json      the model card, machine-readable
//	<dir>/v0001/card.md        the model card, for people
//	<dir>/v0001/manifest.json  version number and sha256 of the three files
//
// written to a temporary folder and renamed into place, so a reader never sees
// a half-written version and two writers never get the same number (renaming
// onto an existing non-empty folder fails, and the loser retries with the next
// number). Promotions are an append-only history in promotions.json, rewritten
// atomically (temp file + rename) under an exclusive flock on registry.lock,
// so concurrent promoters (threads or processes) serialise and never corrupt
// it. Rollback returns to the version promoted before the current one.
//
// The registry does not know any model family: consumers register a Decoder
// per family name (Options.Decoders), which keeps it free of imports of
// gbdt, linear or uplift. Load verifies the manifest hash before decoding.
package registry

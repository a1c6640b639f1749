// Package compliance is the contact firewall: it decides whether a planned contact with a
// debtor is allowed under the rules of the debtor's jurisdiction, gives every reason when it
// is not, says when that channel would next be allowed, and lists the notices the message
// must carry.
//
// Rules are data. Each jurisdiction has a rule pack (YAML, embedded defaults in packs/,
// optionally replaced or extended from an override directory); every rule cites its source
// and says whether it is primary law, a secondary reading, unverified, or company policy.
// Jurisdictions are layered through parents (POLICY → US → US-MA) and a contact is allowed
// only when every layer allows it, so the strictest rule always wins.
//
// Local-time rules use the debtor's IANA zone from Go's embedded tz database, so a bare
// machine computes the same hours. When the zone is unknown, every zone of the
// jurisdiction must be inside its permitted hours (the strictest reading). A pack that
// blacks out holidays must list the holiday dates of the year asked about; a missing year
// is an error, never a silent pass.
//
// Callers build a Firewall once (Open or New), compile one Subject per account and ledger,
// and ask the Subject about each candidate contact. A caller asking many questions at once
// (the decision engine: every channel at the decision instant, then each channel's send
// slots) asks through a Session, which evaluates the rules that do not depend on the
// channel once per instant; its answers are the Subject's. The JSON contract used by
// `engage compliance check` and POST /v1/compliance/check is Request and Decision.
package compliance

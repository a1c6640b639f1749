// Package features defines the features engage computes from an account's event
// history, once, and runs them through two drivers that give identical numbers:
// a batch driver that builds the logged-decisions table for training, and an
// online driver that serving updates on every incoming event.
//
// # One definition
//
// A State is a fixed-size fold over one account's events (State.apply is the only
// place an event changes it) and State.Read is the only read-out: it fills a
// vector laid out by NumericNames. Account.Categorical gives the categorical
// features (CategoricalNames). The action-dependent context features
// (ActionNames) describe the history as it bears on one candidate action: the
// batch driver fills them for the logged action and serving and the scorer per
// candidate, all through State.actionValues (State.Candidates is the public
// door). Read at instant t with a state holding exactly the events strictly
// before t; nothing else enters, so no feature can see the future.
//
// Features (see NumericNames for the exact columns):
//   - static: balance, days past due (at referral plus days since), days since
//     referral, consents per channel, dispute/cease/hardship flags; categoricals
//     product, jurisdiction, region, age band, language;
//   - per channel (datasets.Channels order): contacts sent, delivered,
//     engagement events (open, click, reply, answered call, inbound call), the
//     Beta-smoothed engagement rate (engaged contacts + m·prior) / (sent + m)
//     with the population rate as prior, hours since the last engagement, opted out;
//   - time: engagements counted per LOCAL hour of week (168 bins, Sunday 00:00
//     first, in the account's IANA zone, DST and half-hour offsets included, at
//     the engagement instant: when the debtor was active). The profile pools the
//     debtor's counts by hour of day over weekdays and over weekend days (a
//     handful of engagements cannot fill 168 bins), smooths them over
//     neighbouring hours (1/4, 1/2, 1/4) and shrinks them toward the profile of
//     the debtor's segment (age band | region) with weight k/(n+k); read out as 24
//     hour-of-day shares, 7 day-of-week shares, the peak hour of week, n and the
//     own-data weight. The state also counts contacts per local hour of day of
//     the send and those that got an engagement (the send-slot response), and
//     contacts per channel and local hour of the send;
//   - hour-aware channel evidence (after the pressure columns):
//     <channel>_sent_active = the channel's contacts, each weighed by the
//     debtor's activity at its send hour as the profile sees it now (the
//     profile's hour-of-day share over its busiest hour's). A phone rings
//     wherever the debtor is but is answered in their active hours, so calls
//     left unanswered at 10:00 say little about an evening person; reading
//     the weights from the current profile re-weighs contacts made before the
//     profile was known, and still uses only events before the read;
//   - action-dependent (ActionNames): send_slot_affinity = 168 × profile(slot);
//     send_slot_relative = profile(slot) / profile(peak hour of that day);
//     send_slot_response = the debtor's response rate to sends in the slot's hour
//     (smoothed over neighbouring hours, shrunk with SlotStrength toward their
//     overall rate shaped by the population's response over the day);
//     channel_affinity and message_affinity = the candidate channel's engagement
//     rate and message's response rate (the values of the per-channel and
//     per-message columns, matched to the action); channel_sent and
//     channel_sent_active = the candidate channel's <channel>_sent and
//     <channel>_sent_active; channel_active_affinity = its engaged contacts
//     over its activity-weighed contacts, Beta-smoothed like channel_affinity;
//     channel_active_share = that over the sum of the five contact channels';
//     channel_segment_rate = the channel's engagement rate in the debtor's
//     segment (the prior a thin history is read against);
//   - message (datasets.Messages order): contacts with each variant, and the
//     smoothed response rate (engagement with that contact) and payment rate (a
//     payment within 7 days of the account's latest contact, once per contact);
//   - payments: count, amount paid, fraction of the referred balance paid (capped
//     at 1; NaN without a balance), balance remaining (floored at 0), days since
//     the last payment, promises made, promises kept (paid in full within 14
//     days), a promise open now;
//   - pressure and sentiment: contacts in the last 24 h, 7 d and 30 d, all
//     contacts, hours since the last contact, complaints, opt-outs, disputes,
//     cease requests.
//
// "Never happened" reads NaN (missing), e.g. hours since the last engagement.
// An engagement is attributed to the latest contact on its channel (not by
// decision_id); an inbound call without a channel counts as a call engagement
// without attribution. The pressure windows keep the latest 64 contact instants
// of the last 30 days, so counts saturate at 64.
//
// # Priors
//
// Priors hold the population numbers the smoothing shrinks toward: engagement
// rate per channel, response and payment rate per message, the response rate
// per local send hour, the hour-of-week profile of everybody and of each
// segment, and each segment's engagement rate per channel (format version 3;
// version 1 and 2 priors still load, with a flat send-hour response for 1 and
// the population's channel rates for every segment). The default strengths are small (3 contacts, 4 engagements):
// preferences are individual, so a few observations outweigh the segment. The
// batch driver computes them in a
// first pass over the whole training history (population-level statistics of the
// training period: standard practice, and a fixed model parameter afterwards;
// pass Options.Priors to reuse a training set's priors for a test set). They are
// saved as JSON in X.parquet's metadata (MetaPriors) and are a Go value
// (Priors.JSON, ParsePriors) to embed in model artifacts, so serving reads out
// with the same numbers. JSON floats round-trip exactly.
//
// # Batch driver
//
// Build (and `engage features build`) streams events.parquet, sorted by
// (account_id, at), in columnar batches: it decodes only the columns it needs,
// page by page from parquet-go's typed buffers, interning the dictionary
// vocabulary once per dictionary, in one goroutine while another replays. For
// each account it applies events in time order and reads each decision out just
// before the first event at or after the decision instant (strictly before it),
// then watches the following events for the decision's outcomes. Memory is one
// account's state and decisions, whatever the file size. decisions.parquet must
// be grouped by account_id in the same order (as engage writes it). Unsorted
// events, unknown accounts, event types, channels or messages are errors naming
// the file row. Replay is the same driver over slices in memory.
//
// Outcomes are measured from the send instant t0 = max(decided_at, send_at):
// an event counts when t0 < at <= t0 + window. engaged_48h: an engagement event
// on the decision's channel (the response to that contact; any channel when the
// decision has none; an inbound call without a channel counts as a call);
// paid_7d, paid_30d, amount_30d (minor units); complaint_7d;
// optout_7d. An outcome whose window reaches past the end of the history (the
// latest event or decision instant, or Options.End) is NaN: censored, unknown,
// never a negative. The propensity is NaN when the log recorded 0 (unknown).
//
// Output columns and roles (Columns): decision_id and account_id (id),
// decided_at (time), the features (context), channel, local_hour and message
// (action), propensity, and the outcomes.
//
// # Online driver
//
// Serving keeps a State per account in the store: Update decodes it, applies the
// new events (in time order; an older event is ErrOutOfOrder and changes
// nothing) and encodes it again; Read reads it out at the decision instant. The
// encoding (MarshalBinary) starts with StateVersion; any other version is refused
// with ErrStateVersion rather than misread. It keeps every field, so a state read
// after any number of store round trips reads out exactly as the batch driver's.
// Version 2 added the send-slot counts, version 3 the contacts per channel and
// send hour; a version 2 state still decodes, its contacts held under an
// unknown hour that weighs fully (its channel evidence reads as the plain
// counts until new contacts arrive, so it differs from a batch rebuild).
// Typical states are 100-350 bytes, a year of heavy traffic under 1.5 KB.
package features

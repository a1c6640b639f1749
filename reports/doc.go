// Package reports computes the reports that operations teams and clients read to
// decide whether the models earn their keep: uplift of the model policy over the
// business-as-usual holdout, the Qini curve of the uplift model, liquidation by
// age band and region, seasonality of payments and engagement, and the channel
// funnel. Every report is a typed struct that marshals to JSON and flattens to
// Tables; the JSON API (Handler), the CSV/Parquet export and the dashboard
// (package reports/dashboard) all render those same structs.
//
// # Data and scope
//
// Reports read one tenant's accounts, events and decisions through Source, an
// interface declared here so that storage stays replaceable: DirSource reads a
// folder of canonical Parquet files, MemSource holds rows in memory, and serving
// adapts its store. Load indexes a Source into a Book; the reports are methods of
// Book taking a Filter.
//
// # Definitions
//
// Period: events with From <= at < To (zero bounds are open). The population of
// a period is every account referred before To that matches the jurisdiction
// and product filters. A jurisdiction filter without a subdivision ("US")
// matches all its subdivisions ("US-MA").
//
// Contact: one contact_sent event (one per outbound attempt on any channel,
// calls and letters included). Call outcomes, letter_mailed and inbound calls
// are what followed a contact, not contacts.
//
// Attribution: an event that names a decision belongs to the contact of that
// decision; any other event (payments, in practice) belongs to the account's
// latest contact at or before it within Options.AttributionWindow (last touch),
// and to no contact otherwise. An event's channel is its own, else its
// contact's. A channel filter keeps only events whose channel is in the filter,
// so under a channel filter unattributed payments are left out.
//
// Money: integer minor units; figures are per currency (a payment counts in its
// account's currency; the amount of a payment in another currency is not
// counted, though the payment still counts as one). Liquidation
// rate = money collected in the period / money referred (the sum of referred
// balances of the population).
//
// Arms: an account is in the holdout when Options.Holdout says so or, by
// default, when any of its decisions carries Holdout=true or policy "holdout";
// an account with decisions and none of them holdout is treated; an account
// without decisions is unassigned and left out of uplift.
//
// # Model uplift
//
// The model-uplift report evaluates an uplift model (Options.Uplift, an
// UpliftScorer; reports/scoring provides one over a model registry) on the
// period's logged decisions: a decision is treated when its treatment field
// (the model's, e.g. channel) has an arm's level and a control when it has
// the control level; its outcome is the model's (e.g. paid_7d) from its
// logged outcome window, and decisions whose window is still open are left
// out. Only decisions after the model's training cut-off count when the
// period has any ("out_of_sample"); otherwise the report is computed on the
// earlier ones and says "in_sample"; a model without a known cut-off is
// "unknown". Decisions are scored once per Book (those after the cut-off;
// the others only when a report needs them). Options.Scores, outside
// per-account scores, is evaluated per account, treatment arm against
// holdout, on "paid at least once in the period".
//
// # Confidence intervals
//
// Differences of proportions (payment rate, opt-out rate) use Newcombe's hybrid
// Wilson score interval (method 10). Ratios and means (liquidation rate, amount
// per account, contacts per payment, complaints per million contacts) use a
// seeded percentile bootstrap over accounts (Options.Resamples resamples, each
// arm resampled separately). A difference is significant when its interval
// excludes 0. An arm with fewer than Options.MinAccounts accounts, a ratio
// with a zero denominator, or (for the bootstrap) an arm with fewer than
// Options.MinEvents accounts contributing to the numerator or the denominator
// (an arm without payers shows no variance when resampled, and its interval
// would be falsely narrow) yields a "not_enough_data" status and null
// values: JSON never carries NaN or Inf.
package reports

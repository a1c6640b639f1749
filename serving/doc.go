// Package serving is engage's HTTP API (echo v4): ingestion of referrals and
// events, next-best-action decisions, the compliance check, account sync, the
// model registry, and the operational endpoints. The decision logic lives in
// serving/engine; storage in package store.
//
// # Tenancy and auth
//
// Every /v1 request carries "Authorization: Bearer <API key>". The key is bound
// to one tenant and a set of scopes (store.Key); the tenant of every read and
// write comes from the key, never from the request: a tenant field in a body
// row must be empty or equal to the key's tenant. Each route needs one scope
// (admin allows all). Requests of one key are rate limited by a token bucket;
// over the limit they get 429 with Retry-After.
//
// # Errors
//
// Every error is JSON: {"error": {"status": 400, "field": "events[3].type",
// "row": 3, "reason": "unknown event type"}}. A batch that fails validation
// stores nothing. Request bodies are size-limited (413).
//
// # Writes
//
// An acknowledged write is durable: the store syncs before the 2xx. Referrals
// and events are idempotent (the same batch twice changes nothing). Events of
// an account may arrive out of time order within Options.LateTolerance: the
// account's feature state is then rebuilt from its whole stored history in the
// same transaction; an event older than that is refused with its row.
//
// # Account status
//
// The status of an account is derived from its events: active (referred, or
// any event), promised (promise_to_pay), paying (a payment short of the
// balance), paid (payments reach the referred balance; final), disputed
// (dispute), ceased (cease). "closed" is part of the vocabulary for a lender's
// recall, which no event type expresses yet, so it is never produced. Every
// change is appended to the tenant's change feed (GET /v1/changes).
//
// # Decisions: caching and durability
//
// A decision reads a per-account view: the prepared account, the decoded
// feature state, and the compliance Subject compiled from the account and its
// contact ledger. Views live in a bounded LRU (Options.CacheAccounts, per
// tenant and account) and are dropped when an event batch or referral touching
// the account is stored (before its 2xx), so every decision after an
// acknowledged write sees it; a view read concurrently with a write is never
// cached after the write's invalidation (per-shard generations). The ledger
// in a view is bounded: entries of the last engine.Lookback (the longest
// rule window of the packs in effect plus two days) plus a week, and of older
// ones only what the firewall can still need (engine.PruneLedger), so checks
// answer exactly as with the whole history; a decision whose "now" lies before
// the view's detail rebuilds it from the store.
//
// A 2xx for a decision means its audit record is synced. Audit writes of
// concurrent requests are group-committed by the store into its append-only
// decision journal (one fdatasync for every request waiting; a batch request
// is one append), and indexed into badger in the background; see package
// store.
//
// # Dashboard login
//
// Browsers cannot send a bearer key, so GET /dashboard/login serves a form and
// POST /dashboard/login exchanges a key with the reports scope for an opaque,
// random session id in an HttpOnly, SameSite=Strict cookie scoped to
// /dashboard (Secure over TLS). The key stays server-side, re-authenticated on
// every request (a revoked key ends its sessions); sessions expire after
// Options.SessionTTL or at POST /dashboard/logout. The cookie is not accepted
// by /v1.
//
// # Models
//
// The promoted model of the registry is loaded at start and after each POST
// /v1/models/{version}/promote; the scorer is swapped with an atomic pointer,
// so requests in flight finish with the model they started with and none
// fails. The registry is shared by all tenants, so promotion needs the admin
// scope. Without any model the engine answers with the business-as-usual
// action, marked as a fallback.
package serving

package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/engagehq/engage/datasets"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/models/registry"
	"github.com/engagehq/engage/serving"
	"github.com/engagehq/engage/serving/engine"
)

// Remote plays the model policy through a running engage server over HTTP
// instead of the in-process engine: the accounts are referred with POST
// /v1/referrals as they arrive, every event the world draws is sent with POST
// /v1/events once its instant has passed, and each day's decisions are asked
// with POST /v1/decisions in batches (one "now" per batch: the accounts whose
// 07:00 local falls on the same instant). The bau, random and oracle
// policies, the OPE validation and the independent compliance check stay in
// process: they are not the server's to play.
//
// The server decides with its own engine options (holdout share, ε, seed,
// scoring budget): for a result comparable with the in-process mode, start it
// with no holdout, the simulation's ε and a scoring budget that is never hit
// (engage serve --holdout 0 --epsilon 0.05 --budget 1s).
type Remote struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080; empty plays
	// in process.
	URL string
	// APIKey is the bearer token: a key with the referrals, events and
	// decisions scopes, and admin to promote retrained models.
	APIKey string `json:"-"`
	// Registry is the server's model registry directory (engage serve
	// --registry). When set, the first model and every retrained one are
	// written there as new versions and put in service with POST
	// /v1/models/{version}/promote (the API cannot upload a model). When
	// empty, the server's promoted model plays throughout and nothing is
	// retrained.
	Registry string
	// RunID prefixes the account and event ids sent (RunID-seed-id), so that
	// seeds and runs do not collide in the server's store; empty is derived
	// from the clock when Run starts.
	RunID string
	// Batch is the most rows per request (referrals, events, account ids);
	// 0 means 1000. The server refuses more than its own limit (10,000 by
	// default).
	Batch int
	// Client sends the requests; nil means a client with a 5-minute timeout.
	Client *http.Client
}

var runIDRE = regexp.MustCompile(`^[A-Za-z0-9_.]{1,40}$`)

// check validates the remote settings of o and fills the run id.
func (r *Remote) check(o *Options) error {
	if r.URL == "" {
		return nil
	}
	u, err := url.Parse(r.URL)
	switch {
	case err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("simulate: server %q: want http://host:port or https://host", r.URL)
	case r.APIKey == "":
		return errors.New("simulate: playing over HTTP needs an API key")
	case r.Batch < 0:
		return fmt.Errorf("simulate: batch %d: must not be negative", r.Batch)
	case o.Convert != "" || o.MessageTarget != "":
		return errors.New("simulate: the server serves one model, so the chained conversion model (Convert) and the message model (MessageTarget) can only be played in process")
	case o.AllHours || o.MinP != 0 || o.ExploreBonus != 0:
		return errors.New("simulate: over HTTP the engine and its scorer are the server's: AllHours, MinP and ExploreBonus are in-process options")
	}
	if r.RunID == "" {
		r.RunID = "sim" + time.Now().UTC().Format("20060102T150405")
	}
	if !runIDRE.MatchString(r.RunID) {
		return fmt.Errorf("simulate: run id %q: want 1-40 letters, digits, '_' or '.'", r.RunID)
	}
	return nil
}

func (r *Remote) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return 1000
}

// wireID is an account or event id as sent to the server.
func (r *Remote) wireID(seed uint64, id string) string {
	return r.RunID + "-" + strconv.FormatUint(seed, 10) + "-" + id
}

// client speaks the server's JSON API.
type client struct {
	base, key string
	hc        *http.Client
}

func newClient(r *Remote) *client {
	hc := r.Client
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	return &client{base: strings.TrimRight(r.URL, "/"), key: r.APIKey, hc: hc}
}

// do sends one request and decodes a 2xx answer into out; a 429 (the key's
// rate limit) is retried with backoff, any other non-2xx is an error quoting
// the server's reason.
func (c *client) do(ctx context.Context, method, path string, body any, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
	}
	wait := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(payload))
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		req.Header.Set("Authorization", "Bearer "+c.key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: read answer: %w", method, path, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests && attempt < 10 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
			continue
		}
		if resp.StatusCode/100 != 2 {
			var e struct {
				Error *serving.APIError `json:"error"`
			}
			if json.Unmarshal(b, &e) == nil && e.Error != nil {
				return fmt.Errorf("%s %s: %s: %w", method, path, resp.Status, e.Error)
			}
			return fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
			}
		}
		return nil
	}
}

// probe checks, before anything is trained or sent, that the key may decide
// and, when promote is set, promote: both requests are refused after
// authentication (an unknown decision, an invalid version name), so they
// change nothing.
func (c *client) probe(ctx context.Context, promote bool) error {
	paths := [][2]string{{http.MethodGet, "/v1/decisions/engage-simulate-probe"}}
	if promote {
		paths = append(paths, [2]string{http.MethodPost, "/v1/models/v0/promote"})
	}
	for _, p := range paths {
		err := c.do(ctx, p[0], p[1], nil, nil)
		var ae *serving.APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
			return fmt.Errorf("the server refuses the API key: %w", err)
		}
		if err != nil && ae == nil {
			return err // not an answer of the API: unreachable, not engage, ...
		}
	}
	return nil
}

// serving returns the version the server serves (GET /readyz), "" for none.
func (c *client) serving(ctx context.Context) (string, error) {
	var r struct {
		Model *string `json:"model"`
	}
	if err := c.do(ctx, http.MethodGet, "/readyz", nil, &r); err != nil {
		return "", err
	}
	if r.Model == nil {
		return "", nil
	}
	return *r.Model, nil
}

// remote is the model policy's side of a simulation played over HTTP.
type remote struct {
	s   *sim
	r   *Remote
	c   *client
	reg *registry.Registry // the server's; nil without Options.Remote.Registry

	referred []bool // referral sent
	posted   []int  // events of each account sent (a prefix of account.events)
	asked    []bool // asked today
	answers  []*engine.Decision
	models   []string
	decTime  time.Duration
	requests [3]int // referrals, events, decisions requests sent
}

// playRemote plays the model policy through the server (see Remote) and
// measures it as play does.
func (s *sim) playRemote(ctx context.Context) (*Result, error) {
	if err := s.setup(); err != nil {
		return nil, err
	}
	began := time.Now()
	n := len(s.accts)
	rm := &remote{s: s, r: &s.o.Remote, c: newClient(&s.o.Remote),
		referred: make([]bool, n), posted: make([]int, n), asked: make([]bool, n), answers: make([]*engine.Decision, n)}
	if err := rm.c.probe(ctx, rm.r.Registry != ""); err != nil {
		return nil, err
	}
	var tr *trainer
	if rm.r.Registry != "" {
		var err error
		if rm.reg, err = action.Open(rm.r.Registry); err != nil {
			return nil, fmt.Errorf("server registry: %w", err)
		}
		if tr, err = newTrainer(ctx, s.o, s.seed); err != nil {
			return nil, err
		}
		defer tr.close()
		if _, err := tr.pretrain(ctx); err != nil {
			return nil, err
		}
		if err := rm.publish(ctx, tr, 0); err != nil {
			return nil, err
		}
	} else {
		v, err := rm.c.serving(ctx)
		if err != nil {
			return nil, err
		}
		if v == "" {
			v = "none (business-as-usual fallback)"
		}
		rm.models = append(rm.models, "served by the server throughout: "+v)
	}
	for d := range s.o.Days {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if tr != nil && s.o.RetrainEvery > 0 && d > 0 && d%s.o.RetrainEvery == 0 {
			sc, err := tr.retrain(ctx, s, d)
			if err != nil {
				return nil, err
			}
			if sc != nil {
				if err := rm.publish(ctx, tr, d); err != nil {
					return nil, err
				}
			}
		}
		if err := rm.day(ctx, d); err != nil {
			return nil, fmt.Errorf("day %d: %w", d, err)
		}
		s.bar.Add(1)
	}
	// Everything dated within the period happens, and the server hears of it.
	for _, a := range s.accts {
		if err := a.applyUntil(s.end); err != nil {
			return nil, err
		}
	}
	if err := rm.sendEvents(ctx); err != nil {
		return nil, err
	}
	wall := time.Since(began)
	res := s.measure()
	res.Wall = wall
	if rm.decTime > 0 {
		res.DecisionsPerSec = float64(res.Decisions) / rm.decTime.Seconds()
	}
	if tr != nil {
		res.TrainTime = tr.spent
	}
	res.Models = rm.models
	began = time.Now()
	res.Violations, res.ViolationExamples, res.Checked = s.check()
	res.CheckTime = time.Since(began)
	return res, nil
}

// publish copies the model the trainer just promoted in its own registry
// into the server's registry as a new version and promotes it there over
// HTTP; the server loads it before it answers, so the next decision uses it.
func (rm *remote) publish(ctx context.Context, tr *trainer, day int) error {
	v, err := tr.reg.Promoted()
	if err != nil {
		return fmt.Errorf("publish day %d: %w", day, err)
	}
	l, err := tr.reg.Load(v.Name)
	if err != nil {
		return fmt.Errorf("publish day %d: %w", day, err)
	}
	card, err := tr.reg.Card(v.Name)
	if err != nil {
		return fmt.Errorf("publish day %d: %w", day, err)
	}
	sv, err := rm.reg.Register(l.Artifact, card)
	if err != nil {
		return fmt.Errorf("publish day %d to the server's registry: %w", day, err)
	}
	if err := rm.c.do(ctx, http.MethodPost, "/v1/models/"+sv.Name+"/promote", nil, nil); err != nil {
		return fmt.Errorf("publish day %d: %w", day, err)
	}
	what := v.Name
	if len(tr.versions) > 0 {
		what = tr.versions[len(tr.versions)-1]
	}
	rm.models = append(rm.models, fmt.Sprintf("%s promoted on the server over HTTP, day %d: %s", sv.Name, day, what))
	return nil
}

// day plays day d: what happened is applied locally and sent, the eligible
// accounts are decided by the server, and the contacts are played against the
// world in process (the same per-account order of draws as sim.step).
func (rm *remote) day(ctx context.Context, d int) error {
	s := rm.s
	var mu sync.Mutex
	var refer []int
	groups := map[int64][]int{} // decision instant -> accounts
	err := s.shards(func(i int) error {
		a := s.accts[i]
		rm.asked[i], rm.answers[i] = false, nil
		nowUS := morning(s.o.Start, d, a.loc).UnixMicro()
		if nowUS < a.referred {
			return nil
		}
		if err := a.applyUntil(nowUS); err != nil {
			return err
		}
		ask := a.eligible(nowUS, s.o.Cadence)
		if !rm.referred[i] || ask {
			mu.Lock()
			if !rm.referred[i] {
				refer = append(refer, i)
			}
			if ask {
				groups[nowUS] = append(groups[nowUS], i)
			}
			mu.Unlock()
		}
		rm.asked[i] = ask
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(refer)
	if err := rm.sendReferrals(ctx, refer); err != nil {
		return err
	}
	if err := rm.sendEvents(ctx); err != nil {
		return err
	}
	if err := rm.decide(ctx, groups); err != nil {
		return err
	}
	return s.shards(func(i int) error {
		a := s.accts[i]
		now := morning(s.o.Start, d, a.loc)
		if now.UnixMicro() < a.referred {
			return nil
		}
		if rm.asked[i] {
			s.decisions.Add(1)
			if c := choiceOf(rm.answers[i]); c != nil {
				if err := s.send(a, c, now, rm.answers[i].DecisionID); err != nil {
					return err
				}
			}
		}
		a.add(s.w.Spontaneous(a.i, now, a.rng))
		return nil
	})
}

// choiceOf is the contact a server decision makes, nil for none (as
// modelPolicy.decide reads an in-process decision).
func choiceOf(d *engine.Decision) *choice {
	if d == nil || d.Outcome != engine.OutcomeContact || d.Action == nil {
		return nil
	}
	c := &choice{channel: d.Action.Channel, message: d.Action.Message, sendAt: d.Action.SendAt.UTC(), hour: d.Action.LocalHour,
		prop: d.Propensity, policy: d.Policy, model: d.ModelVersion}
	for _, n := range d.Compliance.Notices {
		c.notices = append(c.notices, n.ID)
	}
	return c
}

// sendReferrals refers the accounts idx (POST /v1/referrals).
func (rm *remote) sendReferrals(ctx context.Context, idx []int) error {
	for lo := 0; lo < len(idx); lo += rm.r.batch() {
		part := idx[lo:min(lo+rm.r.batch(), len(idx))]
		rows := make([]datasets.Account, len(part))
		for k, i := range part {
			rows[k] = *rm.s.accts[i].row
			rows[k].Tenant, rows[k].ID = "", rm.r.wireID(rm.s.seed, rows[k].ID)
		}
		var res serving.ReferralsResponse
		if err := rm.c.do(ctx, http.MethodPost, "/v1/referrals", serving.ReferralsRequest{Accounts: rows}, &res); err != nil {
			return err
		}
		rm.requests[0]++
		for _, i := range part {
			rm.referred[i] = true
		}
	}
	return nil
}

// sendEvents sends every event that happened and was not sent yet (POST
// /v1/events), each account's in time order.
func (rm *remote) sendEvents(ctx context.Context) error {
	var rows []datasets.Event
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		var res serving.EventsResponse
		if err := rm.c.do(ctx, http.MethodPost, "/v1/events", serving.EventsRequest{Events: rows}, &res); err != nil {
			return err
		}
		rm.requests[1]++
		if res.Duplicates > 0 {
			return fmt.Errorf("POST /v1/events: %d of %d events already stored: run id %q was used before", res.Duplicates, len(rows), rm.r.RunID)
		}
		rows = rows[:0]
		return nil
	}
	for i, a := range rm.s.accts {
		for _, e := range a.events[rm.posted[i]:] {
			e.Tenant = ""
			e.EventID = rm.r.wireID(rm.s.seed, e.EventID)
			e.AccountID = rm.r.wireID(rm.s.seed, e.AccountID)
			rows = append(rows, e)
			if len(rows) == rm.r.batch() {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		rm.posted[i] = len(a.events)
	}
	return flush()
}

// decide asks the server for the decisions of each group of accounts that
// share a decision instant (POST /v1/decisions, in batches).
func (rm *remote) decide(ctx context.Context, groups map[int64][]int) error {
	for _, at := range slices.Sorted(maps.Keys(groups)) {
		idx := groups[at]
		slices.Sort(idx)
		now := time.UnixMicro(at).UTC()
		for lo := 0; lo < len(idx); lo += rm.r.batch() {
			part := idx[lo:min(lo+rm.r.batch(), len(idx))]
			ids := make([]string, len(part))
			for k, i := range part {
				ids[k] = rm.r.wireID(rm.s.seed, rm.s.accts[i].row.ID)
			}
			var res struct {
				Decisions []*engine.Decision `json:"decisions"`
			}
			t0 := time.Now()
			err := rm.c.do(ctx, http.MethodPost, "/v1/decisions", serving.DecisionsRequest{AccountIDs: ids, Now: &now}, &res)
			rm.decTime += time.Since(t0)
			if err != nil {
				return err
			}
			rm.requests[2]++
			if len(res.Decisions) != len(part) {
				return fmt.Errorf("POST /v1/decisions: %d decisions for %d accounts", len(res.Decisions), len(part))
			}
			for k, i := range part {
				if got := res.Decisions[k].AccountID; got != ids[k] {
					return fmt.Errorf("POST /v1/decisions: decision %d is for account %q, asked for %q", k, got, ids[k])
				}
				rm.answers[i] = res.Decisions[k]
			}
		}
	}
	return nil
}

// transport is the report's paragraph on how the model policy was played;
// empty in process.
func (o *Options) transport() string {
	r := &o.Remote
	if r.URL == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Played over HTTP**: the model policy's decisions came from the engage server at %s (POST /v1/decisions in batches of at most %d accounts sharing a decision instant), ", r.URL, r.batch())
	fmt.Fprintf(&b, "which heard of every referral (POST /v1/referrals) and every event once its instant had passed (POST /v1/events), with ids prefixed %q; ", r.RunID+"-<seed>-")
	if r.Registry != "" {
		fmt.Fprintf(&b, "each (re)trained model was written to the server's registry (%s) and put in service with POST /v1/models/{version}/promote. ", r.Registry)
	} else {
		b.WriteString("the server's promoted model played throughout (no registry given: no pretraining, no retraining). ")
	}
	b.WriteString("The engine options (holdout, ε, scoring budget) are the server's, not the ones above; bau, random, oracle, the off-policy validation and the independent compliance check ran in process. Decisions/s of the model row: decisions per second of POST /v1/decisions wall time.")
	return b.String()
}

// Render is Markdown(command) with, when the model policy was played over
// HTTP, a paragraph after the title saying so.
func (r *Report) Render(command string) string {
	md := r.Markdown(command)
	p := r.Options.transport()
	if p == "" {
		return md
	}
	title, rest, ok := strings.Cut(md, "\n\n")
	if !ok {
		return p + "\n\n" + md
	}
	return title + "\n\n" + p + "\n\n" + rest
}

// WriteRendered is Write with Render's Markdown; the JSON also records the
// server played against ("played_over").
func (r *Report) WriteRendered(path, command string) error {
	if r.Options.Remote.URL == "" {
		return r.Write(path, command)
	}
	if err := writeAtomic(path, []byte(r.Render(command))); err != nil {
		return err
	}
	j, err := json.MarshalIndent(struct {
		*Report
		PlayedOver string `json:"played_over"`
		RunID      string `json:"run_id"`
	}{r, r.Options.Remote.URL, r.Options.Remote.RunID}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return writeAtomic(strings.TrimSuffix(path, filepath.Ext(path))+".json", j)
}

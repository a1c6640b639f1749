package training

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/engagehq/engage/datasets/synth"
	"github.com/engagehq/engage/features"
	"github.com/engagehq/engage/models/action"
	"github.com/engagehq/engage/repo"
)

// syntheticRun builds a world, its features, trains the engaged_48h
// action-value model and evaluates the preferred channel, hour and message
// against the world's hidden truth.
func syntheticRun(t *testing.T, accounts, days int, o Options, msg *Options) (PreferenceReport, Report, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	wo := synth.DefaultOptions()
	wo.Accounts, wo.Days, wo.Seed = accounts, days, 1
	w, err := synth.New(wo)
	if err != nil {
		t.Fatal(err)
	}
	world := filepath.Join(dir, "world")
	if err := w.WriteDir(context.Background(), world, nil); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(dir, "X.parquet")
	began := time.Now()
	if _, err := features.Build(context.Background(), features.Inputs{
		Accounts:  filepath.Join(world, synth.AccountsFile),
		Events:    filepath.Join(world, synth.EventsFile),
		Decisions: filepath.Join(world, synth.DecisionsFile),
	}, x, features.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	t.Logf("features: %s", time.Since(began))
	reg, err := action.Open(filepath.Join(dir, "reg"))
	if err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	rep, err := Run(context.Background(), x, reg, o)
	if err != nil {
		t.Fatal(err)
	}
	trainTime := time.Since(began)
	m, err := action.Load(reg, rep.Version.Name)
	if err != nil {
		t.Fatal(err)
	}
	// The preferred channel is read among the consented channels (the best
	// allowed action); the report gives the read-out over every channel too.
	po := PreferenceOptions{ConsentedChannel: true}
	if msg != nil {
		mrep, err := Run(context.Background(), x, reg, *msg)
		if err != nil {
			t.Fatal(err)
		}
		if po.MessageModel, err = action.Load(reg, mrep.Version.Name); err != nil {
			t.Fatal(err)
		}
		t.Logf("message model: %s of rows with %s = 1, AUC %.4f, %d rows", msg.Target, msg.OnlyWhere, mrep.Metrics["auc"], mrep.Rows-mrep.Dropped)
	}
	pr, err := EvaluatePreferences(context.Background(), world, m, po)
	if err != nil {
		t.Fatal(err)
	}
	return pr, rep, trainTime
}

// TestSyntheticPreferencesSmall is the fast version run by default: the
// preferred channel must beat the population answer (the most common hidden
// best channel), which it can only do by reading each account's history.
func TestSyntheticPreferencesSmall(t *testing.T) {
	o := DefaultOptions()
	o.Target = "engaged_48h"
	o.GBDT.MaxIter = 150
	o.GBDT.LearningRate = 0.1
	pr, rep, _ := syntheticRun(t, 2000, 60, o, nil)
	t.Logf("AUC %.4f ECE %.4f\n%s", rep.Metrics["auc"], rep.Metrics["ece"], pr.Markdown())
	if pr.All.ChannelRate <= pr.All.PopularChannelRate {
		t.Errorf("preferred channel accuracy %.3f does not beat the population answer %.3f", pr.All.ChannelRate, pr.All.PopularChannelRate)
	}
	if pr.All.Accounts != 2000 {
		t.Errorf("evaluated %d accounts, want 2000", pr.All.Accounts)
	}
}

// TestSyntheticPreferences is the full evaluation (ENGAGE_SLOW=1): the demo
// world, 20,000 accounts x 90 days, seed 1. It writes
// bench/results/synthetic-preferences.md. The targets (channel >= 90%
// and hour within 1 h >= 80% among accounts with 5+ contacts) are reported,
// not asserted; what is asserted is calibration (ECE <= 0.02) and that the
// model beats both baselines on the channel.
func TestSyntheticPreferences(t *testing.T) {
	if os.Getenv("ENGAGE_SLOW") != "1" {
		t.Skip("slow: set ENGAGE_SLOW=1 (20k accounts x 90 days, a few minutes)")
	}
	o := DefaultOptions()
	o.Target = "engaged_48h"
	// The send hour enters the model only through the debtor's own slot
	// features (send_slot_*), which are shrunk toward the segment's profile and
	// so carry the population's hour effect too; with local_hour as well, the
	// population effect outvotes thin individual profiles (measured: hour
	// within 1 h about 5 points lower, channel the same).
	o.Exclude = []string{"local_hour"}
	// The message is read out by a payment model fitted on the engaged
	// contacts: the tone barely moves engagement but moves payment.
	mo := o
	mo.Target, mo.OnlyWhere = "paid_7d", "engaged_48h"
	pr, rep, trainTime := syntheticRun(t, 20000, 90, o, &mo)
	for i, im := range rep.Importance {
		if i < 15 {
			t.Logf("importance %s %.4f", im.Feature, im.Value)
		}
	}
	md := pr.Markdown()
	t.Logf("\n%s\n%s", md, pr.Breakdown())
	if ece := rep.Metrics["ece"]; ece > 0.02 {
		t.Errorf("test ECE %.4f > 0.02", ece)
	}
	if pr.AtLeast5.ChannelRate <= pr.AtLeast5.BaseChannelRate || pr.AtLeast5.ChannelRate <= pr.AtLeast5.PopularChannelRate {
		t.Errorf("channel accuracy %.3f does not beat the baselines", pr.AtLeast5.ChannelRate)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.Root(wd)
	if err != nil {
		t.Skip(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Synthetic world: preferred channel, send hour and message vs hidden truth\n\n")
	fmt.Fprintf(&b, "Generated by `ENGAGE_SLOW=1 go test ./training -run TestSyntheticPreferences$` on %s.\n\n", time.Now().UTC().Format(time.DateOnly))
	fmt.Fprintf(&b, "World: synth default options, 20,000 accounts x 90 days, seed 1. Features: `features.Build` with default priors. ")
	fmt.Fprintf(&b, "Model: gbdt (default options) of `engaged_48h` (an engagement on the contact's channel within 48 h), `local_hour` excluded (the hour acts through the send_slot_* features), isotonic calibration, time split %d/%d/%d rows (%d censored rows dropped), %v trees, trained in %s. ",
		len(rep.Split.Train), len(rep.Split.Valid), len(rep.Split.Test), rep.Dropped, rep.Metrics["trees"], trainTime.Round(time.Second))
	fmt.Fprintf(&b, "Test split: AUC %.4f, log-loss %.4f, Brier %.4f, **ECE %.4f** (target <= 0.02).\n\n", rep.Metrics["auc"], rep.Metrics["logloss"], rep.Metrics["brier"], rep.Metrics["ece"])
	fmt.Fprintf(&b, "Each account's features are read at the end of the history from its replayed online state; the scorer ranks email, sms, call, push, letter x local hours 8..20 x 5 messages exhaustively, the action-dependent features (%s) filled per candidate by `features.Candidates` on the next local weekday. ", strings.Join(features.ActionNames(), ", "))
	fmt.Fprintf(&b, "Preferred channel (column 'channel = hidden best') = the de-mixed read-out among the channels the account consented to (`PreferenceOptions.ConsentedChannel`; a channel without consent is never allowed): an evaluation read-out of the model's scores, not what serving does (serving ranks actions by expected value: column 'channel of the best action', over every channel): each channel's best probability over hour and message is placed between the population's typical level for a debtor whose favourite the channel is not and for one whose favourite it is (medians over the accounts, no truth; table below), and the channel furthest toward its favourite level wins. The columns 'de-mixed over every channel' (consent ignored) and 'channel of the best action' (the expected-engagement argmax, as before) are the other read-outs. Preferred send hour = the dedicated send-time read-out (`features.State.SendHour`): the candidate hour whose ±1 h window holds the most of the debtor's smoothed, shrunk weekday engagement profile (the column 'action-value argmax' is the model's best hour over the channels that reach the debtor at the send instant, and 'hour of the best action' the hour of its overall best action, letters included). Hour hit = within 1 hour (circular) of the hidden weekday peak. Preferred message = the best message, at the preferred channel and hour, of a second gbdt: `paid_7d` fitted only on the engaged contacts (`Options.OnlyWhere = engaged_48h`), because the tone moves engagement by a few percent and payment given engagement by about half. Mean scoring time %s per account (two rankings).\n\n",
		(pr.ScoreTime / time.Duration(max(pr.Scored, 1))).Round(time.Microsecond))
	b.WriteString(md)
	b.WriteString("\n" + pr.Breakdown())
	fmt.Fprintf(&b, "\nTargets (accounts with 5+ past contacts): channel >= 90%% — measured %.1f%%; hour within 1 h >= 80%% — measured %.1f%% (send-time read-out; the action-value argmax: %.1f%%). Message = hidden best: %.1f%% (chance 20%%).\n",
		100*pr.AtLeast5.ChannelRate, 100*pr.AtLeast5.SendTimeRate, 100*pr.AtLeast5.HourRate, 100*pr.AtLeast5.MessageRate)
	b.WriteString(limits)
	out := filepath.Join(root, "bench", "results", "synthetic-preferences.md")
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
}

const limits = `
## What limits it

The world (datasets/synth) makes channel and hour preferences individual and
identifiable, and the message preference individual but nearly invisible:

- Channel: the favourite is at least 3x (typically 5-20x) every other channel,
  so a debtor is identified once the history holds a few contacts on it. The
  rows "channel, hidden best sent ..." split the accounts by the evidence on
  their favourite: one sent on at most twice and never engaged with cannot be
  told from the other channels by any read-out (it looks like every other
  unanswered channel; about 470 of these 5+ accounts never consented to
  their favourite, so the history holds nothing on it and a read-out among
  consented channels misses them by construction), and those sent on 3+
  times without an answer are mostly call lovers called outside their active
  hours or favourites they opted out of. Two things made call lovers
  readable: the hour-aware channel evidence (<channel>_sent_active,
  channel_active_affinity: a call left unanswered at an hour the debtor is
  never active barely counts against the channel), and the de-mixed read-out
  (an expected-engagement argmax prefers an email opened now and then over a
  call that would be answered by a call lover, because opening an email is
  easy; the de-mixed read-out asks which channel's evidence lies furthest
  toward "favourite"). The BAU's 30% random channel and its optimistic
  routing decide how much evidence there is.
- Hour: the dedicated send-time read-out (features.State.SendHour) maximises
  the weekday profile's mass within ±1 h of the candidate hour, which is
  exactly what the hit criterion rewards; the action-value model's argmax
  reads the same profile through send_slot_* and is noisier for debtors whose
  favourite is a letter or a call (their timed-channel engagement is low and
  flat). The first engagement after a deferred message lands at the start of
  the active window, hence the -1 h skew in the error table.
- Message: the tone moves the chance of engaging by at most ~10% relative
  (synth: 0.75 + 0.25 x response, the best message 1, the others 0.45-0.85)
  and the chance that an engagement turns into money by ~1.5x, so an
  engaged_48h model cannot see it and a payment model sees it through a
  ~5% conversion rate diluted by unprompted payments (AUC of the paid_7d model
  on engaged rows: see the log, about 0.56). The best message is drawn per
  debtor with weights that depend only on days past due, balance and the
  hardship flag; per debtor it is not identifiable from ~25 contacts (a
  payment usually ends the journey), so the attainable read-out is the
  segment's most likely best message (about a third of debtors), and with
  this much data the segment differences are about one standard error.
- Both curves rise with the number of past contacts (first table).
`

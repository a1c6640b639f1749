package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/engagehq/engage/compliance"
)

// TestPruneLedgerSameAnswers: a subject compiled from the pruned ledger answers
// every check at or after cutoff + Lookback exactly as the full ledger does
// (allowed, reasons, notices, earliest permitted instant), for random
// accounts of every jurisdiction with long histories (older than the
// lookback) whose contacts carry random notices.
func TestPruneLedgerSameAnswers(t *testing.T) {
	fw, err := compliance.Open(compliance.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	look := Lookback(fw)
	if look < 31*24*time.Hour {
		t.Fatalf("lookback %s shorter than the longest cap window", look)
	}
	var notices []string
	for _, p := range fw.Packs() {
		for _, r := range p.Rules {
			if r.Kind == "notice" || r.Kind == "gate" {
				notices = append(notices, r.ID)
			}
		}
	}
	outcomes := []string{"contact_sent", "delivered", "opened", "replied", "call_no_answer", "call_conversation", "call_voicemail_left", "letter_mailed", "payment", "complaint"}
	js := fw.Jurisdictions()
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	pruned, checks := 0, 0
	for i := 0; i < 300; i++ {
		j := js[rng.IntN(len(js))]
		acct := compliance.Account{ID: fmt.Sprint("a", i), Jurisdiction: j, Consents: map[compliance.Channel]bool{}}
		for _, c := range []compliance.Channel{compliance.Email, compliance.SMS, compliance.Call, compliance.Push, compliance.Letter} {
			acct.Consents[c] = rng.IntN(4) > 0
		}
		var ledger []compliance.Entry
		at := now.Add(-time.Duration(60+rng.IntN(200)) * 24 * time.Hour)
		for at.Before(now.Add(3 * 24 * time.Hour)) { // a few scheduled entries after now too
			at = at.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
			out, err := compliance.ParseOutcome(outcomes[rng.IntN(len(outcomes))])
			if err != nil {
				t.Fatal(err)
			}
			e := compliance.Entry{Channel: compliance.Channels[rng.IntN(5)], At: at, Outcome: out}
			if out == compliance.CallNoAnswer || out == compliance.CallConversation || out == compliance.CallVoicemailLeft {
				e.Channel = compliance.Call
			}
			if out == compliance.LetterMailed {
				e.Channel = compliance.Letter
			}
			if len(notices) > 0 && rng.IntN(6) == 0 {
				e.Notices = []string{notices[rng.IntN(len(notices))]}
			}
			ledger = append(ledger, e)
		}
		cut := now.Add(-look - time.Duration(rng.IntN(10))*24*time.Hour)
		small := PruneLedger(ledger, cut)
		pruned += len(ledger) - len(small)
		full, err := fw.Subject(acct, ledger)
		if err != nil {
			t.Fatal(err)
		}
		part, err := fw.Subject(acct, small)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 20; k++ {
			when := cut.Add(look + time.Duration(rng.Int64N(int64(20*24*time.Hour))))
			c := compliance.Contact{Channel: compliance.Channels[rng.IntN(5)], At: when}
			a, err1 := full.Check(c)
			b, err2 := part.Check(c)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !reflect.DeepEqual(a, b) {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				t.Fatalf("%s %s at %s: full ledger\n%s\npruned ledger\n%s", j, c.Channel, when, ja, jb)
			}
			checks++
		}
	}
	if pruned == 0 {
		t.Fatal("nothing was pruned: the test does not exercise the summary")
	}
	t.Logf("%d checks equal; %d ledger entries pruned", checks, pruned)
}

package synth

import (
	"testing"

	"github.com/engagehq/engage/datasets"
)

func TestDbgRecover(t *testing.T) {
	w, c := world()
	type tally struct{ sent, engaged [nContact]int }
	per := map[string]*tally{}
	chOf := map[string]int{}
	for _, d := range c.decisions {
		chOf[d.DecisionID] = datasets.ChannelIndex(d.Channel)
		if per[d.AccountID] == nil {
			per[d.AccountID] = &tally{}
		}
		per[d.AccountID].sent[chOf[d.DecisionID]]++
	}
	engagedDec := map[string]bool{}
	for _, e := range c.events {
		switch e.Type {
		case datasets.EventOpened, datasets.EventClicked, datasets.EventReplied,
			datasets.EventCallConversation, datasets.EventInboundCall:
			if !engagedDec[e.DecisionID] {
				engagedDec[e.DecisionID] = true
				per[e.AccountID].engaged[chOf[e.DecisionID]]++
			}
		}
	}
	var n, hit [nContact]int
	var sentB, engB, sentO, engO [nContact]int
	for i, a := range w.Accounts() {
		tl := per[a.ID]
		if tl == nil {
			continue
		}
		total := 0
		for _, s := range tl.sent {
			total += s
		}
		b := w.prefs[i].best
		if total < 18 || !a.Consent(datasets.ContactChannels[b]) {
			continue
		}
		arg, rate := -1, -1.0
		for ch := range nContact {
			if tl.sent[ch] < 2 {
				continue
			}
			if r := float64(tl.engaged[ch]) / float64(tl.sent[ch]); r > rate {
				arg, rate = ch, r
			}
		}
		n[b]++
		if arg == b {
			hit[b]++
		}
		for ch := range nContact {
			if ch == b {
				sentB[b] += tl.sent[ch]
				engB[b] += tl.engaged[ch]
			} else {
				sentO[b] += tl.sent[ch]
				engO[b] += tl.engaged[ch]
			}
		}
	}
	for b := range nContact {
		t.Logf("%s: %d accts, hit %.2f, best-ch sent/acct %.1f rate %.3f, others rate %.3f", datasets.ContactChannels[b], n[b], float64(hit[b])/float64(n[b]),
			float64(sentB[b])/float64(n[b]), float64(engB[b])/float64(sentB[b]), float64(engO[b])/float64(sentO[b]))
	}
}

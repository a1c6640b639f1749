package synth

import (
	"fmt"
	"math"
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
	var ps, pe [nContact]float64
	for _, tl := range per {
		for c := range nContact {
			ps[c] += float64(tl.sent[c])
			pe[c] += float64(tl.engaged[c])
		}
	}
	for _, m := range []float64{1, 3, 6} {
		for _, lo := range []int{5, 10} {
			h, nn := 0, 0
			for i, a := range w.Accounts() {
				tl := per[a.ID]
				if tl == nil {
					continue
				}
				tot := 0
				for _, s := range tl.sent {
					tot += s
				}
				if tot < lo {
					continue
				}
				arg, best := 0, -1.0
				for c := range nContact {
					r := (float64(tl.engaged[c]) + m*pe[c]/ps[c]) / (float64(tl.sent[c]) + m)
					if r > best {
						arg, best = c, r
					}
				}
				nn++
				if arg == w.prefs[i].best {
					h++
				}
			}
			t.Logf("smoothed m=%g contacts>=%d: %d accts %.3f", m, lo, nn, float64(h)/float64(nn))
		}
	}
	{
		var n, noSend, noEng, noConsent, closeN int
		for i, a := range w.Accounts() {
			tl := per[a.ID]
			if tl == nil {
				continue
			}
			tot := 0
			for _, s := range tl.sent {
				tot += s
			}
			if tot < 10 {
				continue
			}
			b := w.prefs[i].best
			n++
			if !a.Consent(datasets.ContactChannels[b]) {
				noConsent++
			}
			if tl.sent[b] == 0 {
				noSend++
			} else if tl.engaged[b] == 0 {
				noEng++
			}
			if w.prefs[i].close {
				closeN++
			}
		}
		t.Logf(">=10: %d accts, best not consented %d, never sent on best %d, sent but never engaged %d, close %d", n, noConsent, noSend, noEng, closeN)
	}
	for b := range nContact {
		t.Logf("%s: %d accts, hit %.2f, best-ch sent/acct %.1f rate %.3f, others rate %.3f", datasets.ContactChannels[b], n[b], float64(hit[b])/float64(n[b]),
			float64(sentB[b])/float64(n[b]), float64(engB[b])/float64(sentB[b]), float64(engO[b])/float64(sentO[b]))
	}
}

func TestDbgBayes(t *testing.T) {
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
	// effective rates: r[b][c] = rate of channel c among accounts whose best is b
	var s, e [nContact][nContact]float64
	var prior [nContact]float64
	for i, a := range w.Accounts() {
		b := w.prefs[i].best
		prior[b]++
		if tl := per[a.ID]; tl != nil {
			for ch := range nContact {
				s[b][ch] += float64(tl.sent[ch])
				e[b][ch] += float64(tl.engaged[ch])
			}
		}
	}
	hits, n := 0, 0
	var bn, bh [7]int
	var sentBest [30]int
	for i, a := range w.Accounts() {
		tl := per[a.ID]
		if tl == nil {
			continue
		}
		tot := 0
		for _, x := range tl.sent {
			tot += x
		}
		if tot < 5 {
			continue
		}
		n++
		sentBest[min(tl.sent[w.prefs[i].best], 29)]++
		arg, best := 0, math.Inf(-1)
		for b := range nContact {
			ll := math.Log(prior[b])
			for ch := range nContact {
				r := e[b][ch] / s[b][ch]
				ll += float64(tl.engaged[ch])*math.Log(r) + float64(tl.sent[ch]-tl.engaged[ch])*math.Log(1-r)
			}
			if ll > best {
				arg, best = b, ll
			}
		}
		if arg == w.prefs[i].best {
			hits++
		}
		k := min(tl.sent[w.prefs[i].best]/3, 5)
		if w.prefs[i].close {
			k = 6
		}
		bn[k]++
		if arg == w.prefs[i].best {
			bh[k]++
		}
	}
	for k := range bn {
		t.Logf("bin %d (sends on best /3, 6=close): %d accts %.3f", k, bn[k], float64(bh[k])/float64(bn[k]))
	}
	t.Logf("bayes-ish 5+: %d accts, %.3f; sends on best histogram %v", n, float64(hits)/float64(n), sentBest)
	for b := range nContact {
		var row []string
		for ch := range nContact {
			row = append(row, fmt.Sprintf("%.3f", e[b][ch]/s[b][ch]))
		}
		t.Logf("best %s: rates %v", datasets.ContactChannels[b], row)
	}
}

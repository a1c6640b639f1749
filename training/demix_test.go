package training

import (
	"math"
	"testing"
)

// TestDemix: the de-mixed read-out prefers the channel whose probability lies
// furthest from its "not the favourite" level toward its "favourite" level,
// so a hard channel (calls: 0.05 vs 0.35) at 0.25 beats an easy one (email:
// 0.07 vs 0.65) at 0.30, while the expected-engagement argmax takes email.
func TestDemix(t *testing.T) {
	nan := math.NaN()
	mix := [][2]float64{{0.07, 0.65}, {0.04, 0.55}, {0.05, 0.35}, {0.05, 0.48}, {0.01, 0.36}}
	cases := []struct {
		name      string
		p         [numContactChannels]float64
		raw, want int
	}{
		{"call stands out", [numContactChannels]float64{0.30, 0.04, 0.25, 0.05, 0.01}, 0, 2},
		{"email clear", [numContactChannels]float64{0.60, 0.04, 0.10, 0.05, 0.01}, 0, 0},
		{"only one allowed", [numContactChannels]float64{nan, nan, 0.02, nan, nan}, 2, 2},
		{"none allowed", [numContactChannels]float64{nan, nan, nan, nan, nan}, -1, -1},
	}
	for _, c := range cases {
		if got := argmax(&c.p); got != c.raw {
			t.Errorf("%s: argmax %d, want %d", c.name, got, c.raw)
		}
		if got := demix(&c.p, mix); got != c.want {
			t.Errorf("%s: demix %d, want %d", c.name, got, c.want)
		}
	}
	// Without a usable level the raw probability ranks.
	flat := [][2]float64{{nan, nan}, {0.1, 0.1}, {nan, nan}, {nan, nan}, {nan, nan}}
	if got := demix(&[numContactChannels]float64{0.3, nan, 0.3, nan, nan}, flat); got != 0 {
		t.Errorf("tie: demix %d, want the earlier channel 0", got)
	}
	if got := demix(&[numContactChannels]float64{0.3, 0.2, 0.4, nan, nan}, flat); got != 2 {
		t.Errorf("no levels: demix %d, want the raw argmax 2", got)
	}
}

// TestChannelMix: per channel, the median of the accounts that prefer it
// and of those that do not; NaN entries (not candidates) are left out, and a
// channel nobody prefers reads NaN for the favourite level.
func TestChannelMix(t *testing.T) {
	nan := math.NaN()
	acc := [][numContactChannels]float64{
		{0.9, 0.1, 0.05, nan, 0.01},
		{0.7, 0.2, 0.04, nan, 0.02},
		{0.1, 0.6, 0.03, nan, 0.03},
		{0.2, 0.1, 0.50, nan, 0.02},
	}
	mix := channelMix(acc)
	want := [][2]float64{{0.15, 0.8}, {0.1, 0.6}, {0.04, 0.5}, {nan, nan}, {0.02, nan}}
	for c := range want {
		for k := range 2 {
			g, w := mix[c][k], want[c][k]
			if !(g == w || math.IsNaN(g) && math.IsNaN(w)) && math.Abs(g-w) > 1e-12 {
				t.Errorf("channel %d level %d: %v, want %v", c, k, g, w)
			}
		}
	}
}

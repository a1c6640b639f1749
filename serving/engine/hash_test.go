package engine

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"
)

// TestVectorHash checks vectorHash against hash/fnv's FNV-1a over the
// little-endian float bits: the audit records store the value, so it must not
// change. The vectors mix the floats whose bytes have zero runs at either
// end (integers, halves, NaN, zero, tiny subnormals) with arbitrary ones.
func TestVectorHash(t *testing.T) {
	special := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 3, 1234, math.NaN(), math.Inf(1), math.Inf(-1),
		math.SmallestNonzeroFloat64, 5e-324 * 255, math.Float64frombits(0x00ff), math.Float64frombits(0xff00000000000000),
		math.Float64frombits(0x0000ff0000ff0000), math.MaxFloat64, 1.0 / 3}
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 200 {
		v := make([]float64, n%40)
		for i := range v {
			switch rng.IntN(3) {
			case 0:
				v[i] = special[rng.IntN(len(special))]
			case 1:
				v[i] = float64(rng.IntN(1000))
			default:
				v[i] = math.Float64frombits(rng.Uint64() >> (8 * rng.IntN(8)) << (8 * rng.IntN(8)))
			}
		}
		h := fnv.New64a()
		var b [8]byte
		for _, x := range v {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
			h.Write(b[:])
		}
		if got, want := vectorHash(v), fmt.Sprintf("%016x", h.Sum64()); got != want {
			t.Fatalf("vector %v: hash %s, FNV-1a %s", v, got, want)
		}
	}
}

package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/engagehq/engage/datasets"
)

// eventCodecV1 tags the binary event encoding, so that a later layout can be told
// apart from this one.
const eventCodecV1 = 1

// errCorrupt reports a stored value that does not decode; it means a bug or damage,
// never bad input.
var errCorrupt = errors.New("store: corrupt value")

// encodeEvent appends the canonical binary encoding of e to b. The tenant is not
// part of it (the key holds it), so the same event sent with and without its tenant
// field has one encoding, the one idempotency compares.
func encodeEvent(b []byte, e *datasets.Event) []byte {
	b = append(b, eventCodecV1)
	for _, s := range [...]string{e.EventID, e.AccountID, e.Type, e.Channel, e.Message, e.DecisionID, e.Currency} {
		b = appendLP(b, s)
	}
	b = binary.AppendVarint(b, e.At)
	return binary.AppendVarint(b, e.Amount)
}

// uvarintLen is the length of the minimal uvarint encoding of n; the decoder
// refuses longer ones, so that one event has exactly one encoding.
func uvarintLen(n uint64) int { return (bits.Len64(n|1) + 6) / 7 }

// decodeEvent inverts encodeEvent; it never panics on damaged input.
func decodeEvent(b []byte, tenant string) (datasets.Event, error) {
	var e datasets.Event
	if len(b) == 0 || b[0] != eventCodecV1 {
		return e, fmt.Errorf("%w: event codec", errCorrupt)
	}
	b = b[1:]
	for _, p := range [...]*string{&e.EventID, &e.AccountID, &e.Type, &e.Channel, &e.Message, &e.DecisionID, &e.Currency} {
		n, k := binary.Uvarint(b)
		if k <= 0 || k != uvarintLen(n) || n > uint64(len(b)-k) {
			return e, fmt.Errorf("%w: event string", errCorrupt)
		}
		*p = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	for _, p := range [...]*int64{&e.At, &e.Amount} {
		v, k := binary.Varint(b)
		if k <= 0 || k != uvarintLen(uint64(v)<<1^uint64(v>>63)) {
			return e, fmt.Errorf("%w: event number", errCorrupt)
		}
		*p = v
		b = b[k:]
	}
	if len(b) != 0 {
		return e, fmt.Errorf("%w: event trailing bytes", errCorrupt)
	}
	e.Tenant = tenant
	return e, nil
}

package store

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/engagehq/engage/datasets"
)

func TestEventCodecRoundTrip(t *testing.T) {
	for _, e := range []datasets.Event{
		{},
		{EventID: "e", AccountID: "a", Type: "payment", At: -1, Amount: -5, Currency: "EUR"},
		{EventID: strings.Repeat("é", 300), AccountID: "a\x00b", Type: "opened", Channel: "sms", Message: "firm", DecisionID: "d", At: 1 << 62, Amount: 1 << 40},
	} {
		got, err := decodeEvent(encodeEvent(nil, &e), "t")
		e.Tenant = "t"
		if err != nil || got != e {
			t.Fatalf("round trip %+v -> %+v %v", e, got, err)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(encodeEvent(nil, &datasets.Event{EventID: "e", AccountID: "a", Type: "opened", At: 7}))
	f.Add([]byte{1, 200})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEvent(b, "t")
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes: the encoding is canonical.
		if got := encodeEvent(nil, &e); string(got) != string(b) {
			t.Fatalf("not canonical: %x -> %x", b, got)
		}
	})
}

func FuzzAuthenticate(f *testing.F) {
	db := openMem(f)
	tok, _, err := db.CreateKey("t", []string{ScopeEvents})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("ek_0000000000000000_" + strings.Repeat("A", 43))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := db.Authenticate(s)
		if (err == nil) != (s == tok) {
			t.Fatalf("authenticate(%q) = %+v, %v", s, k, err)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add([]byte("00112233445566778899aabbccddeeff"))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err == nil && len(k) != 16 && len(k) != 24 && len(k) != 32 {
			t.Fatalf("ParseKey(%q) gave %d bytes", b, len(k))
		}
	})
}

// TestEncodeRecord: the fast encoding of a Compact record is byte for byte
// json.Marshal's, including ids that need escaping (which take the slow path).
func TestEncodeRecord(t *testing.T) {
	for _, r := range []DecisionRecord{
		{ID: "dc_1", AccountID: "acc-1", At: 123, Payload: []byte(`{"a":[1,2],"b":"x y"}`)},
		{ID: "d<1>", AccountID: "a&b", At: -5, Payload: []byte(`{}`)},
		{ID: "d\"q", AccountID: "é", At: 0, Payload: []byte(`null`)},
		{ID: "d", AccountID: "a", At: 1 << 62, Payload: []byte(`"s"`)},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r.Compact = true
		got, err := encodeRecord(&r)
		if err != nil || string(got) != string(want) {
			t.Fatalf("encodeRecord(%+v) = %s, %v; want %s", r, got, err, want)
		}
	}
}

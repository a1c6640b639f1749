package store

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Key kinds inside a tenant's namespace; see the package doc for the layout.
const (
	kindAccount     = 'a'
	kindEventID     = 'e'
	kindEventLog    = 'l'
	kindState       = 's'
	kindCounter     = 'C'
	kindChange      = 'c'
	kindDecision    = 'd'
	kindDecisionLog = 'D'
	kindTenantKey   = 'k'
)

// Limits on names keep keys small and bounded; badger keys may not exceed 64 KiB.
const (
	maxTenantLen = 128
	maxIDLen     = 512
)

var (
	keyVersion = []byte("mv")
	prefixKey  = []byte("k")
)

// checkTenant rejects tenants that cannot name a namespace.
func checkTenant(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("tenant: empty")
	case len(t) > maxTenantLen:
		return fmt.Errorf("tenant: longer than %d bytes", maxTenantLen)
	case !utf8.ValidString(t):
		return fmt.Errorf("tenant: not valid UTF-8")
	}
	return nil
}

// checkID returns the reason an identifier is unusable, or "".
func checkID(id string) string {
	switch {
	case id == "":
		return "empty"
	case len(id) > maxIDLen:
		return fmt.Sprintf("longer than %d bytes", maxIDLen)
	case !utf8.ValidString(id):
		return "not valid UTF-8"
	}
	return ""
}

// tenantPrefix returns "t" <uvarint len> tenant <kind>.
func tenantPrefix(tenant string, kind byte) []byte {
	return appendTenantPrefix(make([]byte, 0, 2+binary.MaxVarintLen16+len(tenant)+32), tenant, kind)
}

// appendTenantPrefix appends "t" <uvarint len> tenant <kind>.
func appendTenantPrefix(b []byte, tenant string, kind byte) []byte {
	b = append(b, 't')
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	return append(b, kind)
}

// tkey returns the key of a single-id record of a tenant (account, event id, ...).
func tkey(tenant string, kind byte, id string) []byte {
	return appendTKey(make([]byte, 0, tkeyLen(tenant, id)), tenant, kind, id)
}

// tkeyLen bounds the length of a tkey (one allocation of the right size
// instead of a prefix that an id longer than its slack regrows).
func tkeyLen(tenant, id string) int { return 2 + binary.MaxVarintLen16 + len(tenant) + len(id) }

// appendTKey appends tkey(tenant, kind, id).
func appendTKey(b []byte, tenant string, kind byte, id string) []byte {
	return append(appendTenantPrefix(b, tenant, kind), id...)
}

// logKeyLen bounds the length of a logKey.
func logKeyLen(tenant, account, id string) int {
	return 2 + 2*binary.MaxVarintLen16 + len(tenant) + len(account) + 8 + len(id)
}

// appendLogKey appends logKey(tenant, kind, account, at, id).
func appendLogKey(b []byte, tenant string, kind byte, account string, at int64, id string) []byte {
	b = appendLP(appendTenantPrefix(b, tenant, kind), account)
	return append(appendTime(b, at), id...)
}

// appendLP appends a length-prefixed string, so that what follows it can never be
// mistaken for part of it.
func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime appends t (UTC micros) so that byte order is numeric order.
func appendTime(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

// readTime inverts appendTime.
func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// logPrefix is the prefix of one account's time-ordered log of a kind (events or
// decisions).
func logPrefix(tenant string, kind byte, account string) []byte {
	return appendLP(tenantPrefix(tenant, kind), account)
}

// logKey is the key of one entry of an account's time-ordered log.
func logKey(tenant string, kind byte, account string, at int64, id string) []byte {
	return appendLogKey(make([]byte, 0, logKeyLen(tenant, account, id)), tenant, kind, account, at, id)
}

// changeKey is the key of change-feed entry seq.
func changeKey(tenant string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(tenantPrefix(tenant, kindChange), seq)
}

// apiKeyKey is the global key of an API key record.
func apiKeyKey(id string) []byte { return append(append([]byte(nil), prefixKey...), id...) }

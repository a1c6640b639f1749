package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// API key scopes: what a key may do. ScopeAdmin allows everything.
const (
	ScopeReferrals = "referrals"
	ScopeEvents    = "events"
	ScopeDecisions = "decisions"
	ScopeReports   = "reports"
	ScopeAdmin     = "admin"
)

// Scopes lists every scope, in a fixed order.
var Scopes = []string{ScopeReferrals, ScopeEvents, ScopeDecisions, ScopeReports, ScopeAdmin}

// ErrUnauthenticated is returned by Authenticate for any token that does not
// authenticate: malformed, unknown or wrong secret alike, so that the error tells
// an attacker nothing. ErrRevoked is returned for a correct token of a revoked key.
var (
	ErrUnauthenticated = errors.New("invalid API key")
	ErrRevoked         = errors.New("API key revoked")
)

// Key is an API key as listed: never its secret, which is shown once by CreateKey.
type Key struct {
	ID      string   `json:"id"`                   // public part of the token, for listing and revoking
	Tenant  string   `json:"tenant"`               // the only tenant the key can act for
	Scopes  []string `json:"scopes"`               // what it may do; see Allows
	Created int64    `json:"created_at"`           // UTC micros
	Revoked int64    `json:"revoked_at,omitempty"` // UTC micros; 0 while active
}

// Allows reports whether the key grants scope (admin grants every scope).
func (k Key) Allows(scope string) bool {
	return slices.Contains(k.Scopes, scope) || slices.Contains(k.Scopes, ScopeAdmin)
}

// keyRecord is the stored form of a key: the listing plus the token's hash.
type keyRecord struct {
	Key
	Hash []byte `json:"sha256"`
}

// Token layout: "ek_" + 16 hex id + "_" + 43 base64url chars of 32 random bytes.
// The id finds the record; only the SHA-256 of the whole token is stored, and with
// 256 bits of entropy a plain hash (rather than a slow KDF) is enough.
const (
	tokenPrefix = "ek_"
	idBytes     = 8
	secretBytes = 32
	tokenLen    = len(tokenPrefix) + 2*idBytes + 1 + 43
)

// CreateKey creates an API key for tenant with the given scopes and returns its
// plaintext token, which is not stored and cannot be shown again. Keys come from
// crypto/rand: this is the one random choice in engage that must not be seeded.
func (db *DB) CreateKey(tenant string, scopes []string) (string, Key, error) {
	if err := checkTenant(tenant); err != nil {
		return "", Key{}, err
	}
	if len(scopes) == 0 {
		return "", Key{}, fmt.Errorf("create key: no scopes; want some of %s", strings.Join(Scopes, ", "))
	}
	var sc []string
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			return "", Key{}, fmt.Errorf("create key: unknown scope %q; want some of %s", s, strings.Join(Scopes, ", "))
		}
		if !slices.Contains(sc, s) {
			sc = append(sc, s)
		}
	}
	var raw [idBytes + secretBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	id := hex.EncodeToString(raw[:idBytes])
	token := tokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(raw[idBytes:])
	sum := sha256.Sum256([]byte(token))
	k := Key{ID: id, Tenant: tenant, Scopes: sc, Created: time.Now().UnixMicro()}
	v, err := json.Marshal(keyRecord{Key: k, Hash: sum[:]})
	if err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	err = db.bdb.Update(func(txn *badger.Txn) error {
		if _, ok, err := get(txn, apiKeyKey(id)); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("key id collision %s", id) // 2^-64; never in practice
		}
		if err := txn.Set(apiKeyKey(id), v); err != nil {
			return err
		}
		return txn.Set(tkey(tenant, kindTenantKey, id), nil)
	})
	if err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	return token, k, nil
}

// parseToken returns the key id of a well-formed token.
func parseToken(token string) (string, bool) {
	if len(token) != tokenLen || !strings.HasPrefix(token, tokenPrefix) || token[len(tokenPrefix)+2*idBytes] != '_' {
		return "", false
	}
	id := token[len(tokenPrefix) : len(tokenPrefix)+2*idBytes]
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", false
	}
	return id, true
}

// Authenticate returns the key a plaintext token belongs to. The secret is checked
// by comparing hashes in constant time.
func (db *DB) Authenticate(token string) (Key, error) {
	id, ok := parseToken(token)
	if !ok {
		return Key{}, ErrUnauthenticated
	}
	var rec keyRecord
	var found bool
	err := db.bdb.View(func(txn *badger.Txn) error {
		v, ok, err := get(txn, apiKeyKey(id))
		if err != nil || !ok {
			return err
		}
		found = true
		return json.Unmarshal(v, &rec)
	})
	if err != nil {
		return Key{}, fmt.Errorf("authenticate: %w", err)
	}
	sum := sha256.Sum256([]byte(token))
	if !found {
		subtle.ConstantTimeCompare(sum[:], sum[:]) // same work either way
		return Key{}, ErrUnauthenticated
	}
	if subtle.ConstantTimeCompare(sum[:], rec.Hash) != 1 {
		return Key{}, ErrUnauthenticated
	}
	if rec.Revoked != 0 {
		return Key{}, ErrRevoked
	}
	return rec.Key, nil
}

// ListKeys returns a tenant's keys, revoked ones included, by id.
func (db *DB) ListKeys(tenant string) ([]Key, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	var out []Key
	prefix := tenantPrefix(tenant, kindTenantKey)
	err := db.bdb.View(func(txn *badger.Txn) error {
		return eachKey(txn, prefix, prefix, func(k []byte) (bool, error) {
			id := string(k[len(prefix):])
			v, ok, err := get(txn, apiKeyKey(id))
			if err != nil {
				return false, err
			}
			if !ok {
				return false, fmt.Errorf("%w: key %s listed but not stored", errCorrupt, id)
			}
			var rec keyRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return false, fmt.Errorf("%w: key %s: %v", errCorrupt, id, err)
			}
			if rec.Tenant != tenant {
				return false, fmt.Errorf("%w: key %s listed under the wrong tenant", errCorrupt, id)
			}
			out = append(out, rec.Key)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list keys of %q: %w", tenant, err)
	}
	return out, nil
}

// RevokeKey revokes one of tenant's keys; the error wraps ErrNotFound when tenant
// has no key with that id (another tenant's key is not found, not revoked).
// Revoking twice keeps the first revocation time.
func (db *DB) RevokeKey(tenant, id string) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	err := db.bdb.Update(func(txn *badger.Txn) error {
		if _, ok, err := get(txn, tkey(tenant, kindTenantKey, id)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("key %q of tenant %q: %w", id, tenant, ErrNotFound)
		}
		v, ok, err := get(txn, apiKeyKey(id))
		if err != nil {
			return err
		}
		var rec keyRecord
		if !ok || json.Unmarshal(v, &rec) != nil || rec.Tenant != tenant {
			return fmt.Errorf("%w: key %s", errCorrupt, id)
		}
		if rec.Revoked != 0 {
			return nil
		}
		rec.Revoked = time.Now().UnixMicro()
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return txn.Set(apiKeyKey(id), b)
	})
	if err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	return nil
}

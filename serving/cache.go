package serving

import (
	"sync"

	"github.com/engagehq/engage/features"
)

// acctCache keeps prepared accounts (the referral row with its zone clock) by
// tenant and id, so decisions and ingestion do not decode and prepare the row
// on every request. Referrals invalidate their ids. It is bounded by dropping
// everything when full: simple, and a miss only costs a store read.
type acctCache struct {
	mu  sync.RWMutex
	m   map[string]*features.Account
	max int
}

func (c *acctCache) init(max int) { c.m, c.max = map[string]*features.Account{}, max }

func cacheKey(tenant, id string) string { return tenant + "\x00" + id }

// get returns a private copy (features.Account caches a priors lookup inside,
// so one value must not be shared between goroutines).
func (c *acctCache) get(tenant, id string) (*features.Account, bool) {
	c.mu.RLock()
	a, ok := c.m[cacheKey(tenant, id)]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	cp := *a
	return &cp, true
}

func (c *acctCache) put(tenant string, a *features.Account) {
	cp := *a
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[cacheKey(tenant, a.Row.ID)] = &cp
	c.mu.Unlock()
}

func (c *acctCache) drop(tenant string, ids []string) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.m, cacheKey(tenant, id))
	}
	c.mu.Unlock()
}

// noticeCache remembers the notices each recent decision told its contact to
// carry, so that building a ledger does not read the audit of every contact.
type noticeCache struct {
	mu  sync.RWMutex
	m   map[string][]string
	max int
}

func (c *noticeCache) init(max int) { c.m, c.max = map[string][]string{}, max }

func (c *noticeCache) get(tenant, id string) ([]string, bool) {
	c.mu.RLock()
	v, ok := c.m[cacheKey(tenant, id)]
	c.mu.RUnlock()
	return v, ok
}

func (c *noticeCache) put(tenant, id string, n []string) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[cacheKey(tenant, id)] = n
	c.mu.Unlock()
}

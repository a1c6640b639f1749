package serving

import (
	"hash/maphash"
	"sync"

	"github.com/engagehq/engage/compliance"
	"github.com/engagehq/engage/features"
)

// lru is a bounded, sharded least-recently-used cache keyed by tenant and id.
// Each shard has an invalidation generation: a loader takes the generation
// (begin) before it reads the store and put stores its value only when no
// invalidation of that shard happened since, so a value read before a write
// can never be cached after the write's invalidation (which would serve stale
// data until eviction).
type lru[V any] struct {
	seed   maphash.Seed
	shards [lruShards]lruShard[V]
}

const lruShards = 64

type lruShard[V any] struct {
	mu   sync.Mutex
	m    map[string]*lruNode[V]
	head lruNode[V] // sentinel of the recency list: head.next is the newest
	gen  uint64
	max  int
}

type lruNode[V any] struct {
	key        string
	val        V
	prev, next *lruNode[V]
}

// init bounds the cache to about max entries in all.
func (c *lru[V]) init(n int) {
	c.seed = maphash.MakeSeed()
	per := max(1, n/lruShards)
	for i := range c.shards {
		s := &c.shards[i]
		s.m, s.max = map[string]*lruNode[V]{}, per
		s.head.next, s.head.prev = &s.head, &s.head
	}
}

func cacheKey(tenant, id string) string { return tenant + "\x00" + id }

func (c *lru[V]) shard(key string) *lruShard[V] {
	return &c.shards[maphash.String(c.seed, key)%lruShards]
}

func (c *lru[V]) get(key string) (V, bool) {
	s := c.shard(key)
	s.mu.Lock()
	n, ok := s.m[key]
	return s.touch(n, ok)
}

// getBytes is get with the key in a caller's buffer (cacheKey's bytes): a
// hit, the common case of every decision, then allocates no key string.
// maphash gives bytes and a string of the same content the same hash, so
// both find the same shard.
func (c *lru[V]) getBytes(key []byte) (V, bool) {
	s := &c.shards[maphash.Bytes(c.seed, key)%lruShards]
	s.mu.Lock()
	n, ok := s.m[string(key)] // no conversion allocated for a map index
	return s.touch(n, ok)
}

// touch moves a found node to the front of the recency list, unlocks the
// shard and returns the node's value.
func (s *lruShard[V]) touch(n *lruNode[V], ok bool) (V, bool) {
	if ok && s.head.next != n {
		n.unlink()
		s.pushFront(n)
	}
	s.mu.Unlock()
	if !ok {
		var zero V
		return zero, false
	}
	return n.val, true
}

// appendCacheKey appends cacheKey(tenant, id).
func appendCacheKey(b []byte, tenant, id string) []byte {
	return append(append(append(b, tenant...), 0), id...)
}

// begin returns the shard generation to pass to put.
func (c *lru[V]) begin(key string) uint64 {
	s := c.shard(key)
	s.mu.Lock()
	g := s.gen
	s.mu.Unlock()
	return g
}

// put caches v unless key's shard was invalidated after begin returned gen.
func (c *lru[V]) put(key string, v V, gen uint64) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	s.set(key, v)
}

// set caches v under key whatever the shard's generation: for values that
// are the truth when they are made (a new decision's notices), not read
// from the store, so no invalidation can make them stale. One lock instead
// of begin's and put's two.
func (c *lru[V]) set(key string, v V) {
	s := c.shard(key)
	s.mu.Lock()
	s.set(key, v)
	s.mu.Unlock()
}

// set caches v under key; the shard is locked.
func (s *lruShard[V]) set(key string, v V) {
	if n, ok := s.m[key]; ok {
		n.val = v
		n.unlink()
		s.pushFront(n)
		return
	}
	if len(s.m) >= s.max {
		old := s.head.prev
		old.unlink()
		delete(s.m, old.key)
	}
	n := &lruNode[V]{key: key, val: v}
	s.m[key] = n
	s.pushFront(n)
}

// drop invalidates keys (and every load of their shards in flight).
func (c *lru[V]) drop(keys ...string) {
	for _, k := range keys {
		s := c.shard(k)
		s.mu.Lock()
		s.gen++
		if n, ok := s.m[k]; ok {
			n.unlink()
			delete(s.m, k)
		}
		s.mu.Unlock()
	}
}

// len counts the cached entries.
func (c *lru[V]) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (s *lruShard[V]) pushFront(n *lruNode[V]) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}

func (n *lruNode[V]) unlink() {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

// view is everything a decision reads about one account, prepared once and
// shared read-only by the decisions that hit it until the account's next
// event or referral: the prepared account, the decoded feature state, and the
// compliance subject compiled from the account and its (bounded) ledger.
type view struct {
	acct  *features.Account // never used directly: callers take a copy (it caches lookups inside)
	state *features.State   // nil: no events yet
	sub   *compliance.Subject
	// noRules says why the firewall has no rule pack for the account (sub is
	// then nil and every decision fails closed); "" when it has one.
	noRules string
	// cutoff (UTC micros) is where the compiled ledger's full detail starts;
	// older entries are summarised (engine.PruneLedger). A decision at now
	// needs cutoff <= now - lookback.
	cutoff int64
}

// noticeCache remembers the notices each recent decision told its contact to
// carry, so that building a ledger does not read the audit of every contact.
type noticeCache struct{ lru[[]string] }

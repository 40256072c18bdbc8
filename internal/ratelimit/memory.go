package ratelimit

import (
	"container/list"
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryOptions configure a Memory limiter.
type MemoryOptions struct {
	// MaxKeys bounds the number of buckets kept; past it the least
	// recently used bucket is dropped (which forgives what it owed). 0
	// means DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxKeys is the default bound of a Memory limiter: about 10 MB.
const DefaultMaxKeys = 100_000

const shards = 16

// Memory is a Limiter for one process. Its memory is bounded: buckets
// that have refilled are dropped when met, and at most MaxKeys are kept,
// least recently used first out.
type Memory struct {
	now    func() time.Time
	seed   maphash.Seed
	calls  atomic.Uint64
	shards [shards]memShard
}

type memShard struct {
	mu      sync.Mutex
	max     int
	buckets map[string]*list.Element // of *memBucket
	lru     list.List                // front: most recently used
}

type memBucket struct {
	key string
	tat time.Time
}

// NewMemory returns an empty Memory limiter.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Memory{now: opts.Now, seed: maphash.MakeSeed()}
	per := max(opts.MaxKeys/shards, 1)
	for i := range m.shards {
		m.shards[i].max = per
		m.shards[i].buckets = map[string]*list.Element{}
	}
	return m
}

// Allow implements Limiter; it never fails.
func (m *Memory) Allow(_ context.Context, key string, rule Rule) (Decision, error) {
	if rule.Off() {
		return Decision{Allowed: true}, nil
	}
	s := &m.shards[maphash.String(m.seed, key)%shards]
	now := m.now()
	s.mu.Lock()
	el, ok := s.buckets[key]
	var b *memBucket
	if ok {
		b = el.Value.(*memBucket)
		s.lru.MoveToFront(el)
	} else {
		b = &memBucket{key: key}
		s.buckets[key] = s.lru.PushFront(b)
	}
	d, tat := gcra(b.tat, now, rule)
	b.tat = tat
	s.evict(now, 2)
	s.mu.Unlock()
	// Every 8th call also sweeps the cold end of another shard, so that
	// shards without traffic of their own empty too.
	if n := m.calls.Add(1); n%8 == 0 {
		o := &m.shards[(n/8)%shards]
		o.mu.Lock()
		o.evict(now, 16)
		o.mu.Unlock()
	}
	return d, nil
}

// evict drops up to n refilled buckets from the cold end, then the least
// recently used ones past the bound. Each call does bounded work: a
// refilled bucket is dropped only when it is also among the coldest.
func (s *memShard) evict(now time.Time, n int) {
	for range n {
		el := s.lru.Back()
		if el == nil {
			break
		}
		b := el.Value.(*memBucket)
		if b.tat.After(now) {
			break
		}
		s.lru.Remove(el)
		delete(s.buckets, b.key)
	}
	for len(s.buckets) > s.max {
		el := s.lru.Back()
		s.lru.Remove(el)
		delete(s.buckets, el.Value.(*memBucket).key)
	}
}

// Len returns the number of buckets held, for tests and metrics.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

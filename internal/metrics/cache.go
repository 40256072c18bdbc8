package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
)

// maxCached bounds each cache. Label values here come from fixed sets
// (route patterns, status codes, outcome names), so the bound is never
// reached in practice; if a caller ever passed open-ended values, lookups
// past the bound fall back to the vector's own (slower) lookup instead of
// growing memory without limit.
const maxCached = 1024

// cache maps label values to the collector child the vector holds for
// them, so that the steady state of a hot path is one atomic load and one
// map lookup: none of WithLabelValues' label validation, FNV hashing and
// read lock, and no strconv.Itoa of the status (issue 5: nothing
// allocation-heavy per request; BenchmarkObserveRequest).
//
// The map is copy-on-write: readers load it without locking, and a miss
// copies it under mu. Misses happen once per label combination, so the
// copies cost O(n²) over the life of the process for n of at most
// maxCached entries.
//
// Children stay valid as long as nobody deletes them from the vector
// (Delete/Reset), which Metrics never does.
type cache[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex
}

// get returns the cached child for k, creating it with child on a miss.
func (c *cache[K, V]) get(k K, child func() V) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var m map[K]V
	if old := c.m.Load(); old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
		if len(*old) >= maxCached {
			return child()
		}
		m = maps.Clone(*old)
	}
	if m == nil {
		m = make(map[K]V)
	}
	v := child()
	m[k] = v
	c.m.Store(&m)
	return v
}

package secret

import (
	"bytes"
	"testing"
)

// escape makes results escape to the heap as they do in the server
// (they go to store queries through interfaces); without it the compiler
// may keep an inlined Hash's result on the benchmark's stack and report
// allocations production never sees.
func escape(b *testing.B) *struct {
	hash []byte
	tok  string
} {
	s := &struct {
		hash []byte
		tok  string
	}{}
	b.Cleanup(func() { s.hash, s.tok = nil, "" })
	return s
}

// BenchmarkHash is the keyed hash every request pays for its token
// (issue 5: allocation-heavy work on the hot path).
func BenchmarkHash(b *testing.B) {
	h, err := NewHasher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	tok, sink := NewToken(), escape(b)
	b.ReportAllocs()
	for b.Loop() {
		sink.hash = h.Hash("session", tok)
	}
}

// BenchmarkHashParallel shows the pool under contention (2 cores here).
func BenchmarkHashParallel(b *testing.B) {
	h, err := NewHasher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	tok := NewToken()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		sink := escape(b)
		for pb.Next() {
			sink.hash = h.Hash("session", tok)
		}
	})
}

// BenchmarkSuccessor is the derivation a token rotation pays.
func BenchmarkSuccessor(b *testing.B) {
	h, err := NewHasher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		b.Fatal(err)
	}
	tok, sink := NewToken(), escape(b)
	b.ReportAllocs()
	for b.Loop() {
		sink.tok = h.Successor("session", tok)
	}
}

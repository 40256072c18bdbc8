// Package sesamebin builds the sesame command from the module it is part
// of, for what runs Sesame as a separate process: the load harness
// (sesame-bench) and the end-to-end, fault and scale tests. It owns the
// one `go build ./cmd/sesame` they share and, for tests, a per-test-binary
// cache of the result (Cache).
package sesamebin

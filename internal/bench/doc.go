// Package bench is Sesame's load harness (issue 5): it provisions a
// server of its own (the real sesame binary as a child process, or an
// in-process server in tests) with a bootstrap tenant made for the
// measurement, drives the hot paths over keep-alive HTTP connections to
// 127.0.0.1 only, and reports what it measured.
//
// For each path it runs a closed-loop phase (a fixed number of workers,
// each sending its next request when the previous answer arrives) to find
// the peak throughput, then an open-loop phase at half that rate, whose
// latencies are measured from each request's scheduled send time so that
// a stalled server cannot hide its stall (no coordinated omission). Each
// phase records throughput, latency percentiles, errors by HTTP status and
// protocol error code, and the server process's CPU seconds and peak RSS
// read from /proc.
//
// The same run measures the physical ceilings of this machine in this
// process — one RS256 and one ES256 signature with the server's key sizes,
// one argon2id hash with the server's parameters — and states each path's
// throughput as a fraction of its ceiling. A login flood (many concurrent
// SDK logins) checks that memory stays bounded and that excess logins get
// the system-busy error quickly.
//
// cmd/sesame-bench wires flags to Run; docs/performance.md holds the
// method and the figures.
package bench

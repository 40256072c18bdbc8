//go:build race

package server_test

// raceDetector is whether the tests run under the race detector
// (go test -race), which makes every hash and signature several times
// slower.
const raceDetector = true

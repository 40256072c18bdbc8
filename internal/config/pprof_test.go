package config

import "testing"

// server.pprof exposes runtime internals: only a loopback address is
// accepted.
func TestPProfMustBeLoopback(t *testing.T) {
	for _, test := range []struct {
		addr string
		ok   bool
	}{
		{"", true}, // off
		{"127.0.0.1:6060", true},
		{"[::1]:6060", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"localhost:6060", false},
		{"10.0.0.5:6060", false},
		{"127.0.0.1", false}, // no port
	} {
		cfg := Defaults()
		cfg.Server.PublicURL = "http://" + cfg.Server.Listen
		cfg.Server.PProf = test.addr
		if err := cfg.Validate(); (err == nil) != test.ok {
			t.Errorf("server.pprof %q: Validate() = %v, want ok=%v", test.addr, err, test.ok)
		}
	}
}

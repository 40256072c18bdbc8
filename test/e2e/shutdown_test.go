package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
)

// TestGracefulShutdown: on SIGTERM the server stops accepting, lets the
// requests in flight finish, and exits 0. Logins are slow enough (a ~40 ms
// password hash each, at most one per CPU at once) that several are inside
// the server, queued for hashing, when the signal comes; every request the
// server had taken is answered 200, none gets an error status.
func TestGracefulShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cfg, env := writeConfig(t, configParams{driver: "sqlite", dsn: sqltest.SQLitePath(t)})
	c := newClient(t)
	n := launchNode(t, "node", cfg, env)
	n.waitReady(ctx, c)

	type result struct {
		r   response
		err error
	}
	const logins = 12
	inflight := make(chan result, logins)
	for range logins {
		go func() {
			r, err := c.login(ctx, n.base, plainApp)
			inflight <- result{r, err}
		}()
	}
	// Wait until logins are queued inside the server.
	for {
		m, err := c.do(ctx, n.base, "GET", "/metrics", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(string(m.body), "\nsesame_password_hashes_waiting "); i >= 0 && !strings.HasPrefix(string(m.body[i+len("\nsesame_password_hashes_waiting "):]), "0") {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := n.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	answered := 0
	for range logins {
		res := <-inflight
		switch {
		case res.err == nil && res.r.status == 200:
			answered++
		case res.err == nil:
			t.Errorf("a login got %v during shutdown", res.r)
		}
		// A transport error is a login sent after the listener closed.
	}
	if answered < 3 {
		t.Fatalf("only %d logins answered: the ones in flight were dropped", answered)
	}
	t.Logf("%d of %d logins answered across SIGTERM", answered, logins)
	select {
	case <-n.p.done:
	case <-ctx.Done():
		t.Fatal("the server did not exit after SIGTERM")
	}
	if n.p.waitErr != nil {
		t.Fatalf("exit after SIGTERM: %v", n.p.waitErr)
	}
	if !strings.Contains(n.p.stderr.String(), "shutting down") {
		t.Errorf("no shutdown log line")
	}
	if _, err := c.login(ctx, n.base, plainApp); err == nil {
		t.Fatal("the server still answers after shutdown")
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	st "github.com/sesame-idp/sesame/internal/server/servertest"
	"github.com/sesame-idp/sesame/sdk"
)

type result struct {
	code           int
	stdout, stderr string
}

// deviceapp runs the program once, as a fresh process would.
func deviceapp(t *testing.T, e *st.Env, stdin string, args ...string) result {
	t.Helper()
	var out, errOut strings.Builder
	code := run(t.Context(), args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, HTTPClient: e.Client})
	return result{code, out.String(), errOut.String()}
}

func TestDeviceApp(t *testing.T) {
	for _, backend := range st.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := st.New(t, backend)
			ctx := t.Context()
			dir := t.TempDir()
			url := e.URL(st.EIAMHost, "")
			common := []string{"-url", url, "-client-id", "acme-rotating", "-dir", dir}
			cmd := func(name string, extra ...string) []string {
				return append(append([]string{name}, common...), extra...)
			}
			sessionFile := filepath.Join(dir, "session")
			stored := func() string {
				tok, err := sdk.FileTokenStore(sessionFile).Load(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}

			if r := deviceapp(t, e, "", cmd("token")...); r.code != 1 || !strings.Contains(r.stderr, "not logged in") {
				t.Fatalf("token before login: %+v", r)
			}
			if r := deviceapp(t, e, "wrong-password\n", cmd("login", "-user", "alice")...); r.code != 1 || !strings.Contains(r.stderr, "invalid user name or password") {
				t.Fatalf("wrong password: %+v", r)
			}
			r := deviceapp(t, e, st.Password+"\n", cmd("login", "-user", "alice")...)
			if r.code != 0 || !strings.Contains(r.stdout, "Logged in as alice") {
				t.Fatalf("login: %+v", r)
			}
			fi, err := os.Stat(sessionFile)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("session file: %v %v", fi, err)
			}
			first := stored()

			// Each run is a new process; the session and the device id
			// persist in the directory. The app rotates its session.
			v, err := sdk.NewVerifier(e.Issuer(st.EIAMHost), "acme-rotating", sdk.WithHTTPClient(e.Client), sdk.WithClock(e.Clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			prev := first
			for i := range 3 {
				r := deviceapp(t, e, "", cmd("token")...)
				if r.code != 0 {
					t.Fatalf("token %d: %+v", i, r)
				}
				claims, err := v.Verify(ctx, strings.TrimSpace(r.stdout))
				if err != nil || claims.UserName != "alice" {
					t.Fatalf("token %d does not verify: %v %+v", i, err, claims)
				}
				now := stored()
				if now == prev || !strings.Contains(r.stderr, "rotated") {
					t.Fatalf("token %d: the session was not rotated and saved (%q)", i, r.stderr)
				}
				prev = now
			}
			// Rotated away twice since: dead, even within a grace period.
			if r := e.Exchange(st.EIAMHost, "acme-rotating", first); r.Status != 400 {
				t.Fatalf("the first session token still works: %d", r.Status)
			}
			r = deviceapp(t, e, "", cmd("token", "-claims")...)
			if r.code != 0 || !strings.Contains(r.stderr, "user alice (Alice Liddell)") {
				t.Fatalf("token -claims: %+v", r)
			}

			// Logout ends the session and forgets it.
			last := stored()
			if r := deviceapp(t, e, "", cmd("logout")...); r.code != 0 || !strings.Contains(r.stdout, "Logged out") {
				t.Fatalf("logout: %+v", r)
			}
			if _, err := os.Stat(sessionFile); !os.IsNotExist(err) {
				t.Fatalf("session file after logout: %v", err)
			}
			if r := e.Exchange(st.EIAMHost, "acme-rotating", last); r.Status != 400 {
				t.Fatalf("the session survived logout: %d", r.Status)
			}
			if r := deviceapp(t, e, "", cmd("token")...); r.code != 1 || !strings.Contains(r.stderr, "not logged in") {
				t.Fatalf("token after logout: %+v", r)
			}

			// Another app of another edition, password as a flag, no rotation.
			shop := []string{"-url", e.URL(st.CIAMHost, ""), "-client-id", "shop-portal", "-dir", t.TempDir()}
			if r := deviceapp(t, e, "", append([]string{"login", "-user", "bob", "-password", st.Password}, shop...)...); r.code != 0 {
				t.Fatalf("ciam login: %+v", r)
			}
			r = deviceapp(t, e, "", append([]string{"token"}, shop...)...)
			if r.code != 0 || strings.Count(r.stdout, ".") != 2 || strings.Contains(r.stderr, "rotated") {
				t.Fatalf("ciam token: %+v", r)
			}
			// A server whose storage is down answers "busy", retried, then reported.
			if err := e.Server.Store().Close(); err != nil {
				t.Fatal(err)
			}
			if r := deviceapp(t, e, "", append([]string{"token"}, shop...)...); r.code != 1 || !strings.Contains(r.stderr, "busy") {
				t.Fatalf("token with the server's storage down: %+v", r)
			}
		})
	}
}

func TestDeviceAppUsage(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{nil, {"frobnicate"}, {"login", "-url", "http://x"}, {"-h"}} {
		var out, errOut strings.Builder
		if code := run(ctx, args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}

func TestDeviceIDIsStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device-id")
	a, err := deviceID(path)
	if err != nil || len(a) != 32 {
		t.Fatalf("%q %v", a, err)
	}
	if b, _ := deviceID(path); b != a {
		t.Fatalf("device id changed: %q then %q", a, b)
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sesame-idp/sesame/internal/store/sqlstore/sqltest"
	"github.com/sesame-idp/sesame/internal/testio"
)

// Settings of the key-rotation crash test: the shortest rotation delay the
// configuration accepts for this refresh interval (refresh_interval plus
// the 10 s clock-skew bound), so that rotations activate within the test.
const (
	keysRefresh       = time.Second
	keysRotationDelay = 11 * time.Second
)

// algApps are the applications of the key test's tenant, one per signing
// algorithm (contract §7), so that every key chain signs id_tokens.
var algApps = map[string]string{"RS256": "keys-rs256", "RS512": "keys-rs512", "ES256": "keys-es256", "EdDSA": "keys-eddsa"}

// TestKill9KeyRotation rotates signing keys again and again with `sesame
// keys rotate`, a separate process on the server's database, and kills the
// rotation, and in some rounds the server too, with -9 at varied moments;
// the server is also killed during its first start, while it creates the
// tenant's first keys. After each round it checks that:
//
//   - every kid of the JWKS is unique, and the JWKS publishes exactly the
//     keys stored (once the server has reloaded them);
//   - each algorithm has exactly one current key, generations are unique,
//     and the server signs new id_tokens with that key, which is in the
//     JWKS;
//   - every id_token issued before a crash still verifies against the JWKS
//     (their keys are all retained);
//   - `sesame keys check` (after every restart, and at the end over every
//     key made): every published private key decrypts and matches its
//     public key.
//
// At the end, once every rotation has activated, each algorithm signs with
// its newest generation, also after one more kill -9 and restart.
func TestKill9KeyRotation(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			// Most of the test waits for rotations to activate: the
			// backends wait together.
			t.Parallel()
			var dsn string
			if backend == "postgres" {
				dsn = sqltest.PostgresDSN(t) // skips without SESAME_TEST_POSTGRES_DSN
			} else {
				dsn = sqltest.SQLitePath(t)
			}
			testKill9Keys(t, backend, dsn)
		})
	}
}

// writeKeysConfig writes the configuration of the key test: the e2e
// tenant with one application per algorithm and the short key timings.
func writeKeysConfig(t *testing.T, driver, dsn string) (string, []string) {
	t.Helper()
	var apps strings.Builder
	for _, alg := range slices.Sorted(maps.Keys(algApps)) {
		fmt.Fprintf(&apps, "        - client_id: %s\n          client_secret: %q\n          id_token_alg: %s\n          grant_types: [client_credentials]\n", algApps[alg], clientSecret, alg)
	}
	yaml := fmt.Sprintf(`# Written by the sesame e2e key-rotation test.
server:
  public_url: "http://%[1]s"
storage:
  driver: %[2]s
  dsn: "${SESAME_E2E_DSN}"
secrets:
  key_encryption_key: "%[3]s"
keys:
  rotation_delay: %[4]s
  refresh_interval: %[5]s
log:
  level: info
  format: json
bootstrap:
  tenants:
    - id: %[6]s
      name: Acme E2E keys
      edition: eiam
      domains: ["%[1]s"]
      applications:
%[7]s      users:
        - username: %[8]s
          password: "%[9]s"
          name: Alice Liddell
`, tenantHost, driver, newKEK(), keysRotationDelay, keysRefresh, tenantID, apps.String(), userName, userPassword)
	path := filepath.Join(t.TempDir(), "sesame.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, childEnv("SESAME_E2E_DSN=" + dsn)
}

// listedKey is one entry of `sesame keys list`.
type listedKey struct {
	Kid         string    `json:"kid"`
	Alg         string    `json:"alg"`
	Generation  int       `json:"generation"`
	ActivatesAt time.Time `json:"activates_at"`
	State       string    `json:"state"`
}

// mintedToken is an id_token the server issued, with the algorithm of the
// application it was issued to.
type mintedToken struct {
	alg, token string
}

// keysRun is the state of one key test.
type keysRun struct {
	t        *testing.T
	ctx      context.Context
	cfg      string
	env      []string
	c        *client
	srv      *node
	servers  []*node
	session  string
	mu       sync.Mutex
	minted   []mintedToken
	rotStart time.Time // when the last rotation that committed a key started
}

func testKill9Keys(t *testing.T, driver, dsn string) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cfg, env := writeKeysConfig(t, driver, dsn)
	r := &keysRun{t: t, ctx: ctx, cfg: cfg, env: env, c: newClient(t)}

	// kill -9 during the first start: migrations, bootstrap, and the
	// creation of generation 1 of every algorithm.
	var firstStartKills int
	for i := range 2 {
		n := launchNode(t, fmt.Sprintf("server (first start %d)", i+1), cfg, env)
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		n.p.kill()
		r.servers = append(r.servers, n)
		firstStartKills++
	}
	r.start("server")
	login := mustOK(t, "login")(r.c.login(ctx, r.srv.base, algApps["RS256"]))
	r.session = login.str("session_token")
	listed := r.list()
	r.check("after kill -9 during the first starts", listed, true)

	// Rounds of rotation: the rotate command is killed at a random moment
	// (or, every third round, left to finish); in every other round the
	// server is killed while the command runs.
	// Fewer on SQLite, where each sesame process also opens the database
	// file: the test stays well within its minute on a loaded machine.
	rounds := map[string]int{"sqlite": 4, "postgres": 6}[driver]
	var committed, partial, none, serverKills int
	for round := 1; round <= rounds; round++ {
		before := listed
		r.mint(2)
		args := []string{"keys", "rotate", "--config", cfg, "--tenant", tenantID}
		if round%4 == 0 {
			args = append(args, "--alg", []string{"ES256", "RS512"}[round/4%2])
		}
		cmd := exec.Command(sesameBinary(t), args...)
		cmd.Env, cmd.Dir = env, t.TempDir()
		setProcAttr(cmd)
		out := &testio.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		rotStart := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		finish := round%3 == 0
		killServer := round%2 == 1
		wait := time.Duration(rand.IntN(700)) * time.Millisecond
		if killServer {
			// The server dies first, at another moment of the rotation.
			time.Sleep(wait / 2)
			r.srv.p.kill()
			serverKills++
		}
		if !finish {
			time.AfterFunc(wait, func() { _ = cmd.Process.Kill() }) // SIGKILL, unless it has ended
		}
		var cmdErr error
		select {
		case cmdErr = <-exited:
		case <-ctx.Done():
			t.Fatal("sesame keys rotate did not end")
		}
		if finish && cmdErr != nil {
			t.Fatalf("sesame keys rotate: %v\n%s", cmdErr, out.String())
		}
		if killServer {
			r.start(fmt.Sprintf("server (restart %d)", serverKills))
		}
		after := r.list()
		listed = after
		added := newGenerations(before, after)
		switch {
		case len(added) == 0:
			none++
		case len(added) == len(rotatedAlgs(args)):
			committed++
		default:
			partial++
		}
		if len(added) > 0 {
			r.rotStart = rotStart
		}
		for alg, n := range added {
			if n != 1 {
				t.Errorf("round %d: one rotation added %d generations of %s", round, n, alg)
			}
		}
		outcome := "ran to its end"
		if cmdErr != nil {
			outcome = fmt.Sprintf("killed -9 %v after its start", wait.Round(time.Millisecond))
		}
		serverOutcome := "kept running"
		if killServer {
			serverOutcome = fmt.Sprintf("killed -9 %v after the command's start", (wait / 2).Round(time.Millisecond))
		}
		t.Logf("%s round %d: sesame keys rotate %s, the server %s: new generations %v", driver, round, outcome, serverOutcome, added)
		r.check(fmt.Sprintf("round %d", round), after, killServer)
	}

	// Every rotation activates: each algorithm then signs with its newest
	// generation, also after one more kill -9.
	if !r.rotStart.IsZero() {
		select {
		case <-time.After(time.Until(r.rotStart.Add(keysRotationDelay + keysRefresh + time.Second))):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	r.mint(1)
	r.srv.p.kill()
	r.start("server (final restart)")
	listed = r.list()
	final := r.check("after every rotation activated", listed, true)
	for alg, kid := range final {
		newest := slices.MaxFunc(byAlg(listed, alg), func(a, b listedKey) int { return a.Generation - b.Generation })
		if kid != newest.Kid {
			t.Errorf("%s: the server signs with %s, not with the newest generation %d (%s)", alg, kid, newest.Generation, newest.Kid)
		}
	}
	for _, n := range r.servers {
		if s := n.p.stderr.String(); strings.Contains(s, "ignoring invalid signing key") || strings.Contains(s, "ignoring signing key") {
			t.Errorf("%s found a bad signing key:\n%s", n.name, s)
		}
	}
	keys := listed
	t.Logf("%s: %d kills -9 during first starts, %d rotate commands (%d committed every algorithm, %d some, %d none), %d server kills -9 during rotations; %d keys in the end, %d id_tokens issued before crashes all verified",
		driver, firstStartKills, rounds, committed, partial, none, serverKills, len(keys), len(r.minted))
}

// start launches a server node on the test's configuration and waits
// until it is ready.
func (r *keysRun) start(name string) {
	r.t.Helper()
	r.srv = launchNode(r.t, name, r.cfg, r.env)
	r.srv.waitReady(r.ctx, r.c)
	r.servers = append(r.servers, r.srv)
}

// list returns the tenant's keys as `sesame keys list` shows them.
func (r *keysRun) list() []listedKey {
	r.t.Helper()
	out := runCLI(r.ctx, r.t, r.env, "keys", "list", "--config", r.cfg, "--tenant", tenantID)
	var keys []listedKey
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		r.t.Fatalf("keys list: %v: %q", err, out)
	}
	return keys
}

// mint has the server issue n id_tokens of every algorithm and records
// them.
func (r *keysRun) mint(n int) map[string]string {
	r.t.Helper()
	kids := map[string]string{}
	for range n {
		for alg, app := range algApps {
			resp := mustOK(r.t, "exchange via "+app)(r.c.exchange(r.ctx, r.srv.base, app, r.session))
			tok := resp.str("id_token")
			h, err := jwsHeader(tok)
			if err != nil || h.Alg != alg {
				r.t.Fatalf("id_token of %s: header %+v, %v; want alg %s", app, h, err, alg)
			}
			kids[alg] = h.Kid
			r.mu.Lock()
			r.minted = append(r.minted, mintedToken{alg: alg, token: tok})
			r.mu.Unlock()
		}
	}
	return kids
}

// check verifies the invariants of the test's documentation, given the
// keys `sesame keys list` shows, and returns the kid the server signs
// with, per algorithm.
func (r *keysRun) check(when string, listed []listedKey, keyCheck bool) map[string]string {
	t := r.t
	t.Helper()
	// `sesame keys check`: every published key decrypts and matches its
	// public key (runCLI fails the test on a non-zero exit).
	// Run after each restart (and at the end, over every key ever made),
	// not after every round: each sesame process costs a second or more
	// on a loaded machine.
	if keyCheck {
		runCLI(r.ctx, t, r.env, "keys", "check", "--config", r.cfg, "--tenant", tenantID)
	}

	var listedKids []string
	for _, alg := range slices.Sorted(maps.Keys(algApps)) {
		chain := byAlg(listed, alg)
		gens, current := map[int]bool{}, 0
		for _, k := range chain {
			if gens[k.Generation] {
				t.Errorf("%s: %s has generation %d twice", when, alg, k.Generation)
			}
			gens[k.Generation] = true
			if k.State == "current" {
				current++
			}
			listedKids = append(listedKids, k.Kid)
		}
		if current != 1 {
			t.Errorf("%s: %s has %d current keys, want exactly 1: %+v", when, alg, current, chain)
		}
	}
	slices.Sort(listedKids)

	// The server's JWKS: unique kids, and (within the refresh interval)
	// exactly the stored keys.
	var set jose.JSONWebKeySet
	deadline := time.Now().Add(keysRefresh + 3*time.Second)
	for {
		raw, err := r.c.do(r.ctx, r.srv.base, "GET", "/api/v1/oauth2/keys", nil, "")
		if err != nil || raw.status != 200 {
			t.Fatalf("%s: JWKS: %v %v", when, raw, err)
		}
		set = jose.JSONWebKeySet{}
		if err := json.Unmarshal(raw.body, &set); err != nil {
			t.Fatalf("%s: JWKS: %v", when, err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID)
		}
		slices.Sort(kids)
		if dup := len(kids) - len(slices.Compact(slices.Clone(kids))); dup != 0 {
			t.Fatalf("%s: the JWKS repeats %d kids: %v", when, dup, kids)
		}
		if slices.Equal(kids, listedKids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the JWKS publishes %v; the store holds %v", when, kids, listedKids)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// New id_tokens: signed with the current key of their algorithm,
	// which the JWKS publishes.
	now := time.Now()
	kids := r.mint(1)
	for alg, kid := range kids {
		if len(set.Key(kid)) != 1 {
			t.Errorf("%s: the server signs %s with %s, which its JWKS does not publish", when, alg, kid)
		}
		nearSwitch := false
		var current string
		for _, k := range byAlg(listed, alg) {
			if d := k.ActivatesAt.Sub(now); d > -2*time.Second && d < 2*time.Second {
				nearSwitch = true
			}
			if k.State == "current" {
				current = k.Kid
			}
		}
		if !nearSwitch && kid != current {
			t.Errorf("%s: the server signs %s with %s; the current key is %s", when, alg, kid, current)
		}
	}

	// Every id_token issued so far, before any of the crashes, verifies.
	r.mu.Lock()
	minted := slices.Clone(r.minted)
	r.mu.Unlock()
	for i, m := range minted {
		if err := verifyWith(set, m); err != nil {
			t.Errorf("%s: id_token %d (%s) no longer verifies against the JWKS: %v", when, i, m.alg, err)
		}
	}
	return kids
}

// verifyWith checks the signature of an id_token against a key set.
func verifyWith(set jose.JSONWebKeySet, m mintedToken) error {
	jws, err := jose.ParseSigned(m.token, []jose.SignatureAlgorithm{jose.RS256, jose.RS512, jose.ES256, jose.EdDSA})
	if err != nil {
		return err
	}
	kid := jws.Signatures[0].Protected.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		return fmt.Errorf("kid %s not published", kid)
	}
	if keys[0].Algorithm != m.alg {
		return fmt.Errorf("kid %s is published for %s", kid, keys[0].Algorithm)
	}
	_, err = jws.Verify(keys[0])
	return err
}

// byAlg returns the keys of one algorithm.
func byAlg(keys []listedKey, alg string) []listedKey {
	var out []listedKey
	for _, k := range keys {
		if k.Alg == alg {
			out = append(out, k)
		}
	}
	return out
}

// newGenerations returns, per algorithm, how many generations after has
// that before had not.
func newGenerations(before, after []listedKey) map[string]int {
	had := map[string]bool{}
	for _, k := range before {
		had[k.Kid] = true
	}
	added := map[string]int{}
	for _, k := range after {
		if !had[k.Kid] {
			added[k.Alg]++
		}
	}
	return added
}

// rotatedAlgs returns the algorithms a rotate command's arguments name.
func rotatedAlgs(args []string) []string {
	if i := slices.Index(args, "--alg"); i >= 0 {
		return []string{args[i+1]}
	}
	return slices.Sorted(maps.Keys(algApps))
}

package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-idp/sesame/internal/sdkerror"
	"github.com/sesame-idp/sesame/internal/session"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
)

// sdkClient speaks the SDK API to the servers of a run over keep-alive
// connections.
type sdkClient struct {
	hc *http.Client
}

func newSDKClient(concurrency int) *sdkClient {
	tr := &http.Transport{
		Proxy:               nil, // 127.0.0.1 only, whatever HTTP_PROXY says
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        4 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &sdkClient{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

func (c *sdkClient) close() { c.hc.CloseIdleConnections() }

// answer is what the tests need of an SDK answer.
type answer struct {
	status       int
	code         string // error_code of an error answer
	sessionToken string
	idToken      string
}

// key names an answer for error counts: the HTTP status and, for an SDK
// error, its code.
func (a answer) key() string {
	if a.code != "" {
		return fmt.Sprintf("%d %s", a.status, a.code)
	}
	return fmt.Sprint(a.status)
}

func (a answer) ok() bool {
	return a.status == http.StatusOK && a.idToken != "" && a.sessionToken != ""
}

// sdkRequest sends one SDK call on behalf of a device.
func (c *sdkClient) sdkRequest(ctx context.Context, base, path, clientID, fingerprint, sessionToken string, body []byte) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, rd)
	if err != nil {
		return answer{}, err
	}
	req.Host = TenantDomain
	h := req.Header
	h.Set("X-client-id", clientID)
	h.Set("X-device-fingerprint", fingerprint)
	h.Set("X-operating-sys-version", osVersion)
	h.Set("X-agent", agent)
	if sessionToken != "" {
		h.Set("session-token", sessionToken)
	}
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return answer{}, err
	}
	var v struct {
		SessionToken string `json:"session_token"`
		IDToken      string `json:"id_token"`
		Code         string `json:"error_code"`
	}
	_ = json.Unmarshal(raw, &v) // a body that is not JSON shows as a status without code
	return answer{status: resp.StatusCode, code: v.Code, sessionToken: v.SessionToken, idToken: v.IDToken}, nil
}

// exchange is contract §2.2: a session token for an id_token.
func (c *sdkClient) exchange(ctx context.Context, base, clientID, token, fingerprint string) (answer, error) {
	return c.sdkRequest(ctx, base, "/api/v2/sdk/sso/session-token/id-token", clientID, fingerprint, token, nil)
}

// login is contract §2.1.
func (c *sdkClient) login(ctx context.Context, base, username, password, fingerprint string) (answer, error) {
	body, _ := json.Marshal(map[string]string{"user_name": username, "password": password})
	return c.sdkRequest(ctx, base, "/api/v2/sdk/login", ClientID, fingerprint, "", body)
}

// verify checks through the server that the generated data is what the
// server would have written: a live session exchanges (its token hash,
// device and user are right), an expired one is refused as expired (it
// is found, so its hash is right, and its expiry is honoured), and a
// generated user logs in with Password.
func verify(ctx context.Context, c *sdkClient, base string, ds *Dataset) error {
	spec := ds.Spec()
	live, expired := int64(-1), int64(-1)
	for i := int64(0); i < spec.Sessions && (live < 0 || expired < 0); i++ {
		if ds.expired(i) {
			if expired < 0 {
				expired = i
			}
		} else if live < 0 {
			live = i
		}
	}
	if live >= 0 {
		s := ds.Session(live)
		a, err := c.exchange(ctx, base, ClientID, s.Token, s.Fingerprint)
		if err != nil {
			return fmt.Errorf("scale: verify: exchange of session %d: %w", live, err)
		}
		if !a.ok() || a.sessionToken != s.Token {
			return fmt.Errorf("scale: verify: exchange of live session %d answered %s", live, a.key())
		}
	}
	if expired >= 0 {
		s := ds.Session(expired)
		a, err := c.exchange(ctx, base, ClientID, s.Token, s.Fingerprint)
		if err != nil {
			return fmt.Errorf("scale: verify: exchange of session %d: %w", expired, err)
		}
		status, code, _ := sdkerror.New(sdkerror.SessionExpired).Render("eiam", false)
		if a.status != status || a.code != code {
			return fmt.Errorf("scale: verify: exchange of expired session %d answered %s, want %d %s", expired, a.key(), status, code)
		}
	}
	j := spec.Users / 2
	a, err := c.login(ctx, base, Username(j), Password, "scale-verify-device")
	if err != nil {
		return fmt.Errorf("scale: verify: login of user %d: %w", j, err)
	}
	if a.status != http.StatusOK || a.sessionToken == "" {
		return fmt.Errorf("scale: verify: login of user %d answered %s", j, a.key())
	}
	return nil
}

// expired reports whether session i is expired, without deriving the row.
func (d *Dataset) expired(i int64) bool { return d.rand(drawExpired, i) < d.expiredBelow }

// Latency summarises the requests of one measurement.
type Latency struct {
	Requests int            `json:"requests"`
	Errors   map[string]int `json:"errors,omitempty"` // by status and code
	P50MS    float64        `json:"p50_ms"`
	P95MS    float64        `json:"p95_ms"`
	P99MS    float64        `json:"p99_ms"`
	MaxMS    float64        `json:"max_ms"`
	// PerSecond is requests / wall time of the rounds (closed loop at
	// the run's concurrency: a consequence of the latency, not a
	// capacity figure).
	PerSecond float64 `json:"requests_per_second"`
	// ServerCPUMS is the server's CPU time per request (user + system).
	ServerCPUMS float64 `json:"server_cpu_ms_per_request"`
	// DiskReadKiB is, for the in-process store lookups on SQLite, what
	// each lookup read from storage on average (see measureLookups).
	DiskReadKiB float64 `json:"disk_read_kib_per_request,omitempty"`
}

// exchangeTarget is one server measured in the alternating rounds, with
// what it collected so far.
type exchangeTarget struct {
	name string
	srv  *server
	ds   *Dataset
	rng  *rand.Rand
	// tokens holds the current token of sessions this run rotated.
	tokens map[int64]string

	durations []time.Duration
	errors    map[string]int
	wall      time.Duration
	cpu       float64
}

func newExchangeTarget(name string, srv *server, ds *Dataset, seed uint64) *exchangeTarget {
	return &exchangeTarget{
		name: name, srv: srv, ds: ds,
		rng:    rand.New(rand.NewPCG(seed, seed^0x5ca1e)),
		tokens: map[int64]string{},
	}
}

func (t *exchangeTarget) reset() {
	t.durations, t.errors, t.wall, t.cpu = nil, map[string]int{}, 0, 0
}

// sample draws n distinct live sessions at random (fewer when a small
// store runs out of them: it gives up after 20n draws).
func (t *exchangeTarget) sample(n int) []int64 {
	spec := t.ds.Spec()
	seen := make(map[int64]bool, n)
	out := make([]int64, 0, n)
	for tries := 0; len(out) < n && tries < 20*n; tries++ {
		i := t.rng.Int64N(spec.Sessions)
		if seen[i] || t.ds.expired(i) {
			continue
		}
		seen[i] = true
		out = append(out, i)
	}
	return out
}

// call is one prepared exchange.
type call struct {
	i                  int64
	token, fingerprint string
}

// round sends n exchanges of distinct random live sessions to t's server
// through application clientID with concurrency workers and records their
// latencies. With rotate (the application rotates), the successor tokens
// are kept for later rounds.
func (t *exchangeTarget) round(ctx context.Context, c *sdkClient, clientID string, n, concurrency int, rotate, record bool) error {
	// Tokens are derived before the clock starts.
	idx := t.sample(n)
	calls := make([]call, len(idx))
	for k, i := range idx {
		s := t.ds.Session(i)
		tok := s.Token
		if cur, ok := t.tokens[i]; ok {
			tok = cur
		}
		calls[k] = call{i: i, token: tok, fingerprint: s.Fingerprint}
	}
	type result struct {
		d   time.Duration
		a   answer
		err error
	}
	results := make([]result, len(calls))
	before, err := t.srv.stats()
	if err != nil {
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(calls) || ctx.Err() != nil {
					return
				}
				cl := calls[k]
				t0 := time.Now()
				a, err := c.exchange(ctx, t.srv.base, clientID, cl.token, cl.fingerprint)
				results[k] = result{d: time.Since(t0), a: a, err: err}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	after, err := t.srv.stats()
	if err != nil {
		return err
	}
	if !record {
		return nil
	}
	t.wall += wall
	t.cpu += after.CPUSeconds - before.CPUSeconds
	for k, r := range results {
		t.durations = append(t.durations, r.d)
		switch {
		case r.err != nil:
			t.errors["transport"]++
		case !r.a.ok():
			t.errors[r.a.key()]++
		case rotate:
			t.tokens[calls[k].i] = r.a.sessionToken
		}
	}
	return nil
}

// latency summarises what t has recorded since reset.
func (t *exchangeTarget) latency() Latency {
	return latencyOf(t.durations, t.errors, t.wall, t.cpu)
}

// latencyOf summarises durations measured over wall, with cpu seconds of
// the server's CPU time.
func latencyOf(durations []time.Duration, errors map[string]int, wall time.Duration, cpu float64) Latency {
	l := Latency{Requests: len(durations), Errors: errors}
	if len(l.Errors) == 0 {
		l.Errors = nil
	}
	if len(durations) == 0 {
		return l
	}
	d := slices.Clone(durations)
	slices.Sort(d)
	l.P50MS, l.P95MS, l.P99MS = ms(percentile(d, 50)), ms(percentile(d, 95)), ms(percentile(d, 99))
	l.MaxMS = ms(d[len(d)-1])
	if wall > 0 {
		l.PerSecond = float64(len(d)) / wall.Seconds()
	}
	l.ServerCPUMS = cpu * 1000 / float64(len(d))
	return l
}

// measureLookups times the exchange's store call (SessionWithUser, the
// one query of an exchange) on both stores from this process, one lookup
// on each in turn, n per store after a warm-up: the store's share of the
// exchange, without HTTP, signing, or the scheduling of a server on a
// busy machine. The servers are stopped; the stores are opened as the
// server opens them (sqlstore.Open, same pools and pragmas).
//
// current holds, per store, the tokens of the sessions the exchange rounds
// rotated: the data set's token of such a session may be gone.
func measureLookups(ctx context.Context, mode string, base, scaled *storeHandle, current [2]map[int64]string, n int) (ExchangeComparison, error) {
	cmp := ExchangeComparison{Mode: mode}
	type side struct {
		st     *sqlstore.Store
		ds     *Dataset
		rng    *rand.Rand
		d      []time.Duration
		hashes [][]byte
	}
	warm := min(n/5, 2000)
	var sides []*side
	defer func() {
		for _, sd := range sides {
			sd.st.Close()
		}
	}()
	for k, h := range []*storeHandle{base, scaled} {
		st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: h.driver, DSN: h.dsn})
		if err != nil {
			return cmp, err
		}
		sd := &side{st: st, ds: h.ds, rng: rand.New(rand.NewPCG(uint64(k)+11, 7))}
		sides = append(sides, sd)
		// Hashes are derived before the clock starts.
		for len(sd.hashes) < warm+n {
			i := sd.rng.Int64N(h.ds.Spec().Sessions)
			if h.ds.expired(i) {
				continue
			}
			if tok, ok := current[k][i]; ok {
				sd.hashes = append(sd.hashes, h.ds.hasher.Hash(session.PurposeSession, tok))
			} else {
				sd.hashes = append(sd.hashes, h.ds.Session(i).TokenHash)
			}
		}
	}
	// Blocks of lookups alternate between the stores, so that each
	// block's disk reads (this process's read_bytes: the lookups' pages
	// that were in neither SQLite's cache nor the kernel's) belong to one
	// store. A PostgreSQL server reads for its own processes, so there
	// this process reads nothing.
	const block = 250
	var wall [2]time.Duration
	var reads [2]int64
	for first := 0; first < warm+n; first += block {
		for j, sd := range sides {
			r0 := processReadBytes()
			for k := first; k < min(first+block, warm+n); k++ {
				t0 := time.Now()
				if _, _, err := sd.st.SessionWithUser(ctx, TenantID, sd.hashes[k]); err != nil {
					return cmp, fmt.Errorf("scale: store lookup: %w", err)
				}
				if k >= warm {
					d := time.Since(t0)
					sd.d = append(sd.d, d)
					wall[j] += d
				}
			}
			if first >= warm {
				reads[j] += processReadBytes() - r0
			}
		}
	}
	cmp.Baseline = latencyOf(sides[0].d, nil, wall[0], 0)
	cmp.Scaled = latencyOf(sides[1].d, nil, wall[1], 0)
	for j, l := range []*Latency{&cmp.Baseline, &cmp.Scaled} {
		if l.Requests > 0 {
			l.DiskReadKiB = float64(reads[j]) / 1024 / float64(l.Requests)
		}
	}
	cmp.compare()
	return cmp, nil
}

// preRead reads a file through, so that the kernel caches it (as it would
// a database file on a machine with memory to spare), and returns how
// long that took.
func preRead(path string) (time.Duration, error) {
	t0 := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return time.Since(t0), err
}

// processReadBytes is read_bytes of /proc/self/io: what this process has
// had read from storage (not from the page cache). 0 where unavailable.
func processReadBytes() int64 {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "read_bytes: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// ms is d in milliseconds, to 0.1 µs.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e2) / 1e4 }

package scale

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sesame-idp/sesame/internal/password"
	"github.com/sesame-idp/sesame/internal/store/sqlstore"
)

// Backends a run can measure.
const (
	BackendSQLite   = sqlstore.DriverSQLite
	BackendPostgres = sqlstore.DriverPostgres
)

// Options configure a run. Zero values take the defaults of
// DefaultOptions where noted.
type Options struct {
	// Backends to measure, in order: BackendSQLite, BackendPostgres.
	Backends []string
	// Sessions and Users size the scaled store; BaselineSessions and
	// BaselineUsers the store it is compared with.
	Sessions, Users                 int64
	BaselineSessions, BaselineUsers int64
	ExpiredShare, RotatedShare      float64

	// Dir holds the SQLite files, configurations and server working
	// directories. Empty: a new temporary directory.
	Dir string
	// PostgresDSN is an admin connection string of the local PostgreSQL
	// server; each store gets a database of its own on it.
	PostgresDSN string
	// Keep leaves the files and PostgreSQL databases in place (their
	// locations are in the report).
	Keep bool
	// SesameBin is the sesame binary to run.
	SesameBin string

	// Algs are the id_token algorithms the exchange is measured with,
	// each through an application of its own.
	Algs             []string
	Concurrency      int
	Rounds           int
	RequestsPerRound int
	// Rotation adds the exchange with session rotation (with the first
	// algorithm) to the measurement.
	Rotation bool
	// Lookups is the number of in-process store lookups per store (see
	// measureLookups); 0 skips them.
	Lookups int

	SweepInterval time.Duration
	SweepBatch    int
	// SweepTimeout bounds the sweep measurement; the rate is then
	// computed from what was deleted.
	SweepTimeout time.Duration
	// ReadyTimeout bounds each server's start.
	ReadyTimeout time.Duration

	// Progress receives one line per step; nil discards them.
	Progress func(string)
}

// DefaultOptions are the figures of issue 5, point 4: ten million sessions
// and a million users against a ten-thousand-session baseline.
func DefaultOptions() Options {
	return Options{
		Backends:         []string{BackendSQLite, BackendPostgres},
		Sessions:         10_000_000,
		Users:            1_000_000,
		BaselineSessions: 10_000,
		BaselineUsers:    1_000,
		ExpiredShare:     0.10,
		RotatedShare:     0.50,
		PostgresDSN:      "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		Algs:             []string{"ES256", "RS256"},
		Concurrency:      4,
		Rounds:           6,
		RequestsPerRound: 3000,
		Rotation:         true,
		Lookups:          20_000,
		SweepInterval:    500 * time.Millisecond,
		SweepBatch:       1000,
		SweepTimeout:     15 * time.Minute,
		ReadyTimeout:     2 * time.Minute,
	}
}

func (o *Options) check() error {
	switch {
	case len(o.Backends) == 0:
		return errors.New("scale: no backend")
	case o.SesameBin == "":
		return errors.New("scale: the sesame binary is required")
	case o.Concurrency < 1 || o.Rounds < 1 || o.RequestsPerRound < 1 || o.Lookups < 0:
		return errors.New("scale: concurrency, rounds and requests per round must be positive")
	case len(o.Algs) == 0:
		return errors.New("scale: no id_token algorithm")
	case o.SweepInterval <= 0 || o.SweepBatch <= 0 || o.SweepTimeout <= 0 || o.ReadyTimeout <= 0:
		return errors.New("scale: sweep interval, batch, timeouts must be positive")
	case o.BaselineSessions < 1 || o.BaselineUsers < 1:
		return errors.New("scale: baseline sizes must be positive")
	}
	for _, b := range o.Backends {
		if b != BackendSQLite && b != BackendPostgres {
			return fmt.Errorf("scale: unknown backend %q", b)
		}
		if b == BackendPostgres {
			if err := loopbackPostgres(o.PostgresDSN); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run generates the stores of every backend in turn and measures a real
// server on them. It stops its servers and removes what it created
// (unless Keep) also when it fails or ctx ends.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	bin, err := filepath.Abs(o.SesameBin)
	if err != nil {
		return nil, err
	}
	o.SesameBin = bin
	root := o.Dir
	if root != "" {
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, err
		}
	} else {
		if root, err = os.MkdirTemp("", "sesame-scale-"); err != nil {
			return nil, err
		}
		if !o.Keep {
			defer os.RemoveAll(root)
		}
	}
	rep := &Report{
		Started: time.Now(),
		Machine: machine(),
		Settings: Settings{
			Sessions: o.Sessions, Users: o.Users, BaselineSessions: o.BaselineSessions, BaselineUsers: o.BaselineUsers,
			ExpiredShare: o.ExpiredShare, RotatedShare: o.RotatedShare, Algs: o.Algs,
			Concurrency: o.Concurrency, Rounds: o.Rounds, RequestsPerRound: o.RequestsPerRound,
			SweepInterval: o.SweepInterval.String(), SweepBatch: o.SweepBatch,
		},
	}
	// One argon2id hash, with the parameters the server uses, for every
	// user: the server then never re-hashes at login.
	pwHash, err := password.Hash(Password, password.DefaultParams)
	if err != nil {
		return nil, err
	}
	for _, backend := range o.Backends {
		// The backend's directory is the run's own: it must not exist
		// yet, and it is removed at the end unless Keep.
		dir := filepath.Join(root, backend)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return rep, err
		}
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
		br, err := runBackend(ctx, o, backend, dir, pwHash)
		rep.Backends = append(rep.Backends, br)
		if err != nil {
			rep.Seconds = time.Since(rep.Started).Seconds()
			return rep, fmt.Errorf("%s: %w", backend, err)
		}
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	return rep, nil
}

// storeHandle is one generated store.
type storeHandle struct {
	name   string
	driver string
	dsn    string // SQLite path or PostgreSQL DSN
	pg     *pgDatabase
	ds     *Dataset
	dir    string
	report StoreReport
}

func runBackend(ctx context.Context, o Options, backend, dir, pwHash string) (br BackendReport, err error) {
	start := time.Now()
	br.Backend = backend
	br.LoadAverage[0] = loadAverage()
	defer func() {
		br.LoadAverage[1] = loadAverage()
		br.Seconds = time.Since(start).Seconds()
	}()
	progress := func(s string) { o.Progress(backend + ": " + s) }

	kek := randomBytes(32)
	var stores []*storeHandle
	defer func() {
		if o.Keep {
			return
		}
		for _, st := range stores {
			if st.pg != nil {
				if derr := st.pg.drop(); derr != nil {
					err = errors.Join(err, derr)
				}
			}
		}
	}()
	for _, sz := range []struct {
		name            string
		sessions, users int64
	}{{"baseline", o.BaselineSessions, o.BaselineUsers}, {"scaled", o.Sessions, o.Users}} {
		spec := Spec{
			Sessions: sz.sessions, Users: sz.users,
			ExpiredShare: o.ExpiredShare, RotatedShare: o.RotatedShare,
			Seed: randomBytes(32), KEK: kek, Now: time.Now(), PasswordHash: pwHash,
		}
		st, err := createStore(ctx, o, backend, filepath.Join(dir, sz.name), sz.name, spec, progress)
		if st != nil {
			stores = append(stores, st)
		}
		if err != nil {
			return br, err
		}
	}
	base, scaled := stores[0], stores[1]
	br.Baseline, br.Scaled = base.report, scaled.report

	c := newSDKClient(o.Concurrency)
	defer c.close()

	// Exchange latency and memory: both servers run at once, sweeping
	// off (a day's interval), and are measured in alternating rounds so
	// that other load on the machine falls on both alike.
	quiet := serverConfig{Driver: backend, KEK: kek, Algs: o.Algs, SweepInterval: 24 * time.Hour, SweepBatch: o.SweepBatch, LogLevel: "warn"}
	var servers []*server
	defer func() {
		for _, s := range servers {
			if serr := s.stop(30 * time.Second); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}()
	for _, st := range stores {
		srv, err := st.start(ctx, o, quiet)
		if err != nil {
			return br, err
		}
		servers = append(servers, srv)
		if err := verify(ctx, c, srv.base, st.ds); err != nil {
			return br, fmt.Errorf("%s store: %w", st.name, err)
		}
		progress(st.name + " server ready on " + srv.base + "; generated data verified through it")
	}
	targets := []*exchangeTarget{
		newExchangeTarget("baseline", servers[0], base.ds, 1),
		newExchangeTarget("scaled", servers[1], scaled.ds, 2),
	}
	// Warm-up: connections, the servers' caches and key loading, and the
	// first pages of each database; not recorded.
	for _, t := range targets {
		for _, alg := range o.Algs {
			if err := t.round(ctx, c, AppID(alg, false), min(o.RequestsPerRound, 500), o.Concurrency, false, false); err != nil {
				return br, err
			}
		}
	}
	type mode struct {
		name, alg string
		rotate    bool
	}
	var modes []mode
	for _, alg := range o.Algs {
		modes = append(modes, mode{"exchange " + alg, alg, false})
	}
	if o.Rotation {
		modes = append(modes, mode{"exchange+rotation " + o.Algs[0], o.Algs[0], true})
	}
	for _, m := range modes {
		cmp := ExchangeComparison{Mode: m.name, ClientID: AppID(m.alg, m.rotate)}
		for _, t := range targets {
			t.reset()
		}
		for r := range o.Rounds {
			for _, t := range targets {
				if err := t.round(ctx, c, cmp.ClientID, o.RequestsPerRound, o.Concurrency, m.rotate, true); err != nil {
					return br, err
				}
			}
			progress(fmt.Sprintf("%s round %d/%d done", cmp.Mode, r+1, o.Rounds))
		}
		cmp.Baseline, cmp.Scaled = targets[0].latency(), targets[1].latency()
		cmp.compare()
		br.Exchange = append(br.Exchange, cmp)
		progress(fmt.Sprintf("%s p50 %.3f ms (baseline) vs %.3f ms (scaled)", cmp.Mode, cmp.Baseline.P50MS, cmp.Scaled.P50MS))
	}
	if br.Memory.Baseline, err = servers[0].stats(); err != nil {
		return br, err
	}
	if br.Memory.Scaled, err = servers[1].stats(); err != nil {
		return br, err
	}
	for _, s := range servers {
		if err := s.stop(30 * time.Second); err != nil {
			return br, err
		}
	}
	servers = nil

	// The store's own part of the exchange, without HTTP, signing or the
	// servers: the lookup, in this process. On SQLite a second time right
	// after reading both files through, which shows what the kernel's
	// page cache does for the lookup where the machine keeps the file in
	// memory.
	if o.Lookups > 0 {
		current := [2]map[int64]string{targets[0].tokens, targets[1].tokens}
		cmp, err := measureLookups(ctx, "store lookup", base, scaled, current, o.Lookups)
		if err != nil {
			return br, err
		}
		br.Lookups = append(br.Lookups, cmp)
		progress(fmt.Sprintf("store lookup p50 %.3f ms (baseline) vs %.3f ms (scaled)", cmp.Baseline.P50MS, cmp.Scaled.P50MS))
		if backend == BackendSQLite {
			for _, st := range stores {
				d, err := preRead(st.dsn)
				if err != nil {
					return br, err
				}
				progress(fmt.Sprintf("read %s through in %.1fs", st.dsn, d.Seconds()))
			}
			cmp, err := measureLookups(ctx, "store lookup, file pre-read", base, scaled, current, o.Lookups)
			if err != nil {
				return br, err
			}
			br.Lookups = append(br.Lookups, cmp)
			progress(fmt.Sprintf("store lookup after pre-read p50 %.3f ms (baseline) vs %.3f ms (scaled)", cmp.Baseline.P50MS, cmp.Scaled.P50MS))
		}
	}

	// The sweep: the scaled store's server again, now sweeping often.
	swept := quiet
	swept.SweepInterval, swept.LogLevel = o.SweepInterval, "info"
	srv, err := scaled.start(ctx, o, swept)
	if err != nil {
		return br, err
	}
	servers = append(servers, srv)
	progress(fmt.Sprintf("sweeping %d expired sessions", scaled.report.Load.Expired))
	br.Sweep = measureSweep(ctx, srv, o, scaled.report.Load.Expired)
	if br.Memory.Sweeper, err = srv.stats(); err != nil {
		return br, err
	}
	br.Sweep.ServerCPUSeconds = br.Memory.Sweeper.CPUSeconds
	if err := srv.stop(30 * time.Second); err != nil {
		return br, err
	}
	servers = nil
	// Verification created one session on the scaled store (the login).
	br.Sweep.Expected = scaled.report.Load.Sessions - scaled.report.Load.Expired + 1
	if br.Sweep.Remaining, err = scaled.countSessions(ctx); err != nil {
		return br, err
	}
	br.Sweep.Complete = br.Sweep.Complete && br.Sweep.Remaining == br.Sweep.Expected
	progress(fmt.Sprintf("sweep: %d rows in %.1fs (%.0f rows/s); %d sessions left", br.Sweep.Deleted, br.Sweep.Seconds, br.Sweep.RowsPerSecond, br.Sweep.Remaining))
	m := br.Memory
	br.Memory.TargetMet = m.Baseline.PeakRSSBytes < TargetRSSBytes && m.Scaled.PeakRSSBytes < TargetRSSBytes && m.Sweeper.PeakRSSBytes < TargetRSSBytes
	return br, nil
}

// createStore makes an empty database, applies the server's migrations to
// it (sqlstore.Open, exactly as the server will), loads the data set and
// measures the result.
func createStore(ctx context.Context, o Options, backend, dir, name string, spec Spec, progress func(string)) (*storeHandle, error) {
	ds, err := NewDataset(spec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	st := &storeHandle{name: name, driver: backend, ds: ds, dir: dir}
	switch backend {
	case BackendSQLite:
		st.dsn = filepath.Join(dir, "sesame.db")
		st.report.Location = st.dsn
	case BackendPostgres:
		if st.pg, err = createPostgresDatabase(ctx, o.PostgresDSN, name); err != nil {
			return nil, err
		}
		st.dsn = st.pg.dsn
		st.report.Location = st.pg.name
	}
	sq, err := sqlstore.Open(ctx, sqlstore.Config{Driver: backend, DSN: st.dsn})
	if err != nil {
		return st, err
	}
	if err := sq.Close(); err != nil {
		return st, err
	}
	var db bulkDB
	if backend == BackendSQLite {
		db, err = openSQLiteBulk(ctx, st.dsn)
	} else {
		db, err = openPostgresBulk(ctx, st.dsn)
	}
	if err != nil {
		return st, err
	}
	progress(fmt.Sprintf("%s store: loading %d users and %d sessions into %s", name, spec.Users, spec.Sessions, st.report.Location))
	res, err := load(ctx, db, ds, func(s string) { progress(name + " store: " + s) })
	if cerr := db.close(); err == nil {
		err = cerr
	}
	st.report.Load = res
	if err != nil {
		return st, err
	}
	var tables map[string]int64
	if backend == BackendSQLite {
		st.report.DatabaseBytes, tables, err = sqliteSizes(ctx, st.dsn)
	} else {
		st.report.DatabaseBytes, tables, err = postgresSizes(ctx, st.dsn)
	}
	if err != nil {
		return st, err
	}
	st.report.SessionsBytes, st.report.UsersBytes = tables["sessions"], tables["users"]
	st.report.BytesPerSession = float64(st.report.SessionsBytes) / float64(spec.Sessions)
	st.report.BytesPerUser = float64(st.report.UsersBytes) / float64(spec.Users)
	progress(fmt.Sprintf("%s store: loaded in %.1fs (%.0f rows/s); %.1f MiB, %.0f B/session, %.0f B/user",
		name, res.Seconds, res.RowsPerSecond, mib(st.report.DatabaseBytes), st.report.BytesPerSession, st.report.BytesPerUser))
	return st, nil
}

// start runs a server on the store with cfg.
func (st *storeHandle) start(ctx context.Context, o Options, cfg serverConfig) (*server, error) {
	cfg.DSN = st.dsn
	path, err := writeConfig(st.dir, cfg)
	if err != nil {
		return nil, err
	}
	return startServer(ctx, st.name, o.SesameBin, path, st.dsn, o.ReadyTimeout)
}

// countSessions counts the store's sessions with the server stopped.
func (st *storeHandle) countSessions(ctx context.Context) (int64, error) {
	var n int64
	if st.driver == BackendPostgres {
		conn, err := pgx.Connect(ctx, st.dsn)
		if err != nil {
			return 0, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		err = conn.QueryRow(ctx, "SELECT count(*) FROM sessions").Scan(&n)
		return n, err
	}
	db, err := sql.Open("sqlite", st.dsn+"?_pragma=query_only(1)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM sessions").Scan(&n)
	return n, err
}

// measureSweep follows the server's sweep log until the expired sessions
// are gone or the sweep timeout ends.
//
// The sweeper (Server.SweepOnce) runs every interval and deletes up to 100
// batches per run, logging each run's total; with a backlog a run takes
// longer than the interval and the next starts at once, so from the first
// run on the sweeper works without pause until the backlog is gone. The
// first run starts one interval after the server logs "sesame
// listening" (the ticker is created just before), so the rate is the
// rows deleted over the time from then to the log line of the last run
// that deleted any.
func measureSweep(ctx context.Context, srv *server, o Options, expired int64) SweepReport {
	rep := SweepReport{Interval: o.SweepInterval.String(), Batch: o.SweepBatch, Expired: expired}
	deadline := time.NewTimer(o.SweepTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		listening, events := srv.log.sweepState()
		var deleted int64
		var last time.Time
		for _, e := range events {
			if e.deleted > 0 {
				deleted += e.deleted
				last = e.at
			}
		}
		rep.Deleted = deleted
		if !listening.IsZero() && !last.IsZero() {
			rep.Seconds = last.Sub(listening.Add(o.SweepInterval)).Seconds()
			if rep.Seconds > 0 {
				rep.RowsPerSecond = float64(deleted) / rep.Seconds
				rep.BatchSeconds = rep.Seconds / math.Ceil(float64(deleted)/float64(o.SweepBatch))
			}
		}
		if deleted >= expired {
			rep.Complete = true
			return rep
		}
		select {
		case <-ctx.Done():
			return rep
		case <-deadline.C:
			return rep
		case <-srv.done:
			return rep
		case <-tick.C:
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return b
}

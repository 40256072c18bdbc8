package bench

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver, for CREATE/DROP DATABASE

	"github.com/sesame-idp/sesame/internal/config"
)

// Target is a running server the harness measures.
type Target struct {
	// Addr is the loopback address it listens on (127.0.0.1:port).
	Addr string
	// PID is the server's process, whose CPU and memory are read from
	// /proc; 0 when unknown.
	PID int
	// PProf is the address of its pprof listener, if any.
	PProf string
	// DBComm is the command name of the database server's processes,
	// whose CPU each phase reports ("postgres"); "" when the database runs
	// inside the server (SQLite).
	DBComm string
	// Stop stops the server and releases what was provisioned for it.
	Stop func() error
	// checkpoints reads PostgreSQL's checkpoint counters (nil: SQLite, or
	// not readable); RunBackend sets it.
	checkpoints func() (checkpointCounters, bool)
}

// Launcher starts a server with a configuration. Launch is the real one;
// tests may start a server in their own process.
type Launcher func(ctx context.Context, cfg config.Config) (*Target, error)

// CheckLoopback refuses any address that is not 127.0.0.0/8 or ::1: the
// harness sends load only to the machine it runs on.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("bench: refusing target %q: only 127.0.0.1 or ::1 may be loaded", addr)
	}
	return nil
}

// dbComm is Target.DBComm for a configuration.
func dbComm(cfg config.Config) string {
	if cfg.Storage.Driver == "postgres" {
		return "postgres"
	}
	return ""
}

// watched is what each phase against t measures; c reads the server's
// /metrics for SQLite's write queue.
func (t *Target) watched(ctx context.Context, c *client) watched {
	return watched{serverPID: t.PID, dbComm: t.DBComm, checkpoints: t.checkpoints, queue: func() (queueCounters, bool) {
		a, err := c.do(ctx, http.MethodGet, "/metrics", nil, nil)
		defer c.release(a)
		if err != nil || a.status != http.StatusOK {
			return queueCounters{}, false
		}
		return parseQueueCounters(a.body)
	}}
}

// FreeAddr returns 127.0.0.1:port with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func splitPort(addr string) (host, port string) {
	host, port, _ = net.SplitHostPort(addr)
	return host, port
}

// ChildLauncher starts `sesame serve` from Bin as a child process, with
// the configuration written to a file in Dir and its log in Dir/sesame.log.
type ChildLauncher struct {
	Bin string
	Dir string
}

// Launch writes the configuration, starts the server and waits until it
// answers /readyz.
func (c ChildLauncher) Launch(ctx context.Context, cfg config.Config) (*Target, error) {
	if err := CheckLoopback(cfg.Server.Listen); err != nil {
		return nil, err
	}
	raw, err := configFile(cfg)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(c.Dir, "sesame-"+cfg.Storage.Driver+".yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(c.Dir, "sesame-"+cfg.Storage.Driver+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.Bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Only the variables a Go program needs: SESAME_* variables of the
	// caller's environment would override the generated configuration.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESAME_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					stopErr = err
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				stopErr = errors.New("bench: server did not stop within 20 s of SIGTERM; killed")
			}
		})
		return stopErr
	}
	t := &Target{Addr: cfg.Server.Listen, PID: cmd.Process.Pid, PProf: cfg.Server.PProf, DBComm: dbComm(cfg), Stop: stop}
	if err := waitReady(ctx, t.Addr, exited, 3*time.Minute); err != nil {
		_ = stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w\nserver log (%s):\n%s", err, logPath, lastLines(log, 4000))
	}
	return t, nil
}

// waitReady polls GET /readyz until the server answers 200.
func waitReady(ctx context.Context, addr string, exited <-chan error, limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("bench: server exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("bench: server not ready after %s", limit)
}

// PostgresDatabase creates a database of its own on the PostgreSQL server
// of adminDSN and returns its DSN and a function that drops it. The
// server must be on the loopback interface or a Unix socket.
func PostgresDatabase(ctx context.Context, adminDSN string) (dsn string, drop func() error, err error) {
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("bench: --postgres must be a postgres:// URL")
	}
	if h := u.Hostname(); h != "" && !strings.HasPrefix(h, "/") {
		if err := CheckLoopback(h); err != nil {
			return "", nil, fmt.Errorf("bench: PostgreSQL must be local: %w", err)
		}
	}
	name := "sesame_bench_" + randomHex(6)
	exec := func(stmt string) error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", adminDSN)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, stmt)
		return err
	}
	// Identifiers cannot be bound as parameters; name is ours and safe.
	if err := exec("CREATE DATABASE " + name); err != nil {
		return "", nil, fmt.Errorf("bench: create database: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), func() error {
		// WITH (FORCE) (PostgreSQL 13+) ends the server's connections.
		return exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	}, nil
}

// lastLines returns up to n bytes of the end of b, from a line start.
func lastLines(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[len(b)-n:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

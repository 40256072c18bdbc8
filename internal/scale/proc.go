package scale

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverConfig is what differs between the servers a run starts.
type serverConfig struct {
	Driver, DSN string
	KEK         []byte
	// Algs are the id_token algorithms measured: the tenant gets a plain
	// and a rotating application for each (AppID). The first also signs
	// for ClientID, the application the sessions were created through.
	Algs          []string
	SweepInterval time.Duration
	SweepBatch    int
	LogLevel      string
}

// writeConfig writes the server's YAML configuration into dir. The tenant
// and its applications come from the bootstrap section, as in a
// deployment; rate limits are off, because the measurement sends
// thousands of exchanges a second from one address. Every application
// binds devices (contract §8 default). The DSN is passed in the
// environment (${SESAME_SCALE_DSN}), as a deployment keeps it out of the
// file.
func writeConfig(dir string, c serverConfig) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by sesame-scale for one measurement; not a deployment.
server:
  public_url: "http://127.0.0.1"
storage:
  driver: %s
  dsn: "${SESAME_SCALE_DSN}"
secrets:
  key_encryption_key: "%s"
sweep:
  interval: %s
  batch: %d
log:
  level: %s
  format: json
rate_limit:
  login_per_ip: {rate: 0}
  token_per_client: {rate: 0}
  exchange_per_client: {rate: 0}
  exchange_per_ip: {rate: 0}
bootstrap:
  tenants:
    - id: %s
      name: Scale
      edition: eiam
      domains: ["%s"]
      applications:
`, c.Driver, base64.StdEncoding.EncodeToString(c.KEK), c.SweepInterval, c.SweepBatch, c.LogLevel, TenantID, TenantDomain)
	app := func(id, alg string, rotate bool) {
		fmt.Fprintf(&b, `        - client_id: %s
          client_secret: "scale-secret-0123456789abcdef"
          grant_types: [client_credentials]
          session_ttl: %s
          session_auto_refresh: %t
          device_binding: true
          id_token_alg: %s
`, id, SessionTTL, rotate, alg)
	}
	app(ClientID, c.Algs[0], false)
	for _, alg := range c.Algs {
		app(AppID(alg, false), alg, false)
		app(AppID(alg, true), alg, true)
	}
	path := filepath.Join(dir, "sesame.yaml")
	// 0600: the file holds the key-encryption key.
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// server is a `sesame serve` child process on 127.0.0.1.
type server struct {
	name string
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	done chan struct{}
	err  error // the process's exit, valid after done
	log  *serverLog
}

// startServer starts bin serve with the configuration at cfgPath on a free
// loopback port and waits until /readyz answers. A port taken between
// choosing and binding it is retried on another.
func startServer(ctx context.Context, name, bin, cfgPath, dsn string, readyTimeout time.Duration) (*server, error) {
	var lastErr error
	for range 3 {
		s, err := spawnServer(name, bin, cfgPath, dsn)
		if err != nil {
			return nil, err
		}
		err = s.waitReady(ctx, readyTimeout)
		if err == nil {
			return s, nil
		}
		s.kill()
		lastErr = err
		if !strings.Contains(s.log.tail(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func spawnServer(name, bin, cfgPath, dsn string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--config", cfgPath, "--listen", addr, "--public-url", "http://"+addr)
	cmd.Dir = filepath.Dir(cfgPath)
	cmd.Env = childEnv("SESAME_SCALE_DSN=" + dsn)
	s := &server{name: name, cmd: cmd, base: "http://" + addr, done: make(chan struct{}), log: newServerLog()}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("scale: start %s: %w", bin, err)
	}
	go s.log.read(pr)
	go func() {
		s.err = cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	return s, nil
}

// childEnv is our environment without SESAME_*__* variables, which would
// override the configuration file.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SESAME_") && strings.Contains(name, "__") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func (s *server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("scale: %s exited before it was ready: %v\n%s", s.name, s.err, s.log.tail())
		case <-ctx.Done():
			return fmt.Errorf("scale: %s not ready: %w\n%s", s.name, ctx.Err(), s.log.tail())
		case <-tick.C:
		}
	}
}

// stop asks the server to shut down (SIGTERM) and kills it if it has not
// within timeout.
func (s *server) stop(timeout time.Duration) error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(timeout):
		s.kill()
		return fmt.Errorf("scale: %s did not stop within %v; killed", s.name, timeout)
	}
}

func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// ProcStats are a process's memory and CPU as the kernel reports them.
type ProcStats struct {
	// RSSBytes is VmRSS (resident now), PeakRSSBytes VmHWM (the highest
	// resident size since the process started).
	RSSBytes     int64 `json:"rss_bytes"`
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// CPUSeconds is user + system time since the process started.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// stats reads /proc/<pid>/status and /proc/<pid>/stat (Linux only).
func (s *server) stats() (ProcStats, error) {
	return readProcStats(s.cmd.Process.Pid)
}

func readProcStats(pid int) (ProcStats, error) {
	var st ProcStats
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(val) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return st, fmt.Errorf("scale: unexpected /proc status line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return st, err
		}
		if name == "VmRSS" {
			st.RSSBytes = kb << 10
		} else {
			st.PeakRSSBytes = kb << 10
		}
	}
	raw, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	rest := string(raw)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return st, errors.New("scale: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return st, err
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	st.CPUSeconds = float64(ut+stime) / 100
	return st, nil
}

// serverLog keeps the last lines of a server's output, for error
// messages, and the events the sweep measurement reads from its JSON log.
type serverLog struct {
	mu        sync.Mutex
	lines     []string
	listening time.Time
	sweeps    []sweepEvent
}

// sweepEvent is one "swept expired records" line: the end of one
// Server.SweepOnce, which deletes up to 100 batches.
type sweepEvent struct {
	at      time.Time
	deleted int64
}

const logTailLines = 200

func newServerLog() *serverLog { return &serverLog{} }

func (l *serverLog) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.add(sc.Text())
	}
	// Keep draining so the child never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

func (l *serverLog) add(line string) {
	var rec struct {
		Time    time.Time `json:"time"`
		Msg     string    `json:"msg"`
		Deleted int64     `json:"deleted"`
	}
	parsed := json.Unmarshal([]byte(line), &rec) == nil
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == logTailLines {
		l.lines = l.lines[1:]
	}
	l.lines = append(l.lines, line)
	if !parsed {
		return
	}
	switch rec.Msg {
	case "sesame listening":
		l.listening = rec.Time
	case "swept expired records":
		l.sweeps = append(l.sweeps, sweepEvent{at: rec.Time, deleted: rec.Deleted})
	}
}

func (l *serverLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *serverLog) sweepState() (listening time.Time, events []sweepEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.listening, append([]sweepEvent(nil), l.sweeps...)
}

package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat. The kernel
// exports it to user space as the constant USER_HZ, which is 100 on every
// Linux architecture Go supports (proc(5), times(2)).
const userHZ = 100

// procSample is what /proc says of a process at one moment.
type procSample struct {
	CPU time.Duration // utime + stime
	RSS int64         // VmRSS, bytes
	HWM int64         // VmHWM (peak RSS since start or the last reset), bytes
}

// readProc reads the CPU time and memory of process pid.
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) is in parentheses and may contain
	// spaces: fields are counted from the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("bench: malformed /proc/%d/stat", pid)
	}
	f := bytes.Fields(stat[i+1:])
	// After ')' come field 3 (state) onwards: utime is field 14, stime 15.
	if len(f) < 13 {
		return s, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("bench: bad cpu times in /proc/%d/stat", pid)
	}
	s.CPU = time.Duration(ut+st) * time.Second / userHZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			s.RSS = kib(line)
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			s.HWM = kib(line)
		}
	}
	return s, nil
}

// kib parses a "Name:   1234 kB" line of /proc/<pid>/status into bytes.
func kib(line []byte) int64 {
	f := bytes.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(string(f[1]), 10, 64)
	return n << 10
}

// resetPeak resets the peak RSS (VmHWM) of process pid to its current RSS
// by writing 5 to /proc/<pid>/clear_refs (Linux 4.0+, proc(5)), so that
// each phase reports its own peak. It needs to own the process or be root;
// when it fails the phase reports the peak since the process started.
func resetPeak(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// procWatch measures one process during a phase: its CPU time, and its
// peak RSS both from VmHWM and from sampling VmRSS (in case the reset is
// not allowed).
type procWatch struct {
	pid     int
	start   procSample
	reset   bool
	stop    chan struct{}
	done    sync.WaitGroup
	mu      sync.Mutex
	maxRSS  int64
	startAt time.Time
}

// watchProc starts measuring pid; pid 0 watches nothing.
func watchProc(pid int) *procWatch {
	w := &procWatch{pid: pid, stop: make(chan struct{}), startAt: time.Now()}
	if pid == 0 {
		return w
	}
	w.reset = resetPeak(pid)
	w.start, _ = readProc(pid)
	w.maxRSS = w.start.RSS
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				if s, err := readProc(pid); err == nil {
					w.mu.Lock()
					w.maxRSS = max(w.maxRSS, s.RSS)
					w.mu.Unlock()
				}
			}
		}
	}()
	return w
}

// ProcStats is a process's resource use during a phase.
type ProcStats struct {
	// CPUSeconds is user + system CPU time spent during the phase.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUCores is CPUSeconds divided by the phase's wall time: how many
	// cores the process kept busy on average.
	CPUCores float64 `json:"cpu_cores"`
	// PeakRSSMB is the phase's peak resident set size in MiB (VmHWM after
	// a reset at the phase's start, or the larger of the sampled VmRSS).
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// PeakSampled says the VmHWM reset was refused, so the peak is the
	// largest VmRSS seen every 50 ms (a shorter spike may be missed).
	PeakSampled bool `json:"peak_sampled,omitempty"`
}

// finish stops the watch and returns the phase's figures.
func (w *procWatch) finish() ProcStats {
	wall := time.Since(w.startAt)
	if w.pid == 0 {
		return ProcStats{}
	}
	close(w.stop)
	w.done.Wait()
	end, err := readProc(w.pid)
	if err != nil {
		return ProcStats{}
	}
	peak := max(w.maxRSS, end.RSS)
	if w.reset {
		peak = max(peak, end.HWM)
	}
	cpu := (end.CPU - w.start.CPU).Seconds()
	return ProcStats{
		CPUSeconds:  cpu,
		CPUCores:    cpu / wall.Seconds(),
		PeakRSSMB:   float64(peak) / (1 << 20),
		PeakSampled: !w.reset,
	}
}

// readMachineCPU reads the first line of /proc/stat, the time all CPUs
// spent in each state since boot (proc(5)): busy is user, nice, system,
// irq and softirq time; idle is idle and iowait time. Steal (time the
// hypervisor gave to other guests) is neither: it is capacity this
// machine did not get.
func readMachineCPU() (busy, idle time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 8 || string(f[0]) != "cpu" {
		return 0, 0, errors.New("bench: unexpected first line of /proc/stat")
	}
	var v [7]int64 // user nice system idle iowait irq softirq
	for i := range v {
		if v[i], err = strconv.ParseInt(string(f[i+1]), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("bench: /proc/stat: %w", err)
		}
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }
	return tick(v[0] + v[1] + v[2] + v[5] + v[6]), tick(v[3] + v[4]), nil
}

// readCommCPU returns the CPU time (utime + stime) of every process whose
// command name (comm, /proc/<pid>/stat field 2) is comm, by pid.
func readCommCPU(comm string) map[int]time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte("(" + comm + ")")
	cpu := map[int]time.Duration{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		i := bytes.IndexByte(stat, '(')
		j := bytes.LastIndexByte(stat, ')')
		if i < 0 || j < i || !bytes.Equal(stat[i:j+1], want) {
			continue
		}
		if s, err := readProc(pid); err == nil {
			cpu[pid] = s.CPU
		}
	}
	return cpu
}

// machineWatch measures a phase's CPU use beyond the server and the
// loader: the whole machine's busy and idle time, and the processes of the
// database server (PostgreSQL runs on the same cores as Sesame and the
// harness; SQLite is inside the server).
type machineWatch struct {
	dbComm     string
	dbStart    map[int]time.Duration
	busy, idle time.Duration
	ok         bool
	startAt    time.Time
}

func watchMachine(dbComm string) *machineWatch {
	w := &machineWatch{dbComm: dbComm, startAt: time.Now()}
	var err error
	w.busy, w.idle, err = readMachineCPU()
	w.ok = err == nil
	if dbComm != "" {
		w.dbStart = readCommCPU(dbComm)
	}
	return w
}

// MachineStats is the CPU use of the whole machine during a phase, in
// cores (CPU seconds ÷ wall seconds).
type MachineStats struct {
	// BusyCores is every process's and the kernel's CPU time; with the
	// server's and the loader's it tells what else ran (the database,
	// kernel threads handling the loopback network and the disk).
	BusyCores float64 `json:"busy_cores"`
	// IdleCores is the capacity nothing used: when it is near zero the
	// phase was bound by the machine's CPU.
	IdleCores float64 `json:"idle_cores"`
	// DBCores is the CPU of the database server's processes (PostgreSQL:
	// every process named postgres, so other users of the same cluster
	// count too); 0 for SQLite, which runs inside the server.
	DBCores float64 `json:"db_cores,omitempty"`
	// DBCPUPerOpUS is DBCores as CPU time per successful operation.
	DBCPUPerOpUS float64 `json:"db_cpu_per_op_us,omitempty"`
}

// finish returns the machine's figures since watchMachine; nil when
// /proc/stat could not be read.
func (w *machineWatch) finish() *MachineStats {
	wall := time.Since(w.startAt).Seconds()
	busy, idle, err := readMachineCPU()
	if !w.ok || err != nil || wall <= 0 {
		return nil
	}
	m := &MachineStats{BusyCores: (busy - w.busy).Seconds() / wall, IdleCores: (idle - w.idle).Seconds() / wall}
	if w.dbComm != "" {
		var db time.Duration
		for pid, end := range readCommCPU(w.dbComm) {
			db += end - w.dbStart[pid] // a backend started meanwhile counts whole
		}
		m.DBCores = db.Seconds() / wall
	}
	return m
}

// queueCounters are the server's SQLite write-queue counters as its
// /metrics exports them (sesame_sqlite_write_*_total).
type queueCounters struct {
	statements, commits, busySeconds, commitSeconds float64
}

// parseQueueCounters reads the write-queue counters from a Prometheus
// text exposition; ok is false when the server exports none (PostgreSQL).
func parseQueueCounters(body []byte) (c queueCounters, ok bool) {
	found := 0
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		name, value, cut := bytes.Cut(line, []byte(" "))
		if !cut {
			continue
		}
		var dst *float64
		switch string(name) {
		case "sesame_sqlite_write_statements_total":
			dst = &c.statements
		case "sesame_sqlite_write_commits_total":
			dst = &c.commits
		case "sesame_sqlite_write_busy_seconds_total":
			dst = &c.busySeconds
		case "sesame_sqlite_write_commit_seconds_total":
			dst = &c.commitSeconds
		default:
			continue
		}
		v, err := strconv.ParseFloat(string(bytes.TrimSpace(value)), 64)
		if err != nil {
			return c, false
		}
		*dst = v
		found++
	}
	return c, found == 4
}

// WriteQueueStats is what SQLite's single write connection did during a
// phase (the server's group commit, see sqlstore.WriteStats).
type WriteQueueStats struct {
	// Busy is the share of the phase's wall time the write queue spent
	// running batches: near 1, the writes wait for the connection and the
	// path is bound by it rather than by the CPU.
	Busy float64 `json:"busy"`
	// CommitShare is the part of that time spent in COMMIT (WAL write
	// and fsync).
	CommitShare float64 `json:"commit_share"`
	// StatementsPerCommit is the mean batch.
	StatementsPerCommit float64 `json:"statements_per_commit"`
}

func (end queueCounters) since(start queueCounters, wall time.Duration) *WriteQueueStats {
	d := queueCounters{end.statements - start.statements, end.commits - start.commits,
		end.busySeconds - start.busySeconds, end.commitSeconds - start.commitSeconds}
	if d.commits <= 0 || wall <= 0 {
		return nil
	}
	q := &WriteQueueStats{Busy: d.busySeconds / wall.Seconds(), StatementsPerCommit: d.statements / d.commits}
	if d.busySeconds > 0 {
		q.CommitShare = d.commitSeconds / d.busySeconds
	}
	return q
}

package bench

import (
	"context"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sample is one operation: when it was sent (closed loop) or scheduled to
// be sent (open loop), relative to the phase's start, how long it took
// from then, and how it ended (an index into the phase's outcomes; 0 is
// success).
type sample struct {
	at, lat int64 // nanoseconds
	out     uint16
}

// outcomes interns the names of failures: errors are rare except in the
// flood, so a mutex is enough.
type outcomes struct {
	mu    sync.Mutex
	index map[string]uint16
	names []string
}

func newOutcomes() *outcomes {
	return &outcomes{index: map[string]uint16{"": 0}, names: []string{""}}
}

func (o *outcomes) id(name string) uint16 {
	if name == "" {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if i, ok := o.index[name]; ok {
		return i
	}
	if len(o.names) == 1<<16-1 {
		return uint16(len(o.names) - 1) // cannot happen with real outcomes
	}
	o.index[name] = uint16(len(o.names))
	o.names = append(o.names, name)
	return uint16(len(o.names) - 1)
}

// phase is the raw result of one phase.
type phase struct {
	kind        string // closed | open
	workers     int
	rate        float64 // open loop: offered operations per second
	wall        time.Duration
	samples     []sample
	outs        *outcomes
	server      ProcStats
	loader      ProcStats
	machine     *MachineStats
	queue       *WriteQueueStats
	checkpoints *CheckpointStats
}

// watched names what a phase measures besides its requests: the server's
// process (0: none, as when a test serves in the harness's own process)
// and the command name of the database server's processes ("": none).
type watched struct {
	serverPID int
	dbComm    string
	// queue reads the server's SQLite write-queue counters (nil: none).
	queue func() (queueCounters, bool)
	// checkpoints reads PostgreSQL's checkpoint counters (nil: none).
	checkpoints func() (checkpointCounters, bool)
}

// phaseWatch measures the server, the loader and the machine during a
// phase.
type phaseWatch struct {
	server, loader *procWatch
	machine        *machineWatch
	queue          counterWatch[queueCounters]
	checkpoints    counterWatch[checkpointCounters]
	startAt        time.Time
}

// counterWatch holds a phase's first reading of cumulative counters
// (SQLite's write queue, PostgreSQL's checkpoints), to be read again at
// its end.
type counterWatch[C any] struct {
	read  func() (C, bool) // nil: not measured
	start C
	ok    bool // start was read
}

func watchCounters[C any](read func() (C, bool)) counterWatch[C] {
	w := counterWatch[C]{read: read}
	if read != nil {
		w.start, w.ok = read()
	}
	return w
}

// end reads the counters again; ok is false when either reading failed.
func (w counterWatch[C]) end() (start, end C, ok bool) {
	if !w.ok {
		return w.start, end, false
	}
	end, ok = w.read()
	return w.start, end, ok
}

func (w watched) start() phaseWatch {
	return phaseWatch{server: watchProc(w.serverPID), loader: watchProc(loaderPID(w.serverPID)),
		machine: watchMachine(w.dbComm), queue: watchCounters(w.queue), checkpoints: watchCounters(w.checkpoints),
		startAt: time.Now()}
}

func (pw phaseWatch) finish(ph *phase) {
	ph.server, ph.loader, ph.machine = pw.server.finish(), pw.loader.finish(), pw.machine.finish()
	if start, end, ok := pw.checkpoints.end(); ok {
		ph.checkpoints = end.since(start)
	}
	if start, end, ok := pw.queue.end(); ok {
		ph.queue = end.since(start, time.Since(pw.startAt))
	}
}

// runClosed runs every op in a loop of its own until dur has passed or
// maxReq operations were started.
func runClosed(ctx context.Context, ops []op, dur time.Duration, maxReq int, w watched) *phase {
	ph := &phase{kind: "closed", workers: len(ops), outs: newOutcomes()}
	pw := w.start()
	var started atomic.Int64
	per := make([][]sample, len(ops))
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for w, o := range ops {
		wg.Go(func() {
			buf := make([]sample, 0, 1024)
			for ctx.Err() == nil && started.Add(1) <= int64(maxReq) {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				res := o(ctx)
				buf = append(buf, sample{at: int64(t0.Sub(start)), lat: int64(time.Since(t0)), out: ph.outs.id(res)})
			}
			per[w] = buf
		})
	}
	wg.Wait()
	ph.wall = time.Since(start)
	pw.finish(ph)
	ph.samples = slices.Concat(per...)
	return ph
}

// runOpen offers operations at rate per second for dur (at most maxReq of
// them) to a pool of workers, each with its own op. Latency is measured
// from the time each operation was scheduled, not from when a worker
// picked it up: when the server stalls the backlog's waiting time is
// counted, as a real client population would feel it (no coordinated
// omission).
func runOpen(ctx context.Context, ops []op, rate float64, dur time.Duration, maxReq int, w watched) *phase {
	ph := &phase{kind: "open", workers: len(ops), rate: rate, outs: newOutcomes()}
	n := max(min(maxReq, int(rate*dur.Seconds())), 1)
	interval := float64(time.Second) / rate
	pw := w.start()
	per := make([][]sample, len(ops))
	queue := make(chan int64, 1<<16)
	start := time.Now()
	var wg sync.WaitGroup
	for w, o := range ops {
		wg.Go(func() {
			buf := make([]sample, 0, 1024)
			for at := range queue {
				if ctx.Err() != nil {
					continue // drain
				}
				res := o(ctx)
				lat := time.Since(start) - time.Duration(at)
				buf = append(buf, sample{at: at, lat: int64(lat), out: ph.outs.id(res)})
			}
			per[w] = buf
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		at := time.Duration(float64(i) * interval)
		if d := at - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		queue <- int64(at)
	}
	close(queue)
	wg.Wait()
	ph.wall = time.Since(start)
	pw.finish(ph)
	ph.samples = slices.Concat(per...)
	return ph
}

// loaderPID is this process, unless the server runs in it too (tests):
// then there is nothing separate to watch.
func loaderPID(serverPID int) int {
	if self := os.Getpid(); self != serverPID {
		return self
	}
	return 0
}

package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sesame-idp/sesame/internal/audit"
	"github.com/sesame-idp/sesame/internal/ratelimit"
)

// newAuditWriter starts the audit log's writer on the server's store
// (audit.* configuration). Close stops it after a last flush.
func (s *Server) newAuditWriter() *audit.Writer {
	c := s.cfg.Audit
	fullWait := c.FullWait
	if fullWait == 0 {
		fullWait = -1 // configured 0: drop at once (the writer's 0 is its default)
	}
	w := audit.NewWriter(s.store, audit.WriterOptions{
		BufferSize:    c.BufferSize,
		BatchSize:     c.BatchSize,
		FlushInterval: c.FlushInterval,
		FullWait:      fullWait,
		StoreTimeout:  s.cfg.Storage.QueryTimeout,
		Now:           s.now,
		Logger:        s.logger,
		Metrics:       s.metrics,
	})
	s.metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sesame_audit_buffered_events", Help: "Audit events waiting in memory to be stored.",
	}, func() float64 { return float64(w.Buffered()) }))
	return w
}

// auditContext puts the request's client address into its context for
// the audit log: the rate limiter's rule (the TCP peer, or the
// X-Forwarded-For entry of a trusted proxy), so that the log and the
// limits agree on who a client is.
func auditContext(limits *ratelimit.Guard) func(context.Context, *http.Request) context.Context {
	return func(ctx context.Context, r *http.Request) context.Context {
		return audit.WithSourceIP(ctx, limits.ClientIP(r))
	}
}

// startAuditPruner runs the audit log's retention (audit.retention) until
// ctx is done; the returned channel closes when it has stopped.
func (s *Server) startAuditPruner(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	p := &audit.Pruner{
		Store: s.store, Retention: s.cfg.Audit.Retention, Batch: s.cfg.Audit.PruneBatch,
		Now: s.now, Logger: s.logger, Metrics: s.metrics,
	}
	go func() {
		defer close(done)
		p.Run(ctx, s.cfg.Audit.PruneInterval)
	}()
	return done
}

// PruneAudit deletes the audit events older than audit.retention now
// (Serve does it every audit.prune_interval) and returns how many.
func (s *Server) PruneAudit(ctx context.Context) (int64, error) {
	p := &audit.Pruner{Store: s.store, Retention: s.cfg.Audit.Retention, Batch: s.cfg.Audit.PruneBatch, Now: s.now, Metrics: s.metrics}
	return p.PruneOnce(ctx)
}

// FlushAudit stores the audit events recorded so far (they are otherwise
// stored within audit.flush_interval).
func (s *Server) FlushAudit(ctx context.Context) error { return s.audit.Flush(ctx) }

// closeAudit flushes and stops the audit writer, within the shutdown
// timeout.
func (s *Server) closeAudit() {
	if s.audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.Server.ShutdownTimeout, time.Second))
	defer cancel()
	if err := s.audit.Close(ctx); err != nil {
		s.logger.Error("storing the last audit events failed", "err", err)
	}
}

package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/sesame-idp/sesame/internal/metrics"
	"github.com/sesame-idp/sesame/internal/store"
)

// maxPruneBatches bounds one PruneOnce: a backlog larger than this many
// batches (after retention was shortened, say) drains over several
// intervals rather than in one long burst of deletions.
const maxPruneBatches = 100

// Pruner deletes audit events older than the retention (audit.retention),
// in batches, so that no deletion holds a long lock. Every node of a
// deployment may run one: deleting what is already gone is harmless.
type Pruner struct {
	Store store.AuditStore
	// Retention is how long events are kept; 0 keeps them forever.
	Retention time.Duration
	// Batch is the most events one statement deletes.
	Batch   int
	Now     func() time.Time
	Logger  *slog.Logger     // nil: discard
	Metrics *metrics.Metrics // nil: no metrics
}

// PruneOnce deletes the events older than the retention, batch by batch,
// at most maxPruneBatches batches, and returns how many it deleted.
func (p *Pruner) PruneOnce(ctx context.Context) (int64, error) {
	if p.Retention <= 0 {
		return 0, nil
	}
	before := p.Now().Add(-p.Retention)
	var total int64
	for range maxPruneBatches {
		n, err := p.Store.PruneAudit(ctx, before, p.Batch)
		total += n
		if err != nil {
			p.Metrics.Audit("pruned", int(total))
			return total, err
		}
		if n < int64(p.Batch) {
			break
		}
	}
	p.Metrics.Audit("pruned", int(total))
	return total, nil
}

// Run prunes at start and then every interval until ctx is done. With no
// retention it returns at once.
func (p *Pruner) Run(ctx context.Context, interval time.Duration) {
	if p.Retention <= 0 {
		return
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := p.PruneOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("pruning the audit log failed", "deleted", n, "err", err)
		case n > 0:
			logger.Info("pruned the audit log", "deleted", n, "retention", p.Retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package scale

import (
	"context"
	"sync"
)

// batch is a run of consecutive rows, their values flattened in column
// order.
type batch struct {
	first int64
	rows  int
	vals  []any
	owner int // the producer whose buffer vals is
}

// producer computes rows on several goroutines (the token hashes cost a
// few microseconds a row) while the database takes the previous batches,
// and hands the batches over in row order: worker w makes batches w,
// w+workers, ..., and next takes them round robin. Each worker recycles a
// few buffers, so memory stays at a few batches whatever the row count.
type producer struct {
	outs    []chan batch
	frees   []chan []any
	k       int
	batches int64
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

const buffersPerWorker = 3

func startProducer(ctx context.Context, n int64, batchRows, cols, workers int, row rowFunc) *producer {
	ctx, cancel := context.WithCancel(ctx)
	p := &producer{
		outs:    make([]chan batch, workers),
		frees:   make([]chan []any, workers),
		batches: (n + int64(batchRows) - 1) / int64(batchRows),
		cancel:  cancel,
	}
	for w := range workers {
		p.outs[w] = make(chan batch, buffersPerWorker-1)
		p.frees[w] = make(chan []any, buffersPerWorker)
		for range buffersPerWorker {
			p.frees[w] <- make([]any, 0, batchRows*cols)
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer close(p.outs[w])
			for k := int64(w); k < p.batches; k += int64(workers) {
				var buf []any
				select {
				case buf = <-p.frees[w]:
				case <-ctx.Done():
					return
				}
				first := k * int64(batchRows)
				last := min(first+int64(batchRows), n)
				buf = buf[:0]
				for i := first; i < last; i++ {
					buf = row(buf, i)
				}
				select {
				case p.outs[w] <- batch{first: first, rows: int(last - first), vals: buf, owner: w}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return p
}

// next returns the next batch in row order; false after the last one or
// once ctx is done.
func (p *producer) next(ctx context.Context) (batch, bool) {
	if int64(p.k) >= p.batches {
		return batch{}, false
	}
	w := p.k % len(p.outs)
	select {
	case b, ok := <-p.outs[w]:
		if !ok {
			return batch{}, false
		}
		p.k++
		return b, true
	case <-ctx.Done():
		return batch{}, false
	}
}

// release gives a batch's buffer back to its producer. It never blocks: a
// worker owns buffersPerWorker buffers and its free list holds as many.
func (p *producer) release(b batch) {
	clear(b.vals) // drop references to the row values
	p.frees[b.owner] <- b.vals[:0]
}

// stop ends the workers and waits for them.
func (p *producer) stop() {
	p.cancel()
	p.wg.Wait()
}

package cluster

import (
	"log/slog"
	"runtime"
	"sync"
	"testing"
)

// TestEnqueueWhileClosing: a write asked for while the broker closes (a
// node found dead, a session leaving) is dropped, never a send racing the
// close of the queue (which the race detector reports, and which panics
// without a recover).
func TestEnqueueWhileClosing(t *testing.T) {
	t.Parallel()
	for range 200 {
		b := &Broker{jobs: make(chan job, 4), log: slog.New(slog.DiscardHandler)}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 8 {
				b.enqueue(job{kind: jobDeleteMember})
			}
		}()
		close(start)
		for len(b.jobs) == 0 { // a write is queued: no other synchronisation, as in the server
			runtime.Gosched()
		}
		b.closeJobs()
		wg.Wait()
	}
}

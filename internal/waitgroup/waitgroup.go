// Package waitgroup is the one wait on a sync.WaitGroup bounded by a
// context, for shutdowns that must not hang: the hub's sessions and
// goroutines, the server's requests still running after a cut.
package waitgroup

import (
	"context"
	"sync"
)

// Wait returns nil once wg's counter is zero, or ctx's error if ctx ends
// first. In that case one goroutine is left waiting on wg; it ends when wg
// does. The rule of sync.WaitGroup holds: no Add from zero while Wait runs.
func Wait(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

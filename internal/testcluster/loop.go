package testcluster

import (
	"context"
	"time"
)

// startLoop calls pass at once and then every interval (fallback when interval is not
// positive) in a new goroutine until ctx is done, and returns a function that waits for the
// goroutine to end. The stand-ins for controllers and kubelets run this way.
func startLoop(ctx context.Context, interval, fallback time.Duration,
	pass func(context.Context)) (wait func()) {
	if interval <= 0 {
		interval = fallback
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			pass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return func() { <-done }
}

package kube

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// Limits of the reads that look for the result of a write whose caller was cancelled. The API
// server may still commit a request after its client went away, so the reads go on for
// interruptedSettleTime, every interruptedPollInterval, before they conclude that the write
// did not happen.
const (
	interruptedCheckTimeout = 10 * time.Second
	interruptedSettleTime   = 3 * time.Second
	interruptedPollInterval = 250 * time.Millisecond
)

// Interrupted reports whether err ended a request because ctx was cancelled or its deadline
// passed, as on Ctrl-C during an apply, rather than because the API server rejected it. The
// server may then have handled the request without the client seeing the response.
func Interrupted(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() == nil {
		return false
	}
	_, rejected := err.(apierrors.APIStatus)
	return !rejected
}

// WriteLanded reads, with a context that keeps ctx's values but not its cancellation, until
// written reports that an interrupted write took effect or interruptedSettleTime passes. It
// lets the caller record in state an object that the server has. written returns done to
// stop early, such as when the object exists with other content.
func WriteLanded(ctx context.Context,
	written func(ctx context.Context) (landed, done bool)) bool {
	detached, cancel := context.WithTimeout(context.WithoutCancel(ctx), interruptedCheckTimeout)
	defer cancel()
	deadline := time.Now().Add(interruptedSettleTime)
	for {
		landed, done := written(detached)
		if landed || done || time.Now().After(deadline) {
			return landed
		}
		select {
		case <-detached.Done():
			return false
		case <-time.After(interruptedPollInterval):
		}
	}
}

// findInterruptedWrite reads the object that an interrupted create may have written, and
// returns it when it exists and contains every field of sent.
func findInterruptedWrite[T runtime.Object](ctx context.Context, sent T,
	get func(ctx context.Context) (T, error)) (T, bool) {
	var existing T
	landed := WriteLanded(ctx, func(ctx context.Context) (bool, bool) {
		var err error
		existing, err = get(ctx)
		if apierrors.IsNotFound(err) {
			return false, false
		}
		if err != nil {
			return false, true
		}
		matches, err := MatchesSent(sent, existing)
		return err == nil && matches, true
	})
	return existing, landed
}

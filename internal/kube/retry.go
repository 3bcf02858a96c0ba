package kube

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Retry limits of the clients that Clients builds. A request meets at most retryMaxAttempts
// attempts, and the waits between them add up to at most retryMaxTotalWait, half of
// RequestTimeout, so the attempts themselves have the other half.
const (
	retryMaxAttempts = 5
	// retryBaseDelay is the wait before the second attempt. It doubles for each later
	// attempt, up to retryMaxDelay, and a random jitter takes off up to half of it.
	retryBaseDelay = 250 * time.Millisecond
	retryMaxDelay  = 4 * time.Second
	// retryMaxRetryAfter caps the wait that a Retry-After header requests.
	retryMaxRetryAfter = 30 * time.Second
	retryMaxTotalWait  = 30 * time.Second
	// refusedMaxAttempts bounds the attempts after "connection refused": an API server
	// that restarts accepts connections again within a second or two, and one that is not
	// there should fail the plan quickly.
	refusedMaxAttempts = 2
)

// RetryLogFunc receives a message and structured fields for each retry, such as
// tflog.Debug. The fields never contain a request body or header.
type RetryLogFunc func(ctx context.Context, message string, fields map[string]any)

// AttemptRecord collects what the retries of the requests sent with one context did. Create
// it with WithAttemptRecord. It is safe for concurrent use.
type AttemptRecord struct {
	mu             sync.Mutex
	retries        int
	mayHaveReached bool
}

type attemptRecordKey struct{}

// WithAttemptRecord returns a context whose requests report their retries to the returned
// record. A create that meets 409 AlreadyExists checks with the record whether an earlier
// attempt of the same request may have created the object.
func WithAttemptRecord(ctx context.Context) (context.Context, *AttemptRecord) {
	record := &AttemptRecord{}
	return context.WithValue(ctx, attemptRecordKey{}, record), record
}

// Retries returns how many times the requests were sent again.
func (r *AttemptRecord) Retries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retries
}

// EarlierAttemptMayHaveReachedServer reports whether a retried attempt may have been
// handled by the API server. That is so when its connection broke after the request was
// sent, or when the response was 500, 502 or 504, which a proxy or the server can send
// after making the change.
func (r *AttemptRecord) EarlierAttemptMayHaveReachedServer() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mayHaveReached
}

func (r *AttemptRecord) add(mayHaveReached bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retries++
	r.mayHaveReached = r.mayHaveReached || mayHaveReached
}

// retryingTransport sends a request again after a 429, 500, 502, 503 or 504 response or a
// broken connection, with exponential backoff and jitter, honouring Retry-After.
//
// client-go retries by itself a 429 or 5xx response that carries Retry-After, and a GET
// whose connection was reset or closed, up to ten times. So that the two do not multiply,
// this transport leaves the GET connection errors to client-go, and it deletes Retry-After
// from every response of a replayable request that it returns. Otherwise the last response
// or error is returned unchanged, so the diagnostics of the layers above still apply.
type retryingTransport struct {
	next http.RoundTripper
	log  RetryLogFunc
	// sleep waits for the duration or until ctx ends, and jitter returns the wait to use
	// for a backoff step. Tests replace both.
	sleep  func(ctx context.Context, duration time.Duration) error
	jitter func(duration time.Duration) time.Duration
}

func newRetryingTransport(next http.RoundTripper, log RetryLogFunc) *retryingTransport {
	return &retryingTransport{next: next, log: log, sleep: sleepContext, jitter: halfJitter}
}

// WrappedRoundTripper returns the next transport, so that client-go can reach the
// http.Transport below to cancel requests and close idle connections.
func (t *retryingTransport) WrappedRoundTripper() http.RoundTripper {
	return t.next
}

func (t *retryingTransport) RoundTrip(request *http.Request) (*http.Response, error) {
	if nodeProxyPath.MatchString(request.URL.Path) {
		// The request reaches a kubelet, whose failure another attempt rarely cures, and
		// its caller bounds and reports the failures node by node.
		response, err := t.next.RoundTrip(request)
		return withoutRetryAfter(response), err
	}
	if !replayable(request) {
		return t.next.RoundTrip(request)
	}

	ctx := request.Context()
	var waited time.Duration
	current := request
	for attempt := 1; ; attempt++ {
		response, err := t.next.RoundTrip(current)
		outcome := classifyAttempt(request, attempt, response, err)
		if !outcome.retry {
			// client-go would retry any 5xx with Retry-After, such as 501, outside the
			// limits above.
			return withoutRetryAfter(response), err
		}

		delay := t.delay(attempt, response)
		if attempt >= retryMaxAttempts || waited+delay > retryMaxTotalWait ||
			!fitsDeadline(ctx, delay) {
			return withoutRetryAfter(response), err
		}

		next, rewindErr := rewind(request)
		if rewindErr != nil {
			return withoutRetryAfter(response), err
		}
		if record, ok := ctx.Value(attemptRecordKey{}).(*AttemptRecord); ok {
			// A read changes nothing, whatever happened to it.
			reads := request.Method == http.MethodGet || request.Method == http.MethodHead
			record.add(outcome.mayHaveReached && !reads)
		}
		t.logRetry(request, attempt, delay, outcome.class)
		discardBody(response)

		if err := t.sleep(ctx, delay); err != nil {
			return nil, err
		}
		waited += delay
		current = next
	}
}

// delay returns the wait before the next attempt: the Retry-After of response, capped, or
// else the backoff step for attempt.
func (t *retryingTransport) delay(attempt int, response *http.Response) time.Duration {
	if wait, ok := retryAfter(response); ok {
		return min(wait, retryMaxRetryAfter)
	}
	step := retryBaseDelay << (attempt - 1)
	return t.jitter(min(step, retryMaxDelay))
}

func (t *retryingTransport) logRetry(
	request *http.Request, attempt int, delay time.Duration, class string,
) {
	if t.log == nil {
		return
	}
	t.log(request.Context(), "Retrying API server request", map[string]any{
		"method":       request.Method,
		"path":         request.URL.Path,
		"attempt":      attempt,
		"max_attempts": retryMaxAttempts,
		"delay":        delay.String(),
		"reason":       class,
	})
}

// attemptOutcome is whether an attempt is retried, why, and whether the server may have
// handled it.
type attemptOutcome struct {
	retry          bool
	class          string
	mayHaveReached bool
}

func classifyAttempt(
	request *http.Request, attempt int, response *http.Response, err error,
) attemptOutcome {
	if err != nil {
		return classifyError(request, attempt, err)
	}
	switch code := response.StatusCode; code {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return attemptOutcome{retry: true, class: "status " + strconv.Itoa(code)}
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return attemptOutcome{retry: true, class: "status " + strconv.Itoa(code),
			mayHaveReached: true}
	}
	return attemptOutcome{}
}

// classifyError decides whether a failed attempt is retried. Broken connections are.
// Cancellation, timeouts, TLS and DNS errors are not, because another attempt would meet
// them again, and neither is a refused connection after refusedMaxAttempts.
func classifyError(request *http.Request, attempt int, err error) attemptOutcome {
	ctx := request.Context()
	if ctx.Err() != nil || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return attemptOutcome{}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return attemptOutcome{retry: attempt < refusedMaxAttempts, class: "connection refused"}
	}

	class := ""
	switch {
	case errors.Is(err, syscall.EPIPE):
		class = "broken pipe"
	case utilnet.IsConnectionReset(err):
		class = "connection reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		class = "connection closed (EOF)"
	case utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err):
		class = "connection lost"
	default:
		return attemptOutcome{}
	}
	if request.Method == http.MethodGet {
		// client-go retries these for a GET by itself.
		return attemptOutcome{}
	}
	return attemptOutcome{retry: true, class: class, mayHaveReached: true}
}

// nodeProxyPath matches the path of a request that the API server proxies to a node's
// kubelet, after any path prefix of the server address.
var nodeProxyPath = regexp.MustCompile(`/api/v1/nodes/[^/]+/proxy(/|$)`)

// replayable reports whether request may be sent again: it has no body or can recreate it,
// and it is neither a watch nor a protocol upgrade, whose streams are not plain responses.
func replayable(request *http.Request) bool {
	if request.Body != nil && request.Body != http.NoBody && request.GetBody == nil {
		return false
	}
	if request.Header.Get("Upgrade") != "" ||
		strings.Contains(strings.ToLower(request.Header.Get("Connection")), "upgrade") {
		return false
	}
	watch := request.URL.Query().Get("watch")
	if watch == "true" || watch == "1" || strings.Contains(request.URL.Path, "/watch/") {
		return false
	}
	return true
}

// rewind returns a copy of request with a fresh body.
func rewind(request *http.Request) (*http.Request, error) {
	next := request.Clone(request.Context())
	if request.GetBody == nil {
		return next, nil
	}
	body, err := request.GetBody()
	if err != nil {
		return nil, err
	}
	next.Body = body
	return next, nil
}

// retryAfter returns the wait that the Retry-After header of response requests, given in
// whole seconds or as an HTTP date.
func retryAfter(response *http.Response) (time.Duration, bool) {
	if response == nil {
		return 0, false
	}
	value := response.Header.Get("Retry-After")
	if value == "" {
		return 0, false
	}
	if seconds, err := strconv.Atoi(value); err == nil && seconds >= 0 {
		// Capped before the multiplication, which overflows for values above about 292
		// years and would give a negative wait.
		return time.Duration(min(seconds, int(retryMaxRetryAfter/time.Second))) *
			time.Second, true
	}
	if at, err := http.ParseTime(value); err == nil {
		return max(time.Until(at), 0), true
	}
	return 0, false
}

// withoutRetryAfter deletes Retry-After from a response that this transport returns, so that
// client-go does not start its own round of retries.
func withoutRetryAfter(response *http.Response) *http.Response {
	if response != nil {
		response.Header.Del("Retry-After")
	}
	return response
}

// fitsDeadline reports whether ctx is still alive after waiting for delay.
func fitsDeadline(ctx context.Context, delay time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > delay
}

// discardBody reads a little of a response that is retried and closes it, so that the
// connection can be reused. It closes the body after discardTimeout even when the server is
// still sending, because a body that never ends would otherwise hold the request until its
// deadline.
func discardBody(response *http.Response) {
	if response == nil || response.Body == nil {
		return
	}
	stop := time.AfterFunc(discardTimeout, func() { _ = response.Body.Close() })
	defer stop.Stop()
	_, _ = io.Copy(io.Discard, io.LimitReader(response.Body, 64<<10))
	_ = response.Body.Close()
}

// discardTimeout bounds the reading of a retried response's body. An API server's error
// body is a small Status object that arrives with the headers.
const discardTimeout = time.Second

func sleepContext(ctx context.Context, duration time.Duration) error {
	timer := time.NewTimer(duration)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// halfJitter returns a random duration between half of duration and duration, so that
// clients that failed together do not retry together.
func halfJitter(duration time.Duration) time.Duration {
	half := duration / 2
	if half <= 0 {
		return duration
	}
	return half + rand.N(half+1)
}

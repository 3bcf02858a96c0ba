package kube

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// RequestTimeout bounds each request to the API server, from sending it to reading the last
// byte of the response, so that a server that accepts connections but never responds fails a
// plan instead of hanging it. Lists are paginated, so no single request should take long, and
// kube-apiserver itself abandons ordinary requests after 60 seconds by default (its
// --request-timeout flag), so waiting longer gains nothing. client-go also sends the value as
// the "timeout" query parameter. A watch would be cut off after the same time, so code that
// watches needs a copy of the configuration with Timeout set to zero.
const RequestTimeout = 60 * time.Second

// ConnectionError is a request that failed before the API server sent a complete response.
// Its message contains the server and what to check. Errors from the clients that Clients builds
// wrap it inside a *url.Error, so errors.As finds it, except when the request timeout
// (rest.Config.Timeout) fires: net/http then keeps only the error's text, which still names
// the server and what to check.
type ConnectionError struct {
	// Server is the API server URL, without user information, query or fragment.
	Server string
	// Problem describes what failed, such as "no response within 1m0s".
	Problem string
	// Advice is the next step to check, naming the setting that the server address came from.
	Advice string
	// Err is the error from the HTTP transport.
	Err error

	// timedOut is set when the request's deadline passed, which the transport can report
	// as a plain "request canceled".
	timedOut bool
}

// Error returns the problem, the transport's error and the advice.
func (e *ConnectionError) Error() string {
	return fmt.Sprintf("request to the API server %s failed: %s (%v). %s",
		e.Server, e.Problem, e.Err, e.Advice)
}

// Unwrap returns the transport's error, so that client-go's checks for connection refused,
// timeouts and cancellation see through ConnectionError.
func (e *ConnectionError) Unwrap() error {
	return e.Err
}

// Timeout reports whether the request timed out. With Temporary it makes ConnectionError a
// net.Error, which url.Error and client-go consult.
func (e *ConnectionError) Timeout() bool {
	var netErr net.Error
	return e.timedOut || errors.Is(e.Err, context.DeadlineExceeded) ||
		errors.As(e.Err, &netErr) && netErr.Timeout()
}

// Temporary reports what the transport's error reports.
//
// Deprecated: net.Error.Temporary is deprecated; it is here only to complete net.Error.
func (e *ConnectionError) Temporary() bool {
	var netErr net.Error
	return errors.As(e.Err, &netErr) && netErr.Temporary() //nolint:staticcheck
}

// diagnosingTransport turns transport errors that a user can act on into ConnectionErrors.
// Errors that client-go retries on, such as a reset connection or EOF, and cancellation pass
// through unchanged.
type diagnosingTransport struct {
	next http.RoundTripper
	// server is the API server URL for messages, and source names the setting it came from.
	server, source string
}

// WrappedRoundTripper returns the next transport, so that client-go can reach the
// http.Transport below to cancel requests and close idle connections.
func (t *diagnosingTransport) WrappedRoundTripper() http.RoundTripper {
	return t.next
}

func (t *diagnosingTransport) RoundTrip(request *http.Request) (*http.Response, error) {
	start := time.Now()
	response, err := t.next.RoundTrip(request)
	if err != nil {
		return nil, t.diagnose(request.Context(), err, time.Since(start))
	}
	// A 101 response body must stay an io.ReadWriteCloser for protocol upgrades.
	if response.StatusCode != http.StatusSwitchingProtocols && response.Body != nil {
		response.Body = &diagnosingBody{
			ReadCloser: response.Body, transport: t, context: request.Context(), start: start,
		}
	}
	return response, nil
}

// diagnosingBody reports a response that stops arriving before the deadline.
// NOTE: twice, on a heavily loaded machine, a body stalled past a 500 ms deadline ended as a
// clean EOF, so client-go reported "json parse error: unexpected end of JSON input" instead
// of this message. 120 runs on a quieter machine did not repeat it, and the cause is unknown.
type diagnosingBody struct {
	io.ReadCloser
	transport *diagnosingTransport
	context   context.Context
	start     time.Time
}

func (b *diagnosingBody) Read(buffer []byte) (int, error) {
	n, err := b.ReadCloser.Read(buffer)
	if err != nil && err != io.EOF && deadlinePassed(b.context) {
		err = &ConnectionError{
			Server: b.transport.server,
			Problem: fmt.Sprintf("the response was still incomplete after %s",
				roundDuration(time.Since(b.start))),
			Advice: "The API server stopped sending, or it or the network is too slow for " +
				"the amount of data requested. Check the server's health, and for large " +
				"lists use a smaller page size.",
			Err:      err,
			timedOut: true,
		}
	}
	return n, err
}

func (t *diagnosingTransport) diagnose(
	ctx context.Context, err error, elapsed time.Duration,
) error {
	if !deadlinePassed(ctx) && errors.Is(ctx.Err(), context.Canceled) {
		return err
	}
	problem, advice := t.classify(ctx, err, elapsed)
	if problem == "" {
		return err
	}
	return &ConnectionError{
		Server: t.server, Problem: problem, Advice: advice, Err: err,
		timedOut: deadlinePassed(ctx),
	}
}

// classify returns what failed and what to check, or "" for errors left unchanged.
func (t *diagnosingTransport) classify(
	ctx context.Context, err error, elapsed time.Duration,
) (string, string) {
	reachable := fmt.Sprintf("Check that %s is the address of a Kubernetes API server, and "+
		"that the server is running and reachable from this machine.", t.source)

	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "proxyconnect" {
		return "the proxy cannot be reached", "Check proxy_url, the kubeconfig cluster's " +
			"proxy-url, or the HTTPS_PROXY environment variable, whichever sets the proxy."
	}

	var netErr net.Error
	timedOut := deadlinePassed(ctx) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &netErr) && netErr.Timeout()
	if timedOut {
		return fmt.Sprintf("no response within %s", roundDuration(elapsed)), reachable +
			" When connections are accepted but never answered, the port may belong to " +
			"another service."
	}

	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing accepts connections at that address", reachable
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the host name %q cannot be resolved", dnsErr.Name), reachable
	}

	if problem, advice := classifyCertificate(err); problem != "" {
		return problem, advice
	}

	var pathErr *fs.PathError
	switch {
	case strings.Contains(err.Error(), "invalid header field"):
		return "a request header built from the credentials is invalid", "A token or " +
			"impersonation value contains a line break or control character, which HTTP " +
			"headers cannot carry. Check the token, including one that an exec plugin " +
			"returns or a token file contains, and the kubeconfig user's impersonation settings."
	case errors.As(err, &pathErr):
		return fmt.Sprintf("the file %s cannot be read", pathErr.Path), "The client " +
			"certificate, client key or CA file that the kubeconfig names changed after the " +
			"settings were checked. Restore the file, or correct the kubeconfig."
	}
	return "", ""
}

// classifyCertificate explains a failed verification of the API server's certificate.
func classifyCertificate(err error) (string, string) {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownAuthority):
		return "the server's certificate is not signed by a trusted CA", "Set " +
			"cluster_ca_certificate, or certificate-authority-data in the kubeconfig " +
			"cluster, to the CA that signed the API server's certificate."
	case errors.As(err, &hostname):
		return fmt.Sprintf("the server's certificate is not valid for %q", hostname.Host),
			"Connect with a name that the certificate lists, or set tls_server_name to one."
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the server's certificate has expired or is not valid yet", "Check this " +
			"machine's clock, and renew the API server's certificate if it has expired."
	case errors.As(err, &invalid):
		return "the server's certificate is invalid", "Check the API server's " +
			"certificate, and that host or the kubeconfig server is the API server's address."
	}
	return "", ""
}

// deadlinePassed reports whether the deadline of ctx has passed. http.Client cancels a
// request that exceeds its Timeout through Request.Cancel as well as through the context,
// so the transport can fail with "request canceled" just before ctx.Err reports the deadline.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

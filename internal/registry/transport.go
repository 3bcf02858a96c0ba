package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Limits on what one look-up reads and how long it waits. Manifests, indexes and image
// configs are typically a few KiB, so the byte limits only stop a registry that sends far more.
const (
	// DefaultLookupTimeout bounds one Inspect or Digest call, retries included, when
	// Resolver.Timeout is zero.
	DefaultLookupTimeout = 2 * time.Minute
	// ResponseHeaderTimeout bounds the wait for the response headers of each request.
	ResponseHeaderTimeout = 30 * time.Second
	// MaxManifestBytes bounds the size of a manifest or index that a look-up reads.
	MaxManifestBytes = 4 << 20
	// MaxConfigBytes bounds the size of an image config blob that a look-up reads.
	MaxConfigBytes = 4 << 20
	// maxErrorBodyBytes is the part of an error response's body that is read. Longer bodies
	// are cut, because go-containerregistry (v0.22.1) drops the HTTP status of an error whose
	// body exceeds 64 KiB.
	maxErrorBodyBytes = 32 << 10
)

// defaultTransport is remote.DefaultTransport with ResponseHeaderTimeout, for resolvers
// without a Transport.
var defaultTransport = newBaseTransport()

// newBaseTransport returns a clone of go-containerregistry's default transport that waits at
// most ResponseHeaderTimeout for response headers.
func newBaseTransport() http.RoundTripper {
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		return remote.DefaultTransport
	}
	transport := base.Clone()
	transport.ResponseHeaderTimeout = ResponseHeaderTimeout
	return transport
}

// lookupTransport carries the requests of look-ups. It rejects plain HTTP to hosts outside
// allowed, records the credentials each request sends so that errors can leave them out,
// rejects manifests larger than MaxManifestBytes before reading them, and cuts long error
// bodies.
type lookupTransport struct {
	base    http.RoundTripper
	allowed []string
	sent    *credentialLog
}

// RoundTrip implements http.RoundTripper.
func (t lookupTransport) RoundTrip(request *http.Request) (*http.Response, error) {
	if request.URL.Scheme == "http" && !slices.ContainsFunc(t.allowed, func(host string) bool {
		return strings.EqualFold(host, request.URL.Host)
	}) {
		return nil, &plainHTTPBlockedError{host: request.URL.Host}
	}
	t.sent.addAuthorization(request.Header.Get("Authorization"))

	response, err := t.base.RoundTrip(request)
	if err != nil {
		return nil, err
	}
	switch {
	case response.StatusCode >= http.StatusBadRequest:
		response.Body = limitedBody{Reader: io.LimitReader(response.Body, maxErrorBodyBytes),
			Closer: response.Body}
	case strings.Contains(request.URL.Path, "/manifests/") &&
		request.Method == http.MethodGet:
		if response.ContentLength > MaxManifestBytes {
			_ = response.Body.Close()
			return nil, &tooLargeError{object: "manifest", size: response.ContentLength,
				limit: MaxManifestBytes}
		}
		response.Body = limitedBody{Reader: &cappedReader{body: response.Body,
			remaining: MaxManifestBytes}, Closer: response.Body}
	}
	return response, nil
}

// limitedBody is a response body that reads through Reader and closes the original body.
type limitedBody struct {
	io.Reader
	io.Closer
}

// cappedReader reads body and fails with a *tooLargeError once it passes remaining bytes.
type cappedReader struct {
	body      io.Reader
	remaining int64
}

func (r *cappedReader) Read(buffer []byte) (int, error) {
	if r.remaining < 0 {
		return 0, &tooLargeError{object: "manifest", limit: MaxManifestBytes}
	}
	if int64(len(buffer)) > r.remaining+1 {
		buffer = buffer[:r.remaining+1]
	}
	n, err := r.body.Read(buffer)
	r.remaining -= int64(n)
	if r.remaining < 0 {
		return 0, &tooLargeError{object: "manifest", limit: MaxManifestBytes}
	}
	return n, err
}

// tooLargeError is a manifest or config blob over its size limit. A size of 0 means the
// registry sent no length, and the body passed the limit while it was read.
type tooLargeError struct {
	object string
	size   int64
	limit  int64
}

func (e *tooLargeError) Error() string {
	if e.size > 0 {
		return fmt.Sprintf("the %s is %d bytes, more than the limit of %d bytes (%d MiB)",
			e.object, e.size, e.limit, e.limit>>20)
	}
	return fmt.Sprintf("the %s is more than the limit of %d bytes (%d MiB)", e.object,
		e.limit, e.limit>>20)
}

// invalidManifestError is a manifest or index that the provider rejects: negative or
// overflowing sizes, an invalid platform, or more platform images than it reads.
type invalidManifestError struct {
	problem string
}

func (e *invalidManifestError) Error() string { return e.problem }

// errInvalidManifest reports whether err is one of the errors above.
func errInvalidManifest(err error) bool {
	var tooLarge *tooLargeError
	var invalid *invalidManifestError
	return errors.As(err, &tooLarge) || errors.As(err, &invalid)
}

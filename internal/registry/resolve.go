package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// Resolver looks images up in registries: Digest finds the digest that a tag names, and
// Inspect reads the manifest, or index, with its sizes.
type Resolver struct {
	// Keychain supplies credentials per registry. Nil means anonymous.
	Keychain authn.Keychain
	// Transport carries the requests. Nil means remote.DefaultTransport with
	// ResponseHeaderTimeout, which verifies TLS with the system's certificate pool.
	Transport http.RoundTripper
	// InsecureRegistries are the registries, as host[:port], that Digest and Inspect may
	// reach over plain HTTP. They send no plain HTTP request to any other.
	InsecureRegistries []string
	// Timeout bounds each Inspect or Digest call, retries included. Zero means
	// DefaultLookupTimeout.
	Timeout time.Duration

	// puller, when set, is the shared client of WithSharedConnections, and sent the log of
	// the credentials it sends.
	puller *remote.Puller
	sent   *credentialLog
}

// Digest returns reference pinned to the digest of the manifest, or index, that the
// registry serves for its tag now, as repository@sha256:<hex> with the repository spelled as
// in reference. A reference that names a digest already is returned as written, without a
// request. A failed request gives a *LookupError, as Inspect does.
func (r Resolver) Digest(ctx context.Context, reference string) (string, error) {
	parsed, err := imageref.Parse(reference)
	if err != nil {
		return "", err
	}
	if parsed.Digest != "" {
		return reference, nil
	}
	l, cancel, err := r.startLookup(ctx, reference)
	if err != nil {
		return "", err
	}
	defer cancel()

	ref := l.ref
	options := r.remoteOptions(l)
	descriptor, err := remote.Head(ref, options...)
	var transportErr *transport.Error
	if errors.As(err, &transportErr) && len(transportErr.Errors) == 0 {
		// A HEAD response has no body, so only a GET returns the registry's error code,
		// which distinguishes a missing repository from a missing tag. Registries that do
		// not support HEAD serve the GET too.
		var full *remote.Descriptor
		full, err = remote.Get(ref, options...)
		if err == nil {
			descriptor = &full.Descriptor
		}
	}
	if err != nil {
		return "", r.describeError(l, err)
	}
	return repositoryOf(reference) + "@" + descriptor.Digest.String(), nil
}

// repositoryOf returns reference without its tag.
func repositoryOf(reference string) string {
	if colon := strings.LastIndexByte(reference, ':'); colon > strings.LastIndexByte(reference,
		'/') {
		return reference[:colon]
	}
	return reference
}

// NewTransport returns a transport for registry requests that verifies TLS with the system's
// certificate pool plus the PEM certificates in extraCAs, such as the CA of a registry inside
// the company, and waits at most ResponseHeaderTimeout for each response's headers.
func NewTransport(extraCAs string) (http.RoundTripper, error) {
	if strings.TrimSpace(extraCAs) == "" {
		return defaultTransport, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(extraCAs)) {
		return nil, errors.New("no PEM certificate could be read")
	}
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("go-containerregistry's default transport is a %T, not an "+
			"*http.Transport", remote.DefaultTransport)
	}
	transport := base.Clone()
	transport.ResponseHeaderTimeout = ResponseHeaderTimeout
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return transport, nil
}

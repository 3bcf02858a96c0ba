package registry

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// lookup is one Inspect or Digest call: its reference, its deadline and the credentials its
// requests sent.
type lookup struct {
	reference string
	parsed    imageref.Reference
	ref       name.Reference
	// parent is the caller's context, and ctx is parent with the look-up's deadline.
	parent, ctx context.Context
	timeout     time.Duration
	sent        *credentialLog
}

// startLookup parses reference and starts a look-up of it. The caller must call the returned
// function when the look-up ends.
func (r Resolver) startLookup(ctx context.Context, reference string) (*lookup,
	context.CancelFunc, error) {
	parsed, err := imageref.Parse(reference)
	if err != nil {
		return nil, nil, err
	}
	ref, err := r.nameReference(parsed)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", reference, err)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultLookupTimeout
	}
	lookupCtx, cancel := context.WithTimeout(ctx, timeout)
	sent := r.sent
	if sent == nil {
		sent = &credentialLog{}
	}
	return &lookup{reference: reference, parsed: parsed, ref: ref, parent: ctx,
		ctx: lookupCtx, timeout: timeout, sent: sent}, cancel, nil
}

// remoteOptions returns the options of every request that the look-up sends.
func (r Resolver) remoteOptions(l *lookup) []remote.Option {
	options := []remote.Option{remote.WithContext(l.ctx)}
	if r.puller != nil {
		return append(options, remote.Reuse(r.puller))
	}
	if r.Keychain != nil {
		options = append(options, remote.WithAuthFromKeychain(r.Keychain))
	}
	return append(options, remote.WithTransport(r.lookupTransport(l.sent)))
}

// lookupTransport returns the transport wrapped in a lookupTransport that records into sent.
// It sends no plain HTTP request to a registry outside InsecureRegistries, although
// go-containerregistry falls back to HTTP by itself for loopback and private (RFC 1918)
// addresses, which would send credentials unencrypted.
func (r Resolver) lookupTransport(sent *credentialLog) http.RoundTripper {
	base := r.Transport
	if base == nil {
		base = defaultTransport
	}
	return lookupTransport{base: base, allowed: r.InsecureRegistries, sent: sent}
}

// WithSharedConnections returns a copy of r whose look-ups share one client: connections,
// and the bearer tokens that registries issue per repository, are reused by every look-up
// through the copy. It is safe for concurrent use.
func (r Resolver) WithSharedConnections() (Resolver, error) {
	sent := &credentialLog{}
	options := []remote.Option{remote.WithTransport(r.lookupTransport(sent))}
	if r.Keychain != nil {
		options = append(options, remote.WithAuthFromKeychain(r.Keychain))
	}
	puller, err := remote.NewPuller(options...)
	if err != nil {
		return Resolver{}, fmt.Errorf("creating the registry client: %w", err)
	}
	shared := r
	shared.puller = puller
	shared.sent = sent
	return shared, nil
}

package registry

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

const (
	testUser     = "robot"
	testPassword = "s3cret-token"

	unauthorizedBody = `{"errors":[{"code":"UNAUTHORIZED","message":"authentication ` +
		`required","detail":[{"Type":"repository","Class":"","Name":"team/app",` +
		`"Action":"pull"}]}]}`
)

// startRegistry serves go-containerregistry's in-memory registry over TLS on loopback,
// behind basic auth with testUser and testPassword, and pushes one image as team/app:1.
func startRegistry(t *testing.T) (host string, transport http.RoundTripper, digest string) {
	t.Helper()
	backend := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	server := httptest.NewTLSServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			user, password, ok := request.BasicAuth()
			if !ok || user != testUser || password != testPassword {
				// The body of the distribution registry (v3.1), whose detail is an object
				// that go-containerregistry prints as a Go map.
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, unauthorizedBody)
				return
			}
			backend.ServeHTTP(w, request)
		}))
	t.Cleanup(server.Close)
	host = strings.TrimPrefix(server.URL, "https://")
	transport = server.Client().Transport

	image, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host + "/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: testUser, Password: testPassword})
	if err := remote.Write(tag, image, remote.WithAuth(auth),
		remote.WithTransport(transport)); err != nil {
		t.Fatalf("pushing the test image: %v", err)
	}
	manifestDigest, err := image.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return host, transport, manifestDigest.String()
}

func keychainFor(t *testing.T, server, user, password string) Keychain {
	t.Helper()
	document, err := dockerconfig.Encode([]dockerconfig.Entry{
		{Server: server, Username: user, Password: password},
	})
	if err != nil {
		t.Fatal(err)
	}
	config, err := dockerconfig.Decode(document)
	if err != nil {
		t.Fatal(err)
	}
	return NewKeychain(config)
}

func TestDigestResolvesTag(t *testing.T) {
	host, transport, want := startRegistry(t)
	resolver := Resolver{
		Keychain: keychainFor(t, host, testUser, testPassword), Transport: transport,
	}

	got, err := resolver.Digest(context.Background(), host+"/team/app:1")

	if err != nil {
		t.Fatalf("Digest() error = %v", err)
	}
	if got != host+"/team/app@"+want {
		t.Errorf("Digest() = %q, want %q", got, host+"/team/app@"+want)
	}
}

func TestDigestKeepsDigestReference(t *testing.T) {
	reference := "quay.io/team/app@sha256:" + strings.Repeat("a", 64)
	// No transport: a request would fail, so the reference must come back untouched.
	got, err := Resolver{}.Digest(context.Background(), reference)
	if err != nil || got != reference {
		t.Errorf("Digest() = %q, %v, want %q unchanged", got, err, reference)
	}
}

func TestDigestErrors(t *testing.T) {
	host, transport, _ := startRegistry(t)
	tests := []struct {
		name      string
		keychain  authn.Keychain
		reference string
		want      string
	}{
		{"no credentials", NewKeychain(), host + "/team/app:1", "HTTP 401"},
		{"wrong password", keychainFor(t, host, testUser, "wrong"), host + "/team/app:1",
			"rejected the credentials"},
		{"missing tag", keychainFor(t, host, testUser, testPassword), host + "/team/app:2",
			`no tag "2" in repository team/app`},
		{"invalid reference", NewKeychain(), "Team/App:1", "must be lowercase"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			resolver := Resolver{Keychain: test.keychain, Transport: transport}
			_, err := resolver.Digest(context.Background(), test.reference)
			if err == nil || !strings.Contains(err.Error(), test.want) {
				t.Fatalf("Digest() error = %v, want one containing %q", err, test.want)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestKeychainOrderAndFallback(t *testing.T) {
	first := keychainFor(t, "quay.io", "first", "one")
	second := keychainFor(t, "quay.io", "second", "two")
	keychain := NewKeychain(first.sources[0].Config, second.sources[0].Config)
	registry, err := name.NewRegistry("quay.io")
	if err != nil {
		t.Fatal(err)
	}

	authenticator, err := keychain.Resolve(registry)
	if err != nil {
		t.Fatal(err)
	}
	config, err := authenticator.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if config.Username != "first" {
		t.Errorf("username = %q, want the first document's", config.Username)
	}

	other, err := name.NewRegistry("ghcr.io")
	if err != nil {
		t.Fatal(err)
	}
	authenticator, err = keychain.Resolve(other)
	if err != nil || authenticator != authn.Anonymous {
		t.Errorf("Resolve(ghcr.io) = %v, %v, want anonymous", authenticator, err)
	}
}

func TestNewTransport(t *testing.T) {
	for _, extraCAs := range []string{"", testCAPEM(t)} {
		transport, err := NewTransport(extraCAs)
		if err != nil {
			t.Fatalf("NewTransport() error = %v", err)
		}
		httpTransport, ok := transport.(*http.Transport)
		if !ok {
			t.Fatalf("NewTransport() = %T, want *http.Transport", transport)
		}
		if httpTransport.ResponseHeaderTimeout != ResponseHeaderTimeout {
			t.Errorf("ResponseHeaderTimeout = %s, want %s",
				httpTransport.ResponseHeaderTimeout, ResponseHeaderTimeout)
		}
	}
	if _, err := NewTransport("not a certificate"); err == nil {
		t.Error("NewTransport accepted text without a PEM certificate")
	}
}

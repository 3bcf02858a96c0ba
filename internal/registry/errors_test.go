package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

// lookupBoth runs Inspect and Digest on reference and returns both errors by name.
func lookupBoth(ctx context.Context, resolver Resolver, reference string) map[string]error {
	_, inspectErr := resolver.Inspect(ctx, reference, nil)
	_, digestErr := resolver.Digest(ctx, reference)
	return map[string]error{"Inspect": inspectErr, "Digest": digestErr}
}

// checkLookupError checks that err is a *LookupError of kind whose text contains each of
// want and none of unwanted.
func checkLookupError(t *testing.T, operation string, err error, kind FailureKind,
	want, unwanted []string) {
	t.Helper()
	var failure *LookupError
	if !errors.As(err, &failure) {
		t.Errorf("%s() error = %v, want a *LookupError", operation, err)
		return
	}
	if failure.Kind != kind {
		t.Errorf("%s() kind = %d, want %d: %v", operation, failure.Kind, kind, err)
	}
	for _, text := range want {
		if !strings.Contains(err.Error(), text) {
			t.Errorf("%s() error %q does not contain %q", operation, err, text)
		}
	}
	for _, text := range unwanted {
		if strings.Contains(err.Error(), text) {
			t.Errorf("%s() error %q contains %q", operation, err, text)
		}
	}
}

// A certificate from an unknown CA is reported as such, with registry_ca_certificates as the
// fix, although go-containerregistry also tries plain HTTP on loopback.
func TestLookupUntrustedCertificate(t *testing.T) {
	server := httptest.NewUnstartedServer(ggcrregistry.New(
		ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	t.Cleanup(server.Close)
	host := strings.TrimPrefix(server.URL, "https://")

	for operation, err := range lookupBoth(context.Background(), Resolver{},
		host+"/team/app:1") {
		checkLookupError(t, operation, err, FailureUntrustedCertificate,
			[]string{"signed by a CA that the provider does not trust",
				"registry_ca_certificates", "x509: certificate signed by unknown authority"},
			[]string{"plain HTTP", "Add \"" + host, "http://"})
	}

	// With the registry in insecure_registries, the plain HTTP attempt reaches a TLS port
	// and fails too, and the certificate is still the cause to report.
	insecure := Resolver{InsecureRegistries: []string{host}}
	for operation, err := range lookupBoth(context.Background(), insecure,
		host+"/team/app:1") {
		checkLookupError(t, operation+" with insecure_registries", err,
			FailureUntrustedCertificate, []string{"registry_ca_certificates"}, nil)
	}
}

// A registry that speaks plain HTTP is the one case where insecure_registries is the advice.
func TestLookupPlainHTTPAdvice(t *testing.T) {
	server := httptest.NewServer(ggcrregistry.New(
		ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(server.Close)
	host := strings.TrimPrefix(server.URL, "http://")

	for operation, err := range lookupBoth(context.Background(), Resolver{},
		host+"/team/app:1") {
		checkLookupError(t, operation, err, FailurePlainHTTP,
			[]string{"speaks plain HTTP", "Add \"" + host + "\" to insecure_registries"},
			[]string{"registry_ca_certificates"})
	}
}

// A registry that is down is unreachable, and plain HTTP is not suggested.
func TestLookupRegistryDown(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := listener.Addr().String()
	if err := listener.Close(); err != nil {
		t.Fatal(err)
	}

	for operation, err := range lookupBoth(context.Background(), Resolver{},
		host+"/team/app:1") {
		checkLookupError(t, operation, err, FailureUnreachable,
			[]string{"registry at " + host + " is unreachable", "connection refused",
				"Check that the registry runs"},
			[]string{"insecure_registries", "plain HTTP"})
	}
}

// A registry that accepts connections but never responds times out as unreachable.
func TestLookupRegistryTimeout(t *testing.T) {
	// The kernel completes the TCP handshake for the listen backlog, so the client waits for
	// a TLS handshake that never comes.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listener.Close() })
	host := listener.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()

	_, err = Resolver{}.Inspect(ctx, host+"/team/app:1", nil)

	checkLookupError(t, "Inspect", err, FailureUnreachable,
		[]string{"did not answer in time"}, []string{"insecure_registries"})
}

// HTTP 401 is worded by what was sent: rejected credentials name their source, a source
// without an entry for the registry lists the keys it has, and no source at all is anonymous.
// No message contains a password or the Go map that go-containerregistry makes of the
// registry's error detail.
func TestLookupUnauthorizedCases(t *testing.T) {
	host, transport, _ := startRegistry(t)
	named := func(name string, entries ...dockerconfig.Entry) Keychain {
		document, err := dockerconfig.Encode(entries)
		if err != nil {
			t.Fatal(err)
		}
		config, err := dockerconfig.Decode(document)
		if err != nil {
			t.Fatal(err)
		}
		return NewNamedKeychain(CredentialSource{Name: name, Config: config})
	}
	tokenOnly, err := dockerconfig.Decode([]byte(`{"auths": {"` + host +
		`": {"identitytoken": "token-secret-value"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		keychain Keychain
		kind     FailureKind
		want     []string
	}{
		{"wrong password", named(`Secret "team/wrong"`,
			dockerconfig.Entry{Server: host, Username: testUser, Password: "wrong-password"}),
			FailureCredentialsRejected,
			[]string{`rejected the credentials for ` + host + ` from Secret "team/wrong"`,
				"HTTP 401", "UNAUTHORIZED: authentication required"}},
		{"no entry for registry", named(`Secret "team/other"`,
			dockerconfig.Entry{Server: "quay.io", Username: "u", Password: "other-password"},
			dockerconfig.Entry{Server: "ghcr.io", Username: "u", Password: "other-password"}),
			FailureCredentialsMissing,
			[]string{`Secret "team/other" has no entry for ` + host,
				`entries for "ghcr.io", "quay.io" only`, `Add an entry for "` + host + `"`}},
		{"entry without password", NewNamedKeychain(CredentialSource{
			Name: "the docker config file /auth.json", Config: tokenOnly}),
			FailureCredentialsMissing,
			[]string{"entry for " + host + " in the docker config file /auth.json has no " +
				"username and password"}},
		{"anonymous", NewNamedKeychain(), FailureAnonymousDenied,
			[]string{"requires credentials, and the look-up had none",
				"Give credentials for " + host}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			resolver := Resolver{Keychain: test.keychain, Transport: transport}
			for operation, err := range lookupBoth(context.Background(), resolver,
				host+"/team/app:1") {
				checkLookupError(t, operation, err, test.kind, test.want,
					[]string{"map[", "wrong-password", "other-password", "token-secret-value",
						testPassword})
			}
		})
	}
}

func TestLookupUnauthorizedNilKeychain(t *testing.T) {
	host, transport, _ := startRegistry(t)
	_, err := Resolver{Transport: transport}.Inspect(context.Background(),
		host+"/team/app:1", nil)
	checkLookupError(t, "Inspect", err, FailureAnonymousDenied,
		[]string{"the look-up had none"}, []string{"map["})
}

func TestDescribeSourceKeysHidesUserInfo(t *testing.T) {
	config, err := dockerconfig.Decode([]byte(
		`{"auths": {"https://user:hunter2@registry.example.com": {"auth": "dTpw"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	text := describeSourceKeys([]CredentialSource{{Name: "file", Config: config}})
	if strings.Contains(text, "hunter2") || !strings.Contains(text, "REDACTED@registry") {
		t.Errorf("describeSourceKeys() = %q, want the user info redacted", text)
	}
}

// A repository that does not exist (NAME_UNKNOWN) is not reported as a missing tag
// (MANIFEST_UNKNOWN), for Digest too, whose HEAD response carries no error code.
func TestLookupMissingRepositoryAndTag(t *testing.T) {
	host, transport, _ := startRegistry(t)
	resolver := Resolver{Keychain: keychainFor(t, host, testUser, testPassword),
		Transport: transport}

	for operation, err := range lookupBoth(context.Background(), resolver,
		host+"/team/missing:1") {
		checkLookupError(t, operation, err, FailureRepositoryNotFound,
			[]string{"no repository team/missing", "NAME_UNKNOWN"}, []string{"tag"})
	}
	for operation, err := range lookupBoth(context.Background(), resolver,
		host+"/team/app:2") {
		checkLookupError(t, operation, err, FailureManifestNotFound,
			[]string{`no tag "2" in repository team/app`, "MANIFEST_UNKNOWN"}, nil)
	}
}

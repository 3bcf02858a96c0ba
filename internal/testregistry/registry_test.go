package testregistry

import (
	"archive/tar"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"
)

// logRecorder keeps every line given to Logf and passes it on to the test log with the
// password replaced, so a leak that checkNoSecret reports is not printed itself. Lines that
// arrive before the password is known wait until setSecret.
type logRecorder struct {
	t       *testing.T
	mutex   sync.Mutex
	lines   []string
	secret  string
	pending []string
}

func (l *logRecorder) logf(format string, args ...any) {
	l.mutex.Lock()
	defer l.mutex.Unlock()

	line := fmt.Sprintf(format, args...)
	l.lines = append(l.lines, line)
	if l.secret == "" {
		l.pending = append(l.pending, line)
		return
	}
	l.t.Log(strings.ReplaceAll(line, l.secret, "[redacted]"))
}

// setSecret sets the text to redact and prints the lines that waited for it. An empty
// secret prints them unchanged, for a start that failed before returning a password.
func (l *logRecorder) setSecret(secret string) {
	l.mutex.Lock()
	defer l.mutex.Unlock()

	for _, line := range l.pending {
		if secret != "" {
			line = strings.ReplaceAll(line, secret, "[redacted]")
		}
		l.t.Log(line)
	}
	l.pending = nil
	l.secret = secret
}

func (l *logRecorder) all() []string {
	l.mutex.Lock()
	defer l.mutex.Unlock()
	return append([]string(nil), l.lines...)
}

// checkNoSecret fails the test when a log line contains the password or the
// Authorization header value that carries it.
func (l *logRecorder) checkNoSecret(r *Registry) {
	l.t.Helper()
	header := base64.StdEncoding.EncodeToString([]byte(r.Username + ":" + r.Password))
	for _, line := range l.all() {
		if strings.Contains(line, r.Password) {
			l.t.Errorf("a log line contains the registry password (line redacted)")
		}
		if strings.Contains(line, header) {
			l.t.Errorf("a log line contains the basic auth header value (line redacted)")
		}
	}
}

func requireAcceptance(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("set TF_ACC=1 to run tests against a real registry process")
	}
}

// startRegistry starts a registry for the test and stops it in cleanup, checking then that
// no log line gave the password away.
func startRegistry(t *testing.T, options Options) (*Registry, *logRecorder) {
	t.Helper()
	requireAcceptance(t)

	recorder := &logRecorder{t: t}
	options.Logf = recorder.logf
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	registry, err := Start(ctx, options)
	if err != nil {
		recorder.setSecret("")
		t.Fatalf("Start: %v", err)
	}
	recorder.setSecret(registry.Password)
	t.Cleanup(func() {
		if err := registry.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		recorder.checkNoSecret(registry)
	})
	return registry, recorder
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustReference(t *testing.T, r *Registry, repository, tag string) name.Tag {
	t.Helper()
	reference, err := name.NewTag(r.Host+"/"+repository+":"+tag, name.StrictValidation)
	if err != nil {
		t.Fatalf("name.NewTag: %v", err)
	}
	return reference
}

// getV2 sends GET /v2/ with the given basic auth credentials, none when user is empty.
func getV2(t *testing.T, client *http.Client, r *Registry, user, password string) *http.Response {
	t.Helper()
	request, err := http.NewRequestWithContext(testContext(t), http.MethodGet,
		"https://"+r.Host+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		request.SetBasicAuth(user, password)
	}
	response, err := client.Do(request)
	if err != nil {
		t.Fatalf("GET /v2/: %v", err)
	}
	response.Body.Close()
	return response
}

func TestAccRegistryAuthentication(t *testing.T) {
	registry, _ := startRegistry(t, Options{})

	host, port, err := net.SplitHostPort(registry.Host)
	if err != nil {
		t.Fatalf("Host %q: %v", registry.Host, err)
	}
	if host != "127.0.0.1" {
		t.Errorf("Host = %q, expected 127.0.0.1:PORT", registry.Host)
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Errorf("Host %q has a non-numeric port", registry.Host)
	}
	if registry.Username == "" || registry.Password == "" {
		t.Fatalf("empty username or password")
	}

	client := &http.Client{Transport: registry.Transport()}
	anonymous := getV2(t, client, registry, "", "")
	if anonymous.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous GET /v2/ status = %d, expected 401", anonymous.StatusCode)
	}
	challenge := anonymous.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(challenge, "Basic ") || !strings.Contains(challenge, htpasswdRealm) {
		t.Errorf("WWW-Authenticate = %q, expected a Basic challenge for realm %s",
			challenge, htpasswdRealm)
	}

	wrong := getV2(t, client, registry, registry.Username, registry.Password+"x")
	if wrong.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v2/ with a wrong password status = %d, expected 401", wrong.StatusCode)
	}

	authenticated := getV2(t, client, registry, registry.Username, registry.Password)
	if authenticated.StatusCode != http.StatusOK {
		t.Errorf("authenticated GET /v2/ status = %d, expected 200", authenticated.StatusCode)
	}
	if authenticated.TLS == nil {
		t.Errorf("authenticated GET /v2/ did not use TLS")
	}
}

func TestAccRegistryRejectsUntrustedClient(t *testing.T) {
	registry, _ := startRegistry(t, Options{})

	// A client with the system roots must not trust the registry's own CA.
	client := &http.Client{Transport: &http.Transport{}}
	_, err := client.Get("https://" + registry.Host + "/v2/")
	var unknownAuthority x509.UnknownAuthorityError
	if !errors.As(err, &unknownAuthority) {
		t.Errorf("GET with system roots: error = %v, expected x509.UnknownAuthorityError", err)
	}

	// The CA file verifies the certificate the registry serves, for both loopback names.
	caPEM, err := os.ReadFile(registry.CAFile)
	if err != nil {
		t.Fatalf("reading CAFile: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CAFile %s contains no certificate", registry.CAFile)
	}
	connection, err := tls.Dial("tcp", registry.Host, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS dial with CAFile: %v", err)
	}
	defer connection.Close()
	served := connection.ConnectionState().PeerCertificates[0]
	for _, hostname := range []string{"127.0.0.1", "localhost"} {
		if err := served.VerifyHostname(hostname); err != nil {
			t.Errorf("served certificate does not cover %s: %v", hostname, err)
		}
	}
}

func TestAccRegistryPushRandom(t *testing.T) {
	registry, _ := startRegistry(t, Options{})
	ctx := testContext(t)

	digest, err := registry.PushRandom(ctx, "team/random", "v1", 3, 2048)
	if err != nil {
		t.Fatalf("PushRandom: %v", err)
	}
	if !strings.HasPrefix(digest, "sha256:") {
		t.Errorf("digest = %q, expected sha256:...", digest)
	}

	reference := mustReference(t, registry, "team/random", "v1")
	head, err := remote.Head(reference, registry.remoteOptions(ctx)...)
	if err != nil {
		t.Fatalf("remote.Head: %v", err)
	}
	if head.Digest.String() != digest {
		t.Errorf("HEAD digest = %s, expected %s", head.Digest, digest)
	}
	if head.MediaType != types.DockerManifestSchema2 {
		t.Errorf("media type = %s, expected %s", head.MediaType, types.DockerManifestSchema2)
	}

	image, err := remote.Image(reference, registry.remoteOptions(ctx)...)
	if err != nil {
		t.Fatalf("remote.Image: %v", err)
	}
	layers, err := image.Layers()
	if err != nil {
		t.Fatalf("Layers: %v", err)
	}
	if len(layers) != 3 {
		t.Errorf("layer count = %d, expected 3", len(layers))
	}
	config, err := image.ConfigFile()
	if err != nil {
		t.Fatalf("ConfigFile: %v", err)
	}
	if config.OS != "linux" || config.Architecture != "amd64" {
		t.Errorf("config platform = %s/%s, expected linux/amd64", config.OS, config.Architecture)
	}

	second, err := registry.PushRandom(ctx, "team/random", "v2", 1, 16)
	if err != nil {
		t.Fatalf("second PushRandom: %v", err)
	}
	if second == digest {
		t.Errorf("two random pushes returned the same digest %s", digest)
	}
}

func TestPushRandomRejectsInvalidSizes(t *testing.T) {
	registry := &Registry{Host: "127.0.0.1:1"}
	ctx := context.Background()
	if _, err := registry.PushRandom(ctx, "a", "b", 0, 10); err == nil {
		t.Errorf("PushRandom with 0 layers returned no error")
	}
	if _, err := registry.PushRandom(ctx, "a", "b", 1, -1); err == nil {
		t.Errorf("PushRandom with a negative layer size returned no error")
	}
}

func TestAccRegistryPushScratch(t *testing.T) {
	registry, _ := startRegistry(t, Options{})
	ctx := testContext(t)

	digest, err := registry.PushScratch(ctx, "static", "latest")
	if err != nil {
		t.Fatalf("PushScratch: %v", err)
	}

	reference := mustReference(t, registry, "static", "latest")
	head, err := remote.Head(reference, registry.remoteOptions(ctx)...)
	if err != nil {
		t.Fatalf("remote.Head: %v", err)
	}
	if head.Digest.String() != digest {
		t.Errorf("HEAD digest = %s, expected %s", head.Digest, digest)
	}
	if head.MediaType != types.DockerManifestSchema2 {
		t.Errorf("media type = %s, expected %s", head.MediaType, types.DockerManifestSchema2)
	}

	image, err := remote.Image(reference, registry.remoteOptions(ctx)...)
	if err != nil {
		t.Fatalf("remote.Image: %v", err)
	}
	config, err := image.ConfigFile()
	if err != nil {
		t.Fatalf("ConfigFile: %v", err)
	}
	if len(config.Config.Entrypoint) != 1 || config.Config.Entrypoint[0] != "/app" {
		t.Errorf("entrypoint = %q, expected [/app]", config.Config.Entrypoint)
	}
	if config.OS != "linux" || config.Architecture != "amd64" {
		t.Errorf("config platform = %s/%s, expected linux/amd64", config.OS, config.Architecture)
	}

	layers, err := image.Layers()
	if err != nil {
		t.Fatalf("Layers: %v", err)
	}
	if len(layers) != 1 {
		t.Fatalf("layer count = %d, expected 1", len(layers))
	}
	mediaType, err := layers[0].MediaType()
	if err != nil {
		t.Fatalf("layer MediaType: %v", err)
	}
	if mediaType != types.DockerLayer {
		t.Errorf("layer media type = %s, expected %s", mediaType, types.DockerLayer)
	}
	checkSingleExecutable(t, layers[0], "app", scratchBinarySize)
}

// checkSingleExecutable reads a layer from the registry and checks that its archive
// contains exactly one executable regular file, path, of size bytes.
func checkSingleExecutable(t *testing.T, layer v1.Layer, path string, size int64) {
	t.Helper()
	contents, err := layer.Uncompressed()
	if err != nil {
		t.Fatalf("layer Uncompressed: %v", err)
	}
	defer contents.Close()

	reader := tar.NewReader(contents)
	var names []string
	for {
		header, err := reader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the layer archive: %v", err)
		}
		names = append(names, header.Name)
		if header.Name != path {
			continue
		}
		if header.Typeflag != tar.TypeReg || header.Mode&0o111 == 0 {
			t.Errorf("%s: type %c mode %o, expected an executable regular file",
				path, header.Typeflag, header.Mode)
		}
		if header.Size != size {
			t.Errorf("%s size = %d, expected %d", path, header.Size, size)
		}
	}
	if len(names) != 1 || names[0] != path {
		t.Errorf("layer files = %q, expected only %s", names, path)
	}
}

func TestAccRegistryPushIndex(t *testing.T) {
	registry, _ := startRegistry(t, Options{})
	ctx := testContext(t)
	platforms := []string{"linux/amd64", "linux/arm64/v8", "linux/ppc64le"}

	t.Run("with attestations", func(t *testing.T) {
		digest, err := registry.PushIndex(ctx, "multi/app", "1.0", platforms, true)
		if err != nil {
			t.Fatalf("PushIndex: %v", err)
		}
		manifest := readIndex(t, registry, "multi/app", "1.0", digest)
		if len(manifest.Manifests) != 2*len(platforms) {
			t.Fatalf("index entries = %d, expected %d", len(manifest.Manifests), 2*len(platforms))
		}

		images := manifest.Manifests[:len(platforms)]
		checkPlatformEntries(t, registry, images, platforms)
		attestations := manifest.Manifests[len(platforms):]
		for i, entry := range attestations {
			checkAttestationEntry(t, registry, entry, images[i].Digest)
		}
	})

	t.Run("without attestations", func(t *testing.T) {
		digest, err := registry.PushIndex(ctx, "multi/app", "1.1", platforms[:2], false)
		if err != nil {
			t.Fatalf("PushIndex: %v", err)
		}
		manifest := readIndex(t, registry, "multi/app", "1.1", digest)
		if len(manifest.Manifests) != 2 {
			t.Fatalf("index entries = %d, expected 2", len(manifest.Manifests))
		}
		checkPlatformEntries(t, registry, manifest.Manifests, platforms[:2])
	})

	t.Run("invalid platforms", func(t *testing.T) {
		invalid := [][]string{nil, {"linux"}, {"/amd64"}, {"linux/amd64", "linux/amd64"},
			{"a/b/c/d"}}
		for _, platforms := range invalid {
			if _, err := registry.PushIndex(ctx, "multi/app", "bad", platforms, false); err == nil {
				t.Errorf("PushIndex(%q) returned no error", platforms)
			}
		}
	})

	t.Run("layer size", func(t *testing.T) {
		const layerSize = 256 << 10
		digest, err := registry.PushIndexWithLayerSize(ctx, "multi/app", "1.2", platforms[:2],
			true, layerSize)
		if err != nil {
			t.Fatalf("PushIndexWithLayerSize: %v", err)
		}
		manifest := readIndex(t, registry, "multi/app", "1.2", digest)
		if len(manifest.Manifests) != 4 {
			t.Fatalf("index entries = %d, expected 4", len(manifest.Manifests))
		}
		checkPlatformEntries(t, registry, manifest.Manifests[:2], platforms[:2])

		for _, entry := range manifest.Manifests[:2] {
			image, err := readImage(t, registry, entry.Digest).Manifest()
			if err != nil {
				t.Fatalf("Manifest of %s: %v", entry.Digest, err)
			}
			if len(image.Layers) != 1 {
				t.Fatalf("%s layer count = %d, expected 1", entry.Platform, len(image.Layers))
			}
			// Random data does not compress, and gzip adds a few hundred bytes at most.
			if size := image.Layers[0].Size; size < layerSize || size > layerSize+4096 {
				t.Errorf("%s layer size = %d, expected slightly more than %d",
					entry.Platform, size, layerSize)
			}
		}

		_, err = registry.PushIndexWithLayerSize(ctx, "multi/app", "bad", platforms, false, -1)
		if err == nil {
			t.Errorf("PushIndexWithLayerSize with layer size -1 returned no error")
		}
	})
}

// readIndex checks the HEAD digest and media type of repository:tag and returns its index
// manifest.
func readIndex(t *testing.T, r *Registry, repository, tag, digest string) *v1.IndexManifest {
	t.Helper()
	ctx := testContext(t)
	reference := mustReference(t, r, repository, tag)

	head, err := remote.Head(reference, r.remoteOptions(ctx)...)
	if err != nil {
		t.Fatalf("remote.Head: %v", err)
	}
	if head.Digest.String() != digest {
		t.Errorf("HEAD digest = %s, expected %s", head.Digest, digest)
	}
	if head.MediaType != types.OCIImageIndex {
		t.Errorf("media type = %s, expected %s", head.MediaType, types.OCIImageIndex)
	}

	index, err := remote.Index(reference, r.remoteOptions(ctx)...)
	if err != nil {
		t.Fatalf("remote.Index: %v", err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatalf("IndexManifest: %v", err)
	}
	return manifest
}

func checkPlatformEntries(t *testing.T, r *Registry, entries []v1.Descriptor, platforms []string) {
	t.Helper()
	for i, entry := range entries {
		if entry.MediaType != types.OCIManifestSchema1 {
			t.Errorf("entry %d media type = %s, expected %s", i, entry.MediaType,
				types.OCIManifestSchema1)
		}
		if entry.Platform == nil || entry.Platform.String() != platforms[i] {
			t.Errorf("entry %d platform = %v, expected %s", i, entry.Platform, platforms[i])
		}
		if len(entry.Annotations) != 0 {
			t.Errorf("entry %d annotations = %v, expected none", i, entry.Annotations)
		}

		// The image itself must exist and describe the same platform in its config.
		config := readConfig(t, r, entry.Digest)
		platform := v1.Platform{OS: config.OS, Architecture: config.Architecture,
			Variant: config.Variant}
		if platform.String() != platforms[i] {
			t.Errorf("entry %d config platform = %s, expected %s", i, platform, platforms[i])
		}
	}
}

func checkAttestationEntry(t *testing.T, r *Registry, entry v1.Descriptor, subject v1.Hash) {
	t.Helper()
	if entry.MediaType != types.OCIManifestSchema1 {
		t.Errorf("attestation media type = %s, expected %s", entry.MediaType,
			types.OCIManifestSchema1)
	}
	if entry.Platform == nil || entry.Platform.OS != "unknown" ||
		entry.Platform.Architecture != "unknown" {
		t.Errorf("attestation platform = %v, expected unknown/unknown", entry.Platform)
	}
	if got := entry.Annotations[AnnotationReferenceType]; got != ReferenceTypeAttestation {
		t.Errorf("attestation %s = %q, expected %q", AnnotationReferenceType, got,
			ReferenceTypeAttestation)
	}
	if got := entry.Annotations[AnnotationReferenceDigest]; got != subject.String() {
		t.Errorf("attestation %s = %q, expected %s", AnnotationReferenceDigest, got, subject)
	}

	image := readImage(t, r, entry.Digest)
	manifest, err := image.Manifest()
	if err != nil {
		t.Fatalf("attestation Manifest: %v", err)
	}
	if len(manifest.Layers) != 1 {
		t.Fatalf("attestation layers = %d, expected 1", len(manifest.Layers))
	}
	if manifest.Layers[0].MediaType != InTotoMediaType {
		t.Errorf("attestation layer media type = %s, expected %s", manifest.Layers[0].MediaType,
			InTotoMediaType)
	}
	if got := manifest.Layers[0].Annotations[annotationPredicateType]; got != provenancePredicateType {
		t.Errorf("attestation predicate type = %q, expected %s", got, provenancePredicateType)
	}
}

func readImage(t *testing.T, r *Registry, digest v1.Hash) v1.Image {
	t.Helper()
	ctx := testContext(t)
	reference, err := name.NewDigest(r.Host + "/multi/app@" + digest.String())
	if err != nil {
		t.Fatalf("name.NewDigest: %v", err)
	}
	image, err := remote.Image(reference, r.remoteOptions(ctx)...)
	if err != nil {
		t.Fatalf("remote.Image %s: %v", digest, err)
	}
	return image
}

func readConfig(t *testing.T, r *Registry, digest v1.Hash) *v1.ConfigFile {
	t.Helper()
	config, err := readImage(t, r, digest).ConfigFile()
	if err != nil {
		t.Fatalf("ConfigFile of %s: %v", digest, err)
	}
	return config
}

func TestAccRegistryTagMovesTag(t *testing.T) {
	registry, _ := startRegistry(t, Options{})
	ctx := testContext(t)

	first, err := registry.PushRandom(ctx, "moving", "stable", 1, 64)
	if err != nil {
		t.Fatalf("PushRandom stable: %v", err)
	}
	second, err := registry.PushRandom(ctx, "moving", "candidate", 1, 64)
	if err != nil {
		t.Fatalf("PushRandom candidate: %v", err)
	}
	index, err := registry.PushIndex(ctx, "moving", "multi", []string{"linux/amd64"}, true)
	if err != nil {
		t.Fatalf("PushIndex: %v", err)
	}

	headDigest := func(tag string) string {
		t.Helper()
		head, err := remote.Head(mustReference(t, registry, "moving", tag),
			registry.remoteOptions(ctx)...)
		if err != nil {
			t.Fatalf("remote.Head %s: %v", tag, err)
		}
		return head.Digest.String()
	}
	if got := headDigest("stable"); got != first {
		t.Fatalf("stable before Tag = %s, expected %s", got, first)
	}

	if err := registry.Tag(ctx, "moving", "candidate", "stable"); err != nil {
		t.Fatalf("Tag: %v", err)
	}
	if got := headDigest("stable"); got != second {
		t.Errorf("stable after Tag = %s, expected %s", got, second)
	}
	if got := headDigest("candidate"); got != second {
		t.Errorf("candidate after Tag = %s, expected %s", got, second)
	}

	// Moving a tag to an index keeps the index media type.
	if err := registry.Tag(ctx, "moving", "multi", "stable"); err != nil {
		t.Fatalf("Tag to index: %v", err)
	}
	head, err := remote.Head(mustReference(t, registry, "moving", "stable"),
		registry.remoteOptions(ctx)...)
	if err != nil {
		t.Fatalf("remote.Head: %v", err)
	}
	if head.Digest.String() != index || head.MediaType != types.OCIImageIndex {
		t.Errorf("stable after Tag to index = %s (%s), expected %s (%s)", head.Digest,
			head.MediaType, index, types.OCIImageIndex)
	}

	if err := registry.Tag(ctx, "moving", "missing", "stable"); err == nil {
		t.Errorf("Tag from a missing tag returned no error")
	}
}

func TestAccRegistryStopLeavesNothing(t *testing.T) {
	requireAcceptance(t)
	recorder := &logRecorder{t: t}
	registry, err := Start(testContext(t), Options{Logf: recorder.logf})
	if err != nil {
		recorder.setSecret("")
		t.Fatalf("Start: %v", err)
	}
	recorder.setSecret(registry.Password)
	pid := registry.process.pid()
	dir := registry.dir

	if err := registry.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("signal 0 to pid %d after Stop: %v, expected ESRCH", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s after Stop: %v, expected it removed", dir, err)
	}
	if err := registry.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := net.DialTimeout("tcp", registry.Host, time.Second); err == nil {
		t.Errorf("%s still accepts connections after Stop", registry.Host)
	}
	recorder.checkNoSecret(registry)
}

func TestAccRegistryStopReportsEarlyExit(t *testing.T) {
	requireAcceptance(t)
	recorder := &logRecorder{t: t}
	registry, err := Start(testContext(t), Options{Logf: recorder.logf})
	if err != nil {
		recorder.setSecret("")
		t.Fatalf("Start: %v", err)
	}
	recorder.setSecret(registry.Password)
	dir := registry.dir

	if err := syscall.Kill(registry.process.pid(), syscall.SIGKILL); err != nil {
		t.Fatalf("killing the registry: %v", err)
	}
	select {
	case <-registry.process.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the registry did not exit after SIGKILL")
	}

	err = registry.Stop()
	if err == nil || !strings.Contains(err.Error(), "exited before Stop") {
		t.Errorf("Stop after the registry died: error = %v, expected one saying it exited "+
			"before Stop", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory %s after Stop: %v, expected it removed", dir, err)
	}
	recorder.checkNoSecret(registry)
}

func TestAccRegistryKeepsGivenDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry")
	registry, _ := startRegistry(t, Options{Dir: dir})
	if _, err := registry.PushScratch(testContext(t), "kept", "v1"); err != nil {
		t.Fatalf("PushScratch: %v", err)
	}
	if err := registry.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	for _, file := range []string{caCertificateFile, configFile, htpasswdFile, logFile} {
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			t.Errorf("%s after Stop: %v", file, err)
		}
	}
	repository := filepath.Join(dir, storageDirectory, "docker", "registry", "v2",
		"repositories", "kept")
	if _, err := os.Stat(repository); err != nil {
		t.Errorf("pushed repository in storage after Stop: %v", err)
	}
}

func TestAccRegistryRetriesTakenPort(t *testing.T) {
	occupied, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer occupied.Close()
	occupiedPort := occupied.Addr().(*net.TCPAddr).Port

	attempts := 0
	choosePort := func() (int, error) {
		attempts++
		if attempts == 1 {
			return occupiedPort, nil
		}
		return freePort()
	}
	registry, recorder := startRegistry(t, Options{choosePort: choosePort})

	if attempts != 2 {
		t.Errorf("port choices = %d, expected 2", attempts)
	}
	if registry.Host == occupied.Addr().String() {
		t.Errorf("registry reports the occupied address %s", registry.Host)
	}
	retried := false
	for _, line := range recorder.all() {
		if strings.Contains(line, "retrying on another port") {
			retried = true
		}
	}
	if !retried {
		t.Errorf("no log line reports the retry")
	}
	response := getV2(t, &http.Client{Transport: registry.Transport()}, registry,
		registry.Username, registry.Password)
	if response.StatusCode != http.StatusOK {
		t.Errorf("authenticated GET /v2/ after retry status = %d, expected 200",
			response.StatusCode)
	}
}

func TestAccRegistryCanceledStart(t *testing.T) {
	requireAcceptance(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A private TMPDIR keeps directories of registries in other test processes out of the
	// count.
	t.Setenv("TMPDIR", t.TempDir())

	registry, err := Start(ctx, Options{Logf: t.Logf})
	if err == nil {
		registry.Stop()
		t.Fatalf("Start with a canceled context returned no error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Start error = %v, expected context.Canceled", err)
	}
	if left := temporaryRegistryDirs(t); len(left) != 0 {
		t.Errorf("temporary registry directories left after a failed start: %q", left)
	}
}

func temporaryRegistryDirs(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(os.TempDir(), "imagedist-registry-*"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

func TestAccRegistryLogsOmitPassword(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry")
	registry, recorder := startRegistry(t, Options{Dir: dir})
	ctx := testContext(t)

	// Failed logins and pushes make the registry log warnings and errors.
	client := &http.Client{Transport: registry.Transport()}
	getV2(t, client, registry, registry.Username, "wrong-"+registry.Password)
	getV2(t, client, registry, registry.Username, registry.Password)
	if _, err := registry.PushRandom(ctx, "logs", "a", 1, 32); err != nil {
		t.Fatalf("PushRandom: %v", err)
	}
	if _, err := registry.PushIndex(ctx, "logs", "b", []string{"linux/amd64"}, true); err != nil {
		t.Fatalf("PushIndex: %v", err)
	}
	wrongAuth := remote.WithAuth(&authn.Basic{Username: registry.Username, Password: "wrong"})
	if _, err := remote.Head(mustReference(t, registry, "logs", "a"),
		remote.WithTransport(registry.Transport()), remote.WithContext(ctx), wrongAuth); err == nil {
		t.Errorf("HEAD with a wrong password succeeded")
	}
	if err := registry.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	lines := recorder.all()
	if len(lines) < 3 {
		t.Errorf("only %d log lines; expected the registry's warnings and the start and stop "+
			"messages", len(lines))
	}
	recorder.checkNoSecret(registry)

	logData, err := os.ReadFile(filepath.Join(dir, logFile))
	if err != nil {
		t.Fatalf("reading the registry log: %v", err)
	}
	if strings.Contains(string(logData), registry.Password) {
		t.Errorf("the registry log file contains the password")
	}
}

func TestServerCredentialsVerify(t *testing.T) {
	credentials, err := newServerCredentials()
	if err != nil {
		t.Fatalf("newServerCredentials: %v", err)
	}
	_, err = tls.X509KeyPair(credentials.serverCertificatePEM, credentials.serverKeyPEM)
	if err != nil {
		t.Fatalf("server key pair: %v", err)
	}

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(credentials.caCertificatePEM) {
		t.Fatal("CA PEM contains no certificate")
	}
	block, _ := pem.Decode(credentials.serverCertificatePEM)
	if block == nil {
		t.Fatal("server certificate PEM contains no block")
	}
	server, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parsing the server certificate: %v", err)
	}

	for _, hostname := range []string{"127.0.0.1", "localhost"} {
		options := x509.VerifyOptions{DNSName: hostname, Roots: roots,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := server.Verify(options); err != nil {
			t.Errorf("verifying for %s: %v", hostname, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots}); err == nil {
		t.Errorf("the server certificate verifies for example.com")
	}
	if lifetime := time.Until(server.NotAfter); lifetime > certificateLifetime {
		t.Errorf("server certificate valid for %s more, expected at most %s", lifetime,
			certificateLifetime)
	}
	if server.IsCA {
		t.Errorf("the server certificate is a CA")
	}
}

func TestWriteCredentialsHtpasswd(t *testing.T) {
	dir := t.TempDir()
	password, err := writeCredentials(dir)
	if err != nil {
		t.Fatalf("writeCredentials: %v", err)
	}
	if len(password) < 20 {
		t.Errorf("password length = %d, expected at least 20", len(password))
	}

	data, err := os.ReadFile(filepath.Join(dir, htpasswdFile))
	if err != nil {
		t.Fatal(err)
	}
	user, hash, found := strings.Cut(strings.TrimSuffix(string(data), "\n"), ":")
	if !found || user != username {
		t.Fatalf("htpasswd entry user = %q, expected %s", user, username)
	}
	if strings.Contains(string(data), password) {
		t.Errorf("htpasswd contains the plain password")
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		t.Errorf("htpasswd hash does not match the password: %v", err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password+"x")); err == nil {
		t.Errorf("htpasswd hash matches a wrong password")
	}

	for _, file := range []string{serverKeyFile, htpasswdFile} {
		info, err := os.Stat(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s mode = %o, expected 600", file, mode)
		}
	}

	again, err := writeCredentials(dir)
	if err != nil {
		t.Fatalf("second writeCredentials: %v", err)
	}
	if again == password {
		t.Errorf("two calls returned the same password")
	}
}

func TestWriteConfigContents(t *testing.T) {
	dir := t.TempDir()
	path, err := writeConfig(dir, 5123)
	if err != nil {
		t.Fatalf("writeConfig: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var config struct {
		Version string `json:"version"`
		Log     struct {
			Level     string `json:"level"`
			AccessLog struct {
				Disabled bool `json:"disabled"`
			} `json:"accesslog"`
		} `json:"log"`
		Storage struct {
			Filesystem struct {
				RootDirectory string `json:"rootdirectory"`
			} `json:"filesystem"`
			Delete struct {
				Enabled bool `json:"enabled"`
			} `json:"delete"`
		} `json:"storage"`
		HTTP struct {
			Addr   string `json:"addr"`
			Secret string `json:"secret"`
			TLS    struct {
				Certificate string `json:"certificate"`
				Key         string `json:"key"`
			} `json:"tls"`
		} `json:"http"`
		Auth struct {
			Htpasswd struct {
				Realm string `json:"realm"`
				Path  string `json:"path"`
			} `json:"htpasswd"`
		} `json:"auth"`
		Health struct {
			StorageDriver struct {
				Enabled bool `json:"enabled"`
			} `json:"storagedriver"`
		} `json:"health"`
	}
	if err := yaml.UnmarshalStrict(data, &config, yaml.DisallowUnknownFields); err != nil {
		t.Fatalf("parsing the configuration: %v", err)
	}

	checks := []struct{ field, got, expected string }{
		{"version", config.Version, "0.1"},
		{"log.level", config.Log.Level, "warn"},
		{"storage.filesystem.rootdirectory", config.Storage.Filesystem.RootDirectory,
			filepath.Join(dir, storageDirectory)},
		{"http.addr", config.HTTP.Addr, "127.0.0.1:5123"},
		{"http.tls.certificate", config.HTTP.TLS.Certificate, filepath.Join(dir, serverCertificateFile)},
		{"http.tls.key", config.HTTP.TLS.Key, filepath.Join(dir, serverKeyFile)},
		{"auth.htpasswd.realm", config.Auth.Htpasswd.Realm, htpasswdRealm},
		{"auth.htpasswd.path", config.Auth.Htpasswd.Path, filepath.Join(dir, htpasswdFile)},
	}
	for _, check := range checks {
		if check.got != check.expected {
			t.Errorf("%s = %q, expected %q", check.field, check.got, check.expected)
		}
	}
	if !config.Log.AccessLog.Disabled {
		t.Errorf("log.accesslog.disabled = false, expected true")
	}
	if !config.Storage.Delete.Enabled {
		t.Errorf("storage.delete.enabled = false, expected true")
	}
	if config.Health.StorageDriver.Enabled {
		t.Errorf("health.storagedriver.enabled = true, expected false")
	}
	if config.HTTP.Secret == "" {
		t.Errorf("http.secret is empty")
	}
}

func TestParsePlatformForms(t *testing.T) {
	valid := map[string]v1.Platform{
		"linux/amd64":    {OS: "linux", Architecture: "amd64"},
		"linux/arm64/v8": {OS: "linux", Architecture: "arm64", Variant: "v8"},
		"windows/amd64":  {OS: "windows", Architecture: "amd64"},
	}
	for text, expected := range valid {
		platform, err := parsePlatform(text)
		if err != nil {
			t.Errorf("parsePlatform(%q): %v", text, err)
			continue
		}
		if !platform.Equals(expected) {
			t.Errorf("parsePlatform(%q) = %+v, expected %+v", text, *platform, expected)
		}
	}
	for _, text := range []string{"", "linux", "linux/", "/amd64", "a/b/c/d",
		"windows/amd64:10.0.17763"} {
		if _, err := parsePlatform(text); err == nil {
			t.Errorf("parsePlatform(%q) returned no error", text)
		}
	}
}

func TestOutputLogSplitsLines(t *testing.T) {
	var forwarded []string
	output, err := newOutputLog(filepath.Join(t.TempDir(), "out.log"),
		func(format string, args ...any) { forwarded = append(forwarded, fmt.Sprintf(format, args...)) })
	if err != nil {
		t.Fatal(err)
	}
	defer output.close()

	for _, chunk := range []string{"first\nsec", "ond\r\n", "third"} {
		if _, err := output.Write([]byte(chunk)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	output.flush()

	expected := []string{"registry: first", "registry: second", "registry: third"}
	if strings.Join(forwarded, "|") != strings.Join(expected, "|") {
		t.Errorf("forwarded lines = %q, expected %q", forwarded, expected)
	}
	if tail := output.tail(); tail != "first\nsecond\nthird" {
		t.Errorf("tail = %q", tail)
	}

	for i := range 2 * outputTailLines {
		output.Write([]byte("line " + strconv.Itoa(i) + "\n"))
	}
	lines := strings.Split(output.tail(), "\n")
	if len(lines) != outputTailLines {
		t.Errorf("tail lines = %d, expected %d", len(lines), outputTailLines)
	}
	if last := lines[len(lines)-1]; last != "line "+strconv.Itoa(2*outputTailLines-1) {
		t.Errorf("last tail line = %q", last)
	}
}

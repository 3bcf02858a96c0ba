package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// craftedRegistry serves fixed manifests and blobs over TLS on loopback, as a registry
// under the control of an attacker or with bugs would, and counts the requests per path.
type craftedRegistry struct {
	t        *testing.T
	host     string
	resolver Resolver
	mutex    sync.Mutex
	// responses maps a request path, such as /v2/app/manifests/v1, to its response.
	responses map[string]craftedResponse
	requests  map[string]int
}

type craftedResponse struct {
	status      int
	contentType string
	body        []byte
	// stream sends body without a Content-Length.
	stream bool
}

func startCraftedRegistry(t *testing.T) *craftedRegistry {
	t.Helper()
	registry := &craftedRegistry{t: t, responses: map[string]craftedResponse{},
		requests: map[string]int{}}
	server := httptest.NewUnstartedServer(http.HandlerFunc(registry.serve))
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	t.Cleanup(server.Close)
	registry.host = strings.TrimPrefix(server.URL, "https://")
	registry.resolver = Resolver{Transport: server.Client().Transport}
	return registry
}

func (r *craftedRegistry) serve(w http.ResponseWriter, request *http.Request) {
	r.mutex.Lock()
	r.requests[request.URL.Path]++
	response, found := r.responses[request.URL.Path]
	r.mutex.Unlock()

	if request.URL.Path == "/v2/" {
		return
	}
	if !found {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`)
		return
	}

	if response.contentType != "" {
		w.Header().Set("Content-Type", response.contentType)
	}
	if !response.stream {
		w.Header().Set("Content-Length", fmt.Sprint(len(response.body)))
	}
	if response.status != 0 {
		w.WriteHeader(response.status)
	}
	if request.Method == http.MethodHead {
		return
	}

	if response.stream {
		// Writes in pieces make the server send the body chunked, without a length.
		for offset := 0; offset < len(response.body); offset += 1 << 20 {
			_, _ = w.Write(response.body[offset:min(offset+1<<20, len(response.body))])
			w.(http.Flusher).Flush()
		}
		return
	}
	_, _ = w.Write(response.body)
}

// serveManifest serves body under the tag and under its digest, and returns the digest.
func (r *craftedRegistry) serveManifest(repository, tag, contentType, body string) string {
	digest := sha256Digest([]byte(body))
	for _, reference := range []string{tag, digest} {
		r.responses["/v2/"+repository+"/manifests/"+reference] = craftedResponse{
			contentType: contentType, body: []byte(body)}
	}
	return digest
}

// serveConfig serves an image config for platform as a blob, and returns its descriptor.
func (r *craftedRegistry) serveConfig(repository, platform string) string {
	parts := append(strings.SplitN(platform, "/", 3), "")
	config := fmt.Sprintf(`{"architecture":%q,"os":%q,"variant":%q,`+
		`"created":"2026-03-14T15:09:26Z","rootfs":{"type":"layers","diff_ids":[]}}`,
		parts[1], parts[0], parts[2])
	digest := sha256Digest([]byte(config))
	r.responses["/v2/"+repository+"/blobs/"+digest] = craftedResponse{
		contentType: "application/octet-stream", body: []byte(config)}
	return fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.config.v1+json",`+
		`"digest":%q,"size":%d}`, digest, len(config))
}

func (r *craftedRegistry) requestCount(path string) int {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	return r.requests[path]
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// imageManifest returns an OCI image manifest with config and layers of sizes.
func imageManifest(config string, sizes ...int64) string {
	layers := make([]string, len(sizes))
	for i, size := range sizes {
		layers[i] = fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",`+
			`"digest":"sha256:%064d","size":%d}`, i, size)
	}
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":%s,"layers":[%s]}`, config, strings.Join(layers, ","))
}

// indexManifest returns an OCI index whose entries point at digest with each platform.
func indexManifest(digest string, platforms ...string) string {
	entries := make([]string, len(platforms))
	for i, platform := range platforms {
		parts := strings.SplitN(platform, "/", 3)
		variant := ""
		if len(parts) == 3 {
			variant = fmt.Sprintf(`,"variant":%q`, parts[2])
		}
		entries[i] = fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"digest":%q,"size":100,"platform":{"os":%q,"architecture":%q%s}}`,
			digest, parts[0], parts[1], variant)
	}
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",`+
		`"manifests":[%s]}`, strings.Join(entries, ","))
}

const ociManifestType = "application/vnd.oci.image.manifest.v1+json"

func TestInspectRejectsLargeConfig(t *testing.T) {
	registry := startCraftedRegistry(t)
	config := fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.config.v1+json",`+
		`"digest":"sha256:%064d","size":%d}`, 7, 300<<20)
	registry.serveManifest("app", "v1", ociManifestType, imageManifest(config, 10))

	_, err := registry.resolver.Inspect(context.Background(), registry.host+"/app:v1", nil)

	checkLookupError(t, "Inspect", err, FailureInvalidManifest,
		[]string{"invalid manifest", "image config is 314572800 bytes", "limit of 4194304"},
		nil)
	if count := registry.requestCount(fmt.Sprintf("/v2/app/blobs/sha256:%064d", 7)); count != 0 {
		t.Errorf("the config blob was requested %d times, want 0", count)
	}
}

func TestInspectRejectsLargeManifest(t *testing.T) {
	registry := startCraftedRegistry(t)
	large := []byte(imageManifest(registry.serveConfig("app", "linux/amd64"), 10))
	large = append(large, []byte(strings.Repeat(" ", MaxManifestBytes))...)
	registry.responses["/v2/app/manifests/sized"] = craftedResponse{
		contentType: ociManifestType, body: large}
	registry.responses["/v2/app/manifests/streamed"] = craftedResponse{
		contentType: ociManifestType, body: large, stream: true}

	for _, tag := range []string{"sized", "streamed"} {
		_, err := registry.resolver.Inspect(context.Background(),
			registry.host+"/app:"+tag, nil)
		checkLookupError(t, "Inspect of "+tag, err, FailureInvalidManifest,
			[]string{"the manifest is", "limit of 4194304 bytes (4 MiB)"}, nil)
	}
}

func TestInspectRejectsInvalidSizes(t *testing.T) {
	registry := startCraftedRegistry(t)
	config := registry.serveConfig("app", "linux/amd64")
	registry.serveManifest("app", "negative", ociManifestType, imageManifest(config, -5000))
	registry.serveManifest("app", "overflow", ociManifestType,
		imageManifest(config, 9223372036854775000, 9223372036854775000))
	negativeConfig := strings.Replace(config, `"size":`, `"size":-`, 1)
	registry.serveManifest("app", "negconfig", ociManifestType,
		imageManifest(negativeConfig, 10))

	cases := map[string]string{
		"negative":  "negative size -5000 for the layer",
		"overflow":  "add up to more than 2^63-1 bytes",
		"negconfig": "for the config blob",
	}
	for tag, want := range cases {
		_, err := registry.resolver.Inspect(context.Background(),
			registry.host+"/app:"+tag, nil)
		checkLookupError(t, "Inspect of "+tag, err, FailureInvalidManifest,
			[]string{want}, nil)
	}
}

func TestInspectIndexReadsEachDigestOnce(t *testing.T) {
	registry := startCraftedRegistry(t)
	digest := registry.serveManifest("app", "amd64", ociManifestType,
		imageManifest(registry.serveConfig("app", "linux/amd64"), 10, 20))
	platforms := make([]string, 12)
	for i := range platforms {
		platforms[i] = "linux/amd64"
	}
	registry.serveManifest("app", "v1", "application/vnd.oci.image.index.v1+json",
		indexManifest(digest, platforms...))

	info, err := registry.resolver.Inspect(context.Background(), registry.host+"/app:v1", nil)

	if err != nil {
		t.Fatalf("Inspect() error = %v", err)
	}
	if len(info.Platforms) != len(platforms) {
		t.Errorf("Platforms has %d entries, want %d", len(info.Platforms), len(platforms))
	}
	if count := registry.requestCount("/v2/app/manifests/" + digest); count != 1 {
		t.Errorf("the platform manifest was requested %d times, want 1", count)
	}
	if info.CompressedSize <= 30 {
		t.Errorf("CompressedSize = %d, want the config plus 30 bytes of layers",
			info.CompressedSize)
	}
}

func TestInspectIndexPlatformLimit(t *testing.T) {
	registry := startCraftedRegistry(t)
	digest := registry.serveManifest("app", "amd64", ociManifestType,
		imageManifest(registry.serveConfig("app", "linux/amd64"), 10))
	platforms := make([]string, 3001)
	for i := range platforms {
		platforms[i] = "linux/amd64"
	}
	registry.serveManifest("app", "v1", "application/vnd.oci.image.index.v1+json",
		indexManifest(digest, platforms...))

	_, err := registry.resolver.Inspect(context.Background(), registry.host+"/app:v1", nil)

	checkLookupError(t, "Inspect", err, FailureInvalidManifest,
		[]string{"more than 64 platform images"}, nil)
	if count := registry.requestCount("/v2/app/manifests/" + digest); count != 0 {
		t.Errorf("the platform manifest was requested %d times, want 0", count)
	}
}

func TestInspectIndexMissingEntry(t *testing.T) {
	registry := startCraftedRegistry(t)
	missing := fmt.Sprintf("sha256:%064d", 42)
	registry.serveManifest("app", "v1", "application/vnd.oci.image.index.v1+json",
		indexManifest(missing, "linux/amd64"))

	_, err := registry.resolver.Inspect(context.Background(), registry.host+"/app:v1", nil)

	checkLookupError(t, "Inspect", err, FailureManifestNotFound,
		[]string{"the index lists the image manifest " + missing, "HTTP 404"},
		[]string{"no tag"})
}

func TestInspectIndexPlatformCase(t *testing.T) {
	registry := startCraftedRegistry(t)
	digest := registry.serveManifest("app", "amd64", ociManifestType,
		imageManifest(registry.serveConfig("app", "linux/amd64"), 10))
	other := registry.serveManifest("app", "v3", ociManifestType,
		imageManifest(registry.serveConfig("app", "linux/amd64/v3"), 20))
	index := indexManifest(digest, "Linux/AMD64")
	index = strings.Replace(index, "]}", ","+strings.TrimSuffix(strings.TrimPrefix(
		indexManifest(other, "linux/amd64/v3"), `{"schemaVersion":2,"mediaType":`+
			`"application/vnd.oci.image.index.v1+json","manifests":[`), "]}")+"]}", 1)
	registry.serveManifest("app", "v1", "application/vnd.oci.image.index.v1+json", index)
	registry.serveManifest("app", "odd", "application/vnd.oci.image.index.v1+json",
		indexManifest(digest, "linux/evil/arm64/x"))

	info, err := registry.resolver.Inspect(context.Background(), registry.host+"/app:v1",
		&Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatalf("Inspect() error = %v", err)
	}
	if info.ManifestDigest != digest {
		t.Errorf("ManifestDigest = %s, want the first entry %s", info.ManifestDigest, digest)
	}
	if got := info.Platforms[0].Platform.String(); got != "linux/amd64" {
		t.Errorf("Platforms[0] = %s, want linux/amd64", got)
	}

	_, err = registry.resolver.Inspect(context.Background(), registry.host+"/app:odd", nil)
	checkLookupError(t, "Inspect of odd", err, FailureInvalidManifest,
		[]string{"invalid platform"}, nil)
}

func TestInspectMediaTypeFromManifest(t *testing.T) {
	registry := startCraftedRegistry(t)
	manifest := imageManifest(registry.serveConfig("app", "linux/amd64"), 10)
	registry.serveManifest("app", "html", "text/html", manifest)
	registry.serveManifest("app", "none", "", strings.Replace(manifest,
		`"mediaType":"application/vnd.oci.image.manifest.v1+json",`, "", 1))

	for _, tag := range []string{"html", "none"} {
		info, err := registry.resolver.Inspect(context.Background(),
			registry.host+"/app:"+tag, nil)
		if err != nil {
			t.Fatalf("Inspect(%s) error = %v", tag, err)
		}
		if info.MediaType != ociManifestType {
			t.Errorf("MediaType of %s = %q, want %q", tag, info.MediaType, ociManifestType)
		}
	}
}

func TestLookupServerErrorLongBody(t *testing.T) {
	registry := startCraftedRegistry(t)
	// go-containerregistry (v0.22.1) retried a 500 here for about 12 seconds, and returns
	// a 507 at once, after reading its body the same way.
	registry.responses["/v2/app/manifests/v1"] = craftedResponse{
		status:      http.StatusInsufficientStorage,
		contentType: "text/plain", body: []byte(strings.Repeat("x", 100<<10))}

	for operation, err := range lookupBoth(context.Background(), registry.resolver,
		registry.host+"/app:v1") {
		checkLookupError(t, operation, err, FailureServerError,
			[]string{"HTTP 507"}, []string{"exceeds"})
	}
}

func TestLookupTimeout(t *testing.T) {
	release := make(chan struct{})
	server := httptest.NewUnstartedServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			if request.URL.Path != "/v2/" {
				<-release
			}
		}))
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	t.Cleanup(server.Close)
	t.Cleanup(func() { close(release) })
	host := strings.TrimPrefix(server.URL, "https://")
	resolver := Resolver{Transport: server.Client().Transport, Timeout: 300 * time.Millisecond}

	for operation, err := range lookupBoth(context.Background(), resolver, host+"/app:v1") {
		checkLookupError(t, operation, err, FailureTimedOut,
			[]string{"registry " + host, "did not finish within 300ms"}, nil)
	}
}

// testCAPEM returns the PEM certificate of a TLS test server.
func testCAPEM(t *testing.T) string {
	t.Helper()
	server := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(server.Close)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
		Bytes: server.Certificate().Raw}))
}

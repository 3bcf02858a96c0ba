package registry

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testCreated is the creation time written into the config of every pushed test image.
var testCreated = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// inspectRegistry is the TLS registry of startRegistry with a resolver that has its
// credentials.
type inspectRegistry struct {
	t         *testing.T
	host      string
	transport http.RoundTripper
	resolver  Resolver
}

func startInspectRegistry(t *testing.T) *inspectRegistry {
	t.Helper()
	host, transport, _ := startRegistry(t)
	return &inspectRegistry{
		t: t, host: host, transport: transport,
		resolver: Resolver{
			Keychain: keychainFor(t, host, testUser, testPassword), Transport: transport,
		},
	}
}

// platformImage returns a random image with layers layers whose config records platform.
func (r *inspectRegistry) platformImage(platform Platform, layers int64) v1.Image {
	r.t.Helper()
	image, err := random.Image(300, layers)
	if err != nil {
		r.t.Fatal(err)
	}
	config, err := image.ConfigFile()
	if err != nil {
		r.t.Fatal(err)
	}
	config = config.DeepCopy()
	config.OS, config.Architecture, config.Variant = platform.OS, platform.Architecture,
		platform.Variant
	config.Created = v1.Time{Time: testCreated}
	image, err = mutate.ConfigFile(image, config)
	if err != nil {
		r.t.Fatal(err)
	}
	return image
}

func (r *inspectRegistry) options() []remote.Option {
	auth := authn.FromConfig(authn.AuthConfig{Username: testUser, Password: testPassword})
	return []remote.Option{remote.WithAuth(auth), remote.WithTransport(r.transport)}
}

func (r *inspectRegistry) pushImage(repositoryTag string, image v1.Image) string {
	r.t.Helper()
	tag, err := name.NewTag(r.host + "/" + repositoryTag)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Write(tag, image, r.options()...); err != nil {
		r.t.Fatalf("pushing %s: %v", repositoryTag, err)
	}
	return digestOf(r.t, image)
}

func (r *inspectRegistry) pushIndex(repositoryTag string, index v1.ImageIndex) string {
	r.t.Helper()
	tag, err := name.NewTag(r.host + "/" + repositoryTag)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, index, r.options()...); err != nil {
		r.t.Fatalf("pushing %s: %v", repositoryTag, err)
	}
	digest, err := index.Digest()
	if err != nil {
		r.t.Fatal(err)
	}
	return digest.String()
}

func digestOf(t *testing.T, image v1.Image) string {
	t.Helper()
	digest, err := image.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.String()
}

// manifestSize computes config size plus layer sizes independently of compressedSize.
func manifestSize(t *testing.T, image v1.Image) int64 {
	t.Helper()
	manifest, err := image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	size := manifest.Config.Size
	layers, err := image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, layer := range layers {
		layerSize, err := layer.Size()
		if err != nil {
			t.Fatal(err)
		}
		size += layerSize
	}
	return size
}

// multiPlatformIndex returns an index of amd64 and arm64/v8 images, each followed by a
// BuildKit-style attestation entry, and the two images.
func (r *inspectRegistry) multiPlatformIndex() (v1.ImageIndex, v1.Image, v1.Image) {
	r.t.Helper()
	amd64 := r.platformImage(Platform{OS: "linux", Architecture: "amd64"}, 2)
	arm64 := r.platformImage(Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, 3)
	unknown := v1.Platform{OS: "unknown", Architecture: "unknown"}
	var addenda []mutate.IndexAddendum
	for _, image := range []v1.Image{amd64, arm64} {
		config, err := image.ConfigFile()
		if err != nil {
			r.t.Fatal(err)
		}
		addenda = append(addenda, mutate.IndexAddendum{Add: image, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: config.OS, Architecture: config.Architecture,
				Variant: config.Variant},
		}})
	}
	for _, image := range []v1.Image{amd64, arm64} {
		attestation, err := random.Image(100, 1)
		if err != nil {
			r.t.Fatal(err)
		}
		addenda = append(addenda, mutate.IndexAddendum{Add: attestation,
			Descriptor: v1.Descriptor{
				Platform: &unknown,
				Annotations: map[string]string{
					annotationReferenceType:       referenceTypeAttestation,
					"vnd.docker.reference.digest": digestOf(r.t, image),
				},
			}})
	}
	index := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		addenda...)
	return index, amd64, arm64
}

func TestInspectSinglePlatformImage(t *testing.T) {
	registry := startInspectRegistry(t)
	image := registry.platformImage(Platform{OS: "linux", Architecture: "amd64"}, 2)
	digest := registry.pushImage("team/single:1", image)

	info, err := registry.resolver.Inspect(context.Background(),
		registry.host+"/team/single:1", nil)

	if err != nil {
		t.Fatalf("Inspect() error = %v", err)
	}
	if info.Registry != registry.host || info.Repository != "team/single" || info.Tag != "1" {
		t.Errorf("name = %s/%s:%s, want %s/team/single:1", info.Registry, info.Repository,
			info.Tag, registry.host)
	}
	if info.Digest != digest || info.ManifestDigest != digest {
		t.Errorf("Digest = %s, ManifestDigest = %s, want both %s", info.Digest,
			info.ManifestDigest, digest)
	}
	if info.IsIndex {
		t.Error("IsIndex = true for an image manifest")
	}
	if info.MediaType != string(types.DockerManifestSchema2) {
		t.Errorf("MediaType = %s, want %s", info.MediaType, types.DockerManifestSchema2)
	}
	if info.Platform != (Platform{OS: "linux", Architecture: "amd64"}) {
		t.Errorf("Platform = %s, want linux/amd64", info.Platform)
	}
	configDigest, err := image.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if info.ConfigDigest != configDigest.String() {
		t.Errorf("ConfigDigest = %s, want %s", info.ConfigDigest, configDigest)
	}
	if !info.Created.Equal(testCreated) {
		t.Errorf("Created = %s, want %s", info.Created, testCreated)
	}
	if len(info.Layers) != 2 {
		t.Fatalf("Layers = %d, want 2", len(info.Layers))
	}
	if want := manifestSize(t, image); info.CompressedSize != want {
		t.Errorf("CompressedSize = %d, want %d", info.CompressedSize, want)
	}
	if len(info.Platforms) != 0 {
		t.Errorf("Platforms = %v, want none for an image manifest", info.Platforms)
	}
}

func TestInspectIndexExcludesAttestations(t *testing.T) {
	registry := startInspectRegistry(t)
	index, amd64, arm64 := registry.multiPlatformIndex()
	indexDigest := registry.pushIndex("team/multi:2", index)

	info, err := registry.resolver.Inspect(context.Background(),
		registry.host+"/team/multi:2", nil)

	if err != nil {
		t.Fatalf("Inspect() error = %v", err)
	}
	if !info.IsIndex || info.Digest != indexDigest {
		t.Errorf("IsIndex = %t, Digest = %s, want an index %s", info.IsIndex, info.Digest,
			indexDigest)
	}
	if info.MediaType != string(types.OCIImageIndex) {
		t.Errorf("MediaType = %s, want %s", info.MediaType, types.OCIImageIndex)
	}
	want := []PlatformImage{
		{Platform{"linux", "amd64", ""}, digestOf(t, amd64), manifestSize(t, amd64)},
		{Platform{"linux", "arm64", "v8"}, digestOf(t, arm64), manifestSize(t, arm64)},
	}
	if fmt.Sprint(info.Platforms) != fmt.Sprint(want) {
		t.Errorf("Platforms = %v, want %v", info.Platforms, want)
	}
	if info.ManifestDigest != digestOf(t, amd64) {
		t.Errorf("ManifestDigest = %s, want the linux/amd64 image %s", info.ManifestDigest,
			digestOf(t, amd64))
	}
	if len(info.Layers) != 2 || info.CompressedSize != manifestSize(t, amd64) {
		t.Errorf("Layers = %d, CompressedSize = %d, want those of the linux/amd64 image",
			len(info.Layers), info.CompressedSize)
	}
	if !info.Created.Equal(testCreated) {
		t.Errorf("Created = %s, want %s", info.Created, testCreated)
	}
}

func TestInspectPlatformSelection(t *testing.T) {
	registry := startInspectRegistry(t)
	index, _, arm64 := registry.multiPlatformIndex()
	registry.pushIndex("team/multi:3", index)
	reference := registry.host + "/team/multi:3"

	for _, text := range []string{"linux/arm64", "linux/arm64/v8"} {
		platform, err := ParsePlatform(text)
		if err != nil {
			t.Fatal(err)
		}
		info, err := registry.resolver.Inspect(context.Background(), reference, &platform)
		if err != nil {
			t.Fatalf("Inspect(%s) error = %v", text, err)
		}
		if info.ManifestDigest != digestOf(t, arm64) {
			t.Errorf("Inspect(%s) chose %s, want the arm64 image", text, info.ManifestDigest)
		}
		if info.Platform.String() != "linux/arm64/v8" || len(info.Layers) != 3 {
			t.Errorf("Inspect(%s) = platform %s with %d layers, want linux/arm64/v8 with 3",
				text, info.Platform, len(info.Layers))
		}
	}

	missing := Platform{OS: "linux", Architecture: "s390x"}
	_, err := registry.resolver.Inspect(context.Background(), reference, &missing)
	if err == nil {
		t.Fatal("Inspect(linux/s390x) succeeded on an index without it")
	}
	for _, want := range []string{"no image for platform linux/s390x",
		"only for linux/amd64, linux/arm64/v8"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "unknown") {
		t.Errorf("error %q lists an attestation platform", err)
	}
}

func TestInspectSinglePlatformMismatch(t *testing.T) {
	registry := startInspectRegistry(t)
	registry.pushImage("team/single:1",
		registry.platformImage(Platform{OS: "linux", Architecture: "amd64"}, 1))
	platform := Platform{OS: "linux", Architecture: "arm64"}

	_, err := registry.resolver.Inspect(context.Background(), registry.host+"/team/single:1",
		&platform)

	if err == nil || !strings.Contains(err.Error(), "single-platform linux/amd64 image") {
		t.Fatalf("Inspect() error = %v, want a platform mismatch", err)
	}
}

func TestInspectScratchImage(t *testing.T) {
	registry := startInspectRegistry(t)
	layer, err := random.Layer(512, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	image, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	digest := registry.pushImage("team/scratch:1", image)

	info, err := registry.resolver.Inspect(context.Background(),
		registry.host+"/team/scratch:1", nil)

	if err != nil {
		t.Fatalf("Inspect() error = %v", err)
	}
	if info.Digest != digest || len(info.Layers) != 1 {
		t.Errorf("Digest = %s with %d layers, want %s with 1", info.Digest, len(info.Layers),
			digest)
	}
	if !info.Created.IsZero() {
		t.Errorf("Created = %s, want the zero time for a config without one", info.Created)
	}
	if want := manifestSize(t, image); info.CompressedSize != want {
		t.Errorf("CompressedSize = %d, want %d", info.CompressedSize, want)
	}
}

func TestInspectTagAndDigestUsesDigest(t *testing.T) {
	registry := startInspectRegistry(t)
	image := registry.platformImage(Platform{OS: "linux", Architecture: "amd64"}, 1)
	digest := registry.pushImage("team/app:1", image)

	// The tag "gone" does not exist, so only a look-up by digest succeeds.
	info, err := registry.resolver.Inspect(context.Background(),
		registry.host+"/team/app:gone@"+digest, nil)

	if err != nil {
		t.Fatalf("Inspect() error = %v", err)
	}
	if info.Digest != digest || info.Tag != "gone" {
		t.Errorf("Digest = %s, Tag = %s, want %s and the tag as written", info.Digest,
			info.Tag, digest)
	}
}

func TestInspectErrors(t *testing.T) {
	registry := startInspectRegistry(t)
	registry.pushImage("team/app:1",
		registry.platformImage(Platform{OS: "linux", Architecture: "amd64"}, 1))
	absent := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		name      string
		keychain  authn.Keychain
		reference string
		want      string
	}{
		{"wrong password", keychainFor(t, registry.host, testUser, "wrong-password"),
			registry.host + "/team/app:1", "HTTP 401"},
		{"missing tag", registry.resolver.Keychain, registry.host + "/team/app:2",
			`no tag "2" in repository team/app`},
		{"missing digest", registry.resolver.Keychain, registry.host + "/team/app@" + absent,
			"no manifest with digest"},
		{"uppercase repository", registry.resolver.Keychain, registry.host + "/Team/app:1",
			"must be lowercase"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			resolver := Resolver{Keychain: test.keychain, Transport: registry.transport}
			_, err := resolver.Inspect(context.Background(), test.reference, nil)
			if err == nil || !strings.Contains(err.Error(), test.want) {
				t.Fatalf("Inspect() error = %v, want one containing %q", err, test.want)
			}
			for _, secret := range []string{testPassword, "wrong-password"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a password", err)
				}
			}
		})
	}
}

// A registry on loopback without TLS is reached only when insecure_registries lists it,
// although go-containerregistry falls back to plain HTTP for loopback by itself.
func TestInspectPlainHTTPNeedsInsecureRegistry(t *testing.T) {
	backend := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	server := httptest.NewServer(backend)
	t.Cleanup(server.Close)
	host := strings.TrimPrefix(server.URL, "http://")
	image, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host+"/team/plain:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, image); err != nil {
		t.Fatalf("pushing the test image: %v", err)
	}

	_, err = Resolver{}.Inspect(context.Background(), host+"/team/plain:1", nil)
	if err == nil || !strings.Contains(err.Error(), "insecure_registries") {
		t.Errorf("Inspect() without insecure_registries error = %v, want a refusal", err)
	}
	_, err = Resolver{}.Digest(context.Background(), host+"/team/plain:1")
	if err == nil || !strings.Contains(err.Error(), "insecure_registries") {
		t.Errorf("Digest() without insecure_registries error = %v, want a refusal", err)
	}

	resolver := Resolver{InsecureRegistries: []string{host}}
	info, err := resolver.Inspect(context.Background(), host+"/team/plain:1", nil)
	if err != nil {
		t.Fatalf("Inspect() with insecure_registries error = %v", err)
	}
	if info.Digest != digestOf(t, image) {
		t.Errorf("Digest = %s, want %s", info.Digest, digestOf(t, image))
	}
	pinned, err := resolver.Digest(context.Background(), host+"/team/plain:1")
	if err != nil {
		t.Fatalf("Digest() with insecure_registries error = %v", err)
	}
	if want := host + "/team/plain@" + digestOf(t, image); pinned != want {
		t.Errorf("Digest() = %s, want %s", pinned, want)
	}
}

func TestInspectSharedConnectionsConcurrently(t *testing.T) {
	registry := startInspectRegistry(t)
	index, _, _ := registry.multiPlatformIndex()
	digest := registry.pushIndex("team/multi:1", index)
	shared, err := registry.resolver.WithSharedConnections()
	if err != nil {
		t.Fatal(err)
	}

	var wait sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wait.Go(func() {
			info, err := shared.Inspect(context.Background(), registry.host+"/team/multi:1",
				nil)
			if err == nil && info.Digest != digest {
				err = fmt.Errorf("digest %s, want %s", info.Digest, digest)
			}
			errs[i] = err
		})
	}
	wait.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("look-up %d: %v", i, err)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	valid := map[string]Platform{
		"linux/amd64":    {OS: "linux", Architecture: "amd64"},
		"linux/arm64/v8": {OS: "linux", Architecture: "arm64", Variant: "v8"},
		"windows/amd64":  {OS: "windows", Architecture: "amd64"},
	}
	for text, want := range valid {
		got, err := ParsePlatform(text)
		if err != nil || got != want {
			t.Errorf("ParsePlatform(%q) = %v, %v, want %v", text, got, err, want)
		}
		if got.String() != text {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), text)
		}
	}

	invalid := map[string]string{
		"":                 "expected os/architecture",
		"linux":            "expected os/architecture",
		"linux/arm/v7/x":   "expected os/architecture",
		"linux/":           "the architecture is empty",
		"/amd64":           "the OS is empty",
		"Linux/amd64":      "lowercase",
		"linux/amd64/ v8":  "lowercase",
		"linux/arm64/v8/":  "expected os/architecture",
		"linux/amd64/v8 ":  "lowercase",
		"linux\\amd64/x86": "lowercase",
	}
	for text, want := range invalid {
		_, err := ParsePlatform(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePlatform(%q) error = %v, want one containing %q", text, err, want)
		}
	}
}

func TestPlatformMatches(t *testing.T) {
	tests := []struct {
		image, want Platform
		matches     bool
	}{
		{Platform{"linux", "arm64", "v8"}, Platform{"linux", "arm64", ""}, true},
		{Platform{"linux", "arm64", ""}, Platform{"linux", "arm64", "v8"}, true},
		{Platform{"linux", "arm", "v7"}, Platform{"linux", "arm", "v6"}, false},
		{Platform{"linux", "amd64", ""}, Platform{"windows", "amd64", ""}, false},
		{Platform{"linux", "amd64", "v3"}, Platform{"linux", "amd64", ""}, true},
	}
	for _, test := range tests {
		if got := test.image.matches(test.want); got != test.matches {
			t.Errorf("%s.matches(%s) = %t, want %t", test.image, test.want, got, test.matches)
		}
	}
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// Index annotations that BuildKit sets on the attestation manifest it adds next to each
// platform image.
const (
	annotationReferenceType  = "vnd.docker.reference.type"
	referenceTypeAttestation = "attestation-manifest"
	// unknownPlatformPart is the OS and architecture of attestation entries.
	unknownPlatformPart = "unknown"
)

// DefaultPlatform is the platform chosen from an index when the caller names none, as
// go-containerregistry's remote.WithPlatform also defaults to it.
var DefaultPlatform = Platform{OS: "linux", Architecture: "amd64"}

// Platform is the OS, CPU architecture and optional variant of an image, as an index entry
// or an image config records them.
type Platform struct {
	OS, Architecture, Variant string
}

// String returns the platform as "os/architecture" or "os/architecture/variant".
func (p Platform) String() string {
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}

// ParsePlatform parses "os/architecture" or "os/architecture/variant", such as
// "linux/arm64/v8". Each part is lowercase letters, digits, '.', '_' or '-'.
func ParsePlatform(text string) (Platform, error) {
	parts := strings.Split(text, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("invalid platform %q: expected os/architecture or "+
			"os/architecture/variant, such as linux/amd64 or linux/arm64/v8", text)
	}
	labels := []string{"OS", "architecture", "variant"}
	for i, part := range parts {
		if part == "" {
			return Platform{}, fmt.Errorf("invalid platform %q: the %s is empty", text,
				labels[i])
		}
		if !validPlatformPart(part) {
			return Platform{}, fmt.Errorf("invalid platform %q: the %s %q may contain only "+
				"lowercase letters, digits, '.', '_' and '-'", text, labels[i], part)
		}
	}
	platform := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		platform.Variant = parts[2]
	}
	return platform, nil
}

func validPlatformPart(part string) bool {
	for _, c := range part {
		lower := c >= 'a' && c <= 'z'
		digit := c >= '0' && c <= '9'
		if !lower && !digit && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// matches reports whether an image of platform p satisfies the requested platform want. A
// request without a variant accepts any variant, and arm64 without a variant is arm64/v8.
func (p Platform) matches(want Platform) bool {
	if p.OS != want.OS || p.Architecture != want.Architecture {
		return false
	}
	if want.Variant == "" || p.Variant == want.Variant {
		return true
	}
	if p.Architecture == "arm64" {
		return defaultVariant(p.Variant) == defaultVariant(want.Variant)
	}
	return false
}

func defaultVariant(variant string) string {
	if variant == "" {
		return "v8"
	}
	return variant
}

// Layer is one layer of an image manifest. Size is the compressed size of the blob in bytes.
type Layer struct {
	Digest, MediaType string
	Size              int64
}

// PlatformImage is one image of an index. CompressedSize is the size in bytes of its config
// blob plus its layer blobs, as a node downloads them.
type PlatformImage struct {
	Platform       Platform
	Digest         string
	CompressedSize int64
}

// ImageInfo describes what a registry serves for a reference.
type ImageInfo struct {
	// Registry, Repository and Tag come from the normalized reference. Tag is empty for a
	// reference with only a digest.
	Registry, Repository, Tag string
	// Digest is the digest of what the reference names, an index or an image manifest.
	Digest string
	// MediaType is the media type of what the reference names.
	MediaType string
	// IsIndex is true for an OCI image index or a Docker manifest list.
	IsIndex bool

	// Platform is the platform of the chosen image: the requested one (DefaultPlatform when
	// none was requested) for an index, else the platform in the image's config.
	Platform Platform
	// ManifestDigest is the digest of the chosen image manifest. It equals Digest unless the
	// reference names an index.
	ManifestDigest string
	// ConfigDigest is the digest of the chosen image's config blob.
	ConfigDigest string
	// Created is the creation time in the image's config, or the zero time without one.
	Created time.Time
	// Layers are the chosen image's layers, in manifest order.
	Layers []Layer
	// CompressedSize is the size in bytes of the config blob plus every layer blob, which
	// is what a node downloads. The unpacked size on a node's disk is larger.
	CompressedSize int64

	// Platforms lists every image of an index, in index order, without attestation
	// manifests. It is empty when the reference names an image manifest.
	Platforms []PlatformImage
}

// Inspect reads the manifest, or index, that reference names, and describes the image of
// platform in it. A nil platform means DefaultPlatform for an index, and the image itself
// for a single manifest. A reference with both a tag and a digest is looked up by digest.
// A failed request gives a *LookupError, which names the failure and the fix and never
// contains credentials.
func (r Resolver) Inspect(ctx context.Context, reference string,
	platform *Platform) (ImageInfo, error) {
	parsed, err := imageref.Parse(reference)
	if err != nil {
		return ImageInfo{}, err
	}
	ref, err := r.nameReference(parsed)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("parsing %s: %w", reference, err)
	}

	options := r.remoteOptions(ctx)
	descriptor, err := remote.Get(ref, options...)
	if err != nil {
		return ImageInfo{}, r.describeError(reference, parsed, ref, err)
	}

	info := ImageInfo{
		Registry:   parsed.Registry,
		Repository: parsed.Repository,
		Tag:        parsed.Tag,
		Digest:     descriptor.Digest.String(),
		MediaType:  string(descriptor.MediaType),
		IsIndex:    descriptor.MediaType.IsIndex(),
	}
	if info.IsIndex {
		err = inspectIndex(descriptor, platform, &info)
	} else {
		err = inspectManifest(descriptor, platform, &info)
	}
	if err != nil {
		return ImageInfo{}, r.describeError(reference, parsed, ref, err)
	}
	return info, nil
}

// nameReference builds the go-containerregistry reference, by digest when there is one.
func (r Resolver) nameReference(parsed imageref.Reference) (name.Reference, error) {
	var options []name.Option
	options = append(options, name.StrictValidation)
	if r.isInsecure(parsed.Registry) {
		options = append(options, name.Insecure)
	}
	if parsed.Digest != "" {
		return name.NewDigest(parsed.Name()+"@"+parsed.Digest, options...)
	}
	return name.NewTag(parsed.Name()+":"+parsed.Tag, options...)
}

func (r Resolver) isInsecure(registry string) bool {
	return slices.ContainsFunc(r.InsecureRegistries, func(host string) bool {
		return strings.EqualFold(host, registry)
	})
}

// remoteOptions returns the options of every request that Inspect sends.
func (r Resolver) remoteOptions(ctx context.Context) []remote.Option {
	options := []remote.Option{remote.WithContext(ctx)}
	if r.puller != nil {
		return append(options, remote.Reuse(r.puller))
	}
	if r.Keychain != nil {
		options = append(options, remote.WithAuthFromKeychain(r.Keychain))
	}
	return append(options, remote.WithTransport(r.guardedTransport()))
}

// guardedTransport returns the transport wrapped so that it sends no plain HTTP request to a
// registry outside InsecureRegistries. go-containerregistry falls back to HTTP by itself for
// loopback and private (RFC 1918) addresses, which would send credentials unencrypted.
func (r Resolver) guardedTransport() http.RoundTripper {
	base := r.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	return plainHTTPGuard{base: base, allowed: r.InsecureRegistries}
}

// WithSharedConnections returns a copy of r whose look-ups share one client: connections,
// and the bearer tokens that registries issue per repository, are reused by every look-up
// through the copy. It is safe for concurrent use.
func (r Resolver) WithSharedConnections() (Resolver, error) {
	options := []remote.Option{remote.WithTransport(r.guardedTransport())}
	if r.Keychain != nil {
		options = append(options, remote.WithAuthFromKeychain(r.Keychain))
	}
	puller, err := remote.NewPuller(options...)
	if err != nil {
		return Resolver{}, fmt.Errorf("creating the registry client: %w", err)
	}
	shared := r
	shared.puller = puller
	return shared, nil
}

// plainHTTPGuard rejects requests over plain HTTP to hosts outside allowed.
type plainHTTPGuard struct {
	base    http.RoundTripper
	allowed []string
}

// RoundTrip implements http.RoundTripper.
func (g plainHTTPGuard) RoundTrip(request *http.Request) (*http.Response, error) {
	if request.URL.Scheme == "http" && !slices.ContainsFunc(g.allowed, func(host string) bool {
		return strings.EqualFold(host, request.URL.Host)
	}) {
		return nil, &plainHTTPBlockedError{host: request.URL.Host}
	}
	return g.base.RoundTrip(request)
}

// inspectIndex fills info from an index: every platform image, and the one matching want.
func inspectIndex(descriptor *remote.Descriptor, want *Platform, info *ImageInfo) error {
	index, err := descriptor.ImageIndex()
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	chosenPlatform := DefaultPlatform
	if want != nil {
		chosenPlatform = *want
	}

	var chosen *v1.Manifest
	for _, entry := range manifest.Manifests {
		if !isPlatformImage(entry) {
			continue
		}
		image, err := index.Image(entry.Digest)
		if err != nil {
			return fmt.Errorf("reading the image %s of the index: %w", entry.Digest, err)
		}
		imageManifest, err := image.Manifest()
		if err != nil {
			return fmt.Errorf("reading the manifest %s of the index: %w", entry.Digest, err)
		}
		platform := Platform{OS: entry.Platform.OS, Architecture: entry.Platform.Architecture,
			Variant: entry.Platform.Variant}
		info.Platforms = append(info.Platforms, PlatformImage{
			Platform:       platform,
			Digest:         entry.Digest.String(),
			CompressedSize: compressedSize(imageManifest),
		})
		if chosen != nil || !platform.matches(chosenPlatform) {
			continue
		}
		chosen = imageManifest
		info.Platform = platform
		info.ManifestDigest = entry.Digest.String()
		info.Created, err = createdTime(image)
		if err != nil {
			return err
		}
	}

	if chosen == nil {
		return &LookupError{
			Kind:    FailurePlatformNotFound,
			Problem: missingPlatformProblem(chosenPlatform, info.Platforms),
			Advice:  "Set platform to one of the platforms that the index has.",
		}
	}
	fillManifest(chosen, info)
	return nil
}

// isPlatformImage reports whether an index entry is an image for a platform, rather than an
// attestation, a nested index or an entry without a platform.
func isPlatformImage(entry v1.Descriptor) bool {
	if entry.Annotations[annotationReferenceType] == referenceTypeAttestation {
		return false
	}
	if entry.Platform == nil || entry.Platform.OS == "" || entry.Platform.Architecture == "" {
		// NOTE: an image entry without a platform cannot be chosen by platform, so it is
		// left out of Platforms too.
		return false
	}
	if entry.Platform.OS == unknownPlatformPart &&
		entry.Platform.Architecture == unknownPlatformPart {
		return false
	}
	return entry.MediaType.IsImage()
}

// missingPlatformProblem states that an index lacks want, and lists the platforms it has.
func missingPlatformProblem(want Platform, platforms []PlatformImage) string {
	if len(platforms) == 0 {
		return fmt.Sprintf("the index has no image for platform %s, and no platform images "+
			"at all", want)
	}
	names := make([]string, len(platforms))
	for i, platform := range platforms {
		names[i] = platform.Platform.String()
	}
	return fmt.Sprintf("the index has no image for platform %s, only for %s", want,
		strings.Join(names, ", "))
}

// inspectManifest fills info from a single image manifest, which has the one platform in
// its config.
func inspectManifest(descriptor *remote.Descriptor, want *Platform, info *ImageInfo) error {
	if descriptor.MediaType == types.DockerManifestSchema1 ||
		descriptor.MediaType == types.DockerManifestSchema1Signed {
		return errors.New("the registry serves a Docker schema 1 manifest, which records no " +
			"layer sizes; push the image again with a current client")
	}
	image, err := descriptor.Image()
	if err != nil {
		return fmt.Errorf("reading the image: %w", err)
	}
	manifest, err := image.Manifest()
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	config, err := image.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image config: %w", err)
	}
	platform := Platform{OS: config.OS, Architecture: config.Architecture,
		Variant: config.Variant}
	if want != nil && platform.OS != "" && !platform.matches(*want) {
		return &LookupError{
			Kind: FailurePlatformNotFound,
			Problem: fmt.Sprintf("the image is a single-platform %s image, not %s", platform,
				*want),
			Advice: fmt.Sprintf("Set platform to %s, or leave it unset.", platform),
		}
	}

	info.Platform = platform
	info.ManifestDigest = descriptor.Digest.String()
	info.Created = config.Created.Time
	fillManifest(manifest, info)
	return nil
}

// createdTime reads the creation time from an image's config blob.
func createdTime(image v1.Image) (time.Time, error) {
	config, err := image.ConfigFile()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the image config: %w", err)
	}
	return config.Created.Time, nil
}

func fillManifest(manifest *v1.Manifest, info *ImageInfo) {
	info.ConfigDigest = manifest.Config.Digest.String()
	info.CompressedSize = compressedSize(manifest)
	info.Layers = make([]Layer, len(manifest.Layers))
	for i, layer := range manifest.Layers {
		info.Layers[i] = Layer{
			Digest: layer.Digest.String(), MediaType: string(layer.MediaType), Size: layer.Size,
		}
	}
}

// compressedSize returns the config size plus the layer sizes, as recorded in the manifest.
func compressedSize(manifest *v1.Manifest) int64 {
	size := manifest.Config.Size
	for _, layer := range manifest.Layers {
		size += layer.Size
	}
	return size
}

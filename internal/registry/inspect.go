package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
	l, cancel, err := r.startLookup(ctx, reference)
	if err != nil {
		return ImageInfo{}, err
	}
	defer cancel()

	descriptor, err := remote.Get(l.ref, r.remoteOptions(l)...)
	if err != nil {
		return ImageInfo{}, r.describeError(l, err)
	}

	descriptor.MediaType = manifestMediaType(descriptor.Manifest, descriptor.MediaType)
	info := ImageInfo{
		Registry:   l.parsed.Registry,
		Repository: l.parsed.Repository,
		Tag:        l.parsed.Tag,
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
		return ImageInfo{}, r.describeError(l, err)
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
	size, err := compressedSize(manifest)
	if err != nil {
		return err
	}
	config, err := readConfig(image, manifest)
	if err != nil {
		return err
	}
	platform, err := configPlatform(config)
	if err != nil {
		return err
	}
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
	fillManifest(manifest, size, info)
	return nil
}

// readConfig reads an image's config blob, after checking the size that its manifest
// records against MaxConfigBytes, because go-containerregistry reads the whole blob into
// memory.
func readConfig(image v1.Image, manifest *v1.Manifest) (*v1.ConfigFile, error) {
	if size := manifest.Config.Size; size > MaxConfigBytes {
		return nil, &tooLargeError{object: "image config", size: size, limit: MaxConfigBytes}
	}
	config, err := image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	return config, nil
}

// configPlatform returns the platform in an image config, normalized as in
// normalizePlatform. A config without an OS gives an empty platform.
func configPlatform(config *v1.ConfigFile) (Platform, error) {
	platform := Platform{OS: config.OS, Architecture: config.Architecture,
		Variant: config.Variant}
	if platform.OS == "" && platform.Architecture == "" {
		return Platform{}, nil
	}
	platform, err := normalizePlatform(platform)
	if err != nil {
		return Platform{}, &invalidManifestError{problem: "the image config records " + err.Error()}
	}
	return platform, nil
}

// normalizePlatform lowercases a platform that a registry sent, so that an index entry
// "Linux/AMD64" matches a request for linux/amd64, and checks each part as ParsePlatform does.
func normalizePlatform(platform Platform) (Platform, error) {
	normalized := Platform{OS: strings.ToLower(platform.OS),
		Architecture: strings.ToLower(platform.Architecture),
		Variant:      strings.ToLower(platform.Variant)}
	for _, part := range []string{normalized.OS, normalized.Architecture} {
		if part == "" || !validPlatformPart(part) {
			return Platform{}, fmt.Errorf("the invalid platform %q", platform.String())
		}
	}
	if !validPlatformPart(normalized.Variant) {
		return Platform{}, fmt.Errorf("the invalid platform %q", platform.String())
	}
	return normalized, nil
}

func fillManifest(manifest *v1.Manifest, size int64, info *ImageInfo) {
	info.ConfigDigest = manifest.Config.Digest.String()
	info.CompressedSize = size
	info.Layers = make([]Layer, len(manifest.Layers))
	for i, layer := range manifest.Layers {
		info.Layers[i] = Layer{
			Digest: layer.Digest.String(), MediaType: string(layer.MediaType), Size: layer.Size,
		}
	}
}

// compressedSize returns the config size plus the layer sizes, as recorded in the manifest.
// A negative size, or a sum over the int64 range, makes the manifest invalid.
func compressedSize(manifest *v1.Manifest) (int64, error) {
	if manifest.Config.Size < 0 {
		return 0, &invalidManifestError{problem: fmt.Sprintf("the manifest records the "+
			"negative size %d for the config blob", manifest.Config.Size)}
	}
	size := manifest.Config.Size
	for _, layer := range manifest.Layers {
		if layer.Size < 0 {
			return 0, &invalidManifestError{problem: fmt.Sprintf("the manifest records the "+
				"negative size %d for the layer %s", layer.Size, layer.Digest)}
		}
		if layer.Size > math.MaxInt64-size {
			return 0, &invalidManifestError{problem: "the blob sizes in the manifest add " +
				"up to more than 2^63-1 bytes"}
		}
		size += layer.Size
	}
	return size, nil
}

// manifestMediaType returns the media type of a manifest or index: its mediaType field, else
// the type its fields imply, else header, the Content-Type that the registry sent. A
// registry may send a Content-Type such as text/html for a valid manifest.
func manifestMediaType(manifest []byte, header types.MediaType) types.MediaType {
	var fields struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
		Config    json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(manifest, &fields); err != nil {
		return header
	}
	switch {
	case fields.MediaType != "":
		return fields.MediaType
	case header.IsIndex() || header.IsImage():
		return header
	case fields.Manifests != nil:
		return types.OCIImageIndex
	case fields.Config != nil:
		return types.OCIManifestSchema1
	default:
		return header
	}
}

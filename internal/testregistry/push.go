package testregistry

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Values that BuildKit (docker buildx) writes for the attestation manifest it adds to an
// index next to each platform image.
const (
	// AnnotationReferenceType marks an index entry as an attestation when its value is
	// ReferenceTypeAttestation.
	AnnotationReferenceType = "vnd.docker.reference.type"
	// AnnotationReferenceDigest on an attestation entry is the digest of the image manifest
	// that the attestation describes.
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	// ReferenceTypeAttestation is the value of AnnotationReferenceType on attestations.
	ReferenceTypeAttestation = "attestation-manifest"
	// InTotoMediaType is the media type of the in-toto statement layers of an attestation.
	InTotoMediaType types.MediaType = "application/vnd.in-toto+json"

	annotationPredicateType = "in-toto.io/predicate-type"
	provenancePredicateType = "https://slsa.dev/provenance/v0.2"
	inTotoStatementType     = "https://in-toto.io/Statement/v0.1"
)

const (
	// indexLayerSize is the size in bytes of the random file in each platform image that
	// PushIndex writes.
	indexLayerSize = 4 << 10
	// scratchBinarySize is the size in bytes of the random "binary" in a PushScratch image.
	scratchBinarySize = 8 << 10
	// scratchBinaryPath is where PushScratch places the binary, and the image's entrypoint.
	scratchBinaryPath = "/app"
)

// defaultPlatform is the platform of single-platform images.
var defaultPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// PushRandom pushes a single-platform linux/amd64 image with Docker schema 2 media types to
// repository:tag and returns its manifest digest ("sha256:..."). Each of the layers contains
// one file of layerSize random bytes, so every call pushes a new digest. Random data does
// not compress, so each compressed layer is slightly larger than layerSize.
func (r *Registry) PushRandom(ctx context.Context, repository, tag string, layers int,
	layerSize int64) (digest string, err error) {
	if layers < 1 {
		return "", fmt.Errorf("invalid layer count %d: an image needs at least one layer", layers)
	}
	if layerSize < 0 {
		return "", fmt.Errorf("invalid layer size %d: the size must not be negative", layerSize)
	}

	image, err := random.Image(layerSize, int64(layers))
	if err != nil {
		return "", fmt.Errorf("generating a random image: %w", err)
	}
	image, err = withPlatform(image, defaultPlatform)
	if err != nil {
		return "", err
	}
	return r.writeImage(ctx, repository, tag, image)
}

// PushScratch pushes an image like one built FROM scratch around a static binary: no base
// layers, one layer with the executable file /app of random content, and /app as the
// entrypoint. The image is linux/amd64 with Docker schema 2 media types. It returns the
// manifest digest.
func (r *Registry) PushScratch(ctx context.Context, repository, tag string) (
	digest string, err error) {
	binary := make([]byte, scratchBinarySize)
	if _, err := rand.Read(binary); err != nil {
		return "", fmt.Errorf("generating the scratch image's binary: %w", err)
	}
	layer, err := newFileLayer(strings.TrimPrefix(scratchBinaryPath, "/"), binary, 0o755,
		types.DockerLayer)
	if err != nil {
		return "", err
	}

	image, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "COPY app " + scratchBinaryPath},
	})
	if err != nil {
		return "", fmt.Errorf("adding the binary layer: %w", err)
	}
	config, err := image.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading the scratch image's config: %w", err)
	}
	config = config.DeepCopy()
	config.Config.Entrypoint = []string{scratchBinaryPath}
	image, err = mutate.ConfigFile(image, config)
	if err != nil {
		return "", fmt.Errorf("setting the scratch image's entrypoint: %w", err)
	}
	image, err = withPlatform(image, defaultPlatform)
	if err != nil {
		return "", err
	}
	return r.writeImage(ctx, repository, tag, image)
}

// PushIndex pushes a multi-platform OCI image index to repository:tag and returns its
// digest. platforms are "os/architecture" or "os/architecture/variant", such as
// "linux/amd64" or "linux/arm64/v8". Each platform gets an OCI image whose one layer holds
// a file of 4 KiB random data. With withAttestation, the index also lists one attestation
// manifest per platform after the images, as BuildKit writes them: platform
// unknown/unknown, the annotations AnnotationReferenceType and AnnotationReferenceDigest,
// and one in-toto provenance layer.
func (r *Registry) PushIndex(ctx context.Context, repository, tag string, platforms []string,
	withAttestation bool) (digest string, err error) {
	return r.PushIndexWithLayerSize(ctx, repository, tag, platforms, withAttestation,
		indexLayerSize)
}

// PushIndexWithLayerSize pushes an index as PushIndex does, with a file of layerSize random
// bytes in the layer of each platform image. Random data does not compress, so each
// platform's compressed layer is slightly larger than layerSize.
func (r *Registry) PushIndexWithLayerSize(ctx context.Context, repository, tag string,
	platforms []string, withAttestation bool, layerSize int64) (digest string, err error) {
	if len(platforms) == 0 {
		return "", fmt.Errorf("no platforms given for the index %s:%s", repository, tag)
	}
	if layerSize < 0 {
		return "", fmt.Errorf("invalid layer size %d: the size must not be negative", layerSize)
	}

	var images, attestations []mutate.IndexAddendum
	seen := map[string]bool{}
	for _, text := range platforms {
		platform, err := parsePlatform(text)
		if err != nil {
			return "", err
		}
		if seen[platform.String()] {
			return "", fmt.Errorf("duplicate platform %q in the index %s:%s", text, repository, tag)
		}
		seen[platform.String()] = true

		image, err := platformImage(*platform, layerSize)
		if err != nil {
			return "", err
		}
		images = append(images, mutate.IndexAddendum{
			Add:        image,
			Descriptor: v1.Descriptor{Platform: platform},
		})
		if !withAttestation {
			continue
		}

		attestation, err := attestationAddendum(r.Host+"/"+repository, image)
		if err != nil {
			return "", err
		}
		attestations = append(attestations, attestation)
	}

	index := mutate.AppendManifests(empty.Index, append(images, attestations...)...)
	reference, err := r.tagReference(repository, tag)
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(reference, index, r.remoteOptions(ctx)...); err != nil {
		return "", fmt.Errorf("pushing the index %s: %w", reference, err)
	}
	hash, err := index.Digest()
	if err != nil {
		return "", fmt.Errorf("computing the digest of the index %s: %w", reference, err)
	}
	return hash.String(), nil
}

// Tag points toTag of repository at the manifest that fromTag points at, creating toTag or
// moving it from the manifest it named before.
func (r *Registry) Tag(ctx context.Context, repository, fromTag, toTag string) error {
	from, err := r.tagReference(repository, fromTag)
	if err != nil {
		return err
	}
	to, err := r.tagReference(repository, toTag)
	if err != nil {
		return err
	}

	options := r.remoteOptions(ctx)
	descriptor, err := remote.Get(from, options...)
	if err != nil {
		return fmt.Errorf("reading the manifest of %s: %w", from, err)
	}
	if err := remote.Tag(to, descriptor, options...); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", from, to, err)
	}
	return nil
}

func (r *Registry) tagReference(repository, tag string) (name.Tag, error) {
	reference, err := name.NewTag(r.Host+"/"+repository+":"+tag, name.StrictValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("invalid repository %q or tag %q: %w", repository, tag, err)
	}
	return reference, nil
}

func (r *Registry) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(r.transport),
		remote.WithAuth(&authn.Basic{Username: r.Username, Password: r.Password}),
	}
}

func (r *Registry) writeImage(ctx context.Context, repository, tag string,
	image v1.Image) (string, error) {
	reference, err := r.tagReference(repository, tag)
	if err != nil {
		return "", err
	}
	if err := remote.Write(reference, image, r.remoteOptions(ctx)...); err != nil {
		return "", fmt.Errorf("pushing the image %s: %w", reference, err)
	}
	hash, err := image.Digest()
	if err != nil {
		return "", fmt.Errorf("computing the digest of the image %s: %w", reference, err)
	}
	return hash.String(), nil
}

// parsePlatform parses "os/architecture" or "os/architecture/variant" and requires both the
// OS and the architecture.
func parsePlatform(text string) (*v1.Platform, error) {
	platform, err := v1.ParsePlatform(text)
	if err != nil {
		return nil, fmt.Errorf("invalid platform %q: %w", text, err)
	}
	if platform.OS == "" || platform.Architecture == "" || platform.OSVersion != "" {
		return nil, fmt.Errorf("invalid platform %q: expected os/architecture or "+
			"os/architecture/variant, such as linux/arm64/v8", text)
	}
	return platform, nil
}

// withPlatform sets the OS, architecture and variant in the image's config.
func withPlatform(image v1.Image, platform v1.Platform) (v1.Image, error) {
	config, err := image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	config = config.DeepCopy()
	config.OS = platform.OS
	config.Architecture = platform.Architecture
	config.Variant = platform.Variant
	image, err = mutate.ConfigFile(image, config)
	if err != nil {
		return nil, fmt.Errorf("setting the platform %s in the image config: %w", platform, err)
	}
	return image, nil
}

// platformImage returns an OCI image for platform with one layer that holds a file of
// layerSize random bytes.
func platformImage(platform v1.Platform, layerSize int64) (v1.Image, error) {
	layer, err := random.Layer(layerSize, types.OCILayer)
	if err != nil {
		return nil, fmt.Errorf("generating a random layer for %s: %w", platform, err)
	}
	image, err := mutate.Append(ociImage(), mutate.Addendum{Layer: layer})
	if err != nil {
		return nil, fmt.Errorf("building the image for %s: %w", platform, err)
	}
	return withPlatform(image, platform)
}

// attestationAddendum returns the index entry for a BuildKit-style provenance attestation of
// image, whose repository is named by repository.
func attestationAddendum(repository string, image v1.Image) (mutate.IndexAddendum, error) {
	subject, err := image.Digest()
	if err != nil {
		return mutate.IndexAddendum{}, fmt.Errorf("computing an image digest: %w", err)
	}
	statement, err := provenanceStatement(repository, subject)
	if err != nil {
		return mutate.IndexAddendum{}, err
	}

	attestation, err := mutate.Append(ociImage(), mutate.Addendum{
		Layer:       static.NewLayer(statement, InTotoMediaType),
		Annotations: map[string]string{annotationPredicateType: provenancePredicateType},
	})
	if err != nil {
		return mutate.IndexAddendum{}, fmt.Errorf("building the attestation of %s: %w", subject, err)
	}
	unknown := v1.Platform{OS: "unknown", Architecture: "unknown"}
	attestation, err = withPlatform(attestation, unknown)
	if err != nil {
		return mutate.IndexAddendum{}, err
	}

	return mutate.IndexAddendum{
		Add: attestation,
		Descriptor: v1.Descriptor{
			Platform: &unknown,
			Annotations: map[string]string{
				AnnotationReferenceType:   ReferenceTypeAttestation,
				AnnotationReferenceDigest: subject.String(),
			},
		},
	}, nil
}

// provenanceStatement returns a minimal in-toto statement whose subject is the image.
func provenanceStatement(repository string, subject v1.Hash) ([]byte, error) {
	type statementSubject struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}
	statement := struct {
		Type          string             `json:"_type"`
		PredicateType string             `json:"predicateType"`
		Subject       []statementSubject `json:"subject"`
		Predicate     map[string]any     `json:"predicate"`
	}{
		Type:          inTotoStatementType,
		PredicateType: provenancePredicateType,
		Subject: []statementSubject{{
			Name:   "pkg:docker/" + repository,
			Digest: map[string]string{subject.Algorithm: subject.Hex},
		}},
		Predicate: map[string]any{"buildType": "https://mobyproject.org/buildkit@v1"},
	}
	data, err := json.Marshal(statement)
	if err != nil {
		return nil, fmt.Errorf("encoding the provenance statement: %w", err)
	}
	return data, nil
}

// ociImage returns an empty image with OCI manifest and config media types.
func ociImage() v1.Image {
	image := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(image, types.OCIConfigJSON)
}

// fileLayer is an uncompressed layer whose tar archive contains a single regular file.
type fileLayer struct {
	archive   []byte
	diffID    v1.Hash
	mediaType types.MediaType
}

// newFileLayer returns a layer whose tar archive contains one file at path with content and
// mode. The layer is compressed with gzip on upload.
func newFileLayer(path string, content []byte, mode int64,
	mediaType types.MediaType) (v1.Layer, error) {
	var archive bytes.Buffer
	writer := tar.NewWriter(&archive)
	header := &tar.Header{Name: path, Mode: mode, Size: int64(len(content)), Typeflag: tar.TypeReg}
	if err := writer.WriteHeader(header); err != nil {
		return nil, fmt.Errorf("writing the tar header of %s: %w", path, err)
	}
	if _, err := writer.Write(content); err != nil {
		return nil, fmt.Errorf("writing %s to the layer: %w", path, err)
	}
	if err := writer.Close(); err != nil {
		return nil, fmt.Errorf("closing the layer archive: %w", err)
	}

	sum := sha256.Sum256(archive.Bytes())
	layer := &fileLayer{
		archive:   archive.Bytes(),
		diffID:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		mediaType: mediaType,
	}
	return partial.UncompressedToLayer(layer)
}

// DiffID implements partial.UncompressedLayer.
func (l *fileLayer) DiffID() (v1.Hash, error) {
	return l.diffID, nil
}

// Uncompressed implements partial.UncompressedLayer.
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.archive)), nil
}

// MediaType implements partial.UncompressedLayer.
func (l *fileLayer) MediaType() (types.MediaType, error) {
	return l.mediaType, nil
}

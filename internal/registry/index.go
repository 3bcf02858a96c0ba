package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const (
	// MaxIndexPlatformImages bounds the platform images, attestations not counted, that a
	// look-up reads from one index. NOTE: the value is an estimate, chosen well above the
	// dozen or so platforms that common multi-platform images build for.
	MaxIndexPlatformImages = 64
	// IndexFetchWorkers bounds the concurrent manifest requests of one index look-up.
	IndexFetchWorkers = 4
)

// indexEntry is a platform image that an index lists.
type indexEntry struct {
	platform Platform
	digest   v1.Hash
}

// platformManifest is a fetched platform image with its manifest and download size.
type platformManifest struct {
	image    v1.Image
	manifest *v1.Manifest
	size     int64
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
	entries, err := platformEntries(manifest)
	if err != nil {
		return err
	}
	manifests, err := fetchPlatformManifests(index, entries)
	if err != nil {
		return err
	}

	chosenPlatform := DefaultPlatform
	if want != nil {
		chosenPlatform = *want
	}
	var chosen *indexEntry
	for i, entry := range entries {
		info.Platforms = append(info.Platforms, PlatformImage{
			Platform:       entry.platform,
			Digest:         entry.digest.String(),
			CompressedSize: manifests[entry.digest].size,
		})
		if chosen == nil && entry.platform.matches(chosenPlatform) {
			chosen = &entries[i]
		}
	}
	if chosen == nil {
		return &LookupError{
			Kind:    FailurePlatformNotFound,
			Problem: missingPlatformProblem(chosenPlatform, info.Platforms),
			Advice:  "Set platform to one of the platforms that the index has.",
		}
	}

	image := manifests[chosen.digest]
	config, err := readConfig(image.image, image.manifest)
	if err != nil {
		return err
	}
	info.Platform = chosen.platform
	info.ManifestDigest = chosen.digest.String()
	info.Created = config.Created.Time
	fillManifest(image.manifest, image.size, info)
	return nil
}

// platformEntries returns the platform images of an index in index order, with normalized
// platforms. An invalid platform, or more than MaxIndexPlatformImages entries, makes the
// index invalid.
func platformEntries(manifest *v1.IndexManifest) ([]indexEntry, error) {
	var entries []indexEntry
	for _, descriptor := range manifest.Manifests {
		if !isPlatformImage(descriptor) {
			continue
		}
		if len(entries) == MaxIndexPlatformImages {
			return nil, &invalidManifestError{problem: fmt.Sprintf("the index lists more "+
				"than %d platform images, the maximum that a look-up reads",
				MaxIndexPlatformImages)}
		}
		platform, err := normalizePlatform(Platform{OS: descriptor.Platform.OS,
			Architecture: descriptor.Platform.Architecture,
			Variant:      descriptor.Platform.Variant})
		if err != nil {
			return nil, &invalidManifestError{problem: fmt.Sprintf("the index lists the "+
				"manifest %s with %s", descriptor.Digest, err)}
		}
		entries = append(entries, indexEntry{platform: platform, digest: descriptor.Digest})
	}
	return entries, nil
}

// fetchPlatformManifests fetches the manifest of each distinct digest in entries, with at
// most IndexFetchWorkers requests at a time. Of several failures it returns the one of the
// first entry in index order.
func fetchPlatformManifests(index v1.ImageIndex,
	entries []indexEntry) (map[v1.Hash]platformManifest, error) {
	var digests []v1.Hash
	seen := map[v1.Hash]bool{}
	for _, entry := range entries {
		if !seen[entry.digest] {
			seen[entry.digest] = true
			digests = append(digests, entry.digest)
		}
	}

	results := make([]platformManifest, len(digests))
	errs := make([]error, len(digests))
	slots := make(chan struct{}, IndexFetchWorkers)
	var workers sync.WaitGroup
	for i, digest := range digests {
		slots <- struct{}{}
		workers.Go(func() {
			defer func() { <-slots }()
			results[i], errs[i] = fetchPlatformManifest(index, digest)
		})
	}
	workers.Wait()

	manifests := make(map[v1.Hash]platformManifest, len(digests))
	for i, digest := range digests {
		if errs[i] != nil {
			return nil, errs[i]
		}
		manifests[digest] = results[i]
	}
	return manifests, nil
}

// fetchPlatformManifest fetches the image manifest digest of index. A manifest that the
// registry does not have is reported as such, not as a missing tag.
func fetchPlatformManifest(index v1.ImageIndex, digest v1.Hash) (platformManifest, error) {
	image, err := index.Image(digest)
	if err == nil {
		var manifest *v1.Manifest
		manifest, err = image.Manifest()
		if err == nil {
			size, err := compressedSize(manifest)
			return platformManifest{image: image, manifest: manifest, size: size}, err
		}
	}
	var transportErr *transport.Error
	if errors.As(err, &transportErr) && transportErr.StatusCode == http.StatusNotFound {
		return platformManifest{}, &LookupError{
			Kind: FailureManifestNotFound,
			Problem: fmt.Sprintf("the index lists the image manifest %s, which the "+
				"registry does not have", digest),
			Cause:  registryMessage(transportErr),
			Advice: "Push the index again with all of its images, or look up a platform image by its digest.",
			Err:    err,
		}
	}
	return platformManifest{}, fmt.Errorf("reading the manifest %s of the index: %w", digest, err)
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
	if strings.EqualFold(entry.Platform.OS, unknownPlatformPart) &&
		strings.EqualFold(entry.Platform.Architecture, unknownPlatformPart) {
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

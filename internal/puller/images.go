package puller

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// maxContainerName is the length limit of a container name, an RFC 1123 label.
const maxContainerName = 63

// maxQuoted caps how much of a user's value a Problem repeats, so a pasted file does not flood
// a diagnostic.
const maxQuoted = 300

// Problem is one finding about the images map, for a diagnostic on images[Key]. Key "" means
// the whole map.
type Problem struct {
	Key string
	// Warning is true for a warning and false for an error.
	Warning bool
	// Summary is a short Title Case title, such as "Invalid Image Reference".
	Summary string
	// Detail is full sentences: what is wrong, the value, and what to do.
	Detail string
}

// Image is one entry of the images map.
type Image struct {
	// Key is the map key as the user wrote it, such as "Static_Bin".
	Key string
	// Reference is the image reference as the user wrote it.
	Reference string
	// Container is the container name derived from Key, an RFC 1123 label such as
	// "static-bin". It is empty when Key has no ASCII letter or digit.
	Container string
}

// Images validates the images map and returns one Image per key, sorted by Key, with the
// problems found, sorted by Key. Keys with an error still get an Image, so callers can map
// results by key, but a DaemonSet must only be rendered when no Problem is an error.
func Images(images map[string]string) ([]Image, []Problem) {
	if len(images) == 0 {
		return nil, []Problem{{
			Summary: "Missing Images",
			Detail: "The images map is empty. Add at least one image to cache, such as " +
				`api = "quay.io/team/api:3.8.2".`,
		}}
	}

	keys := make([]string, 0, len(images))
	for key := range images {
		keys = append(keys, key)
	}
	slices.Sort(keys)

	var (
		result        = make([]Image, 0, len(keys))
		problems      []Problem
		keyByName     = map[string]string{}
		keyByIdentity = map[string]string{}
	)
	for _, key := range keys {
		image := Image{Key: key, Reference: images[key], Container: containerName(key)}
		result = append(result, image)

		if problem := checkContainerName(image, keyByName); problem != nil {
			problems = append(problems, *problem)
		}
		problems = append(problems, checkReference(image, keyByIdentity)...)
	}
	return result, problems
}

// containerName derives a container name from an images key. ASCII letters are lowercased,
// every other character outside [a-z0-9-] becomes "-", runs of "-" collapse into one, and
// leading and trailing "-" are removed. The result is cut to 63 characters. It is empty when
// key has no ASCII letter or digit.
func containerName(key string) string {
	var name strings.Builder
	for _, r := range key {
		switch {
		case 'A' <= r && r <= 'Z':
			name.WriteRune(r + ('a' - 'A'))
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			name.WriteRune(r)
		case strings.HasSuffix(name.String(), "-"):
			// Collapses a run of replaced characters into one "-".
		default:
			name.WriteByte('-')
		}
	}

	result := strings.Trim(name.String(), "-")
	if len(result) > maxContainerName {
		result = strings.TrimRight(result[:maxContainerName], "-")
	}
	return result
}

// checkContainerName reports an empty, reserved or duplicate container name. keyByName maps
// each container name seen so far to its key, and gains image's name.
func checkContainerName(image Image, keyByName map[string]string) *Problem {
	name := image.Container
	switch {
	case name == "":
		return &Problem{
			Key:     image.Key,
			Summary: "Invalid Image Key",
			Detail: fmt.Sprintf("The key %s has no ASCII letter or digit, so it gives no "+
				"container name. Use a key such as \"api\" or \"static-bin\".",
				quote(image.Key)),
		}
	case name == ContainerSleeper || name == ContainerWait:
		return &Problem{
			Key:     image.Key,
			Summary: "Reserved Image Key",
			Detail: fmt.Sprintf("The key %s becomes the container name %q, which the "+
				"puller uses for its own helper container. Choose another key.",
				quote(image.Key), name),
		}
	}

	if earlier, found := keyByName[name]; found {
		return &Problem{
			Key:     image.Key,
			Summary: "Duplicate Container Name",
			Detail: fmt.Sprintf("The keys %s and %s both become the container name %q, "+
				"but the containers of a pod need distinct names. Rename one of the keys.",
				quote(earlier), quote(image.Key), name),
		}
	}
	keyByName[name] = image.Key
	return nil
}

// checkReference reports an invalid reference, a mutable tag and a reference that an earlier
// key already names. keyByIdentity maps each image identity seen so far to its key, and gains
// image's identity.
func checkReference(image Image, keyByIdentity map[string]string) []Problem {
	ref, err := imageref.Parse(image.Reference)
	if err != nil {
		return []Problem{invalidReference(image, err)}
	}

	var problems []Problem
	if ref.Digest == "" && ref.Tag == imageref.DefaultTag {
		problems = append(problems, mutableTag(image, ref))
	}

	identity := ref.Identity()
	if earlier, found := keyByIdentity[identity]; found {
		problems = append(problems, Problem{
			Key:     image.Key,
			Warning: true,
			Summary: "Duplicate Image Reference",
			Detail: fmt.Sprintf("The keys %s and %s both name the image %q. Each node "+
				"pulls it once, but two containers per node keep it. Remove one of the keys.",
				quote(earlier), quote(image.Key), identity),
		})
		return problems
	}
	keyByIdentity[identity] = image.Key
	return problems
}

func invalidReference(image Image, err error) Problem {
	reason := err.Error()
	var refErr *imageref.ReferenceError
	if errors.As(err, &refErr) {
		reason = refErr.Detail
	}
	return Problem{
		Key:     image.Key,
		Summary: "Invalid Image Reference",
		Detail: fmt.Sprintf("The image %s has the reference %s, which is invalid: %s.",
			quote(image.Key), quote(image.Reference), reason),
	}
}

func mutableTag(image Image, ref imageref.Reference) Problem {
	tagDescription := fmt.Sprintf("has the tag %q", imageref.DefaultTag)
	if !strings.HasSuffix(image.Reference, ":"+imageref.DefaultTag) {
		tagDescription = fmt.Sprintf("has no tag or digest, so it means the tag %q",
			imageref.DefaultTag)
	}
	return Problem{
		Key:     image.Key,
		Warning: true,
		Summary: "Mutable Image Tag",
		Detail: fmt.Sprintf("The image %s has the reference %s, which %s. That tag moves "+
			"to each new release, and every node keeps whichever image it pointed to when "+
			"the node pulled it, so nodes can cache different images. Pin a version tag or "+
			"a digest, such as %q, or set resolve_digests = true.",
			quote(image.Key), quote(image.Reference), tagDescription,
			ref.FamiliarName()+"@sha256:<digest>"),
	}
}

// quote quotes s for a Problem and shortens it to maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q (%d bytes, truncated)", s[:maxQuoted], len(s))
}

package imageref

import (
	"fmt"
	"strings"
)

// NodeImageNameKind classifies one entry of a Node's status.images[].names.
type NodeImageNameKind int

const (
	// NodeImagePlaceholder is "<none>@<none>" or "<none>:<none>", the placeholder names that
	// node status lists for an image without a repository digest or tag. Callers drop them.
	NodeImagePlaceholder NodeImageNameKind = iota + 1
	// NodeImageTag is a name with a tag, such as docker.io/library/nginx:1.27.
	NodeImageTag
	// NodeImageDigest is a name with a digest, such as quay.io/org/app@sha256:<hex>.
	NodeImageDigest
)

// String returns the kind's name for messages and test output.
func (k NodeImageNameKind) String() string {
	switch k {
	case NodeImagePlaceholder:
		return "placeholder"
	case NodeImageTag:
		return "tag"
	case NodeImageDigest:
		return "digest"
	default:
		return fmt.Sprintf("NodeImageNameKind(%d)", int(k))
	}
}

// ParseNodeImageName parses one name from a Node's status.images[].names.
//
// Container runtimes report fully qualified names. Names in the familiar form ("nginx:latest")
// are accepted too and normalized as Parse normalizes them. For a placeholder, the Reference
// is empty and the error nil. A name with both a tag and a digest is a digest name.
func ParseNodeImageName(name string) (Reference, NodeImageNameKind, error) {
	if name == "<none>@<none>" || name == "<none>:<none>" {
		return Reference{}, NodeImagePlaceholder, nil
	}

	ref, err := Parse(name)
	if err != nil {
		return Reference{}, 0, err
	}
	if ref.Digest != "" {
		return ref, NodeImageDigest, nil
	}
	return ref, NodeImageTag, nil
}

// Matcher decides whether a node's cached image is the one a user reference names. Build it
// once per reference with NewMatcher and call Matches for each image of each node.
type Matcher struct {
	ref Reference
	// marker is a substring that every matching name contains, however it is spelled: the
	// digest, or the last component of the repository with ":" and the tag, or that
	// component alone for "latest", which a name may leave out. Names without it are skipped
	// without being parsed, which matters when references are checked against every image of
	// thousands of nodes.
	marker string
}

// NewMatcher parses reference, which may be familiar ("nginx:1.27") or fully qualified, and
// returns a Matcher for it. The error is the one Parse returns.
func NewMatcher(reference string) (*Matcher, error) {
	ref, err := Parse(reference)
	if err != nil {
		return nil, err
	}

	last := ref.Repository[strings.LastIndexByte(ref.Repository, '/')+1:]
	var marker string
	switch {
	case ref.Digest != "":
		marker = ref.Digest
	case ref.Tag == DefaultTag:
		marker = last
	default:
		marker = last + ":" + ref.Tag
	}
	return &Matcher{ref: ref, marker: marker}, nil
}

// Reference returns the parsed reference the Matcher compares against.
func (m *Matcher) Reference() Reference {
	return m.ref
}

// Matches reports whether any of names, the names of one image on one node, matches.
//
// A reference with a digest matches a name with the same repository name and digest, whatever
// the tags. A reference without a digest matches a name with the same repository name and tag
// after normalization. So "nginx" matches "docker.io/library/nginx:latest" and "nginx:latest",
// but never "docker.io/library/nginx:1.27" or "docker.io/library/nginx-extra:latest".
// Registries compare as written, case included, as the container runtimes keep them.
// Placeholders and names that do not parse match nothing.
func (m *Matcher) Matches(names []string) bool {
	for _, name := range names {
		if m.MatchesName(name) {
			return true
		}
	}
	return false
}

// MatchesName reports whether one node image name matches, by the rules of Matches.
func (m *Matcher) MatchesName(name string) bool {
	if !strings.Contains(name, m.marker) {
		return false
	}

	ref, kind, err := ParseNodeImageName(name)
	if err != nil || kind == NodeImagePlaceholder {
		return false
	}
	if ref.Registry != m.ref.Registry || ref.Repository != m.ref.Repository {
		return false
	}
	if m.ref.Digest != "" {
		return ref.Digest == m.ref.Digest
	}
	return ref.Tag == m.ref.Tag
}

package imageref

import (
	"strings"
	"unicode"
)

const (
	// DefaultRegistry is the registry of a name without one, spelled as the container tools and
	// Node.status.images write it (not as the pull secret key, which is DockerHubKey).
	DefaultRegistry = "docker.io"

	// legacyRegistry is Docker Hub's older host name, which references write as DefaultRegistry.
	legacyRegistry = "index.docker.io"

	// DefaultTag is the tag of a reference that has neither a tag nor a digest.
	DefaultTag = "latest"

	// officialPrefix is the namespace of Docker Hub's official images, such as library/nginx.
	officialPrefix = "library/"

	// Limits from github.com/distribution/reference v0.6.0. The name limit applies to the
	// repository path after normalization, so "nginx" counts as "library/nginx".
	maxTagLength        = 128
	maxRepositoryLength = 255
)

// digestLengths maps each supported digest algorithm to the number of hex digits in its
// encoded part. These are the algorithms that github.com/opencontainers/go-digest v1.0.0
// defines.
var digestLengths = map[string]int{
	"sha256": 64,
	"sha384": 96,
	"sha512": 128,
}

// Reference is a parsed, normalized image reference such as docker.io/library/nginx:latest.
type Reference struct {
	// Registry is the host and optional port, such as "quay.io" or "localhost:5000". Names
	// without a registry get DefaultRegistry.
	Registry string
	// Repository is the path within the registry, such as "library/nginx".
	Repository string
	// Tag is the tag, DefaultTag when the reference had neither tag nor digest, and empty for
	// a reference with only a digest.
	Tag string
	// Digest is the content digest, such as "sha256:<64 hex digits>", or empty.
	Digest string
}

// Parse parses an image reference the way the container tools do, and normalizes it.
//
// The first path component is the registry only when it contains "." or ":" or is
// "localhost". Otherwise the registry is DefaultRegistry, and a single-component repository
// gets the "library/" namespace, so "nginx" becomes docker.io/library/nginx:latest. The
// registry "index.docker.io" is written as "docker.io". A reference with neither tag nor digest
// gets DefaultTag. A reference with both keeps both, and Identity uses the digest.
//
// Unlike github.com/distribution/reference, an uppercase first component such as "Team/app"
// is not taken as a registry, so it fails as an uppercase repository. The error is a
// *ReferenceError wrapping one of the sentinel errors.
func Parse(s string) (Reference, error) {
	if err := checkReferenceText(s); err != nil {
		return Reference{}, err
	}

	name, digest, hasDigest := strings.Cut(s, "@")
	var tag string
	hasTag := false
	if colon := strings.LastIndexByte(name, ':'); colon > strings.LastIndexByte(name, '/') {
		name, tag, hasTag = name[:colon], name[colon+1:], true
	}

	registry, repository, err := splitName(s, name)
	if err != nil {
		return Reference{}, err
	}
	if hasTag {
		if err := checkTag(s, tag); err != nil {
			return Reference{}, err
		}
	}
	if hasDigest {
		if err := checkDigest(s, digest); err != nil {
			return Reference{}, err
		}
	}

	if tag == "" && digest == "" {
		tag = DefaultTag
	}
	return Reference{Registry: registry, Repository: repository, Tag: tag, Digest: digest}, nil
}

// Name returns the repository name with its registry, such as docker.io/library/nginx.
func (r Reference) Name() string {
	return r.Registry + "/" + r.Repository
}

// String returns the fully qualified reference, such as docker.io/library/nginx:latest or
// quay.io/org/app:v1@sha256:<hex>.
func (r Reference) String() string {
	return r.Name() + r.suffix()
}

// Identity returns the fully qualified name with the digest when there is one, and with the
// tag otherwise. Two references with the same identity name the same image content, or the
// same tag of the same repository.
func (r Reference) Identity() string {
	if r.Digest != "" {
		return r.Name() + "@" + r.Digest
	}
	return r.Name() + ":" + r.Tag
}

// FamiliarName returns the name as docker shows it: without "docker.io/" and, for official
// images, without "library/", so docker.io/library/nginx becomes "nginx". The registry stays
// when the repository's first component would read as a registry, as in docker.io/my.org/app.
func (r Reference) FamiliarName() string {
	if r.Registry != DefaultRegistry {
		return r.Name()
	}
	if short, ok := strings.CutPrefix(r.Repository, officialPrefix); ok &&
		!strings.Contains(short, "/") {
		return short
	}
	if first, _, _ := strings.Cut(r.Repository, "/"); looksLikeRegistry(first) {
		return r.Name()
	}
	return r.Repository
}

// FamiliarString returns FamiliarName with the tag and digest, such as "nginx:latest".
func (r Reference) FamiliarString() string {
	return r.FamiliarName() + r.suffix()
}

func (r Reference) suffix() string {
	var suffix string
	if r.Tag != "" {
		suffix = ":" + r.Tag
	}
	if r.Digest != "" {
		suffix += "@" + r.Digest
	}
	return suffix
}

// checkReferenceText applies the checks that look at the whole input before it is split.
func checkReferenceText(s string) error {
	if s == "" {
		return referenceError(s, ErrEmpty, "the reference is empty. Set an image such as "+
			"\"nginx:1.27\" or \"quay.io/org/app@sha256:...\"")
	}
	// User info is checked first because it may hold a password, which no other message
	// may repeat.
	if redacted := RedactUserInfo(s); redacted != s {
		return referenceError(redacted, ErrUserInfo, "an image reference has no user info "+
			"before \"@\". Remove it: credentials come from pull secrets or the registry "+
			"auth file")
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return referenceError(s, ErrWhitespace, "remove the whitespace it contains")
	}
	if scheme, rest, found := strings.Cut(s, "://"); found {
		return referenceError(s, ErrScheme,
			"an image reference has no scheme. Remove %q and write %q", scheme+"://", rest)
	}
	if len(s) == digestLengths["sha256"] && isLowerHex(s) {
		// github.com/distribution/reference v0.6.0 rejects this name too, because a bare
		// 64-digit hex string is how docker writes an image ID.
		return referenceError(s, ErrImageID,
			"a 64-digit hex string is an image ID, not a name. Use \"sha256:%s\" as a digest "+
				"after a repository name", s)
	}
	return nil
}

// splitName separates the registry from the repository path and checks both.
func splitName(reference, name string) (registry, repository string, err error) {
	if name == "" {
		return "", "", referenceError(reference, ErrEmptyComponent,
			"the repository name is missing. Write it before the tag or digest")
	}

	first, rest, hasSlash := strings.Cut(name, "/")
	if hasSlash && looksLikeRegistry(first) {
		registry, repository = first, rest
		address, problem := parseHostPort(registry, false)
		if problem != nil {
			return "", "", referenceError(reference, problem.sentinel,
				"the registry %q is invalid: %s", registry, problem.detail)
		}
		registry = address.String()
	} else {
		registry, repository = DefaultRegistry, name
	}

	if registry == legacyRegistry {
		registry = DefaultRegistry
	}
	if registry == DefaultRegistry && !strings.Contains(repository, "/") {
		repository = officialPrefix + repository
	}

	if err := checkRepository(reference, repository); err != nil {
		return "", "", err
	}
	return registry, repository, nil
}

// checkRepository checks each path component against the grammar
// [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)*.
func checkRepository(reference, repository string) error {
	for component := range strings.SplitSeq(repository, "/") {
		if component == "" {
			return referenceError(reference, ErrEmptyComponent,
				"the repository path %q has an empty component. Remove the extra slash",
				repository)
		}
		if validComponent(component) {
			continue
		}
		if lower := strings.ToLower(component); lower != component && validComponent(lower) {
			return referenceError(reference, ErrUppercase,
				"repository names must be lowercase. Write %q as %q", component, lower)
		}
		return referenceError(reference, ErrInvalidComponent,
			"the path component %q is invalid. A component is lowercase letters and digits, "+
				"separated by one '.', one or two '_', or one or more '-'", component)
	}

	if len(repository) > maxRepositoryLength {
		return referenceError(reference, ErrNameTooLong,
			"the repository path is %d characters long, the maximum is %d",
			len(repository), maxRepositoryLength)
	}
	return nil
}

func validComponent(component string) bool {
	i := 0
	for {
		start := i
		for i < len(component) && isLowerAlphanumeric(component[i]) {
			i++
		}
		if i == start {
			// Empty run: the component starts or ends with a separator, or has two
			// separators in a row.
			return false
		}
		if i == len(component) {
			return true
		}

		separatorStart := i
		switch component[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(component) && component[i] == '_' {
				i++
			}
		case '-':
			for i < len(component) && component[i] == '-' {
				i++
			}
		default:
			return false
		}
		if i == separatorStart {
			return false
		}
	}
}

// checkTag checks the tag grammar [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func checkTag(reference, tag string) error {
	if tag == "" {
		return referenceError(reference, ErrInvalidTag,
			"the tag after ':' is empty. Remove the colon or add a tag")
	}
	if len(tag) > maxTagLength {
		return referenceError(reference, ErrInvalidTag,
			"the tag is %d characters long, the maximum is %d", len(tag), maxTagLength)
	}
	if tag[0] == '.' || tag[0] == '-' {
		return referenceError(reference, ErrInvalidTag,
			"the tag %q starts with %q. A tag must start with a letter, digit or '_'",
			tag, tag[0])
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !isAlphanumeric(c) && c != '_' && c != '.' && c != '-' {
			return referenceError(reference, ErrInvalidTag,
				"the tag %q contains %q. A tag may contain only letters, digits, '_', '.' and '-'",
				tag, rune(c))
		}
	}
	return nil
}

// checkDigest checks "algorithm:hex" for the algorithms in digestLengths.
func checkDigest(reference, digest string) error {
	algorithm, encoded, found := strings.Cut(digest, ":")
	if !found || algorithm == "" || encoded == "" {
		return referenceError(reference, ErrInvalidDigest,
			"the digest %s must have the form algorithm:hex, as in \"sha256:<64 hex digits>\"",
			quote(digest))
	}

	length, supported := digestLengths[algorithm]
	if !supported {
		return referenceError(reference, ErrUnsupportedAlgo,
			"the digest algorithm %s is not supported. Use sha256, sha384 or sha512",
			quote(algorithm))
	}
	if len(encoded) != length {
		return referenceError(reference, ErrInvalidDigest,
			"a %s digest has %d hex digits, this one has %d", algorithm, length, len(encoded))
	}
	if !isLowerHex(encoded) {
		if isLowerHex(strings.ToLower(encoded)) {
			return referenceError(reference, ErrInvalidDigest,
				"the digest's hex digits must be lowercase")
		}
		return referenceError(reference, ErrInvalidDigest,
			"the digest contains characters other than hex digits after %q", algorithm+":")
	}
	return nil
}

// looksLikeRegistry reports whether the first component of a name is a registry: it contains
// "." or ":", or is "localhost".
func looksLikeRegistry(component string) bool {
	return strings.ContainsAny(component, ".:") || component == "localhost"
}

func isLowerAlphanumeric(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// RedactUserInfo returns s with user info, such as "user:password@" before a registry host,
// replaced by "REDACTED@", for an image reference that is about to be quoted in a message.
// Only an "@" before the first "/" is user info: in "nginx@sha256:..." it starts a digest.
// Text without user info is returned unchanged.
func RedactUserInfo(s string) string {
	rest := s
	if _, afterScheme, found := strings.Cut(s, "://"); found {
		rest = afterScheme
	}
	host, path, hasPath := strings.Cut(rest, "/")
	at := strings.LastIndexByte(host, '@')
	if at < 0 || !hasPath {
		return s
	}
	return s[:len(s)-len(rest)] + "REDACTED" + host[at:] + "/" + path
}

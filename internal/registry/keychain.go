// Package registry looks images up in container registries, with go-containerregistry and
// the credentials of docker config documents such as pull secrets. It imports no Terraform
// module.
package registry

import (
	"net"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// CredentialSource is a docker config document and the place it came from.
type CredentialSource struct {
	// Name describes where the document came from, such as `Secret "team/robot"`, for error
	// messages. It must not contain a credential. Empty means a pull secret without a name.
	Name   string
	Config *dockerconfig.Config
}

// Keychain finds credentials in docker config documents, as the kubelet (v1.37.2) does with
// a pod's pull secrets. A key matches an image when its host is the image's registry, or a
// glob of it in which each "*" matches within one DNS label ("*.example.com"). A key with a
// path ("quay.io/org") matches only when the path is a prefix of the image's repository
// path. The entry with the longest path wins, then an exact host over a glob, then the first
// document. An image without a matching entry is pulled anonymously. NOTE: the kubelet tries
// every matching entry in turn, while a look-up uses only the best one.
type Keychain struct {
	sources []CredentialSource
}

// NewKeychain returns a Keychain over configs, tried in order. Error messages call each of
// them a pull secret; NewNamedKeychain names them.
func NewKeychain(configs ...*dockerconfig.Config) Keychain {
	sources := make([]CredentialSource, len(configs))
	for i, config := range configs {
		sources[i] = CredentialSource{Config: config}
	}
	return Keychain{sources: sources}
}

// NewNamedKeychain returns a Keychain over sources, tried in order, whose names appear in
// the errors of failed look-ups.
func NewNamedKeychain(sources ...CredentialSource) Keychain {
	return Keychain{sources: sources}
}

// Resolve implements authn.Keychain.
func (k Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	entry, _, found := k.find(target)
	if !found {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: entry.Username, Password: entry.Password,
	}), nil
}

// keyMatch is an entry whose key matches an image, ranked by how specific the key is.
type keyMatch struct {
	entry      dockerconfig.AuthEntry
	source     CredentialSource
	pathLength int
	glob       bool
}

// matches returns the entries of every source whose key matches target, best first.
func (k Keychain) matches(target authn.Resource) []keyMatch {
	registryKey, err := imageref.RegistryKey(target.RegistryStr())
	if err != nil {
		return nil
	}
	repositoryPath := strings.TrimPrefix(target.String(), target.RegistryStr())

	var found []keyMatch
	for _, source := range k.sources {
		if source.Config == nil {
			continue
		}
		for _, entry := range source.Config.Entries() {
			host, keyPath, glob := splitKey(entry.Key)
			if !strings.HasPrefix(repositoryPath, keyPath) ||
				!hostMatches(host, glob, registryKey) {
				continue
			}
			found = append(found, keyMatch{entry: entry, source: source,
				pathLength: len(keyPath), glob: glob})
		}
	}
	// A stable sort keeps the order of the documents, and of keys in each, among equals.
	slices.SortStableFunc(found, func(a, b keyMatch) int {
		if a.pathLength != b.pathLength {
			return b.pathLength - a.pathLength
		}
		switch {
		case a.glob == b.glob:
			return 0
		case a.glob:
			return 1
		default:
			return -1
		}
	})
	return found
}

// splitKey splits a docker config key into its host, normalized as imageref.RegistryKey
// does, and its repository path, such as "/org" for "quay.io/org", as the kubelet reads
// keys: the scheme is dropped, a path starting with /v1/ or /v2/ loses that prefix, and "/"
// alone is no path. glob reports a host with glob characters.
func splitKey(key string) (host, keyPath string, glob bool) {
	rest := key
	if _, afterScheme, found := strings.Cut(key, "://"); found {
		rest = afterScheme
	}
	host, keyPath, hasPath := strings.Cut(rest, "/")
	if hasPath {
		keyPath = "/" + keyPath
		if strings.HasPrefix(keyPath, "/v1/") || strings.HasPrefix(keyPath, "/v2/") {
			keyPath = keyPath[3:]
		}
		if keyPath == "/" {
			keyPath = ""
		}
	}
	if normalized, err := imageref.RegistryKey(host); err == nil {
		host = normalized
	} else {
		host = strings.ToLower(host)
	}
	return host, keyPath, strings.ContainsAny(host, "*?[")
}

// hostMatches reports whether a key's host matches the registry key of an image: equal, or
// for a glob with the same port and number of labels, each label matched by path.Match.
func hostMatches(keyHost string, glob bool, registryKey string) bool {
	if !glob {
		return keyHost == registryKey
	}
	globName, globPort := splitPort(keyHost)
	targetName, targetPort := splitPort(registryKey)
	globLabels := strings.Split(globName, ".")
	targetLabels := strings.Split(targetName, ".")
	if globPort != targetPort || len(globLabels) != len(targetLabels) {
		return false
	}
	for i, label := range globLabels {
		if matched, err := path.Match(label, targetLabels[i]); err != nil || !matched {
			return false
		}
	}
	return true
}

// splitPort splits "host:port" into host and port, and returns host alone without a port.
func splitPort(host string) (name, port string) {
	if name, port, err := net.SplitHostPort(host); err == nil {
		return name, port
	}
	return host, ""
}

// find returns the best matching entry for target with a username or password, and its
// source.
func (k Keychain) find(target authn.Resource) (dockerconfig.AuthEntry, CredentialSource,
	bool) {
	for _, match := range k.matches(target) {
		if match.entry.Username != "" || match.entry.Password != "" {
			return match.entry, match.source, true
		}
	}
	return dockerconfig.AuthEntry{}, CredentialSource{}, false
}

// sourcesWithEmptyEntry returns the sources that have an entry for target, but one without
// a username and password, such as an entry with only an identity token.
func (k Keychain) sourcesWithEmptyEntry(target authn.Resource) []CredentialSource {
	var found []CredentialSource
	for _, match := range k.matches(target) {
		if match.entry.Username == "" && match.entry.Password == "" {
			found = append(found, match.source)
		}
	}
	return found
}

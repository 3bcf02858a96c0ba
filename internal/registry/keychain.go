// Package registry looks images up in container registries, with go-containerregistry and
// the credentials of docker config documents such as pull secrets. It imports no Terraform
// module.
package registry

import (
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

// CredentialSource is a docker config document and the place it came from.
type CredentialSource struct {
	// Name describes where the document came from, such as `Secret "team/robot"`, for error
	// messages. It must not contain a credential. Empty means a pull secret without a name.
	Name   string
	Config *dockerconfig.Config
}

// Keychain finds credentials in docker config documents, as the kubelet does with a pod's
// pull secrets: the first document with an entry for the image's registry wins, and an image
// without one is pulled anonymously.
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
	entry, _, found := k.find(target.RegistryStr())
	if !found {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: entry.Username, Password: entry.Password,
	}), nil
}

// find returns the first entry for registry with a username or password, and its source.
func (k Keychain) find(registry string) (dockerconfig.AuthEntry, CredentialSource, bool) {
	for _, source := range k.sources {
		if source.Config == nil {
			continue
		}
		entries, err := source.Config.Lookup(registry)
		if err != nil {
			continue
		}
		for _, entry := range entries {
			if entry.Username != "" || entry.Password != "" {
				return entry, source, true
			}
		}
	}
	return dockerconfig.AuthEntry{}, CredentialSource{}, false
}

// sourcesWithEmptyEntry returns the sources that have an entry for registry, but one without
// a username and password, such as an entry with only an identity token.
func (k Keychain) sourcesWithEmptyEntry(registry string) []CredentialSource {
	var found []CredentialSource
	for _, source := range k.sources {
		if source.Config == nil {
			continue
		}
		if entries, err := source.Config.Lookup(registry); err == nil && len(entries) > 0 {
			found = append(found, source)
		}
	}
	return found
}

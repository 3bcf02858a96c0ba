// Package registry looks images up in container registries, with go-containerregistry and
// the credentials of docker config documents such as pull secrets. It imports no Terraform
// module.
package registry

import (
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

// Keychain finds credentials in docker config documents, as the kubelet does with a pod's
// pull secrets: the first document with an entry for the image's registry wins, and an image
// without one is pulled anonymously.
type Keychain struct {
	configs []*dockerconfig.Config
}

// NewKeychain returns a Keychain over configs, tried in order.
func NewKeychain(configs ...*dockerconfig.Config) Keychain {
	return Keychain{configs: configs}
}

// Resolve implements authn.Keychain.
func (k Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	for _, config := range k.configs {
		entries, err := config.Lookup(target.RegistryStr())
		if err != nil {
			continue
		}
		for _, entry := range entries {
			if entry.Username != "" || entry.Password != "" {
				return authn.FromConfig(authn.AuthConfig{
					Username: entry.Username, Password: entry.Password,
				}), nil
			}
		}
	}
	return authn.Anonymous, nil
}

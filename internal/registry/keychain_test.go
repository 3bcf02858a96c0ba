package registry

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

// usernameFor returns the username that keychain gives for repository, or "" for anonymous.
func usernameFor(t *testing.T, keychain Keychain, repository string) string {
	t.Helper()
	target, err := name.NewRepository(repository)
	if err != nil {
		t.Fatal(err)
	}
	authenticator, err := keychain.Resolve(target)
	if err != nil {
		t.Fatal(err)
	}
	if authenticator == authn.Anonymous {
		return ""
	}
	config, err := authenticator.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return config.Username
}

func decodedConfig(t *testing.T, entries map[string]string) *dockerconfig.Config {
	t.Helper()
	var list []dockerconfig.Entry
	for key, user := range entries {
		list = append(list, dockerconfig.Entry{Server: key, Username: user, Password: "pw"})
	}
	document, err := dockerconfig.Encode(list)
	if err != nil {
		t.Fatal(err)
	}
	// Encode normalizes keys, so repository paths and globs are written in by hand.
	config, err := dockerconfig.Decode(document)
	if err != nil {
		t.Fatal(err)
	}
	return config
}

func rawConfig(t *testing.T, document string) *dockerconfig.Config {
	t.Helper()
	config, err := dockerconfig.Decode([]byte(document))
	if err != nil {
		t.Fatal(err)
	}
	return config
}

func TestKeychainRepositoryPathKeys(t *testing.T) {
	// "cm9vdDpwdw==" is root:pw, "b3JnOnB3" org:pw and "dGVhbTpwdw==" team:pw.
	keychain := NewKeychain(rawConfig(t, `{"auths":{
		"quay.io":{"auth":"cm9vdDpwdw=="},
		"quay.io/org":{"auth":"b3JnOnB3"},
		"https://quay.io/v2/org/team":{"auth":"dGVhbTpwdw=="}}}`))

	cases := map[string]string{
		"quay.io/org/team/app": "team",
		"quay.io/org/app":      "org",
		"quay.io/other/app":    "root",
		"quay.io/org":          "org",
	}
	for repository, want := range cases {
		if got := usernameFor(t, keychain, repository); got != want {
			t.Errorf("username for %s = %q, want %q", repository, got, want)
		}
	}
}

func TestKeychainGlobKeys(t *testing.T) {
	// "Z2xvYjpwdw==" is glob:pw and "ZXhhY3Q6cHc=" exact:pw.
	keychain := NewKeychain(rawConfig(t, `{"auths":{
		"*.example.com":{"auth":"Z2xvYjpwdw=="},
		"registry.example.com":{"auth":"ZXhhY3Q6cHc="},
		"*.example.com:5000":{"auth":"Z2xvYjpwdw=="}}}`))

	cases := map[string]string{
		"registry.example.com/app":      "exact",
		"mirror.example.com/app":        "glob",
		"mirror.example.com:5000/app":   "glob",
		"a.mirror.example.com/app":      "",
		"example.com/app":               "",
		"mirror.example.com:5001/app":   "",
		"registry.example.com:5000/app": "glob",
	}
	for repository, want := range cases {
		if got := usernameFor(t, keychain, repository); got != want {
			t.Errorf("username for %s = %q, want %q", repository, got, want)
		}
	}
}

func TestKeychainPathBeatsEarlierDocument(t *testing.T) {
	keychain := NewKeychain(
		decodedConfig(t, map[string]string{"quay.io": "first"}),
		rawConfig(t, `{"auths":{"quay.io/org":{"auth":"b3JnOnB3"}}}`))

	if got := usernameFor(t, keychain, "quay.io/org/app"); got != "org" {
		t.Errorf("username = %q, want the key with the longer path", got)
	}
	if got := usernameFor(t, keychain, "quay.io/else/app"); got != "first" {
		t.Errorf("username = %q, want the whole-registry key", got)
	}
}

package testregistry

import (
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"
)

// Names of the files and folders that Start writes in the registry directory.
const (
	caCertificateFile     = "ca.crt"
	serverCertificateFile = "server.crt"
	serverKeyFile         = "server.key"
	htpasswdFile          = "htpasswd"
	configFile            = "config.yml"
	storageDirectory      = "storage"
	logFile               = "registry.log"
)

// username is the one user the htpasswd file accepts.
const username = "imagedist"

// htpasswdRealm is the realm the registry names in its WWW-Authenticate challenge.
const htpasswdRealm = "imagedist-test-registry"

// writeCredentials writes the TLS files and an htpasswd entry for username with a new
// random password, and returns that password. Private keys are readable by the owner only.
func writeCredentials(dir string) (password string, err error) {
	credentials, err := newServerCredentials()
	if err != nil {
		return "", err
	}

	password = rand.Text()
	// The registry checks the bcrypt hash on every request, and a push makes dozens of
	// requests. The minimum cost keeps that check cheap, and this password guards a
	// throw-away registry on loopback only.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return "", fmt.Errorf("hashing the registry password: %w", err)
	}

	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{caCertificateFile, credentials.caCertificatePEM, 0o644},
		{serverCertificateFile, credentials.serverCertificatePEM, 0o644},
		{serverKeyFile, credentials.serverKeyPEM, 0o600},
		{htpasswdFile, []byte(username + ":" + string(hash) + "\n"), 0o600},
	}
	for _, file := range files {
		if err := os.WriteFile(filepath.Join(dir, file.name), file.data, file.mode); err != nil {
			return "", fmt.Errorf("writing %s: %w", file.name, err)
		}
	}
	return password, nil
}

// writeConfig writes the registry's configuration file for listening on 127.0.0.1:port and
// returns its path. The keys are those of the distribution v3 configuration reference.
func writeConfig(dir string, port int) (string, error) {
	config := map[string]any{
		"version": "0.1",
		"log": map[string]any{
			"level": "warn",
			// One access log line per request would bury the warnings in test output.
			"accesslog": map[string]any{"disabled": true},
		},
		"storage": map[string]any{
			"filesystem": map[string]any{
				"rootdirectory": filepath.Join(dir, storageDirectory),
			},
			"delete": map[string]any{"enabled": true},
		},
		"http": map[string]any{
			"addr": net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			// Without a secret the registry generates one and logs a warning about it.
			"secret": rand.Text(),
			"tls": map[string]any{
				"certificate": filepath.Join(dir, serverCertificateFile),
				"key":         filepath.Join(dir, serverKeyFile),
			},
		},
		"auth": map[string]any{
			"htpasswd": map[string]any{
				"realm": htpasswdRealm,
				"path":  filepath.Join(dir, htpasswdFile),
			},
		},
		"health": map[string]any{
			"storagedriver": map[string]any{"enabled": false},
		},
	}

	data, err := yaml.Marshal(config)
	if err != nil {
		return "", fmt.Errorf("encoding the registry configuration: %w", err)
	}
	path := filepath.Join(dir, configFile)
	// The file contains the HTTP secret, which signs upload state.
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", configFile, err)
	}
	return path, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagedist/terraform-provider-imagedist/internal/testregistry"
)

// Files and folders in the cluster directory for the demo registry.
const (
	registryDirectory = "registry"
	// registryEnvFile contains shell assignments of the registry's host, CA file, user name
	// and password file, for tools/demo.sh to source.
	registryEnvFile = "registry.env"
	// registryPasswordFile contains the password alone, readable by the owner only.
	registryPasswordFile = "registry.password"
)

// pushTimeout bounds pushing the demo images after the registry has started.
const pushTimeout = 2 * time.Minute

// demoNamespace is the registry namespace of the demo images, as
// examples/quickstart/main.tf names them.
const demoNamespace = "imagedist-demo"

// Sizes of the demo images. Their layers hold random data, which does not compress, so each
// download size comes out a little above layers times layer size: about 12 MiB for checkout
// and about 6 MiB for each platform of frontend.
const (
	checkoutLayers    = 4
	checkoutLayerSize = 3 << 20
	frontendLayerSize = 6 << 20
)

// frontendPlatforms are the platforms of the frontend index, which also lists a BuildKit
// attestation manifest for each of them.
var frontendPlatforms = []string{"linux/amd64", "linux/arm64"}

// startRegistry starts an empty registry in the cluster directory, pushes the images that
// the quickstart pre-pulls and writes registryEnvFile and registryPasswordFile. The caller
// stops the registry.
func startRegistry(ctx context.Context, dir string,
	logf func(format string, args ...any)) (*testregistry.Registry, error) {
	// The registry keeps its storage after Stop. Removing it makes each up start empty, as
	// the cluster itself does.
	registryDir := filepath.Join(dir, registryDirectory)
	if err := os.RemoveAll(registryDir); err != nil {
		return nil, fmt.Errorf("removing the previous registry storage: %w", err)
	}
	registry, err := testregistry.Start(ctx, testregistry.Options{Dir: registryDir, Logf: logf})
	if err != nil {
		return nil, fmt.Errorf("starting the registry: %w", err)
	}

	pushCtx, cancel := context.WithTimeout(ctx, pushTimeout)
	err = pushDemoImages(pushCtx, registry, logf)
	cancel()
	if err == nil {
		err = writeRegistryFiles(dir, registry)
	}
	if err != nil {
		return nil, errors.Join(err, registry.Stop())
	}
	return registry, nil
}

// pushDemoImages pushes a single-platform checkout image and a multi-platform frontend
// index with attestations.
func pushDemoImages(ctx context.Context, registry *testregistry.Registry,
	logf func(format string, args ...any)) error {
	repository := demoNamespace + "/checkout"
	digest, err := registry.PushRandom(ctx, repository, "2.4.1", checkoutLayers,
		checkoutLayerSize)
	if err != nil {
		return fmt.Errorf("pushing the demo image %s: %w", repository, err)
	}
	logf("devcluster: pushed %s/%s:2.4.1 (%s)", registry.Host, repository, digest)

	repository = demoNamespace + "/frontend"
	digest, err = registry.PushIndexWithLayerSize(ctx, repository, "5.2.0", frontendPlatforms,
		true, frontendLayerSize)
	if err != nil {
		return fmt.Errorf("pushing the demo index %s: %w", repository, err)
	}
	logf("devcluster: pushed %s/%s:5.2.0 (%s)", registry.Host, repository, digest)
	return nil
}

// writeRegistryFiles writes the password to registryPasswordFile with mode 0600, and the
// other values to registryEnvFile.
func writeRegistryFiles(dir string, registry *testregistry.Registry) error {
	passwordPath := filepath.Join(dir, registryPasswordFile)
	// os.WriteFile keeps the mode of an existing file, so a new file is created instead.
	if err := os.Remove(passwordPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the old registry password file: %w", err)
	}
	file, err := os.OpenFile(passwordPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the registry password file: %w", err)
	}
	_, err = file.WriteString(registry.Password)
	if err = errors.Join(err, file.Close()); err != nil {
		return fmt.Errorf("writing the registry password file: %w", err)
	}

	assignments := fmt.Sprintf("# The local registry beside the dev cluster, with the "+
		"quickstart's images. It stops with the cluster.\n# Source this file in a shell; the "+
		"password is in the file that registry_password_file names.\n"+
		"registry_host=%s\nregistry_ca_file=%s\nregistry_username=%s\n"+
		"registry_password_file=%s\n",
		shellQuote(registry.Host), shellQuote(registry.CAFile), shellQuote(registry.Username),
		shellQuote(passwordPath))
	if err := os.WriteFile(filepath.Join(dir, registryEnvFile), []byte(assignments),
		0o644); err != nil {
		return fmt.Errorf("writing %s: %w", registryEnvFile, err)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell: it wraps s in single quotes and writes each single
// quote inside s as a closing quote, an escaped quote and an opening quote.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

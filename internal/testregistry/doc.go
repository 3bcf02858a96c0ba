// Package testregistry runs a distribution registry (github.com/distribution/distribution/v3,
// the program behind the registry:2 image) on 127.0.0.1 for tests. Each registry serves TLS
// with a certificate from its own throw-away CA, accepts one htpasswd user with a random
// password, and stores blobs on the local file system. Push helpers write the kinds of images
// the provider must handle: single-platform images, scratch images and multi-platform
// indexes with BuildKit-style attestation entries.
//
// The registry binary comes from the IMAGEDIST_REGISTRY environment variable when it is set,
// else from `tools/build.sh path registry`, which builds it on first use.
//
// Only tests and the demo import this package; provider code never does.
package testregistry

// Package imageref parses container image references and normalizes registry servers into the
// keys that pull secrets use.
//
// Reference parsing follows the grammar of github.com/distribution/reference, the package that
// the Docker CLI, containerd and the kubelet use. The registry key rules follow the kubelet's
// credential keyring (k8s.io/kubernetes pkg/credentialprovider, v1.37.2), so a key built here is
// one the kubelet finds when it pulls an image from that registry.
//
// The package imports only the standard library, so it has no Terraform dependency.
package imageref

// Package dockerconfig builds, parses and edits the registry credential documents that
// Kubernetes pull secrets contain: ".dockerconfigjson" ({"auths": {KEY: {...}}}, Secret type
// kubernetes.io/dockerconfigjson) and the older ".dockercfg" ({KEY: {...}}, Secret type
// kubernetes.io/dockercfg).
//
// Keys are registry keys from imageref.RegistryKey. Encoded output matches what
// `kubectl create secret docker-registry` writes for the same key. Edits through Config change
// only the bytes of the entry concerned, so entries that other controllers or users own stay
// byte-for-byte as they were.
//
// No error message, String, GoString or fmt verb output of this package's types contains a
// password, an "auth" value or an unknown entry field, because any of those may be a
// credential.
package dockerconfig

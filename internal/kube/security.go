package kube

import (
	"strings"

	"k8s.io/client-go/rest"
)

// UnverifiedConnection returns why requests to the API server would not be protected by
// verified TLS, or "" when they are. It reports a kubeconfig cluster with
// insecure-skip-tls-verify and a server address with plain HTTP, whichever setting chose
// them. It reads files but sends nothing, and returns "" for settings with problems, which
// Check reports.
func (c Config) UnverifiedConnection() string {
	config, _, problems := c.build()
	if len(problems) > 0 || config == nil {
		return ""
	}
	// client-go picks plain HTTP for a kubeconfig server without a scheme when the cluster
	// has no CA and the user no client certificate, so the scheme it uses is what counts.
	server, _, err := rest.DefaultServerUrlFor(config)
	switch {
	case err == nil && strings.EqualFold(server.Scheme, "http"):
		return "the API server address " + displayURL(config.Host) + " uses plain HTTP, " +
			"so requests, credentials included, travel unencrypted"
	case config.Insecure:
		return "the provider does not verify the API server's certificate " +
			"(insecure-skip-tls-verify), so a machine in the network path could read and " +
			"change what the provider sends, credentials included"
	}
	return ""
}

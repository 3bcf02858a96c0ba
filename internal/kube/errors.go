package kube

import (
	"fmt"
	"strings"
)

// Provider attribute names that a SettingError can point at. They follow the
// hashicorp/kubernetes provider. Attributes of the exec block are written with a dot.
const (
	AttributeHost                  = "host"
	AttributeUsername              = "username"
	AttributePassword              = "password"
	AttributeToken                 = "token"
	AttributeClientCertificate     = "client_certificate"
	AttributeClientKey             = "client_key"
	AttributeClusterCACertificate  = "cluster_ca_certificate"
	AttributeInsecure              = "insecure"
	AttributeTLSServerName         = "tls_server_name"
	AttributeProxyURL              = "proxy_url"
	AttributeConfigPath            = "config_path"
	AttributeConfigPaths           = "config_paths"
	AttributeConfigContext         = "config_context"
	AttributeConfigContextAuthInfo = "config_context_auth_info"
	AttributeConfigContextCluster  = "config_context_cluster"
	AttributeExec                  = "exec"
	AttributeExecAPIVersion        = "exec.api_version"
	AttributeExecCommand           = "exec.command"
	AttributeExecEnv               = "exec.env"
)

// SettingError is a problem with one setting, found without contacting the cluster.
type SettingError struct {
	// Attribute is the provider attribute name, such as "config_path" or "exec.command".
	// It is empty when the problem belongs to the connection settings as a whole.
	Attribute string
	// Summary is a short Title Case headline, such as "Unknown Kubeconfig Context".
	Summary string
	// Detail explains what is wrong and what to do. It never contains a credential.
	Detail string
	// NoCluster marks the problem that the settings name no cluster at all: no host, no
	// kubeconfig file and no in-cluster service account. Operations that need no cluster,
	// such as image look-ups from a registry, still work then.
	NoCluster bool
}

// OnlyNoCluster reports whether problems consists of the NoCluster problem alone.
func OnlyNoCluster(problems []SettingError) bool {
	return len(problems) == 1 && problems[0].NoCluster
}

// Error formats the problem on one line, prefixed with its attribute when it has one.
func (e SettingError) Error() string {
	if e.Attribute == "" {
		return e.Summary + ": " + e.Detail
	}
	return e.Attribute + ": " + e.Summary + ": " + e.Detail
}

// SettingErrors is the error that RESTConfig and Clients return when Check finds problems.
// Use errors.As to get the individual problems and map each onto its attribute.
type SettingErrors []SettingError

// Error lists every problem, one per line.
func (errs SettingErrors) Error() string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return "invalid cluster connection settings:\n" + strings.Join(lines, "\n")
}

// UnknownSettingsError is returned by every method of Clients made with NewDeferredClients:
// the operation needs the cluster, but some connection settings are not known until apply.
type UnknownSettingsError struct {
	// Attributes are the provider attribute names whose values are unknown.
	Attributes []string
}

// Error names the unknown attributes and what the user can do about them.
func (e *UnknownSettingsError) Error() string {
	names := "some provider attributes"
	if len(e.Attributes) > 0 {
		names = "provider attributes " + strings.Join(e.Attributes, ", ")
	}
	return fmt.Sprintf("this operation needs a connection to the cluster, but %s "+
		"will only be known during apply. Apply the resources that produce those values "+
		"first (for example with -target), or configure the provider with values known "+
		"at plan time.", names)
}

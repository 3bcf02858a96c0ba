package kube

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// supportedExecAPIVersions are the ExecCredential versions that client-go v0.37.2 accepts.
var supportedExecAPIVersions = []string{
	"client.authentication.k8s.io/v1",
	"client.authentication.k8s.io/v1beta1",
}

// checkAttributes validates the explicit attributes on their own, before any file is read.
func (c Config) checkAttributes() []SettingError {
	var problems []SettingError
	problems = append(problems, c.checkHost()...)
	problems = append(problems, c.checkProxyURL()...)
	problems = append(problems, c.checkCredentials()...)
	problems = append(problems, c.checkCertificates()...)
	problems = append(problems, c.checkExec()...)
	problems = append(problems, c.checkContextWithoutKubeconfig()...)
	problems = append(problems, c.checkTLSServerName()...)
	return problems
}

// checkTLSServerName rejects a tls_server_name that no certificate can be valid for, which
// would otherwise fail only in the TLS handshake of the first request.
func (c Config) checkTLSServerName() []SettingError {
	name := strings.TrimSuffix(c.TLSServerName, ".")
	if name == "" || net.ParseIP(name) != nil ||
		len(validation.IsDNS1123Subdomain(strings.ToLower(name))) == 0 {
		return nil
	}
	return []SettingError{{
		Attribute: AttributeTLSServerName,
		Summary:   "Invalid TLS Server Name",
		Detail: "tls_server_name is neither a DNS name nor an IP address, so no server " +
			"certificate can match it. Set it to a name in the API server's certificate, " +
			"such as kubernetes.default.svc.",
	}}
}

func (c Config) checkCredentials() []SettingError {
	var problems []SettingError
	hasCertificate := c.ClientCertificate != "" || c.ClientKey != ""
	hasBasicAuth := c.Username != "" || c.Password != ""

	if reason := tokenProblem(c.Token); reason != "" {
		problems = append(problems, SettingError{
			Attribute: AttributeToken,
			Summary:   "Invalid Token",
			Detail: "The token is invalid: " + reason + ". When reading it from a file, " +
				"wrap it in trimspace(), and check that the file holds only the token.",
		})
	}
	if c.Token != "" && hasCertificate {
		problems = append(problems, conflict(AttributeToken,
			"token and client_certificate/client_key are both set, so the identity the "+
				"provider uses would be ambiguous. Set only one of them."))
	}
	if c.Token != "" && hasBasicAuth {
		problems = append(problems, conflict(AttributeToken,
			"token and username/password are both set, and client-go rejects a bearer "+
				"token together with basic authentication. Set only one of them."))
	}
	if c.Exec != nil && (c.Token != "" || hasCertificate || hasBasicAuth) {
		problems = append(problems, conflict(AttributeExec,
			"The exec block and token, client_certificate, client_key, username or "+
				"password are set together, so the credentials used would be ambiguous. "+
				"Use either the exec block or the other credentials."))
	}

	problems = append(problems, missingPartner(c.ClientCertificate, c.ClientKey,
		AttributeClientKey, "Missing Client Key",
		"client_certificate is set without client_key. Set client_key to the "+
			"certificate's PEM-encoded private key.")...)
	problems = append(problems, missingPartner(c.ClientKey, c.ClientCertificate,
		AttributeClientCertificate, "Missing Client Certificate",
		"client_key is set without client_certificate. Set client_certificate to the "+
			"PEM-encoded certificate of that key.")...)
	problems = append(problems, missingPartner(c.Username, c.Password,
		AttributePassword, "Missing Password",
		"username is set without password. Basic authentication needs both.")...)
	problems = append(problems, missingPartner(c.Password, c.Username,
		AttributeUsername, "Missing Username",
		"password is set without username. Basic authentication needs both.")...)

	if c.Insecure && c.ClusterCACertificate != "" {
		problems = append(problems, SettingError{
			Attribute: AttributeInsecure,
			Summary:   "Conflicting TLS Settings",
			Detail: "insecure = true turns off verification of the server certificate, " +
				"while cluster_ca_certificate sets the CA to verify it with, and client-go " +
				"rejects the combination. Remove insecure, or remove cluster_ca_certificate.",
		})
	}
	return problems
}

func conflict(attribute, detail string) SettingError {
	return SettingError{Attribute: attribute, Summary: "Conflicting Credentials", Detail: detail}
}

// missingPartner reports a problem when present is set and partner is not.
func missingPartner(present, partner, attribute, summary, detail string) []SettingError {
	if present == "" || partner != "" {
		return nil
	}
	return []SettingError{{Attribute: attribute, Summary: summary, Detail: detail}}
}

func (c Config) checkCertificates() []SettingError {
	var problems []SettingError
	certificateValid := false

	if c.ClientCertificate != "" {
		if reason := certificateProblem(c.ClientCertificate, true); reason != "" {
			problems = append(problems, invalidPEM(AttributeClientCertificate,
				"Invalid Client Certificate", "client_certificate", reason))
		} else {
			certificateValid = true
		}
	}
	if c.ClusterCACertificate != "" {
		if reason := certificateProblem(c.ClusterCACertificate, true); reason != "" {
			problems = append(problems, invalidPEM(AttributeClusterCACertificate,
				"Invalid Cluster CA Certificate", "cluster_ca_certificate", reason))
		}
	}
	if c.ClientKey == "" {
		return problems
	}

	if reason := privateKeyProblem(c.ClientKey, true); reason != "" {
		return append(problems, invalidPEM(AttributeClientKey,
			"Invalid Client Key", "client_key", reason))
	}
	if !certificateValid {
		return problems
	}
	if _, err := tls.X509KeyPair([]byte(c.ClientCertificate), []byte(c.ClientKey)); err != nil {
		problems = append(problems, SettingError{
			Attribute: AttributeClientKey,
			Summary:   "Mismatched Client Key",
			Detail: "client_key is not the private key of client_certificate. Set both from " +
				"the same kubeconfig user or certificate request.",
		})
	}
	return problems
}

func invalidPEM(attribute, summary, name, reason string) SettingError {
	return SettingError{
		Attribute: attribute,
		Summary:   summary,
		Detail:    fmt.Sprintf("%s is invalid: %s.", name, reason),
	}
}

// certificateProblem returns why a PEM certificate bundle is unusable, or "" when every
// CERTIFICATE block parses. Blocks of other types are skipped, as client-go skips them.
// attributeHints adds fixes that apply to a provider attribute, such as file().
func certificateProblem(value string, attributeHints bool) string {
	remaining := []byte(value)
	count := 0
	sawPrivateKey := false
	for {
		block, rest := pem.Decode(remaining)
		if block == nil {
			break
		}
		remaining = rest
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			sawPrivateKey = true
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		count++
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Sprintf("certificate %d of the PEM text cannot be parsed (%v)", count, err)
		}
	}

	switch {
	case count > 0:
		return ""
	case sawPrivateKey:
		return "it contains a private key where a certificate was expected"
	default:
		return "it contains no PEM-encoded certificate. " +
			pemHint(value, "-----BEGIN CERTIFICATE-----", attributeHints)
	}
}

// privateKeyProblem returns why a PEM private key is unusable, or "". The text never
// includes any part of the key. attributeHints is as for certificateProblem.
func privateKeyProblem(value string, attributeHints bool) string {
	remaining := []byte(value)
	for {
		block, rest := pem.Decode(remaining)
		if block == nil {
			return "it contains no PEM-encoded private key. " +
				pemHint(value, "-----BEGIN PRIVATE KEY-----", attributeHints)
		}
		remaining = rest
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return "the private key is encrypted, and client-go needs an unencrypted key"
		}
		if parsesAsPrivateKey(block.Bytes) {
			return ""
		}
		return fmt.Sprintf("the %s block cannot be parsed as a PKCS #8, PKCS #1 or "+
			"SEC 1 (EC) private key", block.Type)
	}
}

func parsesAsPrivateKey(der []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(der)
	return err == nil
}

// pemHint suggests the usual fix for a value that is not PEM text, without quoting it.
func pemHint(value, expectedHeader string, attributeHints bool) string {
	if !attributeHints {
		return "Expected PEM text that starts with " + expectedHeader
	}
	compact := strings.Join(strings.Fields(value), "")
	if decoded, err := base64.StdEncoding.DecodeString(compact); err == nil &&
		strings.Contains(string(decoded), "-----BEGIN") {
		return "The value is base64-encoded PEM. Decode it with base64decode()"
	}
	if !strings.Contains(value, "\n") && strings.ContainsAny(value, `/\`) {
		return "The value looks like a file path. Pass the file's contents with file()"
	}
	return "Expected PEM text that starts with " + expectedHeader
}

func (c Config) checkExec() []SettingError {
	if c.Exec == nil {
		return nil
	}

	var problems []SettingError
	if c.Exec.Command == "" {
		problems = append(problems, SettingError{
			Attribute: AttributeExecCommand,
			Summary:   "Missing Exec Command",
			Detail: "The exec block has no command. Set command to the credential plugin " +
				"to run, such as aws or kubelogin.",
		})
	}
	problems = append(problems, checkExecAPIVersion(c.Exec.APIVersion)...)

	names := make([]string, 0, len(c.Exec.Env))
	for name := range c.Exec.Env {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			problems = append(problems, SettingError{
				Attribute: AttributeExecEnv,
				Summary:   "Invalid Exec Environment Variable",
				Detail: fmt.Sprintf("The exec env name %q is not a valid environment "+
					"variable name: it is empty or contains \"=\" or a NUL byte.", name),
			})
		}
	}
	return problems
}

func checkExecAPIVersion(version string) []SettingError {
	supported := strings.Join(supportedExecAPIVersions, " or ")
	if version == "" {
		return []SettingError{{
			Attribute: AttributeExecAPIVersion,
			Summary:   "Missing Exec API Version",
			Detail: "The exec block has no api_version. Set it to the ExecCredential " +
				"version that the plugin speaks: " + supported + ".",
		}}
	}
	for _, known := range supportedExecAPIVersions {
		if version == known {
			return nil
		}
	}
	return []SettingError{{
		Attribute: AttributeExecAPIVersion,
		Summary:   "Unsupported Exec API Version",
		Detail: fmt.Sprintf("The exec api_version %q is not supported. client-go accepts "+
			"%s.", version, supported),
	}}
}

// checkContextWithoutKubeconfig rejects kubeconfig selectors when there is no kubeconfig,
// because client-go would fail to find the named context, user or cluster anyway.
func (c Config) checkContextWithoutKubeconfig() []SettingError {
	if len(c.ConfigPaths) > 0 {
		return nil
	}

	var problems []SettingError
	selectors := []struct{ attribute, value string }{
		{AttributeConfigContext, c.ConfigContext},
		{AttributeConfigContextAuthInfo, c.ConfigContextAuthInfo},
		{AttributeConfigContextCluster, c.ConfigContextCluster},
	}
	for _, selector := range selectors {
		if selector.value == "" {
			continue
		}
		problems = append(problems, SettingError{
			Attribute: selector.attribute,
			Summary:   "Kubeconfig Not Set",
			Detail: fmt.Sprintf("%s selects from a kubeconfig, but neither config_path nor "+
				"config_paths is set. Set config_path to the kubeconfig file, or remove %s.",
				selector.attribute, selector.attribute),
		})
	}
	return problems
}

package kube

import (
	"crypto/tls"
	"fmt"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// resolvedSettings are the cluster and user that client-go will use from a kubeconfig or
// from the in-cluster configuration, after dropUserCredentials and before the explicit
// attributes are laid over them.
type resolvedSettings struct {
	// attribute receives the problems found here.
	attribute string
	// cluster and user are nil when the selection names none.
	cluster *clientcmdapi.Cluster
	user    *clientcmdapi.AuthInfo
	// clusterName and userName describe them in messages, such as `cluster "prod"`.
	clusterName, userName string
}

// checkResolved finds, without network I/O, the problems that client-go would otherwise find
// only when it builds the client or sends the first request. These are an invalid server or
// proxy URL, files that cannot be read or are not PEM, and values that cannot be sent in an
// HTTP header. It reads each file that client-go will read through readFile first, so that
// client-go never meets a FIFO, a device or an oversized file, and it registers the
// credentials in them for redaction.
func (c Config) checkResolved(settings resolvedSettings, secrets *redactor) []SettingError {
	var problems []SettingError
	if settings.cluster != nil {
		where := describeEntry(settings.clusterName, settings.cluster.LocationOfOrigin)
		problems = append(problems, c.checkResolvedCluster(settings.cluster, where,
			settings.attribute)...)
	}
	if settings.user != nil {
		where := describeEntry(settings.userName, settings.user.LocationOfOrigin)
		problems = append(problems, checkResolvedUser(settings.user, where,
			settings.attribute, secrets)...)
	}
	return problems
}

func describeEntry(name, file string) string {
	if file == "" {
		return name
	}
	return name + " in kubeconfig file " + file
}

func (c Config) checkResolvedCluster(
	cluster *clientcmdapi.Cluster, where, attribute string,
) []SettingError {
	var problems []SettingError

	// host replaces the server, and selectCluster reports a missing one.
	if c.Host == "" && cluster.Server != "" {
		if reason := serverProblem(cluster.Server); reason != "" {
			problems = append(problems, SettingError{
				Attribute: attribute,
				Summary:   "Invalid Cluster Address",
				Detail: fmt.Sprintf("The server %s of %s is invalid: %s. Correct the server "+
					"there, or set host to the API server URL.", displayURL(cluster.Server),
					where, reason),
			})
		}
	}

	if c.ProxyURL == "" && cluster.ProxyURL != "" {
		if reason := proxyProblem(cluster.ProxyURL); reason != "" {
			problems = append(problems, SettingError{
				Attribute: attribute,
				Summary:   "Invalid Proxy URL",
				Detail: fmt.Sprintf("The proxy-url %s of %s is invalid: %s. Correct it there "+
					"to a URL such as http://proxy.example.com:3128, or set proxy_url to "+
					"override it.", displayURL(cluster.ProxyURL), where, reason),
			})
		}
	}

	// insecure and cluster_ca_certificate each replace the cluster's CA, as in clientcmd.
	// client-go checks that the file is PEM itself when it builds the client.
	if cluster.CertificateAuthority != "" && !c.Insecure && c.ClusterCACertificate == "" {
		if _, err := readFile(cluster.CertificateAuthority); err != nil {
			problems = append(problems, SettingError{
				Attribute: attribute,
				Summary:   "Unreadable Cluster CA Certificate",
				Detail: fmt.Sprintf("Cannot read the certificate-authority file %s of %s: %v. "+
					"Correct the path there, or set cluster_ca_certificate.",
					cluster.CertificateAuthority, where, err),
			})
		}
	}
	return problems
}

func checkResolvedUser(
	user *clientcmdapi.AuthInfo, where, attribute string, secrets *redactor,
) []SettingError {
	var problems []SettingError
	if reason := tokenProblem(user.Token); reason != "" {
		problems = append(problems, SettingError{
			Attribute: attribute,
			Summary:   "Invalid Token",
			Detail: fmt.Sprintf("The token of %s is invalid: %s. Correct the token there, "+
				"or set token.", where, reason),
		})
	}
	if user.TokenFile != "" {
		problems = append(problems, checkTokenFileContent(user.TokenFile, where, attribute,
			secrets)...)
	}
	problems = append(problems, checkClientKeyPair(user, where, attribute, secrets)...)
	problems = append(problems, checkImpersonation(user, where, attribute)...)
	return problems
}

// tokenProblem returns why token cannot be sent as a bearer token, or "".
func tokenProblem(token string) string {
	for _, r := range token {
		switch {
		case r == ' ' || r == '\t' || r == '\r' || r == '\n':
			return "it contains whitespace or a line break, which a bearer token cannot contain"
		case r < 0x20 || r == 0x7f:
			return "it contains a control character, which an HTTP Authorization header " +
				"cannot carry"
		}
	}
	return ""
}

// headerValueProblem returns why value cannot be an HTTP header value, or "". Go's HTTP
// client rejects control characters other than tab.
func headerValueProblem(value string) string {
	for _, r := range value {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return "it contains a line break or control character, which an HTTP header " +
				"cannot carry"
		}
	}
	return ""
}

// checkTokenFileContent reads a token file as client-go will, which trims surrounding
// whitespace from it.
func checkTokenFileContent(path, where, attribute string, secrets *redactor) []SettingError {
	data, err := readFile(path)
	token := strings.TrimSpace(string(data))
	secrets.add(token)

	reason := ""
	switch {
	case err != nil:
		reason = fmt.Sprintf("it cannot be read: %v", err)
	case token == "":
		reason = "it is empty"
	default:
		reason = tokenProblem(token)
	}
	if reason == "" {
		return nil
	}
	return []SettingError{{
		Attribute: attribute,
		Summary:   "Invalid Token File",
		Detail: fmt.Sprintf("The token file %s of %s is invalid: %s. Correct the file or "+
			"the path there, or set token.", path, where, reason),
	}}
}

// checkClientKeyPair checks the client certificate and key of a kubeconfig user. client-go
// checks embedded data when it builds the client, but it loads files only during the first
// TLS handshake, so a file that is not PEM would fail every request instead of the plan.
func checkClientKeyPair(
	user *clientcmdapi.AuthInfo, where, attribute string, secrets *redactor,
) []SettingError {
	certificate, certificateName, certificateUnreadable := credentialSource(
		user.ClientCertificateData, user.ClientCertificate, "client-certificate", where, attribute)
	key, keyName, keyUnreadable := credentialSource(
		user.ClientKeyData, user.ClientKey, "client-key", where, attribute)
	secrets.add(key)

	var problems []SettingError
	if certificateUnreadable != nil {
		problems = append(problems, *certificateUnreadable)
	}
	if keyUnreadable != nil {
		problems = append(problems, *keyUnreadable)
	}
	// clientcmd reports a certificate without a key, or a key without a certificate.
	if len(problems) > 0 || certificate == "" || key == "" {
		return problems
	}

	invalid := func(summary, name, reason string) SettingError {
		return SettingError{
			Attribute: attribute,
			Summary:   summary,
			Detail: fmt.Sprintf("The %s of %s is invalid: %s. Correct it there, or set "+
				"client_certificate and client_key.", name, where, reason),
		}
	}
	if reason := certificateProblem(certificate, false); reason != "" {
		problems = append(problems, invalid("Invalid Client Certificate", certificateName, reason))
	}
	if reason := privateKeyProblem(key, false); reason != "" {
		problems = append(problems, invalid("Invalid Client Key", keyName, reason))
	}
	if len(problems) > 0 {
		return problems
	}
	if _, err := tls.X509KeyPair([]byte(certificate), []byte(key)); err != nil {
		problems = append(problems, SettingError{
			Attribute: attribute,
			Summary:   "Mismatched Client Key",
			Detail: fmt.Sprintf("The %s of %s is not the private key of its %s. Set both "+
				"from the same certificate request.", keyName, where, certificateName),
		})
	}
	return problems
}

// credentialSource returns embedded data, or else the content of the file, with a name for
// messages such as "client-key file /path". Embedded data wins, as in client-go.
func credentialSource(
	data []byte, path, field, where, attribute string,
) (string, string, *SettingError) {
	if len(data) > 0 {
		return string(data), field + "-data", nil
	}
	if path == "" {
		return "", "", nil
	}
	name := field + " file " + path
	content, err := readFile(path)
	if err != nil {
		return "", name, &SettingError{
			Attribute: attribute,
			Summary:   "Unreadable Kubeconfig Credential File",
			Detail: fmt.Sprintf("Cannot read the %s of %s: %v. Correct the path there.",
				name, where, err),
		}
	}
	return string(content), name, nil
}

// checkImpersonation checks the values that client-go sends as Impersonate-* headers.
func checkImpersonation(user *clientcmdapi.AuthInfo, where, attribute string) []SettingError {
	values := []struct{ field, value string }{
		{"as", user.Impersonate},
		{"as-uid", user.ImpersonateUID},
	}
	for _, group := range user.ImpersonateGroups {
		values = append(values, struct{ field, value string }{"as-groups", group})
	}
	for _, extra := range user.ImpersonateUserExtra {
		for _, value := range extra {
			values = append(values, struct{ field, value string }{"as-user-extra", value})
		}
	}

	for _, entry := range values {
		if reason := headerValueProblem(entry.value); reason != "" {
			return []SettingError{{
				Attribute: attribute,
				Summary:   "Invalid Impersonation Setting",
				Detail: fmt.Sprintf("The %s value of %s is invalid: %s. Correct it there.",
					entry.field, where, reason),
			}}
		}
	}
	return nil
}

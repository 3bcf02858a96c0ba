package kube

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// kubeconfigWithUser returns a kubeconfig whose only context uses a cluster on a closed
// loopback port and a user with the given YAML fields, each indented under "user:".
func kubeconfigWithUser(userFields string) string {
	return "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n" +
		"  cluster:\n    server: https://127.0.0.1:16443\n    insecure-skip-tls-verify: true\n" +
		"users:\n- name: u\n  user:\n" + userFields +
		"contexts:\n- name: c\n  context: {cluster: c, user: u}\n"
}

func TestCheckKubeconfigServer(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, server, reason string
	}{
		{"bad escape with password", "https://admin:KCSERVERpw-5150@127.0.0.1:34829/%zz",
			"percent-encoding"},
		{"password", "https://admin:KCSERVERpw-5150@127.0.0.1:34829", "credentials"},
		{"bad escape", "https://127.0.0.1:34829/%zz", "percent-encoding"},
		{"port out of range", "https://127.0.0.1:99999", "between 1 and 65535"},
		{"fragment", "https://127.0.0.1:6443#x", "fragment"},
		{"scheme", "ftp://127.0.0.1:21", `"ftp"`},
		{"unparsable port", "https://127.0.0.1:port", "invalid port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-"),
				kubeconfigWithCluster(tc.server, ""))
			config := Config{ConfigPaths: []string{path}}

			problem := onlyProblem(t, config.Check(), AttributeConfigPath, "Invalid Cluster Address")
			requireContains(t, problem.Detail, tc.reason, `cluster "c"`, path, "set host")
			if strings.Contains(problem.Detail, "KCSERVERpw") {
				t.Errorf("detail contains the server's password: %s", problem.Detail)
			}

			// The same problem stops RESTConfig and Clients, before any request.
			if _, err := config.RESTConfig(); err == nil {
				t.Errorf("RESTConfig() succeeded")
			}
			_, err := NewClients(config, "test").Kubernetes()
			var settingErrors SettingErrors
			if !errors.As(err, &settingErrors) {
				t.Errorf("Kubernetes() error %v is not SettingErrors", err)
			}

			// With several files the problem is on config_paths, and host replaces the server.
			other := writeFile(t, dir, "other-"+strings.ReplaceAll(tc.name, " ", "-"),
				secondaryKubeconfig())
			several := Config{ConfigPaths: []string{path, other}}
			onlyProblem(t, several.Check(), AttributeConfigPaths, "Invalid Cluster Address")
			requireNoProblems(t, Config{ConfigPaths: []string{path}, Host: alphaServer})
		})
	}
}

func TestCheckKubeconfigClientCertificateFiles(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	certFile := writeFile(t, dir, "client.crt", pki.certPEM)
	keyFile := writeFile(t, dir, "client.key", pki.keyPEM)
	otherKeyFile := writeFile(t, dir, "other.key", pki.otherKeyPEM)
	notPEM := writeFile(t, dir, "not-pem", "not PEM at all "+secretKubeToken+"\n")
	files := func(cert, key string) string {
		return "    client-certificate: " + cert + "\n    client-key: " + key + "\n"
	}

	cases := []struct {
		name, userFields, summary string
		detail                    []string
	}{
		{"certificate not PEM", files(notPEM, keyFile), "Invalid Client Certificate",
			[]string{"client-certificate file " + notPEM, "-----BEGIN CERTIFICATE-----"}},
		{"key not PEM", files(certFile, notPEM), "Invalid Client Key",
			[]string{"client-key file " + notPEM, "-----BEGIN PRIVATE KEY-----"}},
		{"key of another certificate", files(certFile, otherKeyFile), "Mismatched Client Key",
			[]string{"client-key file " + otherKeyFile}},
		{"certificate file is a key", files(keyFile, keyFile), "Invalid Client Certificate",
			[]string{"private key"}},
		{"key file missing", files(certFile, filepath.Join(dir, "absent.key")),
			"Unreadable Kubeconfig Credential File", []string{"absent.key", "no such file"}},
		{"key file is a directory", files(certFile, dir),
			"Unreadable Kubeconfig Credential File", []string{"is a directory"}},
		{"certificate data not PEM", "    client-certificate-data: " + b64("junk") + "\n" +
			"    client-key: " + keyFile + "\n", "Invalid Client Certificate",
			[]string{"client-certificate-data"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-"),
				kubeconfigWithUser(tc.userFields))

			problem := onlyProblem(t, Config{ConfigPaths: []string{path}}.Check(),
				AttributeConfigPath, tc.summary)
			requireContains(t, problem.Detail, append(tc.detail, `user "u"`, path)...)
			for _, secret := range []string{secretKubeToken, pki.keyPEM, "PRIVATE KEY-----\n"} {
				if strings.Contains(problem.Detail, secret) {
					t.Errorf("detail quotes file content: %s", problem.Detail)
				}
			}

			// Explicit credentials replace the kubeconfig user's, so its files are not used.
			requireNoProblems(t, Config{ConfigPaths: []string{path}, Token: secretToken})
		})
	}

	valid := writeFile(t, dir, "valid", kubeconfigWithUser(files(certFile, keyFile)))
	restConfig := mustRESTConfig(t, Config{ConfigPaths: []string{valid}})
	if restConfig.CertFile != certFile || restConfig.KeyFile != keyFile {
		t.Errorf("CertFile/KeyFile = %q/%q, want the files, which client-go reloads",
			restConfig.CertFile, restConfig.KeyFile)
	}
}

func TestCheckTokenControlCharacters(t *testing.T) {
	for _, token := range []string{"ab\x01cdef", "abc\x00def", "abc\x7fdef", "abc\x1bdef"} {
		problem := onlyProblem(t, Config{Host: "https://127.0.0.1:16443", Token: token}.Check(),
			AttributeToken, "Invalid Token")
		requireContains(t, problem.Detail, "control character")
	}

	dir := t.TempDir()
	cases := map[string]string{
		"control character": `    token: "ab\x01cdef-` + secretKubeToken + `"` + "\n",
		"line break":        `    token: "` + secretKubeToken + `\n"` + "\n",
	}
	for name, userFields := range cases {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(name, " ", "-"),
				kubeconfigWithUser(userFields))
			problem := onlyProblem(t, Config{ConfigPaths: []string{path}}.Check(),
				AttributeConfigPath, "Invalid Token")
			requireContains(t, problem.Detail, `user "u"`, path)
			if strings.Contains(problem.Detail, secretKubeToken) {
				t.Errorf("detail contains the token: %s", problem.Detail)
			}
		})
	}
}

func TestCheckKubeconfigTokenFile(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		content, reason string
	}{
		"empty":             {"  \n", "is empty"},
		"control character": {"ab\x01cd-" + secretKubeToken + "\n", "control character"},
		"inner line break":  {secretKubeToken + "\nsecond-line\n", "whitespace"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tokenFile := writeFile(t, dir, strings.ReplaceAll(name, " ", "-")+".token", tc.content)
			path := writeFile(t, dir, strings.ReplaceAll(name, " ", "-"),
				kubeconfigWithUser("    tokenFile: "+tokenFile+"\n"))

			problem := onlyProblem(t, Config{ConfigPaths: []string{path}}.Check(),
				AttributeConfigPath, "Invalid Token File")
			requireContains(t, problem.Detail, tc.reason, tokenFile, `user "u"`)
			if strings.Contains(problem.Detail, secretKubeToken) {
				t.Errorf("detail contains the token: %s", problem.Detail)
			}
		})
	}

	// client-go trims the token file, so a trailing line break is fine.
	tokenFile := writeFile(t, dir, "good.token", secretKubeToken+"\n")
	path := writeFile(t, dir, "good", kubeconfigWithUser("    tokenFile: "+tokenFile+"\n"))
	requireNoProblems(t, Config{ConfigPaths: []string{path}})
}

func TestCheckKubeconfigImpersonation(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config",
		kubeconfigWithUser("    token: abcd\n    as: \"admin\\nX-Injected: 1\"\n"))

	problem := onlyProblem(t, Config{ConfigPaths: []string{path}}.Check(),
		AttributeConfigPath, "Invalid Impersonation Setting")
	requireContains(t, problem.Detail, "as value", `user "u"`, "line break")
}

func TestCheckKubeconfigCAFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "config", strings.Replace(kubeconfigWithUser("    token: abcd\n"),
		"    insecure-skip-tls-verify: true\n", "    certificate-authority: "+dir+"\n", 1))

	problem := onlyProblem(t, Config{ConfigPaths: []string{path}}.Check(),
		AttributeConfigPath, "Unreadable Cluster CA Certificate")
	requireContains(t, problem.Detail, "is a directory", `cluster "c"`, "cluster_ca_certificate")

	// insecure replaces the kubeconfig's CA, so its file is not read.
	requireNoProblems(t, Config{ConfigPaths: []string{path}, Insecure: true})
}

package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckAttributeRules(t *testing.T) {
	pki := newTestPKI(t)
	const host = "https://127.0.0.1:16443"
	exec := func(apiVersion, command string) *ExecConfig {
		return &ExecConfig{APIVersion: apiVersion, Command: command}
	}

	cases := []struct {
		name      string
		config    Config
		attribute string
		summary   string
		detail    []string
	}{
		{
			name:      "token with client certificate",
			config:    Config{Host: host, Token: secretToken, ClientCertificate: pki.certPEM, ClientKey: pki.keyPEM},
			attribute: AttributeToken, summary: "Conflicting Credentials",
			detail: []string{"client_certificate", "Set only one"},
		},
		{
			name:      "token with basic auth",
			config:    Config{Host: host, Token: secretToken, Username: "u", Password: secretPassword},
			attribute: AttributeToken, summary: "Conflicting Credentials",
			detail: []string{"username/password"},
		},
		{
			name:      "token with whitespace",
			config:    Config{Host: host, Token: secretToken + "\n"},
			attribute: AttributeToken, summary: "Invalid Token",
			detail: []string{"trimspace"},
		},
		{
			name:      "certificate without key",
			config:    Config{Host: host, ClientCertificate: pki.certPEM},
			attribute: AttributeClientKey, summary: "Missing Client Key",
		},
		{
			name:      "key without certificate",
			config:    Config{Host: host, ClientKey: pki.keyPEM},
			attribute: AttributeClientCertificate, summary: "Missing Client Certificate",
		},
		{
			name:      "certificate not PEM",
			config:    Config{Host: host, ClientCertificate: "not a certificate", ClientKey: pki.keyPEM},
			attribute: AttributeClientCertificate, summary: "Invalid Client Certificate",
			detail: []string{"-----BEGIN CERTIFICATE-----"},
		},
		{
			name:      "certificate base64 encoded",
			config:    Config{Host: host, ClientCertificate: b64(pki.certPEM), ClientKey: pki.keyPEM},
			attribute: AttributeClientCertificate, summary: "Invalid Client Certificate",
			detail: []string{"base64decode()"},
		},
		{
			name:      "certificate given as a path",
			config:    Config{Host: host, ClientCertificate: "~/.kube/client.crt", ClientKey: pki.keyPEM},
			attribute: AttributeClientCertificate, summary: "Invalid Client Certificate",
			detail: []string{"file()"},
		},
		{
			name:      "key given as certificate",
			config:    Config{Host: host, ClientCertificate: pki.keyPEM, ClientKey: pki.keyPEM},
			attribute: AttributeClientCertificate, summary: "Invalid Client Certificate",
			detail: []string{"private key"},
		},
		{
			name:      "corrupt certificate body",
			config:    Config{Host: host, ClientCertificate: encodePEM("CERTIFICATE", []byte("junk")), ClientKey: pki.keyPEM},
			attribute: AttributeClientCertificate, summary: "Invalid Client Certificate",
			detail: []string{"cannot be parsed"},
		},
		{
			name:      "key not PEM",
			config:    Config{Host: host, ClientCertificate: pki.certPEM, ClientKey: "garbage"},
			attribute: AttributeClientKey, summary: "Invalid Client Key",
			detail: []string{"-----BEGIN PRIVATE KEY-----"},
		},
		{
			name:      "corrupt key body",
			config:    Config{Host: host, ClientCertificate: pki.certPEM, ClientKey: encodePEM("PRIVATE KEY", []byte("junk"))},
			attribute: AttributeClientKey, summary: "Invalid Client Key",
			detail: []string{"PKCS #8"},
		},
		{
			name:      "key of another certificate",
			config:    Config{Host: host, ClientCertificate: pki.certPEM, ClientKey: pki.otherKeyPEM},
			attribute: AttributeClientKey, summary: "Mismatched Client Key",
		},
		{
			name:      "CA not PEM",
			config:    Config{Host: host, ClusterCACertificate: "-----BEGIN CERT"},
			attribute: AttributeClusterCACertificate, summary: "Invalid Cluster CA Certificate",
		},
		{
			name:      "username without password",
			config:    Config{Host: host, Username: "admin"},
			attribute: AttributePassword, summary: "Missing Password",
		},
		{
			name:      "password without username",
			config:    Config{Host: host, Password: secretPassword},
			attribute: AttributeUsername, summary: "Missing Username",
		},
		{
			name:      "insecure with CA",
			config:    Config{Host: host, Insecure: true, ClusterCACertificate: pki.caPEM},
			attribute: AttributeInsecure, summary: "Conflicting TLS Settings",
			detail: []string{"cluster_ca_certificate"},
		},
		{
			name:      "exec without command",
			config:    Config{Host: host, Exec: exec("client.authentication.k8s.io/v1", "")},
			attribute: AttributeExecCommand, summary: "Missing Exec Command",
		},
		{
			name:      "exec without api_version",
			config:    Config{Host: host, Exec: exec("", "aws")},
			attribute: AttributeExecAPIVersion, summary: "Missing Exec API Version",
			detail: []string{"client.authentication.k8s.io/v1beta1"},
		},
		{
			name:      "exec with removed api_version",
			config:    Config{Host: host, Exec: exec("client.authentication.k8s.io/v1alpha1", "aws")},
			attribute: AttributeExecAPIVersion, summary: "Unsupported Exec API Version",
			detail: []string{"v1alpha1", "client.authentication.k8s.io/v1 "},
		},
		{
			name: "exec with empty env name",
			config: Config{Host: host, Exec: &ExecConfig{
				APIVersion: "client.authentication.k8s.io/v1", Command: "aws",
				Env: map[string]string{"": "x"},
			}},
			attribute: AttributeExecEnv, summary: "Invalid Exec Environment Variable",
		},
		{
			name: "exec with token",
			config: Config{Host: host, Token: secretToken,
				Exec: exec("client.authentication.k8s.io/v1", "aws")},
			attribute: AttributeExec, summary: "Conflicting Credentials",
		},
		{
			name:      "proxy URL unparsable",
			config:    Config{Host: host, ProxyURL: "http://proxy:port"},
			attribute: AttributeProxyURL, summary: "Invalid Proxy URL",
			detail: []string{"invalid port"},
		},
		{
			name:      "proxy URL scheme",
			config:    Config{Host: host, ProxyURL: "ftp://127.0.0.1:21"},
			attribute: AttributeProxyURL, summary: "Invalid Proxy URL",
			detail: []string{`"ftp"`, "socks5"},
		},
		{
			name:      "proxy URL without host",
			config:    Config{Host: host, ProxyURL: "http://"},
			attribute: AttributeProxyURL, summary: "Invalid Proxy URL",
			detail: []string{"no host name"},
		},
		{
			name:      "host unparsable",
			config:    Config{Host: "https://127.0.0.1:port"},
			attribute: AttributeHost, summary: "Invalid Host",
			detail: []string{"invalid port", "https://api.example.com:6443"},
		},
		{
			name:      "host scheme",
			config:    Config{Host: "ftp://127.0.0.1"},
			attribute: AttributeHost, summary: "Invalid Host",
			detail: []string{`"ftp"`},
		},
		{
			name:      "host with user information",
			config:    Config{Host: "https://admin:" + secretPassword + "@127.0.0.1:6443"},
			attribute: AttributeHost, summary: "Invalid Host",
			detail: []string{"credentials"},
		},
		{
			name:      "plain HTTP host with token",
			config:    Config{Host: "http://127.0.0.1:8080", Token: secretToken},
			attribute: AttributeHost, summary: "Credentials Over Plain HTTP",
			detail: []string{"https://"},
		},
		{
			name:      "context without kubeconfig",
			config:    Config{Host: host, ConfigContext: "prod"},
			attribute: AttributeConfigContext, summary: "Kubeconfig Not Set",
			detail: []string{"config_path"},
		},
		{
			name:      "cluster override without kubeconfig",
			config:    Config{Host: host, ConfigContextCluster: "prod"},
			attribute: AttributeConfigContextCluster, summary: "Kubeconfig Not Set",
		},
		{
			name:      "user override without kubeconfig",
			config:    Config{Host: host, ConfigContextAuthInfo: "admin"},
			attribute: AttributeConfigContextAuthInfo, summary: "Kubeconfig Not Set",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := tc.config.Check()
			problem := onlyProblem(t, problems, tc.attribute, tc.summary)
			requireContains(t, problem.Detail, tc.detail...)
			if strings.Contains(problem.Detail, pki.keyPEM) ||
				strings.Contains(problem.Detail, "PRIVATE KEY-----\n") {
				t.Errorf("detail quotes a private key")
			}

			_, err := tc.config.RESTConfig()
			if err == nil || !strings.Contains(err.Error(), tc.summary) {
				t.Errorf("RESTConfig() error = %v, want one naming %q", err, tc.summary)
			}
		})
	}
}

func TestCheckValidConfigs(t *testing.T) {
	pki := newTestPKI(t)
	notInCluster(t)
	cases := map[string]Config{
		"token": {Host: "https://127.0.0.1:16443", Token: secretToken},
		"client certificate": {
			Host:              "127.0.0.1:16443",
			ClientCertificate: pki.certPEM, ClientKey: pki.keyPEM, ClusterCACertificate: pki.caPEM,
		},
		"basic auth": {
			Host:     "https://127.0.0.1:16443",
			Username: "admin", Password: secretPassword, Insecure: true,
		},
		"anonymous over HTTP": {Host: "http://127.0.0.1:8001"},
		"exec": {Host: "https://127.0.0.1:16443", Exec: &ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1", Command: "kubelogin",
			Env: map[string]string{"A": "b"},
		}},
		"proxy with credentials": {Host: "https://127.0.0.1:16443",
			ProxyURL: "http://user:" + secretProxyPassword + "@127.0.0.1:3128"},
	}
	for name, config := range cases {
		t.Run(name, func(t *testing.T) {
			requireNoProblems(t, config)
		})
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	notInCluster(t)
	problems := Config{
		Username: "admin",
		Insecure: true, ClusterCACertificate: "junk",
		Exec: &ExecConfig{},
	}.Check()

	want := map[string]bool{
		AttributePassword: false, AttributeInsecure: false, AttributeClusterCACertificate: false,
		AttributeExecCommand: false, AttributeExecAPIVersion: false, AttributeHost: false,
		AttributeExec: false,
	}
	for _, problem := range problems {
		if _, ok := want[problem.Attribute]; !ok {
			t.Errorf("unexpected problem %v", problem)
		}
		want[problem.Attribute] = true
	}
	for attribute, found := range want {
		if !found {
			t.Errorf("no problem reported on %s; got %v", attribute, problems)
		}
	}
}

func TestCheckKubeconfigSelection(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "config", primaryKubeconfig(pki))
	noCurrent := writeFile(t, dir, "no-current",
		strings.Replace(primaryKubeconfig(pki), "current-context: alpha-alice\n", "", 1))
	badCurrent := writeFile(t, dir, "bad-current",
		strings.Replace(primaryKubeconfig(pki), "current-context: alpha-alice", "current-context: gone", 1))
	empty := writeFile(t, dir, "empty", "")

	cases := []struct {
		name      string
		config    Config
		attribute string
		summary   string
		detail    []string
	}{
		{
			name:      "unknown config_context",
			config:    Config{ConfigPaths: []string{path}, ConfigContext: "prod"},
			attribute: AttributeConfigContext, summary: "Unknown Kubeconfig Context",
			detail: []string{`"prod"`, path, `"alpha-alice"`, `"beta-bob"`, `"no-server"`},
		},
		{
			name:      "unknown current-context",
			config:    Config{ConfigPaths: []string{badCurrent}},
			attribute: AttributeConfigContext, summary: "Unknown Kubeconfig Context",
			detail: []string{"current-context", `"gone"`, `"alpha-alice"`},
		},
		{
			name:      "no current-context",
			config:    Config{ConfigPaths: []string{noCurrent}},
			attribute: AttributeConfigContext, summary: "No Kubeconfig Context Selected",
			detail: []string{"config_context", `"alpha-alice"`, `"beta-bob"`},
		},
		{
			name:      "no contexts at all",
			config:    Config{ConfigPaths: []string{empty}},
			attribute: AttributeConfigContext, summary: "No Kubeconfig Context Selected",
			detail: []string{"defines no contexts", empty},
		},
		{
			name:      "unknown config_context_auth_info",
			config:    Config{ConfigPaths: []string{path}, ConfigContextAuthInfo: "mallory"},
			attribute: AttributeConfigContextAuthInfo, summary: "Unknown Kubeconfig User",
			detail: []string{`"mallory"`, `"alice"`, `"bob"`, `"carol"`},
		},
		{
			name:      "unknown config_context_cluster",
			config:    Config{ConfigPaths: []string{path}, ConfigContextCluster: "delta"},
			attribute: AttributeConfigContextCluster, summary: "Unknown Kubeconfig Cluster",
			detail: []string{`"delta"`, `"alpha"`, `"beta"`},
		},
		{
			name:      "context refers to undefined user",
			config:    Config{ConfigPaths: []string{path}, ConfigContext: "dangling-user"},
			attribute: AttributeConfigContextAuthInfo, summary: "Unknown Kubeconfig User",
			detail: []string{`"ghost-user"`, `"dangling-user"`, "no credentials"},
		},
		{
			name:      "context refers to undefined cluster",
			config:    Config{ConfigPaths: []string{path}, ConfigContext: "dangling-cluster"},
			attribute: AttributeConfigContextCluster, summary: "Unknown Kubeconfig Cluster",
			detail: []string{`"ghost-cluster"`, `"alpha"`},
		},
		{
			name:      "context without cluster",
			config:    Config{ConfigPaths: []string{path}, ConfigContext: "no-cluster"},
			attribute: AttributeConfigContext, summary: "Incomplete Kubeconfig Context",
			detail: []string{"config_context_cluster"},
		},
		{
			name:      "cluster without server",
			config:    Config{ConfigPaths: []string{path}, ConfigContext: "no-server"},
			attribute: AttributeHost, summary: "Missing Cluster Address",
			detail: []string{`"serverless"`, "set host"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problem := onlyProblem(t, tc.config.Check(), tc.attribute, tc.summary)
			requireContains(t, problem.Detail, tc.detail...)
		})
	}
}

func TestCheckKubeconfigSelectionFixedByAttributes(t *testing.T) {
	pki := newTestPKI(t)
	path := writeFile(t, t.TempDir(), "config", primaryKubeconfig(pki))
	paths := []string{path}

	requireNoProblems(t, Config{ConfigPaths: paths, ConfigContext: "no-server", Host: alphaServer})
	requireNoProblems(t, Config{ConfigPaths: paths, ConfigContext: "no-cluster", Host: alphaServer})
	requireNoProblems(t, Config{
		ConfigPaths: paths, ConfigContext: "dangling-cluster", ConfigContextCluster: "alpha",
	})
	requireNoProblems(t, Config{
		ConfigPaths: paths, ConfigContext: "dangling-user", ConfigContextAuthInfo: "alice",
	})
}

func TestCheckUnreadableKubeconfig(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	good := writeFile(t, dir, "good", primaryKubeconfig(pki))
	missing := filepath.Join(dir, "missing")

	problem := onlyProblem(t, Config{ConfigPaths: []string{missing}}.Check(),
		AttributeConfigPath, "Unreadable Kubeconfig File")
	requireContains(t, problem.Detail, missing, "no such file or directory")

	problem = onlyProblem(t, Config{ConfigPaths: []string{dir}}.Check(),
		AttributeConfigPath, "Unreadable Kubeconfig File")
	requireContains(t, problem.Detail, dir, "is a directory")

	// In a list, missing files are skipped as kubectl skips them in KUBECONFIG.
	requireNoProblems(t, Config{ConfigPaths: []string{good, missing}})
	requireNoProblems(t, Config{ConfigPaths: []string{missing, good}})

	otherMissing := filepath.Join(dir, "also-missing")
	problem = onlyProblem(t, Config{ConfigPaths: []string{missing, otherMissing}}.Check(),
		AttributeConfigPaths, "Kubeconfig Files Not Found")
	requireContains(t, problem.Detail, missing, otherMissing)

	problem = onlyProblem(t, Config{ConfigPaths: []string{good, dir}}.Check(),
		AttributeConfigPaths, "Unreadable Kubeconfig File")
	requireContains(t, problem.Detail, dir, "is a directory")
}

func TestCheckUnreadableKubeconfigPermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files regardless of their mode")
	}
	path := writeFile(t, t.TempDir(), "config", "apiVersion: v1\nkind: Config\n")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}

	problem := onlyProblem(t, Config{ConfigPaths: []string{path}}.Check(),
		AttributeConfigPath, "Unreadable Kubeconfig File")
	requireContains(t, problem.Detail, path, "permission denied")
}

func TestCheckUnparsableKubeconfig(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"YAML syntax": "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n" +
			"    token: [" + secretKubeToken + "\n",
		"unknown kind":    "apiVersion: v1\nkind: " + secretKubeToken + "\n",
		"unknown version": "apiVersion: " + secretKubeToken + "\nkind: Config\n",
		"wrong type":      "apiVersion: v1\nkind: Config\nclusters: " + secretKubeToken + "\n",
		"bad base64": "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n" +
			"    client-key-data: " + secretKubeToken + "!!\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, dir, strings.ReplaceAll(name, " ", "-"), content)

			problem := onlyProblem(t, Config{ConfigPaths: []string{path}}.Check(),
				AttributeConfigPath, "Invalid Kubeconfig File")
			requireContains(t, problem.Detail, path, "not shown")
			if strings.Contains(problem.Detail, secretKubeToken) {
				t.Errorf("detail quotes the file content: %s", problem.Detail)
			}
		})
	}
}

func TestCheckKubeconfigContentRejectedByClientGo(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	badCA := writeFile(t, dir, "bad-ca", strings.Replace(primaryKubeconfig(pki),
		"certificate-authority-data: "+b64(pki.caPEM),
		"certificate-authority-data: "+b64("not a certificate"), 1))
	missingCertFile := writeFile(t, dir, "missing-cert", strings.Replace(primaryKubeconfig(pki),
		"client-certificate-data: "+b64(pki.certPEM),
		"client-certificate: "+filepath.Join(dir, "absent.crt"), 1))

	problem := onlyProblem(t, Config{ConfigPaths: []string{badCA}}.Check(),
		AttributeConfigPath, "Invalid Cluster Connection Settings")
	requireContains(t, problem.Detail, "root certificates")

	problem = onlyProblem(t,
		Config{ConfigPaths: []string{missingCertFile}, ConfigContext: "beta-bob"}.Check(),
		AttributeConfigPath, "Unreadable Kubeconfig Credential File")
	requireContains(t, problem.Detail, "absent.crt", `user "bob"`, "no such file or directory")
}

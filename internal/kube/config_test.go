package kube

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func mustRESTConfig(t *testing.T, config Config) *rest.Config {
	t.Helper()
	restConfig, err := config.RESTConfig()
	if err != nil {
		t.Fatalf("RESTConfig() error: %v", err)
	}
	return restConfig
}

func TestRESTConfigExplicitAttributes(t *testing.T) {
	pki := newTestPKI(t)
	restConfig := mustRESTConfig(t, Config{
		Host:                 "https://127.0.0.1:16443",
		Token:                secretToken,
		ClusterCACertificate: pki.caPEM,
		TLSServerName:        "api.internal",
		UserAgent:            "terraform-provider-imagedist/test",
	})

	if restConfig.Host != "https://127.0.0.1:16443" {
		t.Errorf("Host = %q", restConfig.Host)
	}
	if restConfig.BearerToken != secretToken {
		t.Errorf("BearerToken is not the token attribute")
	}
	if string(restConfig.CAData) != pki.caPEM {
		t.Errorf("CAData is not cluster_ca_certificate")
	}
	if restConfig.ServerName != "api.internal" {
		t.Errorf("ServerName = %q, want api.internal", restConfig.ServerName)
	}
	if restConfig.QPS != DefaultQPS || restConfig.Burst != DefaultBurst {
		t.Errorf("QPS/Burst = %v/%v, want %v/%v",
			restConfig.QPS, restConfig.Burst, DefaultQPS, DefaultBurst)
	}
	if restConfig.UserAgent != "terraform-provider-imagedist/test" {
		t.Errorf("UserAgent = %q", restConfig.UserAgent)
	}
}

func TestRESTConfigHostForms(t *testing.T) {
	cases := []struct {
		host, wantURL string
	}{
		{"https://127.0.0.1:6443", "https://127.0.0.1:6443"},
		{"127.0.0.1:6443", "https://127.0.0.1:6443"},
		{"localhost:6443", "https://localhost:6443"},
		{"[::1]:6443", "https://[::1]:6443"},
		{"https://127.0.0.1:8443/k8s/clusters/c-1", "https://127.0.0.1:8443/k8s/clusters/c-1"},
		{"http://127.0.0.1:8001", "http://127.0.0.1:8001"},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			restConfig := mustRESTConfig(t, Config{Host: tc.host, Insecure: true})
			serverURL, _, err := rest.DefaultServerUrlFor(restConfig)
			if err != nil {
				t.Fatalf("DefaultServerUrlFor: %v", err)
			}
			if serverURL.String() != tc.wantURL {
				t.Errorf("server URL = %q, want %q", serverURL.String(), tc.wantURL)
			}
		})
	}
}

func TestRESTConfigSchemelessHostKeepsCredentials(t *testing.T) {
	// client-go alone would choose plain HTTP here and drop the token.
	restConfig := mustRESTConfig(t, Config{Host: "127.0.0.1:6443", Token: secretToken})

	if restConfig.BearerToken != secretToken {
		t.Errorf("BearerToken was dropped for a host without a scheme")
	}
	if !rest.IsConfigTransportTLS(*restConfig) {
		t.Errorf("transport is not TLS for a host without a scheme")
	}
}

func TestRESTConfigProxyURL(t *testing.T) {
	restConfig := mustRESTConfig(t, Config{
		Host:     "https://127.0.0.1:16443",
		ProxyURL: "http://127.0.0.1:3128",
	})
	if restConfig.Proxy == nil {
		t.Fatal("Proxy is nil")
	}

	request, err := http.NewRequest(http.MethodGet, "https://127.0.0.1:16443/api", nil)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := restConfig.Proxy(request)
	if err != nil {
		t.Fatalf("Proxy(request) error: %v", err)
	}
	if proxy == nil || proxy.String() != "http://127.0.0.1:3128" {
		t.Errorf("Proxy(request) = %v, want http://127.0.0.1:3128", proxy)
	}
}

func TestRESTConfigExecPlugin(t *testing.T) {
	restConfig := mustRESTConfig(t, Config{
		Host: "https://127.0.0.1:16443",
		Exec: &ExecConfig{
			APIVersion: "client.authentication.k8s.io/v1beta1",
			Command:    "credential-helper",
			Args:       []string{"get-token", "--cluster", "c1"},
			Env:        map[string]string{"ZONE": "z1", "ACCOUNT": secretEnvValue},
		},
	})

	exec := restConfig.ExecProvider
	if exec == nil {
		t.Fatal("ExecProvider is nil")
	}
	if exec.APIVersion != "client.authentication.k8s.io/v1beta1" {
		t.Errorf("APIVersion = %q", exec.APIVersion)
	}
	if exec.Command != "credential-helper" {
		t.Errorf("Command = %q", exec.Command)
	}
	if len(exec.Args) != 3 || exec.Args[0] != "get-token" || exec.Args[2] != "c1" {
		t.Errorf("Args = %v", exec.Args)
	}
	wantEnv := []clientcmdapi.ExecEnvVar{
		{Name: "ACCOUNT", Value: secretEnvValue},
		{Name: "ZONE", Value: "z1"},
	}
	if len(exec.Env) != len(wantEnv) || exec.Env[0] != wantEnv[0] || exec.Env[1] != wantEnv[1] {
		t.Errorf("Env is not the env map sorted by name: got %d entries", len(exec.Env))
	}
	if exec.InteractiveMode != clientcmdapi.NeverExecInteractiveMode {
		t.Errorf("InteractiveMode = %q, want Never", exec.InteractiveMode)
	}
}

func TestRESTConfigMissingHost(t *testing.T) {
	notInCluster(t)

	problem := onlyProblem(t, Config{}.Check(), AttributeHost, "Missing Cluster Address")
	requireContains(t, problem.Detail, "host", "config_path", "localhost")

	_, err := Config{}.RESTConfig()
	var settingErrors SettingErrors
	if !errors.As(err, &settingErrors) {
		t.Fatalf("RESTConfig() error %v is not SettingErrors", err)
	}
	if len(settingErrors) != 1 || settingErrors[0].Attribute != AttributeHost {
		t.Errorf("SettingErrors = %v, want one on host", settingErrors)
	}
}

func TestRESTConfigInCluster(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	writeFile(t, dir, "token", secretToken)
	writeFile(t, dir, "ca.crt", pki.caPEM)
	previous := serviceAccountDir
	serviceAccountDir = dir
	t.Cleanup(func() { serviceAccountDir = previous })
	t.Setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "16443")

	restConfig := mustRESTConfig(t, Config{})

	if restConfig.Host != "https://127.0.0.1:16443" {
		t.Errorf("Host = %q, want https://127.0.0.1:16443", restConfig.Host)
	}
	if restConfig.BearerTokenFile != filepath.Join(dir, "token") {
		t.Errorf("BearerTokenFile = %q, want the service account token", restConfig.BearerTokenFile)
	}
	if restConfig.BearerToken != secretToken {
		t.Errorf("BearerToken is not the service account token")
	}
	if restConfig.CAFile != filepath.Join(dir, "ca.crt") {
		t.Errorf("CAFile = %q, want the service account CA", restConfig.CAFile)
	}

	explicit := mustRESTConfig(t, Config{Token: "explicit-token"})
	if explicit.BearerToken != "explicit-token" || explicit.BearerTokenFile != "" {
		t.Errorf("explicit token did not replace the service account token")
	}
}

func TestRESTConfigInClusterMissingToken(t *testing.T) {
	previous := serviceAccountDir
	serviceAccountDir = filepath.Join(t.TempDir(), "absent")
	t.Cleanup(func() { serviceAccountDir = previous })
	t.Setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "16443")

	problem := onlyProblem(t, Config{}.Check(), AttributeHost, "Missing Service Account Token")
	requireContains(t, problem.Detail, filepath.Join(serviceAccountDir, "token"),
		"no such file or directory", "config_path")
}

func TestKubeconfigCurrentContext(t *testing.T) {
	pki := newTestPKI(t)
	path := writeFile(t, t.TempDir(), "config", primaryKubeconfig(pki))

	restConfig := mustRESTConfig(t, Config{ConfigPaths: []string{path}})

	if restConfig.Host != alphaServer {
		t.Errorf("Host = %q, want %q", restConfig.Host, alphaServer)
	}
	if restConfig.BearerToken != secretKubeToken {
		t.Errorf("BearerToken is not alice's token")
	}
	if string(restConfig.CAData) != pki.caPEM {
		t.Errorf("CAData is not the alpha cluster's CA")
	}
	if restConfig.QPS != DefaultQPS || restConfig.Burst != DefaultBurst {
		t.Errorf("QPS/Burst = %v/%v", restConfig.QPS, restConfig.Burst)
	}
}

func TestKubeconfigConfigContext(t *testing.T) {
	pki := newTestPKI(t)
	path := writeFile(t, t.TempDir(), "config", primaryKubeconfig(pki))

	restConfig := mustRESTConfig(t, Config{ConfigPaths: []string{path}, ConfigContext: "beta-bob"})

	if restConfig.Host != betaServer {
		t.Errorf("Host = %q, want %q", restConfig.Host, betaServer)
	}
	if string(restConfig.CertData) != pki.certPEM || string(restConfig.KeyData) != pki.keyPEM {
		t.Errorf("client certificate and key are not bob's")
	}
	if restConfig.BearerToken != "" {
		t.Errorf("BearerToken is set for a certificate user")
	}
	if !restConfig.Insecure || restConfig.ServerName != "beta.internal" {
		t.Errorf("Insecure/ServerName = %v/%q, want the beta cluster's settings",
			restConfig.Insecure, restConfig.ServerName)
	}
}

func TestKubeconfigUserAndClusterOverrides(t *testing.T) {
	pki := newTestPKI(t)
	path := writeFile(t, t.TempDir(), "config", primaryKubeconfig(pki))

	restConfig := mustRESTConfig(t, Config{
		ConfigPaths:           []string{path},
		ConfigContext:         "alpha-alice",
		ConfigContextAuthInfo: "carol",
		ConfigContextCluster:  "beta",
	})

	if restConfig.Host != betaServer {
		t.Errorf("Host = %q, want the beta cluster %q", restConfig.Host, betaServer)
	}
	if restConfig.Username != "carol" || restConfig.Password != secretKubePassword {
		t.Errorf("credentials are not carol's basic authentication")
	}
	if restConfig.BearerToken != "" {
		t.Errorf("BearerToken of the context's own user alice was kept")
	}
}

func TestKubeconfigPrecedenceOfFiles(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	primary := writeFile(t, dir, "primary", primaryKubeconfig(pki))
	secondary := writeFile(t, dir, "secondary", secondaryKubeconfig())

	cases := []struct {
		name     string
		paths    []string
		context  string
		wantHost string
	}{
		{"current context from first file", []string{secondary, primary}, "", gammaServer},
		{"current context from first file reversed", []string{primary, secondary}, "", alphaServer},
		{"first file wins a shared context", []string{secondary, primary}, "alpha-alice", gammaServer},
		{"context only in second file", []string{primary, secondary}, "gamma-dave", gammaServer},
		{"context only in first file", []string{secondary, primary}, "beta-bob", betaServer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			restConfig := mustRESTConfig(t, Config{ConfigPaths: tc.paths, ConfigContext: tc.context})
			if restConfig.Host != tc.wantHost {
				t.Errorf("Host = %q, want %q", restConfig.Host, tc.wantHost)
			}
		})
	}
}

func TestKubeconfigTildeExpansion(t *testing.T) {
	pki := newTestPKI(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	writeFile(t, home, filepath.Join(".kube", "config"), primaryKubeconfig(pki))

	restConfig := mustRESTConfig(t, Config{ConfigPaths: []string{"~/.kube/config"}})
	if restConfig.Host != alphaServer {
		t.Errorf("Host = %q, want %q", restConfig.Host, alphaServer)
	}

	problem := onlyProblem(t, Config{ConfigPaths: []string{"~other/.kube/config"}}.Check(),
		AttributeConfigPath, "Invalid Kubeconfig Path")
	requireContains(t, problem.Detail, "~other/.kube/config", "~user")
}

func TestKubeconfigRelativeCertificatePaths(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	writeFile(t, dir, filepath.Join("certs", "ca.crt"), pki.caPEM)
	path := writeFile(t, dir, "config", `apiVersion: v1
kind: Config
current-context: local
clusters:
- name: local
  cluster:
    server: `+alphaServer+`
    certificate-authority: certs/ca.crt
users:
- name: local
  user:
    token: local-token
contexts:
- name: local
  context: {cluster: local, user: local}
`)

	restConfig := mustRESTConfig(t, Config{ConfigPaths: []string{path}})
	if restConfig.CAFile != filepath.Join(dir, "certs", "ca.crt") {
		t.Errorf("CAFile = %q, want it resolved next to the kubeconfig", restConfig.CAFile)
	}
}

func TestExplicitAttributesOverrideKubeconfig(t *testing.T) {
	pki := newTestPKI(t)
	path := writeFile(t, t.TempDir(), "config", primaryKubeconfig(pki))
	paths := []string{path}

	t.Run("host and TLS settings", func(t *testing.T) {
		restConfig := mustRESTConfig(t, Config{
			ConfigPaths:          paths,
			ConfigContext:        "beta-bob",
			Host:                 "https://127.0.0.9:7443",
			ClusterCACertificate: pki.caPEM,
			TLSServerName:        "override.internal",
			ProxyURL:             "socks5://127.0.0.1:1080",
		})
		if restConfig.Host != "https://127.0.0.9:7443" {
			t.Errorf("Host = %q, want the host attribute", restConfig.Host)
		}
		if restConfig.Insecure {
			t.Errorf("Insecure kept from the kubeconfig despite cluster_ca_certificate")
		}
		if string(restConfig.CAData) != pki.caPEM {
			t.Errorf("CAData is not cluster_ca_certificate")
		}
		if restConfig.ServerName != "override.internal" {
			t.Errorf("ServerName = %q, want override.internal", restConfig.ServerName)
		}
		if restConfig.Proxy == nil {
			t.Errorf("Proxy is nil, want proxy_url")
		}
		if string(restConfig.CertData) != pki.certPEM {
			t.Errorf("bob's client certificate was lost without explicit credentials")
		}
	})

	t.Run("insecure clears the kubeconfig CA", func(t *testing.T) {
		restConfig := mustRESTConfig(t, Config{ConfigPaths: paths, Insecure: true})
		if !restConfig.Insecure || len(restConfig.CAData) != 0 {
			t.Errorf("Insecure/CAData = %v/%d bytes, want true/0",
				restConfig.Insecure, len(restConfig.CAData))
		}
	})

	t.Run("token replaces a client certificate", func(t *testing.T) {
		restConfig := mustRESTConfig(t, Config{
			ConfigPaths: paths, ConfigContext: "beta-bob", Token: secretToken,
		})
		if restConfig.BearerToken != secretToken {
			t.Errorf("BearerToken is not the token attribute")
		}
		if len(restConfig.CertData) != 0 || len(restConfig.KeyData) != 0 {
			t.Errorf("bob's client certificate was sent along with the explicit token")
		}
	})

	t.Run("basic auth replaces a token", func(t *testing.T) {
		restConfig := mustRESTConfig(t, Config{
			ConfigPaths: paths, Username: "admin", Password: secretPassword,
		})
		if restConfig.Username != "admin" || restConfig.Password != secretPassword {
			t.Errorf("credentials are not the username and password attributes")
		}
		if restConfig.BearerToken != "" {
			t.Errorf("alice's token was kept along with basic authentication")
		}
	})

	t.Run("client certificate replaces a token", func(t *testing.T) {
		restConfig := mustRESTConfig(t, Config{
			ConfigPaths: paths, ClientCertificate: pki.certPEM, ClientKey: pki.keyPEM,
		})
		if string(restConfig.CertData) != pki.certPEM || string(restConfig.KeyData) != pki.keyPEM {
			t.Errorf("client certificate and key are not the attributes")
		}
		if restConfig.BearerToken != "" {
			t.Errorf("alice's token was kept along with the client certificate")
		}
	})

	t.Run("exec replaces a token", func(t *testing.T) {
		restConfig := mustRESTConfig(t, Config{
			ConfigPaths: paths,
			Exec: &ExecConfig{
				APIVersion: "client.authentication.k8s.io/v1",
				Command:    "credential-helper",
			},
		})
		if restConfig.ExecProvider == nil || restConfig.ExecProvider.Command != "credential-helper" {
			t.Errorf("ExecProvider is not the exec block")
		}
		if restConfig.BearerToken != "" {
			t.Errorf("alice's token was kept along with the exec plugin")
		}
	})

	t.Run("explicit credentials tolerate a dangling user", func(t *testing.T) {
		restConfig := mustRESTConfig(t, Config{
			ConfigPaths: paths, ConfigContext: "dangling-user", Token: secretToken,
		})
		if restConfig.BearerToken != secretToken || restConfig.Host != alphaServer {
			t.Errorf("Host/token = %q/(hidden), want alpha with the token attribute",
				restConfig.Host)
		}
	})
}

func TestRESTConfigDoesNotModifyKubeconfig(t *testing.T) {
	pki := newTestPKI(t)
	content := primaryKubeconfig(pki)
	path := writeFile(t, t.TempDir(), "config", content)

	mustRESTConfig(t, Config{ConfigPaths: []string{path}, Token: secretToken})

	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != content {
		t.Errorf("the kubeconfig file changed")
	}
}

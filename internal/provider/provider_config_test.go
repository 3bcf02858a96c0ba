package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// providerConfig builds the provider block from attribute values; attributes not given are null.
func providerConfig(t *testing.T, values map[string]tftypes.Value) tfsdk.Config {
	t.Helper()
	ctx := context.Background()

	var schemaResp provider.SchemaResponse
	New("test")().Schema(ctx, provider.SchemaRequest{}, &schemaResp)
	objectType, ok := schemaResp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		t.Fatalf("provider schema type is %T, expected an object", schemaResp.Schema.Type())
	}

	attributes := map[string]tftypes.Value{}
	for name, attributeType := range objectType.AttributeTypes {
		if value, given := values[name]; given {
			attributes[name] = value
			continue
		}
		attributes[name] = tftypes.NewValue(attributeType, nil)
	}
	return tfsdk.Config{
		Schema: schemaResp.Schema,
		Raw:    tftypes.NewValue(objectType, attributes),
	}
}

func configureProvider(t *testing.T, values map[string]tftypes.Value) provider.ConfigureResponse {
	t.Helper()
	var resp provider.ConfigureResponse
	New("test")().Configure(context.Background(),
		provider.ConfigureRequest{Config: providerConfig(t, values)}, &resp)
	return resp
}

// clearKubeEnvironment unsets every KUBE_* variable for the test, so a developer's own
// environment cannot change the outcome.
func clearKubeEnvironment(t *testing.T) {
	t.Helper()
	for _, entry := range os.Environ() {
		name, _, _ := strings.Cut(entry, "=")
		if strings.HasPrefix(name, "KUBE_") || name == "KUBERNETES_SERVICE_HOST" {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

const testKubeconfig = `apiVersion: v1
kind: Config
current-context: first
contexts:
- name: first
  context: {cluster: one, user: alice}
- name: second
  context: {cluster: two, user: bob}
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:1"}
- name: two
  cluster: {server: "https://127.0.0.1:2"}
users:
- name: alice
  user: {token: alice-token-value}
- name: bob
  user: {token: bob-token-value}
`

func writeKubeconfig(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(file, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// testClientCertificate returns a self-signed client certificate and its key, both PEM.
func testClientCertificate(t *testing.T) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "provider-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certificate := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return string(certificate), string(keyPEM)
}

func stringValue(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

func unknownString() tftypes.Value { return tftypes.NewValue(tftypes.String, tftypes.UnknownValue) }

func TestProviderConfigureUnknownHostDefers(t *testing.T) {
	clearKubeEnvironment(t)
	// KUBE_HOST must not stand in for an unknown host: that would aim at another cluster.
	t.Setenv("KUBE_HOST", "https://127.0.0.1:9")

	resp := configureProvider(t, map[string]tftypes.Value{
		"host":  unknownString(),
		"token": unknownString(),
	})
	if resp.Diagnostics.HasError() {
		t.Fatalf("unexpected diagnostics: %v", resp.Diagnostics)
	}

	clients := clientsFromProviderData(resp.ResourceData, &resp.Diagnostics)
	if clients == nil {
		t.Fatal("Configure handed resources no clients")
	}
	_, err := clients.Kubernetes()
	if err == nil {
		t.Fatal("clients for an unknown host built a client")
	}
	if !strings.Contains(err.Error(), "host") || !strings.Contains(err.Error(), "token") {
		t.Errorf("error %q does not name the unknown attributes", err)
	}
	// Image look-ups need no cluster, so they are set up all the same.
	if registryTransportFromProviderData(resp.DataSourceData) == nil {
		t.Error("Configure set up no registry transport while the cluster is unknown")
	}
}

func TestProviderConfigureUnknownRegistrySettingsDefer(t *testing.T) {
	clearKubeEnvironment(t)
	resp := configureProvider(t, map[string]tftypes.Value{
		"host":                     stringValue("https://127.0.0.1:1"),
		"token":                    stringValue("configure-token-value"),
		"registry_ca_certificates": unknownString(),
	})
	if resp.Diagnostics.HasError() {
		t.Fatalf("unexpected diagnostics: %v", resp.Diagnostics)
	}
	if registryTransportFromProviderData(resp.DataSourceData) != nil {
		t.Error("Configure set up a registry transport without the CA certificates")
	}
	if _, err := clientsFromProviderData(resp.ResourceData, &resp.Diagnostics).REST(); err != nil {
		t.Errorf("the cluster clients failed while only a registry setting is unknown: %v", err)
	}
}

func TestProviderConfigureDoesNotDial(t *testing.T) {
	clearKubeEnvironment(t)
	// Port 1 on loopback is closed; Configure must succeed anyway.
	resp := configureProvider(t, map[string]tftypes.Value{
		"host":  stringValue("https://127.0.0.1:1"),
		"token": stringValue("configure-token-value"),
	})
	if resp.Diagnostics.HasError() {
		t.Fatalf("unexpected diagnostics: %v", resp.Diagnostics)
	}
	if clientsFromProviderData(resp.DataSourceData, &resp.Diagnostics) == nil {
		t.Fatal("Configure handed data sources no clients")
	}
}

// TestProviderConfigureWithoutCluster checks that settings naming no cluster pass Configure,
// for image look-ups that need none, and that resources still report the problem.
func TestProviderConfigureWithoutCluster(t *testing.T) {
	clearKubeEnvironment(t)

	resp := configureProvider(t, map[string]tftypes.Value{})
	if resp.Diagnostics.HasError() {
		t.Fatalf("unexpected diagnostics: %v", resp.Diagnostics)
	}
	clients := clientsFromProviderData(resp.ResourceData, &resp.Diagnostics)
	if clients == nil {
		t.Fatal("Configure handed resources no clients")
	}

	var diags diag.Diagnostics
	requireClusterSettings(clients, &diags)
	if diags.ErrorsCount() != 1 || diags[0].Summary() != "Missing Cluster Address" {
		t.Fatalf("requireClusterSettings diagnostics = %v, want one Missing Cluster Address",
			diags)
	}
	if _, err := clients.Kubernetes(); err == nil {
		t.Error("clients without a cluster built a client")
	}
}

// TestProviderConfigureBadSettingsStillFail checks that only the missing cluster is let
// through: a kubeconfig problem still fails Configure.
func TestProviderConfigureBadSettingsStillFail(t *testing.T) {
	clearKubeEnvironment(t)

	resp := configureProvider(t, map[string]tftypes.Value{
		"config_path": stringValue(filepath.Join(t.TempDir(), "missing")),
	})
	if !resp.Diagnostics.HasError() {
		t.Fatal("Configure accepted a kubeconfig file that does not exist")
	}
}

func TestRequireClusterSettingsWithCluster(t *testing.T) {
	clearKubeEnvironment(t)
	resp := configureProvider(t, map[string]tftypes.Value{
		"host":  stringValue("https://127.0.0.1:1"),
		"token": stringValue("configure-token-value"),
	})
	var diags diag.Diagnostics
	requireClusterSettings(clientsFromProviderData(resp.ResourceData, &diags), &diags)
	if diags.HasError() {
		t.Errorf("requireClusterSettings with a host = %v, want no error", diags)
	}
}

func TestProviderConfigureUnknownContext(t *testing.T) {
	clearKubeEnvironment(t)
	resp := configureProvider(t, map[string]tftypes.Value{
		"config_path":    stringValue(writeKubeconfig(t)),
		"config_context": stringValue("missing"),
	})
	assertAttributeError(t, resp, path.Root("config_context"))
}

func TestProviderConfigureUnreadableKubeconfig(t *testing.T) {
	clearKubeEnvironment(t)
	missing := filepath.Join(t.TempDir(), "absent")

	resp := configureProvider(t, map[string]tftypes.Value{
		"config_path": stringValue(missing),
	})
	assertAttributeError(t, resp, path.Root("config_path"))
}

func TestProviderConfigureUnreadableConfigPaths(t *testing.T) {
	clearKubeEnvironment(t)
	missing := filepath.Join(t.TempDir(), "absent")

	resp := configureProvider(t, map[string]tftypes.Value{
		"config_paths": tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
			[]tftypes.Value{stringValue(missing)}),
	})
	assertAttributeError(t, resp, path.Root("config_paths"))
}

func TestProviderConfigureTokenAndCertificate(t *testing.T) {
	clearKubeEnvironment(t)
	certificate, key := testClientCertificate(t)
	resp := configureProvider(t, map[string]tftypes.Value{
		"host":               stringValue("https://127.0.0.1:1"),
		"token":              stringValue("ambiguous-token-value"),
		"client_certificate": stringValue(certificate),
		"client_key":         stringValue(key),
	})
	assertAttributeError(t, resp, path.Root("token"))
	for _, diagnostic := range resp.Diagnostics {
		if strings.Contains(diagnostic.Detail(), "ambiguous-token-value") {
			t.Errorf("diagnostic %q quotes the token", diagnostic.Summary())
		}
	}
}

func TestProviderConfigureInsecureWarns(t *testing.T) {
	clearKubeEnvironment(t)
	resp := configureProvider(t, map[string]tftypes.Value{
		"host":     stringValue("https://127.0.0.1:1"),
		"insecure": tftypes.NewValue(tftypes.Bool, true),
	})
	if resp.Diagnostics.HasError() {
		t.Fatalf("unexpected errors: %v", resp.Diagnostics)
	}
	if resp.Diagnostics.WarningsCount() != 1 {
		t.Errorf("got %d warnings, expected 1 for insecure", resp.Diagnostics.WarningsCount())
	}
}

func assertAttributeError(t *testing.T, resp provider.ConfigureResponse, expected path.Path) {
	t.Helper()
	for _, diagnostic := range resp.Diagnostics.Errors() {
		withPath, ok := diagnostic.(interface{ Path() path.Path })
		if ok && withPath.Path().Equal(expected) {
			return
		}
	}
	t.Errorf("no error on %s; diagnostics: %v", expected, resp.Diagnostics)
}

func TestProviderKubeConfigEnvironmentPrecedence(t *testing.T) {
	env := environment{lookup: func(name string) (string, bool) {
		values := map[string]string{
			"KUBE_HOST":         "https://from-env:6443",
			"KUBE_TOKEN":        "env-token",
			"KUBE_CTX":          "second",
			"KUBE_INSECURE":     "true",
			"KUBE_CONFIG_PATHS": "/a/config" + string(os.PathListSeparator) + "/b/config",
		}
		value, ok := values[name]
		return value, ok
	}}

	model := modelFromConfig(t, map[string]tftypes.Value{
		"host": stringValue("https://from-block:6443"),
	})
	config := model.kubeConfig(env)

	if config.Host != "https://from-block:6443" {
		t.Errorf("host = %q, expected the block's value over KUBE_HOST", config.Host)
	}
	if config.Token != "env-token" {
		t.Error("token was not taken from KUBE_TOKEN")
	}
	if config.ConfigContext != "second" {
		t.Errorf("config_context = %q, expected KUBE_CTX", config.ConfigContext)
	}
	if !config.Insecure {
		t.Error("insecure was not taken from KUBE_INSECURE")
	}
	if strings.Join(config.ConfigPaths, ",") != "/a/config,/b/config" {
		t.Errorf("config paths = %v, expected KUBE_CONFIG_PATHS split", config.ConfigPaths)
	}
}

func TestProviderConfigPathOrder(t *testing.T) {
	env := environment{lookup: func(name string) (string, bool) {
		if name == "KUBE_CONFIG_PATH" {
			return "/env/single", true
		}
		return "", false
	}}
	list := tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
		[]tftypes.Value{stringValue("/block/one"), stringValue("/block/two")})

	fromList := modelFromConfig(t, map[string]tftypes.Value{"config_paths": list})
	if got := strings.Join(fromList.configPaths(env), ","); got != "/block/one,/block/two" {
		t.Errorf("config_paths gave %q", got)
	}
	if fromList.pathsAttribute() != "config_paths" {
		t.Errorf("paths attribute = %q", fromList.pathsAttribute())
	}

	fromEnv := modelFromConfig(t, nil)
	if got := strings.Join(fromEnv.configPaths(env), ","); got != "/env/single" {
		t.Errorf("KUBE_CONFIG_PATH gave %q", got)
	}
}

func TestProviderExecBlock(t *testing.T) {
	execType := tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"api_version": tftypes.String,
		"command":     tftypes.String,
		"args":        tftypes.List{ElementType: tftypes.String},
		"env":         tftypes.Map{ElementType: tftypes.String},
	}}
	block := tftypes.NewValue(execType, map[string]tftypes.Value{
		"api_version": stringValue("client.authentication.k8s.io/v1"),
		"command":     stringValue("get-token"),
		"args": tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
			[]tftypes.Value{stringValue("--cluster"), stringValue("east")}),
		"env": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String},
			map[string]tftypes.Value{"REGION": stringValue("east")}),
	})
	model := modelFromConfig(t, map[string]tftypes.Value{
		"exec": tftypes.NewValue(tftypes.List{ElementType: execType}, []tftypes.Value{block}),
	})

	exec := model.execConfig()
	if exec == nil {
		t.Fatal("exec block was dropped")
	}
	if exec.Command != "get-token" || exec.APIVersion != "client.authentication.k8s.io/v1" {
		t.Errorf("exec = %+v", exec)
	}
	if strings.Join(exec.Args, " ") != "--cluster east" {
		t.Errorf("exec args = %v", exec.Args)
	}
	if exec.Env["REGION"] != "east" {
		t.Errorf("exec env = %v", exec.Env)
	}
}

func modelFromConfig(t *testing.T, values map[string]tftypes.Value) *providerModel {
	t.Helper()
	var model providerModel
	diags := providerConfig(t, values).Get(context.Background(), &model)
	if diags.HasError() {
		t.Fatalf("reading the provider block: %v", diags)
	}
	return &model
}

func TestAttributePathExecBlock(t *testing.T) {
	cases := map[string]path.Path{
		"host":         path.Root("host"),
		"exec":         path.Root("exec"),
		"exec.command": path.Root("exec").AtListIndex(0).AtName("command"),
		"exec.env":     path.Root("exec").AtListIndex(0).AtName("env"),
		"":             path.Empty(),
	}
	for attribute, expected := range cases {
		if got := attributePath(attribute); !got.Equal(expected) {
			t.Errorf("attributePath(%q) = %s, expected %s", attribute, got, expected)
		}
	}
}

func TestProviderInsecureRegistryUserInfoNotEchoed(t *testing.T) {
	clearKubeEnvironment(t)
	resp := configureProvider(t, map[string]tftypes.Value{
		"host":  stringValue("https://127.0.0.1:1"),
		"token": stringValue("configure-token-value"),
		"insecure_registries": tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
			[]tftypes.Value{stringValue("user:hunter2@registry.example.com")}),
	})
	if !resp.Diagnostics.HasError() {
		t.Fatal("Configure accepted an insecure registry with user info")
	}
	for _, diagnostic := range resp.Diagnostics {
		if strings.Contains(diagnostic.Summary()+diagnostic.Detail(), "hunter2") {
			t.Errorf("diagnostic %q repeats the password: %s", diagnostic.Summary(),
				diagnostic.Detail())
		}
	}
}

func TestProviderConfigureUnprotectedConnectionWarns(t *testing.T) {
	insecureKubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	content := `apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
contexts:
- name: lab
  context: {cluster: lab, user: lab}
users:
- name: lab
  user: {token: lab-token-value}
`
	if err := os.WriteFile(insecureKubeconfig, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		values   map[string]tftypes.Value
		expected string
	}{
		{"kubeconfig skips verification", map[string]tftypes.Value{
			"config_path": stringValue(insecureKubeconfig)}, "insecure-skip-tls-verify"},
		// With credentials, plain HTTP is an error of its own.
		{"plain HTTP host", map[string]tftypes.Value{"host": stringValue("http://127.0.0.1:1")},
			"plain HTTP"},
		{"verified HTTPS", map[string]tftypes.Value{
			"host": stringValue("https://127.0.0.1:1"), "token": stringValue("lab-token-value")},
			""},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			clearKubeEnvironment(t)
			resp := configureProvider(t, test.values)
			if resp.Diagnostics.HasError() {
				t.Fatalf("unexpected errors: %v", resp.Diagnostics)
			}
			warnings := resp.Diagnostics.Warnings()
			if test.expected == "" {
				if len(warnings) != 0 {
					t.Errorf("got warnings %v, expected none", warnings)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("got %d warnings, expected 1", len(warnings))
			}
			if !strings.Contains(warnings[0].Detail(), test.expected) {
				t.Errorf("warning detail %q does not mention %q", warnings[0].Detail(),
					test.expected)
			}
			if strings.Contains(warnings[0].Detail(), "lab-token-value") {
				t.Error("the warning quotes the token")
			}
		})
	}
}

package provider

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A pull secret of the two docker config types gives a named credential source. A Secret of
// another type is an error that names the type, rather than an anonymous look-up.
func TestReadPullSecretSourceTypes(t *testing.T) {
	jsonDocument := `{"auths": {"registry.example.com": {"auth": "cm9ib3Q6b3BhcXVlLXZhbHVl"}}}`
	legacyDocument := `{"registry.example.com": {"auth": "cm9ib3Q6b3BhcXVlLXZhbHVl"}}`
	secret := func(name string, secretType corev1.SecretType, key, document string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name},
			Type:       secretType,
			Data:       map[string][]byte{key: []byte(document)},
		}
	}
	client := fake.NewClientset(
		secret("json", corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey,
			jsonDocument),
		secret("legacy", corev1.SecretTypeDockercfg, corev1.DockerConfigKey, legacyDocument),
		secret("opaque", corev1.SecretTypeOpaque, corev1.DockerConfigJsonKey, jsonDocument),
	)

	for _, name := range []string{"json", "legacy"} {
		var diags diag.Diagnostics
		source, ok := readPullSecretSource(context.Background(), client, "team", name,
			path.Root("pull_secret"), &diags)
		if !ok || diags.HasError() {
			t.Fatalf("%s: readPullSecretSource() = %t, %v", name, ok, diags)
		}
		if want := `Secret "team/` + name + `"`; source.Name != want {
			t.Errorf("%s: source name = %q, want %q", name, source.Name, want)
		}
		if entries, err := source.Config.Lookup("registry.example.com"); err != nil ||
			len(entries) != 1 {
			t.Errorf("%s: entries for registry.example.com = %d, %v, want 1", name,
				len(entries), err)
		}
	}

	var diags diag.Diagnostics
	_, ok := readPullSecretSource(context.Background(), client, "team", "opaque",
		path.Root("pull_secret"), &diags)
	if ok || !diags.HasError() {
		t.Fatalf("opaque: readPullSecretSource() = %t, %v, want an error", ok, diags)
	}
	detail := diags.Errors()[0].Detail()
	for _, want := range []string{`Secret "team/opaque"`, `type "Opaque"`,
		"kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"} {
		if !strings.Contains(detail, want) {
			t.Errorf("opaque: detail %q does not contain %q", detail, want)
		}
	}
	if strings.Contains(detail, "cm9ib3Q6b3BhcXVlLXZhbHVl") || strings.Contains(detail,
		"opaque-value") {
		t.Errorf("opaque: detail %q contains the credential", detail)
	}

	diags = nil
	_, ok = readPullSecretSource(context.Background(), client, "team", "absent",
		path.Root("pull_secret"), &diags)
	if ok || !diags.HasError() || diags.Errors()[0].Summary() != "Pull Secret Not Found" {
		t.Errorf("absent: readPullSecretSource() = %t, %v, want Pull Secret Not Found", ok,
			diags)
	}
}

// An auth file that an environment variable names, and that cannot be used, fails only the
// look-ups that would use it, with a message naming the variable. A DOCKER_CONFIG directory
// without config.json means no credentials.
func TestConfigureRegistryAccessFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	invalidDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(invalidDir, "config.json"), []byte(`{"auths": [`),
		0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		variables map[string]string
		// wantProblem is text of the look-up error, or "" for no error.
		wantProblem string
	}{
		{"DOCKER_CONFIG without config.json", map[string]string{"DOCKER_CONFIG": dir}, ""},
		{"DOCKER_CONFIG that does not exist",
			map[string]string{"DOCKER_CONFIG": filepath.Join(dir, "absent")}, ""},
		{"invalid config.json in DOCKER_CONFIG",
			map[string]string{"DOCKER_CONFIG": invalidDir}, "set by DOCKER_CONFIG"},
		{"REGISTRY_AUTH_FILE naming a directory",
			map[string]string{"REGISTRY_AUTH_FILE": dir}, "set by REGISTRY_AUTH_FILE"},
		{"REGISTRY_AUTH_FILE naming a missing file",
			map[string]string{"REGISTRY_AUTH_FILE": filepath.Join(dir, "absent.json")},
			"set by REGISTRY_AUTH_FILE"},
	}
	for _, test := range cases {
		t.Run(test.name, func(t *testing.T) {
			env := environment{lookup: func(name string) (string, bool) {
				value, ok := test.variables[name]
				return value, ok
			}}
			model := providerModel{RegistryAuthFile: types.StringNull(),
				InsecureRegistries: types.ListNull(types.StringType)}
			data := &providerData{registryTransport: http.DefaultTransport}
			var diags diag.Diagnostics
			model.configureRegistryAccess(env, data, &diags)
			if diags.HasError() {
				t.Fatalf("Configure diagnostics = %v, want none", diags)
			}

			lookups := imageLookupsFromProviderData(data, &diags)
			lookups.resolver(context.Background(), imageCredentialsModel{
				PullSecret: types.ObjectNull(map[string]attr.Type{
					"namespace": types.StringType, "name": types.StringType}),
				UseGlobalPullSecret: types.BoolNull(),
			}, &diags)
			switch {
			case test.wantProblem == "" && diags.HasError():
				t.Errorf("look-up diagnostics = %v, want none", diags)
			case test.wantProblem != "" && !diags.HasError():
				t.Error("look-up has no error")
			case test.wantProblem != "" &&
				!strings.Contains(diags.Errors()[0].Detail(), test.wantProblem):
				t.Errorf("look-up error %q does not contain %q", diags.Errors()[0].Detail(),
					test.wantProblem)
			}
		})
	}
}

// registry_auth_file expands a leading "~/" to HOME, and rejects other uses of "~".
func TestRegistryAuthFileHome(t *testing.T) {
	home := t.TempDir()
	document := `{"auths": {"registry.example.com": {"auth": "dXNlcjpwdw=="}}}`
	if err := os.WriteFile(filepath.Join(home, "auth.json"), []byte(document),
		0o600); err != nil {
		t.Fatal(err)
	}
	env := environment{lookup: func(name string) (string, bool) {
		if name == "HOME" {
			return home, true
		}
		return "", false
	}}

	model := providerModel{RegistryAuthFile: types.StringValue("~/auth.json"),
		InsecureRegistries: types.ListNull(types.StringType)}
	data := &providerData{}
	var diags diag.Diagnostics
	model.configureRegistryAccess(env, data, &diags)
	if diags.HasError() || data.registryAuth == nil {
		t.Fatalf("~/auth.json: registryAuth = %v, diagnostics = %v", data.registryAuth, diags)
	}

	model.RegistryAuthFile = types.StringValue("~other/auth.json")
	diags = nil
	model.configureRegistryAccess(env, &providerData{}, &diags)
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), "full path") {
		t.Errorf("~other/auth.json: diagnostics = %v, want an error asking for the full path",
			diags)
	}
}

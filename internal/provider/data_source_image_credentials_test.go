package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
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

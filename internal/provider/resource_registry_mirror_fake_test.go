package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// plainKubernetesServer responds to every request with the plain-text 404 that kube-apiserver
// sends for a path it does not serve, as for the OpenShift groups on plain Kubernetes. It
// records the request paths.
func plainKubernetesServer(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var paths []string
	server := httptest.NewTLSServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			mu.Lock()
			paths = append(paths, request.Method+" "+request.URL.Path)
			mu.Unlock()
			http.NotFound(w, request)
		}))
	t.Cleanup(server.Close)
	return server, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

// On plain Kubernetes the plan works and the apply fails with one error that names the CRD.
func TestAccRegistryMirrorWithoutCRDs(t *testing.T) {
	if os.Getenv(testcluster.EnvAcceptance) == "" {
		t.Skipf("acceptance test: set %s=1 to run it", testcluster.EnvAcceptance)
	}
	server, requests := plainKubernetesServer(t)
	config := fmt.Sprintf(`
provider "imagedist" {
  host     = %q
  token    = "not-a-real-token"
  insecure = true
}

resource "imagedist_registry_mirror" "test" {
  name      = "plain"
  pull_type = "tag"
  mirror {
    source  = "quay.io/team"
    mirrors = ["m.example.com/q"]
  }
}
`, server.URL)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, PlanOnly: true, ExpectNonEmptyPlan: true},
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)Mirror Set CRD Not Installed.*` +
					`imagetagmirrorsets\.config\.openshift\.io.*OpenShift`),
			},
		},
	})

	for _, request := range requests() {
		if strings.HasPrefix(request, "POST ") || strings.HasPrefix(request, "PUT ") {
			t.Errorf("the provider sent %s to a cluster without the CRDs", request)
		}
	}
}

func TestRegistryMirrorConflictsSkippedWhenDeferred(t *testing.T) {
	r := &registryMirrorResource{clients: kube.NewDeferredClients([]string{"host"})}
	plan := registryMirrorModel{Name: types.StringValue("a"),
		PullType: types.StringValue(mirrors.PullTypeDigest)}
	var diags diag.Diagnostics

	r.checkConflicts(context.Background(), plan, registryMirrorModel{Name: types.StringNull()},
		[]mirrors.Rule{{Source: "quay.io", Mirrors: []string{"m.io"}}}, &diags)

	if len(diags) != 0 {
		t.Errorf("diagnostics = %v, want none while the provider configuration is unknown",
			diags)
	}
}

func TestRegistryMirrorDrainWarnings(t *testing.T) {
	ctx := context.Background()
	state := func(pullType string, mirrorList ...string) registryMirrorModel {
		list, diags := mirrorBlockList(ctx, []mirrorRuleModel{{
			Source: types.StringValue("quay.io"), Mirrors: stringList(mirrorList),
			MirrorSourcePolicy: types.StringNull(),
		}})
		if diags.HasError() {
			t.Fatalf("mirrorBlockList: %v", diags)
		}
		return registryMirrorModel{Name: types.StringValue("a"),
			PullType: types.StringValue(pullType), Mirror: list}
	}
	rules := func(mirrorList ...string) []mirrors.Rule {
		return []mirrors.Rule{{Source: "quay.io", Mirrors: mirrorList}}
	}
	created := registryMirrorModel{PullType: types.StringNull(),
		Mirror: types.ListNull(types.ObjectType{AttrTypes: mirrorRuleAttributeTypes})}

	tests := []struct {
		name  string
		plan  registryMirrorModel
		state registryMirrorModel
		rules []mirrors.Rule
		want  string
	}{
		{"digest mirror added", state(mirrors.PullTypeDigest, "m.io", "n.io"),
			state(mirrors.PullTypeDigest, "m.io"), rules("m.io", "n.io"), ""},
		{"digest reorder", state(mirrors.PullTypeDigest, "n.io", "m.io"),
			state(mirrors.PullTypeDigest, "m.io", "n.io"), rules("n.io", "m.io"), ""},
		{"digest mirror removed", state(mirrors.PullTypeDigest, "m.io"),
			state(mirrors.PullTypeDigest, "m.io", "n.io"), rules("m.io"), "is removed"},
		{"digest create", state(mirrors.PullTypeDigest, "m.io"), created, rules("m.io"), ""},
		{"tag create", state(mirrors.PullTypeTag, "m.io"), created, rules("m.io"),
			"Tag mirrors"},
		{"tag mirror added", state(mirrors.PullTypeTag, "m.io", "n.io"),
			state(mirrors.PullTypeTag, "m.io"), rules("m.io", "n.io"), "Tag mirrors"},
		{"pull type change", state(mirrors.PullTypeBoth, "m.io"),
			state(mirrors.PullTypeDigest, "m.io"), rules("m.io"), "pull_type changes"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var diags diag.Diagnostics
			warnDrain(ctx, test.plan, test.state, test.rules, &diags)

			if test.want == "" {
				if len(diags) != 0 {
					t.Errorf("diagnostics = %v, want none", diags)
				}
				return
			}
			if len(diags) != 1 {
				t.Fatalf("diagnostics = %v, want one warning", diags)
			}
			if diags[0].Severity() != diag.SeverityWarning {
				t.Errorf("severity = %v, want a warning", diags[0].Severity())
			}
			if diags[0].Summary() != "Change Drains Nodes" {
				t.Errorf("summary = %q", diags[0].Summary())
			}
			if !strings.Contains(diags[0].Detail(), test.want) {
				t.Errorf("detail %q does not contain %q", diags[0].Detail(), test.want)
			}
		})
	}
}

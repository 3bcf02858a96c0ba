package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	frameworkresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/registrypolicy"
)

const registryPolicyAddress = "imagedist_registry_policy.test"

// Field managers of the other writers in these tests: one that applies its own fields, as an
// operator or another Terraform configuration would, and one that edits with an update, as
// `oc edit` does.
const (
	otherApplyManager = "imagedist-test-other-applier"
	otherEditManager  = "imagedist-test-editor"
)

// imageConfigCluster reads and writes the Image "cluster" as other writers do. Every test that
// uses it shares the one object, so these tests never run in parallel.
type imageConfigCluster struct {
	t      *testing.T
	client dynamic.Interface
}

func newImageConfigCluster(t *testing.T) *imageConfigCluster {
	t.Helper()
	c := &imageConfigCluster{t: t, client: acceptanceDynamicClient(t)}
	c.reset()
	t.Cleanup(c.reset)
	return c
}

func (c *imageConfigCluster) resource() dynamic.ResourceInterface {
	return c.client.Resource(registrypolicy.ImageResource)
}

func (c *imageConfigCluster) get() (*unstructured.Unstructured, error) {
	return c.resource().Get(context.Background(), registrypolicy.ObjectName, metav1.GetOptions{})
}

// reset empties the spec with an update, which also drops every manager's ownership of the
// removed fields.
func (c *imageConfigCluster) reset() {
	c.t.Helper()
	object, err := c.get()
	if err != nil {
		c.t.Fatalf("reading the Image: %v", err)
	}
	object.Object["spec"] = map[string]any{}
	_, err = c.resource().Update(context.Background(), object,
		metav1.UpdateOptions{FieldManager: otherEditManager})
	if err != nil {
		c.t.Fatalf("resetting the Image spec: %v", err)
	}
}

// applyOther applies spec with the other applier's field manager.
func (c *imageConfigCluster) applyOther(spec map[string]any) {
	c.t.Helper()
	object := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "config.openshift.io/v1",
		"kind":       "Image",
		"metadata":   map[string]any{"name": registrypolicy.ObjectName},
		"spec":       spec,
	}}
	_, err := c.resource().Apply(context.Background(), registrypolicy.ObjectName, object,
		metav1.ApplyOptions{FieldManager: otherApplyManager, Force: true})
	if err != nil {
		c.t.Fatalf("applying the other writer's fields: %v", err)
	}
}

// edit sets the field at fieldPath with an update, as `oc edit` does.
func (c *imageConfigCluster) edit(value any, fieldPath ...string) {
	c.t.Helper()
	object, err := c.get()
	if err != nil {
		c.t.Fatalf("reading the Image: %v", err)
	}
	if err := unstructured.SetNestedField(object.Object, value, fieldPath...); err != nil {
		c.t.Fatalf("setting %s: %v", strings.Join(fieldPath, "."), err)
	}
	_, err = c.resource().Update(context.Background(), object,
		metav1.UpdateOptions{FieldManager: otherEditManager})
	if err != nil {
		c.t.Fatalf("editing %s: %v", strings.Join(fieldPath, "."), err)
	}
}

// checkField compares the field at fieldPath with want, where nil means absent.
func (c *imageConfigCluster) checkField(want any, fieldPath ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		object, err := c.get()
		if err != nil {
			return fmt.Errorf("reading the Image: %w", err)
		}
		got, found, err := unstructured.NestedFieldNoCopy(object.Object, fieldPath...)
		if err != nil {
			return err
		}
		name := strings.Join(fieldPath, ".")
		if want == nil {
			if found {
				return fmt.Errorf("%s = %v, want it absent", name, got)
			}
			return nil
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s = %#v, want %#v", name, got, want)
		}
		return nil
	}
}

// checkOwned compares the fields that the resource's field manager owns with want.
func (c *imageConfigCluster) checkOwned(want ...registrypolicy.Field) resource.TestCheckFunc {
	return func(*terraform.State) error {
		object, err := c.get()
		if err != nil {
			return fmt.Errorf("reading the Image: %w", err)
		}
		owned, err := registrypolicy.OwnedFields(object, registrypolicy.FieldManager)
		if err != nil {
			return err
		}
		wantOwned := map[registrypolicy.Field]bool{}
		for _, field := range want {
			wantOwned[field] = true
		}
		if !reflect.DeepEqual(owned, wantOwned) {
			return fmt.Errorf("field manager %s owns %v, want %v", registrypolicy.FieldManager,
				owned, wantOwned)
		}
		return nil
	}
}

// otherFields are the fields that the other applier writes in the lifecycle test.
func otherFields() map[string]any {
	return map[string]any{
		"externalRegistryHostnames": []any{"registry.apps.example.com"},
		"additionalTrustedCA":       map[string]any{"name": "registry-cas"},
		"registrySources": map[string]any{
			"containerRuntimeSearchRegistries": []any{"search.example.com"},
		},
	}
}

// checkOtherFields checks the fields that the resource does not manage: the other applier's
// and those that the editor wrote, with hostnames as spec.externalRegistryHostnames and
// insecure as spec.registrySources.insecureRegistries (nil for absent).
func (c *imageConfigCluster) checkOtherFields(hostnames, insecure []any) resource.TestCheckFunc {
	var insecureValue any
	if insecure != nil {
		insecureValue = insecure
	}
	return resource.ComposeAggregateTestCheckFunc(
		c.checkField(hostnames, "spec", "externalRegistryHostnames"),
		c.checkField(map[string]any{"name": "registry-cas"}, "spec", "additionalTrustedCA"),
		c.checkField([]any{"search.example.com"}, "spec", "registrySources",
			"containerRuntimeSearchRegistries"),
		c.checkField(insecureValue, "spec", "registrySources", "insecureRegistries"),
	)
}

// checkReleased returns a CheckDestroy that reads the Image from the API server and checks
// that destroy released every field of the resource and kept the fields of other writers.
func (c *imageConfigCluster) checkReleased(others resource.TestCheckFunc) func(
	*terraform.State) error {
	return func(state *terraform.State) error {
		checks := []resource.TestCheckFunc{
			c.checkOwned(),
			c.checkField(nil, "spec", "registrySources", "allowedRegistries"),
			c.checkField(nil, "spec", "allowedRegistriesForImport"),
			others,
		}
		for _, check := range checks {
			if err := check(state); err != nil {
				return fmt.Errorf("after destroy: %w", err)
			}
		}
		return nil
	}
}

func registryPolicyConfig(body string) string {
	return fmt.Sprintf(`
resource "imagedist_registry_policy" "test" {
%s
}
`, body)
}

func TestAccRegistryPolicyLifecycle(t *testing.T) {
	cluster := newImageConfigCluster(t)
	created := registryPolicyConfig(`
  allowed_registries  = ["quay.io", "registry.example.com", "*.apps.example.com"]
  insecure_registries = ["insecure.example.com:5000"]

  allowed_registries_for_import = [
    { domain_name = "quay.io" },
  ]
`)
	updated := registryPolicyConfig(`
  allowed_registries = ["quay.io", "registry.example.com:5000/team"]

  allowed_registries_for_import = [
    { domain_name = "quay.io" },
    { domain_name = "lab.example.com:5000", insecure = true },
  ]
`)

	hostnames := []any{"registry.apps.example.com"}
	editedHostnames := []any{"registry.apps.example.com", "other.example.com"}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: cluster.checkReleased(cluster.checkOtherFields(editedHostnames,
			[]any{"released.example.com"})),
		Steps: []resource.TestStep{
			{
				PreConfig: func() { cluster.applyOther(otherFields()) },
				Config:    created,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(registryPolicyAddress, tfjsonpath.New("id"),
						knownvalue.StringExact("cluster")),
					statecheck.ExpectKnownValue(registryPolicyAddress,
						tfjsonpath.New("allowed_registries_for_import").AtSliceIndex(0).
							AtMapKey("insecure"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(registryPolicyAddress,
						tfjsonpath.New("container_runtime_search_registries"),
						knownvalue.Null()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					cluster.checkField([]any{"quay.io", "registry.example.com",
						"*.apps.example.com"}, "spec", "registrySources", "allowedRegistries"),
					cluster.checkField([]any{"insecure.example.com:5000"}, "spec",
						"registrySources", "insecureRegistries"),
					cluster.checkField([]any{map[string]any{"domainName": "quay.io"}}, "spec",
						"allowedRegistriesForImport"),
					cluster.checkOwned(registrypolicy.FieldAllowed, registrypolicy.FieldInsecure,
						registrypolicy.FieldImport),
					cluster.checkField(hostnames, "spec", "externalRegistryHostnames"),
					cluster.checkField(map[string]any{"name": "registry-cas"}, "spec",
						"additionalTrustedCA"),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				ResourceName:      registryPolicyAddress,
				ImportState:       true,
				ImportStateId:     "cluster",
				ImportStateVerify: true,
			},
			{
				// Removing insecure_registries releases the field, which no one else owns.
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(registryPolicyAddress,
							plancheck.ResourceActionUpdate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					cluster.checkField([]any{"quay.io", "registry.example.com:5000/team"},
						"spec", "registrySources", "allowedRegistries"),
					cluster.checkField(nil, "spec", "registrySources", "insecureRegistries"),
					cluster.checkField([]any{
						map[string]any{"domainName": "quay.io"},
						map[string]any{"domainName": "lab.example.com:5000", "insecure": true},
					}, "spec", "allowedRegistriesForImport"),
					cluster.checkOwned(registrypolicy.FieldAllowed, registrypolicy.FieldImport),
					cluster.checkOtherFields(hostnames, nil),
				),
			},
			{
				// An edit of a managed field shows as drift, and the apply reverts it.
				PreConfig: func() {
					cluster.edit([]any{"docker.io"}, "spec", "registrySources",
						"allowedRegistries")
				},
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(registryPolicyAddress,
							plancheck.ResourceActionUpdate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					cluster.checkField([]any{"quay.io", "registry.example.com:5000/team"},
						"spec", "registrySources", "allowedRegistries"),
					cluster.checkOwned(registrypolicy.FieldAllowed, registrypolicy.FieldImport),
				),
			},
			{
				// Edits of fields that the resource does not manage cause no diff.
				PreConfig: func() {
					cluster.edit(editedHostnames, "spec", "externalRegistryHostnames")
					cluster.edit([]any{"released.example.com"}, "spec", "registrySources",
						"insecureRegistries")
				},
				Config: updated,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: cluster.checkOtherFields(editedHostnames,
					[]any{"released.example.com"}),
			},
			{
				// A field removed outside Terraform shows as drift too.
				PreConfig: func() {
					cluster.edit(nil, "spec", "allowedRegistriesForImport")
				},
				Config:             updated,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

// The object "cluster" and every field of another manager survive destroy. An atomic list
// that the resource took over with force is removed on destroy, because it owns it alone.
func TestAccRegistryPolicyTakeOver(t *testing.T) {
	cluster := newImageConfigCluster(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: cluster.checkReleased(resource.ComposeAggregateTestCheckFunc(
			cluster.checkField(nil, "spec", "registrySources", "blockedRegistries"),
			cluster.checkField(nil, "spec", "registrySources",
				"containerRuntimeSearchRegistries"),
			cluster.checkField([]any{"insecure.example.com"}, "spec", "registrySources",
				"insecureRegistries"),
		)),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					cluster.applyOther(map[string]any{"registrySources": map[string]any{
						"blockedRegistries":  []any{"docker.io"},
						"insecureRegistries": []any{"insecure.example.com"},
					}})
				},
				Config: registryPolicyConfig(`
  blocked_registries                  = ["docker.io", "ghcr.io"]
  container_runtime_search_registries = ["registry.example.com"]
`),
				Check: resource.ComposeAggregateTestCheckFunc(
					cluster.checkField([]any{"docker.io", "ghcr.io"}, "spec", "registrySources",
						"blockedRegistries"),
					cluster.checkField([]any{"insecure.example.com"}, "spec", "registrySources",
						"insecureRegistries"),
					cluster.checkOwned(registrypolicy.FieldBlocked, registrypolicy.FieldSearch),
				),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// A value unknown at plan time is checked once it is known, before anything is written.
func TestAccRegistryPolicyUnknownValueChecked(t *testing.T) {
	cluster := newImageConfigCluster(t)
	config := `
resource "terraform_data" "entry" {
  input = "https://quay.io"
}
` + registryPolicyConfig(`  allowed_registries = [terraform_data.entry.output]`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ExpectError: regexp.MustCompile(`(?s)Invalid Registry.*scheme`)},
		},
	})

	if err := cluster.checkOwned()(nil); err != nil {
		t.Error(err)
	}
	if err := cluster.checkField(nil, "spec", "registrySources", "allowedRegistries")(
		nil); err != nil {
		t.Error(err)
	}
}

func registryPolicyBadInput(body string) string {
	return registryPolicyConfig(body)
}

// Every invalid value fails the plan on its attribute before any API request.
func TestAccRegistryPolicyValidation(t *testing.T) {
	env := newBadInputEnv(t)
	long := "registry.example.com/" + strings.Repeat("a", 236)
	cases := []badInputCase{
		{name: "allowed and blocked", config: registryPolicyBadInput(`
  allowed_registries = ["quay.io"]
  blocked_registries = ["docker.io"]`),
			want: attributeError("Conflicting Registry Lists", registryPolicyAddress,
				"blocked_registries")},
		{name: "empty list", config: registryPolicyBadInput(`  insecure_registries = []`),
			want: attributeError("Empty Registry List", registryPolicyAddress,
				"insecure_registries")},
		{name: "too many", config: registryPolicyBadInput(
			`  blocked_registries = concat([for i in range(1000) : "r${i}.example.com"],` +
				`[for i in range(25) : "s${i}.example.com"])`),
			want: attributeError("Too Many Registries", registryPolicyAddress,
				"blocked_registries")},
		{name: "empty entry", config: registryPolicyBadInput(`  allowed_registries = [""]`),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"allowed_registries")},
		{name: "too long", config: registryPolicyBadInput(
			fmt.Sprintf(`  allowed_registries = [%q]`, long)),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"allowed_registries")},
		{name: "scheme", config: registryPolicyBadInput(
			`  blocked_registries = ["https://docker.io"]`),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"blocked_registries")},
		{name: "tag", config: registryPolicyBadInput(
			`  allowed_registries = ["quay.io/team/app:latest"]`),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"allowed_registries")},
		{name: "digest", config: registryPolicyBadInput(
			`  insecure_registries = ["quay.io/app@sha256:abc"]`),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"insecure_registries")},
		{name: "wildcard with path", config: registryPolicyBadInput(
			`  insecure_registries = ["*.example.com/team"]`),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"insecure_registries")},
		{name: "wildcard inside host", config: registryPolicyBadInput(
			`  blocked_registries = ["registry.*.example.com"]`),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"blocked_registries")},
		{name: "search with port", config: registryPolicyBadInput(
			`  container_runtime_search_registries = ["registry.example.com:5000"]`),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"container_runtime_search_registries")},
		{name: "search duplicate", config: registryPolicyBadInput(
			`  container_runtime_search_registries = ["a.example.com", "A.example.com"]`),
			want: attributeError("Invalid Registry", registryPolicyAddress,
				"container_runtime_search_registries")},
		{name: "import scheme", config: registryPolicyBadInput(
			`  allowed_registries_for_import = [{ domain_name = "https://quay.io" }]`),
			want: messageError("Invalid Import Registry", registryPolicyAddress,
				`allowed_registries_for_import[0].domain_name "https://quay.io"`)},
		{name: "import path", config: registryPolicyBadInput(
			`  allowed_registries_for_import = [{ domain_name = "quay.io/team" }]`),
			want: messageError("Invalid Import Registry", registryPolicyAddress,
				`allowed_registries_for_import[0].domain_name "quay.io/team"`)},
		{name: "import empty list", config: registryPolicyBadInput(
			`  allowed_registries_for_import = []`),
			want: attributeError("Empty Registry List", registryPolicyAddress,
				"allowed_registries_for_import")},
		{name: "null entry", config: registryPolicyBadInput(
			`  insecure_registries = ["insecure.example.com", null]`),
			want: attributeError("Null List Value", registryPolicyAddress,
				"insecure_registries")},
		{name: "null import entry", config: registryPolicyBadInput(
			`  allowed_registries_for_import = [null]`),
			want: attributeError("Null List Value", registryPolicyAddress,
				"allowed_registries_for_import")},
		{name: "import ID", config: registryPolicyBadInput(`  allowed_registries = ["quay.io"]`),
			importID: "default", importAddress: registryPolicyAddress,
			want: regexp.MustCompile(`(?s)Invalid Import ID.*"cluster"`)},
	}
	env.run(t, cases)
}

// releaseVersionServer is a loopback API server that serves a ClusterVersion "version" with
// image as its release image, and a 404 for every other path. It returns clients of the
// server and a function that counts the requests it received.
func releaseVersionServer(t *testing.T, image string) (*kube.Clients, func() int64) {
	t.Helper()
	var requests atomic.Int64
	server := httptest.NewTLSServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			requests.Add(1)
			if request.URL.Path != "/apis/config.openshift.io/v1/clusterversions/version" {
				http.NotFound(w, request)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"apiVersion":"config.openshift.io/v1","kind":"ClusterVersion",`+
				`"metadata":{"name":"version"},"status":{"desired":{"image":%q}}}`, image)
		}))
	t.Cleanup(server.Close)
	clients := kube.NewClients(kube.Config{Host: server.URL, Token: "not-a-real-token",
		Insecure: true}, "imagedist-test")
	return clients, requests.Load
}

// modifyRegistryPolicyPlan runs ModifyPlan with clients, the planned model and the prior
// state, where a nil prior means create.
func modifyRegistryPolicyPlan(t *testing.T, clients *kube.Clients, planned registryPolicyModel,
	prior *registryPolicyModel) *frameworkresource.ModifyPlanResponse {
	t.Helper()
	ctx := context.Background()
	r := &registryPolicyResource{clients: clients}
	var schemaResp frameworkresource.SchemaResponse
	r.Schema(ctx, frameworkresource.SchemaRequest{}, &schemaResp)
	objectType := schemaResp.Schema.Type().TerraformType(ctx)

	plan := tfsdk.Plan{Schema: schemaResp.Schema}
	state := tfsdk.State{Schema: schemaResp.Schema, Raw: tftypes.NewValue(objectType, nil)}
	if diags := plan.Set(ctx, planned); diags.HasError() {
		t.Fatalf("encoding the plan: %v", diags)
	}
	if prior != nil {
		if diags := state.Set(ctx, prior); diags.HasError() {
			t.Fatalf("encoding the state: %v", diags)
		}
	}

	req := frameworkresource.ModifyPlanRequest{Plan: plan, State: state}
	resp := &frameworkresource.ModifyPlanResponse{Plan: plan}
	r.ModifyPlan(ctx, req, resp)
	return resp
}

// registryPolicyModelWith returns a model that sets only allowed_registries.
func registryPolicyModelWith(t *testing.T, allowed ...string) registryPolicyModel {
	t.Helper()
	var model registryPolicyModel
	if diags := model.setPolicy(registrypolicy.Policy{Allowed: allowed}); diags.HasError() {
		t.Fatalf("building the model: %v", diags)
	}
	return model
}

func TestRegistryPolicyPlanWarnsReleaseBlocked(t *testing.T) {
	release := "registry.example.com:5000/ocp/release@sha256:" + strings.Repeat("c", 64)
	clients, requests := releaseVersionServer(t, release)

	resp := modifyRegistryPolicyPlan(t, clients, registryPolicyModelWith(t, "quay.io"), nil)
	if resp.Diagnostics.HasError() || resp.Diagnostics.WarningsCount() != 1 {
		t.Fatalf("diagnostics = %v, want one warning", resp.Diagnostics)
	}
	warning := resp.Diagnostics[0]
	withPath, ok := warning.(diag.DiagnosticWithPath)
	if !ok || !withPath.Path().Equal(path.Root("allowed_registries")) {
		t.Errorf("warning is not on allowed_registries: %v", warning)
	}
	if !strings.Contains(warning.Detail(), "registry.example.com:5000/ocp/release") {
		t.Errorf("detail %q does not name the release repository", warning.Detail())
	}
	if !strings.Contains(warning.Detail(), `ClusterVersion "version"`) {
		t.Errorf("detail %q does not name the ClusterVersion", warning.Detail())
	}
	if requests() != 1 {
		t.Errorf("the API server received %d requests, want 1", requests())
	}
}

func TestRegistryPolicyPlanUnchangedListsNoRead(t *testing.T) {
	clients, requests := releaseVersionServer(t, "")
	model := registryPolicyModelWith(t, "registry.example.com")

	resp := modifyRegistryPolicyPlan(t, clients, model, &model)
	if len(resp.Diagnostics) != 0 {
		t.Errorf("diagnostics = %v, want none for unchanged lists", resp.Diagnostics)
	}
	if requests() != 0 {
		t.Errorf("the API server received %d requests, want none", requests())
	}
}

func TestRegistryPolicyPlanAllowedReleaseNoWarning(t *testing.T) {
	clients, _ := releaseVersionServer(t, "")

	resp := modifyRegistryPolicyPlan(t, clients,
		registryPolicyModelWith(t, "quay.io/openshift-release-dev"), nil)
	if len(resp.Diagnostics) != 0 {
		t.Errorf("diagnostics = %v, want none", resp.Diagnostics)
	}
}

// releaseClients is releaseVersionServer without the request count.
func releaseClients(t *testing.T, image string) *kube.Clients {
	t.Helper()
	clients, _ := releaseVersionServer(t, image)
	return clients
}

func TestRegistryPolicyReleaseRepositories(t *testing.T) {
	release := "registry.example.com:5000/ocp/release@sha256:" + strings.Repeat("b", 64)
	tests := []struct {
		name    string
		clients *kube.Clients
		want    []string
	}{
		{"without clients", nil, registrypolicy.DefaultReleaseRepositories},
		{"from ClusterVersion", releaseClients(t, release),
			[]string{"registry.example.com:5000/ocp/release"}},
		{"without release image", releaseClients(t, ""),
			registrypolicy.DefaultReleaseRepositories},
		{"unknown settings", kube.NewDeferredClients([]string{"host"}),
			registrypolicy.DefaultReleaseRepositories},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			r := &registryPolicyResource{clients: test.clients}
			got, source := r.releaseRepositories(context.Background())
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("releaseRepositories = %v, want %v", got, test.want)
			}
			if source == "" {
				t.Error("releaseRepositories returned no source")
			}
		})
	}
}

func TestRegistryPolicyReleaseRepositoriesWithoutKind(t *testing.T) {
	server, _ := plainKubernetesServer(t)
	r := &registryPolicyResource{clients: kube.NewClients(kube.Config{Host: server.URL,
		Token: "not-a-real-token", Insecure: true}, "imagedist-test")}
	got, _ := r.releaseRepositories(context.Background())
	if !reflect.DeepEqual(got, registrypolicy.DefaultReleaseRepositories) {
		t.Errorf("releaseRepositories = %v, want the defaults", got)
	}
}

func TestRegistryPolicyReleaseWarning(t *testing.T) {
	tests := []struct {
		name      string
		policy    registrypolicy.Policy
		attribute string
		detail    string
	}{
		{"allowed", registrypolicy.Policy{Allowed: []string{"registry.example.com"}},
			"allowed_registries", "no entry of allowed_registries covers it"},
		{"blocked", registrypolicy.Policy{Blocked: []string{"quay.io"}},
			"blocked_registries", `blocked_registries lists "quay.io"`},
	}
	repositories := []string{registrypolicy.DefaultReleaseRepositories[0]}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var diags diag.Diagnostics
			warnReleaseBlocked(context.Background(), test.policy, repositories, "a test",
				&diags)
			if diags.WarningsCount() != 1 || diags.HasError() {
				t.Fatalf("diagnostics = %v, want one warning", diags)
			}
			warning, ok := diags[0].(diag.DiagnosticWithPath)
			if !ok || !warning.Path().Equal(path.Root(test.attribute)) {
				t.Errorf("warning is not on %s: %v", test.attribute, diags[0])
			}
			if !strings.Contains(diags[0].Detail(), test.detail) {
				t.Errorf("detail %q does not contain %q", diags[0].Detail(), test.detail)
			}
		})
	}

	var diags diag.Diagnostics
	warnReleaseBlocked(context.Background(), registrypolicy.Policy{
		Allowed: []string{"quay.io/openshift-release-dev"}}, repositories, "a test", &diags)
	if len(diags) != 0 {
		t.Errorf("diagnostics = %v, want none for an allowed release repository", diags)
	}
}

// A wholly unknown list may turn out null, as with a conditional, so only lists that are
// known to be set conflict at validation.
func TestRegistryPolicyValidateUnknownListNoConflict(t *testing.T) {
	ctx := context.Background()
	r := &registryPolicyResource{}
	var schemaResp frameworkresource.SchemaResponse
	r.Schema(ctx, frameworkresource.SchemaRequest{}, &schemaResp)
	listType := tftypes.List{ElementType: tftypes.String}

	for _, test := range []struct {
		name     string
		blocked  tftypes.Value
		conflict bool
	}{
		{"unknown list", tftypes.NewValue(listType, tftypes.UnknownValue), false},
		{"unknown element", tftypes.NewValue(listType, []tftypes.Value{
			tftypes.NewValue(tftypes.String, tftypes.UnknownValue)}), true},
		{"known list", tftypes.NewValue(listType, []tftypes.Value{
			tftypes.NewValue(tftypes.String, "docker.io")}), true},
	} {
		t.Run(test.name, func(t *testing.T) {
			objectType := schemaResp.Schema.Type().TerraformType(ctx).(tftypes.Object)
			values := map[string]tftypes.Value{}
			for name, attributeType := range objectType.AttributeTypes {
				values[name] = tftypes.NewValue(attributeType, nil)
			}
			values["allowed_registries"] = tftypes.NewValue(listType, []tftypes.Value{
				tftypes.NewValue(tftypes.String, "quay.io")})
			values["blocked_registries"] = test.blocked
			config := tfsdk.Config{Schema: schemaResp.Schema,
				Raw: tftypes.NewValue(objectType, values)}

			resp := &frameworkresource.ValidateConfigResponse{}
			r.ValidateConfig(ctx, frameworkresource.ValidateConfigRequest{Config: config}, resp)
			conflict := false
			for _, diagnostic := range resp.Diagnostics.Errors() {
				conflict = conflict || diagnostic.Summary() == "Conflicting Registry Lists"
			}
			if conflict != test.conflict {
				t.Errorf("conflict reported = %v, expected %v (diagnostics %v)", conflict,
					test.conflict, resp.Diagnostics)
			}
		})
	}
}

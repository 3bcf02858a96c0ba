package provider

import (
	"context"
	"os"
	"strings"
	"testing"

	frameworkresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/registrypolicy"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// containerRuntimeSearchRegistries is a set list (x-kubernetes-list-type: set), so server-side
// apply gives each element its own owner. An element that another writer added stays after
// the resource applies its own list, so refresh must not report it as drift that the next
// apply would remove.
func TestAccRegistryPolicySearchSetOtherElement(t *testing.T) {
	cluster := newImageConfigCluster(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					cluster.applyOther(map[string]any{"registrySources": map[string]any{
						"containerRuntimeSearchRegistries": []any{"other.example.com"},
					}})
				},
				Config: registryPolicyConfig(`
  container_runtime_search_registries = ["registry.example.com"]
`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// An import of a cluster whose fields belong to other writers imports nothing, and destroy
// then leaves every field in place.
func TestAccRegistryPolicyImportNothingManaged(t *testing.T) {
	cluster := newImageConfigCluster(t)
	cluster.applyOther(map[string]any{"registrySources": map[string]any{
		"blockedRegistries": []any{"blocked.example.com"},
	}})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: cluster.checkField([]any{"blocked.example.com"}, "spec",
			"registrySources", "blockedRegistries"),
		Steps: []resource.TestStep{
			{
				Config:             registryPolicyConfig(""),
				ResourceName:       registryPolicyAddress,
				ImportState:        true,
				ImportStateId:      registrypolicy.ObjectName,
				ImportStatePersist: true,
			},
			{
				Config: registryPolicyConfig(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: cluster.checkOwned(),
			},
		},
	})
}

// Destroy after another writer took the field with an update leaves the other writer's
// value.
func TestAccRegistryPolicyDestroyAfterTakeover(t *testing.T) {
	cluster := newImageConfigCluster(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: cluster.checkField([]any{"edited.example.com"}, "spec",
			"registrySources", "insecureRegistries"),
		Steps: []resource.TestStep{
			{
				Config: registryPolicyConfig(`
  insecure_registries = ["insecure.example.com"]
`),
			},
			{
				PreConfig: func() {
					cluster.edit([]any{"edited.example.com"}, "spec", "registrySources",
						"insecureRegistries")
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: registryPolicyConfig(`
  insecure_registries = ["insecure.example.com"]
`),
				Destroy: true,
			},
		},
	})
}

func TestRegistryPolicyRejectsHostileEntries(t *testing.T) {
	rejected := []string{
		"registry.example.com.",
		"[::1]:5000",
		"bücher.example",
		"registry.example.com/Path",
		"*.example.com:5000",
		"*",
		"registry.example.com//x",
		"registry.example.com\u202e",
		strings.Repeat("a", registrypolicy.MaxEntryLength+1),
	}
	for _, value := range rejected {
		problems := registrypolicy.Validate(registrypolicy.Policy{Blocked: []string{value}},
			registryPolicyAttributes)
		if len(problems) == 0 {
			t.Errorf("Validate accepted %q", value)
		}
	}
}

// A ClusterVersion whose release image does not parse does report one, so the warning must
// not say that the cluster reports none.
func TestRegistryPolicyReleaseUnparsableImage(t *testing.T) {
	for _, image := range []string{"Not A Reference!", strings.Repeat("a/", 1<<16) + "x"} {
		r := &registryPolicyResource{clients: releaseClients(t, image)}

		repositories, source := r.releaseRepositories(t.Context())

		if strings.Contains(source, "reports no release image") {
			t.Errorf("image %.40q: source = %q, but the cluster reports an image that "+
				"does not parse (repositories %v)", image, source, repositories)
		}
	}
}

// Server-side apply creates a missing object, so destroy must not apply to an Image that
// someone deleted after the last refresh, as with `terraform destroy -refresh=false`.
func TestAccRegistryPolicyDestroyMissingImage(t *testing.T) {
	cluster := newImageConfigCluster(t)
	ctx := context.Background()
	saved, err := cluster.get()
	if err != nil {
		t.Fatalf("reading the Image: %v", err)
	}
	if err := cluster.resource().Delete(ctx, registrypolicy.ObjectName,
		metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the Image: %v", err)
	}
	t.Cleanup(func() { restoreImage(t, cluster, saved) })
	clients := kube.NewClients(kube.Config{
		ConfigPaths:   []string{os.Getenv(testcluster.EnvKubeconfig)},
		ConfigContext: os.Getenv(testcluster.EnvKubeContext),
	}, "imagedist-test")
	r := &registryPolicyResource{clients: clients}

	var resp frameworkresource.DeleteResponse
	r.Delete(ctx, frameworkresource.DeleteRequest{}, &resp)

	if resp.Diagnostics.HasError() {
		t.Errorf("Delete failed: %v", resp.Diagnostics)
	}
	if object, err := cluster.get(); err == nil {
		t.Errorf("destroy created the Image %q: %v", registrypolicy.ObjectName,
			object.Object)
	}
}

// restoreImage creates the Image again from saved, with its status, if it is missing.
func restoreImage(t *testing.T, cluster *imageConfigCluster, saved *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	if _, err := cluster.get(); err == nil {
		return
	}
	object := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": saved.GetAPIVersion(), "kind": saved.GetKind(),
		"metadata": map[string]any{"name": saved.GetName()},
		"spec":     map[string]any{},
	}}
	created, err := cluster.resource().Create(ctx, object, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("restoring the Image: %v", err)
	}
	created.Object["status"] = saved.Object["status"]
	if _, err := cluster.resource().UpdateStatus(ctx, created,
		metav1.UpdateOptions{}); err != nil {
		t.Fatalf("restoring the Image status: %v", err)
	}
}

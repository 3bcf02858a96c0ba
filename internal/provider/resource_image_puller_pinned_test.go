package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// A second digest reference for the pinned tests.
const testImageAPIDigest = "quay.io/imagedist-demo/checkout@sha256:" +
	"9e1f6a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"

// pinnedCluster is the cluster side of one pinned-backend test: a random set name and the
// stand-in for the machine-config daemon's pinning.
type pinnedCluster struct {
	t      *testing.T
	client dynamic.Interface
	pinned *testcluster.PinnedImages
	name   string
}

func newPinnedCluster(t *testing.T) *pinnedCluster {
	t.Helper()
	client := acceptanceDynamicClient(t)
	kubernetesClient, err := testcluster.ClientFromEnv()
	if err != nil {
		t.Fatalf("cluster client: %v", err)
	}
	cluster := &pinnedCluster{
		t: t, client: client, name: acctest.RandomWithPrefix("pinned"),
		pinned: &testcluster.PinnedImages{
			Client: client, Kubernetes: kubernetesClient, PollInterval: 50 * time.Millisecond,
			Logf: t.Logf,
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := cluster.pinned.Start(ctx)
	t.Cleanup(func() {
		cancel()
		wait()
	})
	return cluster
}

func (c *pinnedCluster) config(body string) string {
	return fmt.Sprintf(`
resource "imagedist_image_puller" "test" {
  backend = "pinned"
  name    = %q
%s
}
`, c.name, body)
}

// checkPoolLists checks whether the worker pool's spec.pinnedImageSets lists the set.
func (c *pinnedCluster) checkPoolLists(want bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		pools, err := referencingPools(context.Background(), c.client, c.name)
		if err != nil {
			return err
		}
		if got := slices.Contains(pools, "worker"); got != want {
			return fmt.Errorf("worker pool lists %s: %v, expected %v (pools %v)", c.name, got,
				want, pools)
		}
		return nil
	}
}

func (c *pinnedCluster) checkDestroyed(state *terraform.State) error {
	_, err := c.client.Resource(pinnedImageSetGVR).Get(context.Background(), c.name,
		metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("PinnedImageSet %s after destroy: error %v, expected not found",
			c.name, err)
	}
	return c.checkPoolLists(false)(state)
}

const pinnedImages = `  machine_config_pools = ["worker"]
  images = {
    api        = "` + testImageAPIDigest + `"
    Static_Bin = "` + testImageScratch + `"
  }
`

// The pinned backend lists the set in the worker pool, waits for every worker's
// MachineConfigNode to report it pinned, imports by name and unlists it on destroy.
func TestAccImagePullerPinned(t *testing.T) {
	cluster := newPinnedCluster(t)
	updated := `  machine_config_pools = ["worker"]
  images = {
    api = "` + testImageAPIDigest + `"
  }
  labels = {
    team = "platform"
  }
`

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: cluster.config(pinnedImages),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(imagePullerAddress, tfjsonpath.New("id"),
						knownvalue.StringExact(cluster.name)),
					int64State("node_count", int64(len(workerNodes))),
					int64State("nodes_cached", int64(len(workerNodes))),
					nodeNamesState(workerNodes),
				},
				Check: cluster.checkPoolLists(true),
			},
			{
				ResourceName:                         imagePullerAddress,
				ImportState:                          true,
				ImportStateId:                        cluster.name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				ImportStateVerifyIgnore:              []string{"timeouts"},
			},
			{
				Config: cluster.config(updated),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					int64State("nodes_cached", int64(len(workerNodes))),
				},
			},
		},
	})
}

// A node whose daemon fails to pin the set makes the wait time out with the daemon's message.
func TestAccImagePullerPinnedFailure(t *testing.T) {
	cluster := newPinnedCluster(t)
	const message = "failed to pull quay.io/imagedist-demo/checkout: manifest unknown"
	cluster.pinned.FailNode("worker-2", message)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: cluster.config(pinnedImages + "  timeouts {\n    create = \"3s\"\n  }\n"),
			ExpectError: wrappedText("Timed Out Waiting for Images.*- worker-2: .*" +
				"PinnedImageSetFailed: " + message),
		}},
	})
}

// The pinned backend's own rules fail at plan time on their attributes.
func TestAccImagePullerPinnedValidation(t *testing.T) {
	cluster := newPinnedCluster(t)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"namespace", pinnedImages + `  namespace = "default"`,
			`(?s)Attribute Not Used by Backend.*namespace`},
		{"no pools", `  images = { api = "` + testImageAPIDigest + `" }`,
			`Missing Machine Config Pools`},
		{"node selector", pinnedImages + `  node_selector = { a = "b" }`,
			`(?s)Attribute Not Used by Backend.*node_selector`},
		{"node selector message", pinnedImages + `  tolerations = [{ operator = "Exists" }]`,
			`(?s)only\s+the\s+daemonset\s+and\s+operator\s+backends\s+run`},
		{"empty pools", `  machine_config_pools = []
  images = { api = "` + testImageAPIDigest + `" }`, `machine_config_pools`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []resource.TestStep{{
					Config:      cluster.config(test.body),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(test.want),
				}},
			})
		})
	}
}

// A pool edited by hand to drop the set, and a set deleted by hand, show in the next plan.
func TestAccImagePullerPinnedDrift(t *testing.T) {
	cluster := newPinnedCluster(t)
	ctx := context.Background()

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: cluster.config(pinnedImages)},
			{
				PreConfig: func() {
					var diags diag.Diagnostics
					if !setPoolReferences(ctx, cluster.client, cluster.name, nil,
						[]string{"worker"}, &diags) {
						t.Fatalf("unlisting the set from the worker pool: %v", diags)
					}
				},
				Config: cluster.config(pinnedImages),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionUpdate)},
				},
				Check: cluster.checkPoolLists(true),
			},
			{
				PreConfig: func() {
					err := cluster.client.Resource(pinnedImageSetGVR).Delete(ctx, cluster.name,
						metav1.DeleteOptions{})
					if err != nil {
						t.Fatalf("deleting the PinnedImageSet: %v", err)
					}
				},
				Config: cluster.config(pinnedImages),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					int64State("nodes_cached", int64(len(workerNodes))),
				},
			},
		},
	})
}

// A pool that does not exist fails before the PinnedImageSet is written.
func TestAccImagePullerPinnedMissingPool(t *testing.T) {
	cluster := newPinnedCluster(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: cluster.config(`  machine_config_pools = ["infra"]
  images = { api = "` + testImageAPIDigest + `" }
`),
			ExpectError: wrappedText(`Machine Config Pool Not Found.*"infra" does not exist`),
		}},
	})
}

package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// The acceptance tests in this file check when the pull secret stays in state, leaves it, or
// is replaced: for a host with a wrong path prefix, a Secret held by a finalizer, and a
// Secret made immutable.

// testFinalizer is a finalizer that no controller on the test cluster removes.
const testFinalizer = "imagedist.test/hold"

// wrongPrefixProvider is a provider block for the test cluster whose host has a path prefix
// that kube-apiserver does not serve, so every request gets a 404.
func wrongPrefixProvider(t *testing.T) string {
	t.Helper()
	config, err := testcluster.RESTConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("provider \"imagedist\" {\n  host = %q\n}\n",
		strings.TrimSuffix(config.Host, "/")+"/k8s")
}

// wrongPrefixResponse matches how the API server responds to a request under the wrong prefix,
// and the advice to check `host`. An admin gets 404 Not Found. The least-privilege service
// account gets 403 Forbidden instead, because its roles grant no path outside the API. The
// authorizer names the HTTP verb of a path, which is "get" for a list as well.
func wrongPrefixResponse() string {
	if testcluster.LeastPrivilege() {
		return "`host`" + `.*cannot\s+get\s+path`
	}
	return `404 Not\s+Found.*` + "`host`"
}

// expectReplaced is the plan check of a Secret that only a replacement can fix.
var expectReplaced = resource.ConfigPlanChecks{
	PostApplyPostRefresh: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(pullSecretAddress,
			plancheck.ResourceActionDestroyBeforeCreate),
		plancheck.ExpectKnownValue(pullSecretAddress, tfjsonpath.New("type"),
			knownvalue.StringExact(secretTypeDockerConfigJSON)),
	},
}

// TestAccPullSecretWrongHostPrefix reads the Secret through a host whose path prefix the API
// server does not serve. The 404 must fail the refresh and keep the Secret in state instead
// of being taken for a deletion.
func TestAccPullSecretWrongHostPrefix(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createServiceAccount("deployer")
	configuration := cluster.config(`
  link_service_accounts = ["deployer"]

  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: configuration},
			{
				Config:   wrongPrefixProvider(t) + configuration,
				PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Unable to Read Pull Secret.*` +
					wrongPrefixResponse()),
			},
			{
				// The state still has the Secret, so the right host plans nothing.
				Config:   configuration,
				PlanOnly: true,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(pullSecretAddress, "type",
						secretTypeDockerConfigJSON),
					cluster.checkAccountPullSecrets("deployer", cluster.name),
				),
			},
		},
	})
}

// addFinalizerAndDelete adds testFinalizer to the Secret and deletes it, so it stays in
// the terminating state until the finalizer is removed.
func (c *pullSecretCluster) addFinalizerAndDelete() {
	c.t.Helper()
	c.patchSecret(fmt.Sprintf(`{"metadata":{"finalizers":[%q]}}`, testFinalizer))
	c.deleteSecret()
	c.t.Cleanup(c.removeFinalizers)
}

// removeFinalizers lets a terminating Secret go. A Secret that is already gone is fine.
func (c *pullSecretCluster) removeFinalizers() {
	secret, err := c.secret()
	if err != nil || len(secret.Finalizers) == 0 {
		return
	}
	c.patchSecret(`{"metadata":{"finalizers":null}}`)
}

func (c *pullSecretCluster) patchSecret(patch string) {
	c.t.Helper()
	if _, err := c.client.CoreV1().Secrets(c.namespace).Patch(context.Background(), c.name,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		c.t.Fatalf("patching the Secret with %s: %v", patch, err)
	}
}

// checkSecretLive checks that the Secret exists and is not being deleted.
func (c *pullSecretCluster) checkSecretLive(*terraform.State) error {
	secret, err := c.secret()
	if err != nil {
		return fmt.Errorf("reading the Secret: %w", err)
	}
	if secret.DeletionTimestamp != nil {
		return fmt.Errorf("the Secret is still being deleted, finalizers %q",
			secret.Finalizers)
	}
	return nil
}

// TestAccPullSecretTerminatingWhileLinked deletes the Secret out of band while a finalizer
// holds it. The plan must replace it, the replacement must time out naming the finalizer,
// and once the finalizer is gone the apply must create the Secret again.
func TestAccPullSecretTerminatingWhileLinked(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createServiceAccount("deployer", "team-secret")
	configuration := cluster.config(`
  link_service_accounts = ["deployer"]

  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }

  timeouts {
    delete = "3s"
  }
`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(
			cluster.checkDestroyed,
			cluster.checkAccountPullSecrets("deployer", "team-secret"),
		),
		Steps: []resource.TestStep{
			{Config: configuration},
			{
				PreConfig:          cluster.addFinalizerAndDelete,
				Config:             configuration,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks:   expectReplaced,
			},
			{
				Config: configuration,
				ExpectError: regexp.MustCompile(`(?s)Timed Out Waiting for Pull Secret ` +
					`Deletion.*still being deleted 3s after.*"` +
					regexp.QuoteMeta(testFinalizer) + `"`),
			},
			{
				PreConfig: cluster.removeFinalizers,
				Config:    configuration,
				Check: resource.ComposeTestCheckFunc(
					cluster.checkSecretLive,
					cluster.checkAuths(map[string]dockerConfigAuth{
						"quay.io": {Username: "robot", Password: "token"},
					}),
					cluster.checkAccountPullSecrets("deployer", "team-secret", cluster.name),
				),
			},
		},
	})
}

// TestAccPullSecretTerminatingUnlinked deletes the Secret out of band while a finalizer
// holds it and nothing links it. The plan must create it rather than update it in place.
func TestAccPullSecretTerminatingUnlinked(t *testing.T) {
	cluster := newPullSecretCluster(t)
	configuration := cluster.config(`
  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: configuration},
			{
				PreConfig:          cluster.addFinalizerAndDelete,
				Config:             configuration,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(pullSecretAddress,
							plancheck.ResourceActionCreate),
					},
				},
			},
			{
				Config: configuration,
				ExpectError: regexp.MustCompile(`(?s)Pull Secret Being Deleted.*"` +
					regexp.QuoteMeta(testFinalizer) + `"`),
			},
			{
				PreConfig: cluster.removeFinalizers,
				Config:    configuration,
				Check:     cluster.checkSecretLive,
			},
		},
	})
}

// TestAccPullSecretImmutable makes the Secret immutable out of band. The plan must replace
// it, and the replacement must be a mutable Secret that the next plan leaves alone.
func TestAccPullSecretImmutable(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createServiceAccount("deployer")
	configuration := func(password string) string {
		return cluster.config(fmt.Sprintf(`
  link_service_accounts = ["deployer"]

  registry {
    server   = "quay.io"
    username = "robot"
    password = %q
  }
`, password))
	}
	makeImmutable := func() {
		secret, err := cluster.secret()
		if err != nil {
			t.Fatalf("reading the Secret: %v", err)
		}
		secret.Immutable = ptr.To(true)
		if _, err := cluster.client.CoreV1().Secrets(cluster.namespace).Update(
			context.Background(), secret, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("making the Secret immutable: %v", err)
		}
	}
	checkMutable := func(*terraform.State) error {
		secret, err := cluster.secret()
		if err != nil {
			return fmt.Errorf("reading the Secret: %w", err)
		}
		if secret.Immutable != nil && *secret.Immutable {
			return fmt.Errorf("the Secret is still immutable")
		}
		return nil
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: configuration("token")},
			{
				PreConfig:          makeImmutable,
				Config:             configuration("token"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks:   expectReplaced,
			},
			{
				// A new password could not be written into the immutable Secret.
				Config: configuration("rotated"),
				Check: resource.ComposeTestCheckFunc(
					checkMutable,
					cluster.checkAuths(map[string]dockerConfigAuth{
						"quay.io": {Username: "robot", Password: "rotated"},
					}),
					cluster.checkAccountPullSecrets("deployer", cluster.name),
				),
			},
		},
	})
}

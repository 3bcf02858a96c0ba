package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

const kubeletImageGCAddress = "imagedist_kubelet_image_gc.test"

func init() {
	// The fake operator reports within a tenth of a second, so the waits need not sleep
	// for the production interval.
	kubeletImageGCPollInterval = 50 * time.Millisecond
}

// kubeletImageGCCluster is the cluster side of one acceptance test: a client and a random
// KubeletConfig name, which tests that roll out also give their custom pool.
type kubeletImageGCCluster struct {
	t      *testing.T
	client dynamic.Interface
	name   string
}

func newKubeletImageGCCluster(t *testing.T) *kubeletImageGCCluster {
	t.Helper()
	client := acceptanceDynamicClient(t)
	return &kubeletImageGCCluster{t: t, client: client, name: acctest.RandomWithPrefix("gc")}
}

// operator starts a fake machine-config operator for this test's KubeletConfigs.
func (c *kubeletImageGCCluster) operator(operator *testcluster.MachineConfigOperator) {
	operator.Client = c.client
	operator.NamePrefix = c.name
	operator.Logf = c.t.Logf
	ctx, cancel := context.WithCancel(context.Background())
	wait := operator.Start(ctx)
	c.t.Cleanup(func() {
		cancel()
		wait()
	})
}

func (c *kubeletImageGCCluster) config(body string) string {
	return fmt.Sprintf("resource \"imagedist_kubelet_image_gc\" \"test\" {\n  name = %q\n%s}\n",
		c.name, body)
}

func (c *kubeletImageGCCluster) get() (*unstructured.Unstructured, error) {
	return c.client.Resource(kubeletConfigGVR).Get(context.Background(), c.name,
		metav1.GetOptions{})
}

// editKubeletConfig changes the cluster's spec.kubeletConfig outside Terraform.
func (c *kubeletImageGCCluster) editKubeletConfig(change func(fields map[string]any)) {
	c.t.Helper()
	object, err := c.get()
	if err != nil {
		c.t.Fatalf("reading KubeletConfig %s: %v", c.name, err)
	}
	fields, _, _ := unstructured.NestedMap(object.Object, "spec", "kubeletConfig")
	if fields == nil {
		fields = map[string]any{}
	}
	change(fields)
	if err := unstructured.SetNestedMap(object.Object, fields, "spec", "kubeletConfig"); err != nil {
		c.t.Fatalf("editing KubeletConfig %s: %v", c.name, err)
	}
	_, err = c.client.Resource(kubeletConfigGVR).Update(context.Background(), object,
		metav1.UpdateOptions{})
	if err != nil {
		c.t.Fatalf("updating KubeletConfig %s: %v", c.name, err)
	}
}

func (c *kubeletImageGCCluster) checkDestroyed(*terraform.State) error {
	_, err := c.get()
	if err == nil {
		return fmt.Errorf("KubeletConfig %s still exists after destroy", c.name)
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading KubeletConfig %s: %w", c.name, err)
	}
	return nil
}

// checkClusterKey checks one key of the cluster's spec.kubeletConfig. A nil want means absent.
func (c *kubeletImageGCCluster) checkClusterKey(key string, want any) resource.TestCheckFunc {
	return func(*terraform.State) error {
		object, err := c.get()
		if err != nil {
			return err
		}
		got, found, _ := unstructured.NestedFieldNoCopy(object.Object, "spec",
			"kubeletConfig", key)
		switch {
		case want == nil && found:
			return fmt.Errorf("spec.kubeletConfig.%s = %v, want it absent", key, got)
		case want != nil && fmt.Sprint(got) != fmt.Sprint(want):
			return fmt.Errorf("spec.kubeletConfig.%s = %v, want %v", key, got, want)
		}
		return nil
	}
}

// wrappedText matches text in Terraform's output, which wraps long lines at spaces. ".*" in
// text matches anything, and every other character matches itself.
func wrappedText(text string) *regexp.Regexp {
	parts := strings.Split(text, ".*")
	for i, part := range parts {
		parts[i] = strings.Join(strings.Fields(regexp.QuoteMeta(part)), `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, ".*"))
}

func stringState(attribute, want string) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(kubeletImageGCAddress, tfjsonpath.New(attribute),
		knownvalue.StringExact(want))
}

const workerGCBody = `  machine_config_pool    = "worker"
  high_threshold_percent = 90
  low_threshold_percent  = 70
  minimum_gc_age         = "90s"
  maximum_gc_age         = "168h"
  node_status_max_images = -1
`

// Each release's condition style ends in an accepted KubeletConfig, and import reads it back.
func TestAccKubeletImageGCConditionStyles(t *testing.T) {
	for _, style := range []testcluster.ConditionStyle{
		testcluster.ConditionStyle416, testcluster.ConditionStyle422, testcluster.ConditionStyle423,
	} {
		t.Run(string(style), func(t *testing.T) {
			cluster := newKubeletImageGCCluster(t)
			cluster.operator(&testcluster.MachineConfigOperator{Style: style})

			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				CheckDestroy:             cluster.checkDestroyed,
				Steps: []resource.TestStep{
					{
						Config: cluster.config(workerGCBody),
						ConfigPlanChecks: resource.ConfigPlanChecks{
							PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
								kubeletImageGCAddress, plancheck.ResourceActionCreate)},
							PostApplyPostRefresh: []plancheck.PlanCheck{
								plancheck.ExpectEmptyPlan()},
						},
						ConfigStateChecks: []statecheck.StateCheck{
							stringState("id", cluster.name),
							stringState("verdict", string(kubeletgc.ConfigAccepted)),
							stringState("verdict_message", "Success"),
							stringState("minimum_gc_age", "90s"),
							statecheck.ExpectKnownValue(kubeletImageGCAddress,
								tfjsonpath.New("rendered_machine_configs").AtMapKey("worker"),
								knownvalue.StringExact("99-worker-generated-kubelet")),
						},
						Check: resource.ComposeTestCheckFunc(
							cluster.checkClusterKey(kubeletgc.KeyHighThresholdPercent, 90),
							cluster.checkClusterKey(kubeletgc.KeyLowThresholdPercent, 70),
							cluster.checkClusterKey(kubeletgc.KeyMinimumGCAge, "90s"),
							cluster.checkClusterKey(kubeletgc.KeyNodeStatusMaxImages, -1),
						),
					},
					{
						ResourceName:                         kubeletImageGCAddress,
						ImportState:                          true,
						ImportStateId:                        cluster.name,
						ImportStateVerify:                    true,
						ImportStateVerifyIdentifierAttribute: "name",
						ImportStateVerifyIgnore:              []string{"timeouts"},
					},
				},
			})
		})
	}
}

// A rejection in any style fails the apply with the operator's message.
func TestAccKubeletImageGCRejected(t *testing.T) {
	const message = "Error: KubeletConfiguration: feature gates are managed elsewhere"
	for _, style := range []testcluster.ConditionStyle{
		testcluster.ConditionStyle416, testcluster.ConditionStyle422, testcluster.ConditionStyle423,
	} {
		t.Run(string(style), func(t *testing.T) {
			cluster := newKubeletImageGCCluster(t)
			cluster.operator(&testcluster.MachineConfigOperator{Style: style, Reject: message})

			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				CheckDestroy:             cluster.checkDestroyed,
				Steps: []resource.TestStep{{
					Config:      cluster.config(workerGCBody),
					ExpectError: wrappedText("KubeletConfig Not Applied.*" + message),
				}},
			})
		})
	}
}

// An update waits for the verdict on the new generation, whether the operator reports it
// through status.observedGeneration or only through a new condition.
func TestAccKubeletImageGCUpdateRejected(t *testing.T) {
	const message = "Error: KubeletConfiguration: the second change is rejected"
	for name, withoutObservedGeneration := range map[string]bool{
		"observed generation": false, "conditions only": true,
	} {
		t.Run(name, func(t *testing.T) {
			cluster := newKubeletImageGCCluster(t)
			cluster.operator(&testcluster.MachineConfigOperator{
				Style: testcluster.ConditionStyle416, Reject: message, RejectFrom: 2,
				WithoutObservedGeneration: withoutObservedGeneration,
			})

			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				CheckDestroy:             cluster.checkDestroyed,
				Steps: []resource.TestStep{
					{
						Config: cluster.config(workerGCBody),
						ConfigStateChecks: []statecheck.StateCheck{
							stringState("verdict", string(kubeletgc.ConfigAccepted)),
						},
					},
					{
						Config: cluster.config(strings.Replace(workerGCBody, "= 90",
							"= 95", 1)),
						ExpectError: wrappedText("KubeletConfig Not Applied.*" + message),
					},
					{
						// A rejected update is not tainted, so the failed verdict
						// itself plans another apply.
						Config: cluster.config(strings.Replace(workerGCBody, "= 90",
							"= 95", 1)),
						PlanOnly:           true,
						ExpectNonEmptyPlan: true,
					},
				},
			})
		})
	}
}

// Without an operator the wait ends at timeouts.create with an error that says so, and the
// KubeletConfig stays in state, tainted, so destroy removes it.
func TestAccKubeletImageGCCreateTimeout(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: cluster.config(workerGCBody + "  timeouts {\n    create = \"1s\"\n  }\n"),
			ExpectError: wrappedText("Timed Out Waiting for KubeletConfig.*within 1s.*" +
				"has not reported a condition yet"),
		}},
	})
}

// A selector that matches no pool is what the operator rejects itself.
func TestAccKubeletImageGCNoMatchingPool(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)
	cluster.operator(&testcluster.MachineConfigOperator{Style: testcluster.ConditionStyle423})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: cluster.config(`  machine_config_pool = "` + cluster.name + `"
  high_threshold_percent = 90
`),
			ExpectError: wrappedText("could not find any MachineConfigPool set for " +
				"KubeletConfig " + cluster.name),
		}},
	})
}

func TestAccKubeletImageGCWaitForRollout(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)
	createTestPool(t, cluster.client, cluster.name)
	cluster.operator(&testcluster.MachineConfigOperator{Style: testcluster.ConditionStyle416, Rollout: true})
	body := fmt.Sprintf(`  machine_config_pool_selector = {
    match_labels = { "imagedist-test" = %q }
  }
  high_threshold_percent = 95
  low_threshold_percent  = 90
  wait_for_rollout       = true
`, cluster.name)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: cluster.config(body),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(kubeletImageGCAddress,
					tfjsonpath.New("pool_rollout").AtMapKey(cluster.name),
					knownvalue.StringRegexp(regexp.MustCompile(
						`^done: .*3 of 3 machines updated`))),
				statecheck.ExpectKnownValue(kubeletImageGCAddress,
					tfjsonpath.New("machine_config_pool"), knownvalue.Null()),
			},
		}},
	})
}

func TestAccKubeletImageGCRolloutDegraded(t *testing.T) {
	const message = "Node worker-1 is reporting: failed to drain node"
	cluster := newKubeletImageGCCluster(t)
	createTestPool(t, cluster.client, cluster.name)
	cluster.operator(&testcluster.MachineConfigOperator{
		Style: testcluster.ConditionStyle422, Rollout: true, Degrade: message,
	})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: cluster.config(`  machine_config_pool = "` + cluster.name + `"
  low_threshold_percent = 60
  wait_for_rollout      = true
`),
			ExpectError: wrappedText("KubeletConfig Not Applied.*is NodeDegraded: " + message),
		}},
	})
}

// Update rewrites only the image GC keys. Drift in them shows and a duration spelled
// differently does not. A KubeletConfig deleted outside Terraform is planned again.
func TestAccKubeletImageGCUpdateAndDrift(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)
	cluster.operator(&testcluster.MachineConfigOperator{Style: testcluster.ConditionStyle423})
	updated := `  machine_config_pool    = "worker"
  high_threshold_percent = 100
  low_threshold_percent  = 0
  minimum_gc_age         = "90s"
`

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: cluster.config(workerGCBody)},
			{
				PreConfig: func() {
					cluster.editKubeletConfig(func(fields map[string]any) {
						fields["maxPods"] = int64(500)
					})
				},
				Config: cluster.config(updated),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						kubeletImageGCAddress, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(kubeletImageGCAddress,
						tfjsonpath.New("maximum_gc_age"), knownvalue.Null()),
					stringState("verdict", string(kubeletgc.ConfigAccepted)),
				},
				Check: resource.ComposeTestCheckFunc(
					cluster.checkClusterKey("maxPods", 500),
					cluster.checkClusterKey(kubeletgc.KeyHighThresholdPercent, 100),
					cluster.checkClusterKey(kubeletgc.KeyLowThresholdPercent, 0),
					cluster.checkClusterKey(kubeletgc.KeyMaximumGCAge, nil),
					cluster.checkClusterKey(kubeletgc.KeyNodeStatusMaxImages, nil),
				),
			},
			{
				PreConfig: func() {
					cluster.editKubeletConfig(func(fields map[string]any) {
						fields[kubeletgc.KeyMinimumGCAge] = "1m30s"
					})
				},
				Config:   cluster.config(updated),
				PlanOnly: true,
			},
			{
				PreConfig: func() {
					cluster.editKubeletConfig(func(fields map[string]any) {
						fields[kubeletgc.KeyHighThresholdPercent] = int64(85)
					})
				},
				Config: cluster.config(updated),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						kubeletImageGCAddress, plancheck.ResourceActionUpdate)},
				},
				Check: cluster.checkClusterKey(kubeletgc.KeyHighThresholdPercent, 100),
			},
			{
				PreConfig: func() {
					err := cluster.client.Resource(kubeletConfigGVR).Delete(
						context.Background(), cluster.name, metav1.DeleteOptions{})
					if err != nil {
						t.Fatalf("deleting KubeletConfig %s: %v", cluster.name, err)
					}
				},
				Config: cluster.config(updated),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						kubeletImageGCAddress, plancheck.ResourceActionCreate)},
				},
				Check: cluster.checkClusterKey(kubeletgc.KeyHighThresholdPercent, 100),
			},
		},
	})
}

// A key of the wrong type on the cluster fails the refresh with advice that works: once the
// key is corrected on the cluster, the plan is empty again.
func TestAccKubeletImageGCUnreadableKey(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)
	cluster.operator(&testcluster.MachineConfigOperator{Style: testcluster.ConditionStyle423})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: cluster.config(workerGCBody)},
			{
				PreConfig: func() {
					cluster.editKubeletConfig(func(fields map[string]any) {
						fields[kubeletgc.KeyHighThresholdPercent] = "ninety"
					})
				},
				Config:   cluster.config(workerGCBody),
				PlanOnly: true,
				ExpectError: wrappedText("Unable to Read Image GC Settings.*" +
					"oc edit kubeletconfig " + cluster.name + ".*imageGCHighThresholdPercent"),
			},
			{
				PreConfig: func() {
					cluster.editKubeletConfig(func(fields map[string]any) {
						fields[kubeletgc.KeyHighThresholdPercent] = int64(90)
					})
				},
				Config:   cluster.config(workerGCBody),
				PlanOnly: true,
			},
		},
	})
}

// A pool that already has the maximum number of KubeletConfigs gets no more.
func TestAccKubeletImageGCTooManyConfigs(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)
	createTestPool(t, cluster.client, cluster.name)
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{
		poolLabelPrefix + cluster.name: "",
	}}
	for i := range kubeletgc.MaxConfigsPerPool {
		name := fmt.Sprintf("%s-other-%d", cluster.name, i)
		_, err := cluster.client.Resource(kubeletConfigGVR).Create(context.Background(),
			newKubeletConfig(name, selector, kubeletgc.Settings{}), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating KubeletConfig %s: %v", name, err)
		}
		t.Cleanup(func() {
			_ = cluster.client.Resource(kubeletConfigGVR).Delete(context.Background(), name,
				metav1.DeleteOptions{})
		})
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: cluster.config(`  machine_config_pool = "` + cluster.name + `"
  high_threshold_percent = 90
`),
			ExpectError: regexp.MustCompile(`(?s)Too Many KubeletConfigs for Pool.*` +
				regexp.QuoteMeta(cluster.name+"-other-9")),
		}},
	})
}

// Every validation rule fails at plan time on its attribute, and the valid edges plan.
func TestAccKubeletImageGCValidation(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)
	invalid := []struct {
		name  string
		body  string
		error string
	}{
		{"high above 100", `high_threshold_percent = 101`, `Invalid Image GC Threshold`},
		{"high below 0", `high_threshold_percent = -1`, `Invalid Image GC Threshold`},
		{"low above 100", `low_threshold_percent = 101`, `Invalid Image GC Threshold`},
		{"low below 0", "high_threshold_percent = 50\n  low_threshold_percent = -5",
			`Invalid Image GC Threshold`},
		{"low equals high", "high_threshold_percent = 80\n  low_threshold_percent = 80",
			`strictly less than`},
		{"low above default high", `low_threshold_percent = 90`, `strictly less than`},
		{"minimum unparseable", `minimum_gc_age = "two minutes"`, `Invalid Image GC Age`},
		{"minimum negative", `minimum_gc_age = "-1m"`, `must not be negative`},
		{"maximum negative", `maximum_gc_age = "-1h"`, `must not be negative`},
		{"maximum not above minimum", "minimum_gc_age = \"5m\"\n  maximum_gc_age = \"5m\"",
			`maximum_gc_age must be greater than minimum_gc_age`},
		{"node status max images", `node_status_max_images = -2`,
			`Invalid Node Status Max Images`},
		{"int32 overflow", `node_status_max_images = 4294967296`, `between`},
		{"negative timeout", "timeouts {\n    create = \"-5m\"\n  }",
			`(?s)Invalid Timeout.*timeouts.create is "-5m"`},
		{"zero minimum with small maximum", "minimum_gc_age = \"0s\"\n  maximum_gc_age = \"1m\"",
			`kubelet\s+replaces\s+with\s+its\s+default\s+2m`},
	}
	for _, test := range invalid {
		t.Run(test.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []resource.TestStep{{
					Config: cluster.config("  machine_config_pool = \"worker\"\n  " +
						test.body + "\n"),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(test.error),
				}},
			})
		})
	}

	selectorCases := []struct {
		name  string
		body  string
		error string
	}{
		{"neither pool attribute", `high_threshold_percent = 90`, `Missing Attribute Configuration`},
		{"both pool attributes", "machine_config_pool = \"worker\"\n" +
			"  machine_config_pool_selector = { match_labels = { a = \"b\" } }",
			`Invalid Attribute Combination`},
		{"empty selector", `machine_config_pool_selector = { match_labels = {} }`,
			`match_labels`},
		{"invalid label key", `machine_config_pool_selector = { match_labels = { "a b" = "" } }`,
			`Invalid Machine Config Pool Selector`},
		{"pool name with space", `machine_config_pool = "worker pool"`,
			`(?s)Invalid Machine Config Pool Name.*machine_config_pool\s+=\s+"worker pool"`},
		{"pool name empty", `machine_config_pool = ""`, `Invalid Machine Config Pool Name`},
		{"pool name too long", `machine_config_pool = "` + strings.Repeat("a", 64) + `"`,
			`(?s)Invalid Machine Config Pool Name.*63`},
	}
	for _, test := range selectorCases {
		t.Run(test.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []resource.TestStep{{
					Config:      cluster.config("  " + test.body + "\n"),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(test.error),
				}},
			})
		})
	}

	t.Run("custom pool name", func(t *testing.T) {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviderFactories,
			Steps: []resource.TestStep{{
				Config: cluster.config("  machine_config_pool = \"infra-" +
					strings.Repeat("a", 57) + "\"\n"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			}},
		})
	})

	valid := map[string]string{
		"edges 100 and 0":               "high_threshold_percent = 100\n  low_threshold_percent = 0",
		"90s":                           "minimum_gc_age = \"90s\"\n  maximum_gc_age = \"0s\"",
		"maximum above default minimum": `maximum_gc_age = "2m1s"`,
		"node status no limit":          `node_status_max_images = -1`,
	}
	for name, body := range valid {
		t.Run(name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []resource.TestStep{{
					Config: cluster.config("  machine_config_pool = \"worker\"\n  " +
						body + "\n"),
					PlanOnly:           true,
					ExpectNonEmptyPlan: true,
				}},
			})
		})
	}
}

func TestApplySpecKeepsForeignKeys(t *testing.T) {
	config := newKubeletConfig("gc", &metav1.LabelSelector{
		MatchLabels: map[string]string{poolLabelPrefix + "worker": ""},
	}, kubeletgc.Settings{MaximumGCAge: new("168h")})
	fields := config.Object["spec"].(map[string]any)["kubeletConfig"].(map[string]any)
	fields["maxPods"] = int64(500)

	high := int32(90)
	applySpec(config, &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		kubeletgc.Settings{HighThresholdPercent: &high})

	fields = config.Object["spec"].(map[string]any)["kubeletConfig"].(map[string]any)
	if fields["maxPods"] != int64(500) {
		t.Errorf("maxPods = %v, want 500 kept", fields["maxPods"])
	}
	if _, found := fields[kubeletgc.KeyMaximumGCAge]; found {
		t.Errorf("%s kept after it was unset", kubeletgc.KeyMaximumGCAge)
	}
	if fmt.Sprint(fields[kubeletgc.KeyHighThresholdPercent]) != "90" {
		t.Errorf("%s = %v, want 90", kubeletgc.KeyHighThresholdPercent,
			fields[kubeletgc.KeyHighThresholdPercent])
	}
	selector, _, _ := unstructured.NestedStringMap(config.Object, "spec",
		"machineConfigPoolSelector", "matchLabels")
	if len(selector) != 1 || selector["a"] != "b" {
		t.Errorf("selector = %v, want only a=b", selector)
	}
}

func TestPoolConfigDiagnostics(t *testing.T) {
	var matches []kubeletgc.ConfigMatch
	for i := range kubeletgc.MaxConfigsPerPool {
		matches = append(matches, kubeletgc.ConfigMatch{
			Name: fmt.Sprintf("other-%d", i), Pools: []string{"worker"},
		})
		diags := poolConfigDiagnostics(matches)
		wantError := i+1 == kubeletgc.MaxConfigsPerPool
		if diags.HasError() != wantError {
			t.Fatalf("%d matches: HasError() = %v, want %v", i+1, diags.HasError(), wantError)
		}
		if !wantError && (diags.WarningsCount() != 1 ||
			!strings.Contains(diags[0].Detail(), "other-0")) {
			t.Errorf("%d matches: diagnostics = %v, want one warning naming other-0", i+1,
				diags)
		}
	}
	if diags := poolConfigDiagnostics(nil); len(diags) != 0 {
		t.Errorf("no matches: diagnostics = %v, want none", diags)
	}
}

// A cluster without the KubeletConfig CRD answers 404 with no Status body for its path, as
// kube-apiserver does for a resource it does not serve.
func TestKubeletImageGCMissingCRD(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(server.Close)
	client, err := dynamic.NewForConfig(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatalf("building the client: %v", err)
	}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{
		poolLabelPrefix + "worker": "",
	}}

	checkDiags := checkPoolConfigs(context.Background(), client, "gc", selector)
	_, createErr := client.Resource(kubeletConfigGVR).Create(context.Background(),
		newKubeletConfig("gc", selector, kubeletgc.Settings{}), metav1.CreateOptions{})
	var createDiags diag.Diagnostics
	addKubeletConfigWriteError(&createDiags, "Unable to Create KubeletConfig", "gc", createErr)

	for name, diags := range map[string]diag.Diagnostics{
		"check": checkDiags, "create": createDiags,
	} {
		if len(diags) != 1 || diags[0].Summary() != "KubeletConfig CRD Not Found" {
			t.Fatalf("%s: diagnostics = %v, want one KubeletConfig CRD Not Found", name, diags)
		}
		for _, fragment := range []string{
			"kubeletconfigs.machineconfiguration.openshift.io/v1", "needs OpenShift",
		} {
			if !strings.Contains(diags[0].Detail(), fragment) {
				t.Errorf("%s: detail %q does not contain %q", name, diags[0].Detail(), fragment)
			}
		}
	}
}

func TestPollKubeletImageGCDeadline(t *testing.T) {
	calls := 0
	err := pollKubeletImageGC(context.Background(), time.Now().Add(100*time.Millisecond),
		func() (bool, error) {
			calls++
			return false, nil
		})

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want context.DeadlineExceeded", err)
	}
	if calls < 1 {
		t.Errorf("check called %d times, want at least once", calls)
	}
}

func TestPollKubeletImageGCHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	calls := 0

	start := time.Now()
	err := pollKubeletImageGC(ctx, time.Now().Add(time.Hour), func() (bool, error) {
		calls++
		return false, nil
	})

	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("the poll took %v after cancellation", elapsed)
	}
	if calls < 2 {
		t.Errorf("check called %d times, want it called again after each interval", calls)
	}
}

// A change of timeouts or wait_for_rollout alone leaves the KubeletConfig's generation as it
// is, so no new verdict or rendering comes, and the apply reads the current ones at once.
func TestAccKubeletImageGCUnchangedSpec(t *testing.T) {
	for name, withoutObservedGeneration := range map[string]bool{
		"observed generation": false, "conditions only": true,
	} {
		t.Run(name, func(t *testing.T) {
			cluster := newKubeletImageGCCluster(t)
			createTestPool(t, cluster.client, cluster.name)
			cluster.operator(&testcluster.MachineConfigOperator{
				Style: testcluster.ConditionStyle423, Rollout: true,
				WithoutObservedGeneration: withoutObservedGeneration,
			})
			body := `  machine_config_pool = "` + cluster.name + `"
  low_threshold_percent = 60
`
			const timeouts = "  timeouts {\n    update = \"5s\"\n  }\n"
			var started time.Time
			start := func() { started = time.Now() }
			quick := func(*terraform.State) error {
				if elapsed := time.Since(started); elapsed > 4*time.Second {
					return fmt.Errorf("the apply took %s, want it to return at once", elapsed)
				}
				return nil
			}

			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				CheckDestroy:             cluster.checkDestroyed,
				Steps: []resource.TestStep{
					{Config: cluster.config(body)},
					{
						PreConfig: start,
						Config:    cluster.config(body + timeouts),
						ConfigPlanChecks: resource.ConfigPlanChecks{
							PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
								kubeletImageGCAddress, plancheck.ResourceActionUpdate)},
						},
						ConfigStateChecks: []statecheck.StateCheck{
							stringState("verdict", string(kubeletgc.ConfigAccepted)),
						},
						Check: quick,
					},
					{
						PreConfig: start,
						Config: cluster.config(body + "  wait_for_rollout = true\n" +
							timeouts),
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(kubeletImageGCAddress,
								tfjsonpath.New("pool_rollout").AtMapKey(cluster.name),
								knownvalue.StringRegexp(regexp.MustCompile(`^done: `))),
						},
						Check: quick,
					},
				},
			})
		})
	}
}

// The generated MachineConfig keeps its name across changes, so an update with
// wait_for_rollout waits until the pool leaves the rendered configuration it had before.
func TestAccKubeletImageGCUpdateWaitsForNewRendering(t *testing.T) {
	const delay = 3 * time.Second
	cluster := newKubeletImageGCCluster(t)
	createTestPool(t, cluster.client, cluster.name)
	cluster.operator(&testcluster.MachineConfigOperator{
		Style: testcluster.ConditionStyle416, Rollout: true, RolloutDelay: delay,
	})
	body := `  machine_config_pool = "` + cluster.name + `"
  low_threshold_percent = 60
`
	renderedName := func() string {
		pool, err := cluster.client.Resource(machineConfigPoolGVR).Get(context.Background(),
			cluster.name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading machine config pool %s: %v", cluster.name, err)
		}
		name, _, _ := unstructured.NestedString(pool.Object, "status", "configuration", "name")
		return name
	}
	var before string

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: cluster.config(body + "  wait_for_rollout = true\n")},
			{
				PreConfig: func() { before = renderedName() },
				Config: cluster.config(strings.Replace(body, "= 60", "= 50", 1) +
					"  wait_for_rollout = true\n"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(kubeletImageGCAddress,
						tfjsonpath.New("pool_rollout").AtMapKey(cluster.name),
						knownvalue.StringRegexp(regexp.MustCompile(
							`^done: .*3 of 3 machines updated`))),
				},
				Check: func(*terraform.State) error {
					if after := renderedName(); after == before {
						return fmt.Errorf("the apply returned while machine config pool %s "+
							"still ran %s from before the change", cluster.name, after)
					}
					return nil
				},
			},
		},
	})
}

// "1m30s" means the same as "90s" in state, so changing the spelling plans nothing, while
// another duration plans an update.
func TestAccKubeletImageGCDurationSpelling(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)
	cluster.operator(&testcluster.MachineConfigOperator{Style: testcluster.ConditionStyle423})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: cluster.config(workerGCBody)},
			{
				Config: cluster.config(strings.NewReplacer(`"90s"`, `"1m30s"`,
					`"168h"`, `"168h0m0s"`).Replace(workerGCBody)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					stringState("minimum_gc_age", "90s"),
				},
			},
			{
				Config: cluster.config(strings.Replace(workerGCBody, `"90s"`, `"2m"`, 1)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						kubeletImageGCAddress, plancheck.ResourceActionUpdate)},
				},
				Check: cluster.checkClusterKey(kubeletgc.KeyMinimumGCAge, "2m"),
			},
		},
	})
}

// Importing a KubeletConfig whose pool selector has matchExpressions fails and names them,
// since the schema cannot hold them.
func TestAccKubeletImageGCImportMatchExpressions(t *testing.T) {
	cluster := newKubeletImageGCCluster(t)
	config := newKubeletConfig(cluster.name, &metav1.LabelSelector{
		MatchLabels: map[string]string{"imagedist-test": cluster.name},
	}, kubeletgc.Settings{})
	err := unstructured.SetNestedSlice(config.Object, []any{map[string]any{
		"key": "gc-tier", "operator": "In", "values": []any{"fast"},
	}}, "spec", "machineConfigPoolSelector", "matchExpressions")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cluster.client.Resource(kubeletConfigGVR).Create(context.Background(), config,
		metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating KubeletConfig %s: %v", cluster.name, err)
	}
	t.Cleanup(func() {
		err := cluster.client.Resource(kubeletConfigGVR).Delete(context.Background(),
			cluster.name, metav1.DeleteOptions{})
		if err != nil {
			t.Logf("deleting KubeletConfig %s: %v", cluster.name, err)
		}
	})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{{
			Config: cluster.config(`  machine_config_pool_selector = {
    match_labels = { "imagedist-test" = "` + cluster.name + `" }
  }
`),
			ResourceName:  kubeletImageGCAddress,
			ImportState:   true,
			ImportStateId: cluster.name,
			ExpectError: wrappedText("Unsupported Machine Config Pool Selector.*" +
				"matchExpressions (gc-tier in (fast))"),
		}},
	})
}

// An update writes matchLabels and keeps the matchExpressions of the selector, which would
// otherwise select more pools.
func TestApplySpecKeepsMatchExpressions(t *testing.T) {
	config := newKubeletConfig("gc", &metav1.LabelSelector{
		MatchLabels: map[string]string{"a": "b"},
	}, kubeletgc.Settings{})
	expressions := []any{map[string]any{
		"key": "gc-tier", "operator": "In", "values": []any{"fast"},
	}}
	err := unstructured.SetNestedSlice(config.Object, expressions, "spec",
		"machineConfigPoolSelector", "matchExpressions")
	if err != nil {
		t.Fatal(err)
	}

	applySpec(config, &metav1.LabelSelector{MatchLabels: map[string]string{"c": "d"}},
		kubeletgc.Settings{})

	got, _, _ := unstructured.NestedSlice(config.Object, "spec", "machineConfigPoolSelector",
		"matchExpressions")
	if fmt.Sprint(got) != fmt.Sprint(expressions) {
		t.Errorf("matchExpressions = %v, want %v kept", got, expressions)
	}
	labels, _, _ := unstructured.NestedStringMap(config.Object, "spec",
		"machineConfigPoolSelector", "matchLabels")
	if len(labels) != 1 || labels["c"] != "d" {
		t.Errorf("matchLabels = %v, want only c=d", labels)
	}
}

func TestFlattenSelectorRejectsMatchExpressions(t *testing.T) {
	model := kubeletImageGCModel{
		MachineConfigPool: types.StringNull(),
		PoolSelector:      types.ObjectNull(poolSelectorAttributeTypes),
	}
	diags := flattenSelector(context.Background(), &model, &metav1.LabelSelector{
		MatchLabels: map[string]string{poolLabelPrefix + "worker": ""},
		MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "gc-tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"slow"},
		}},
	})
	if !diags.HasError() {
		t.Fatalf("flattenSelector accepted matchExpressions; model = %+v", model)
	}
	if detail := diags[0].Detail(); !strings.Contains(detail, "gc-tier notin (slow)") {
		t.Errorf("error detail %q does not name the expression", detail)
	}
	if !model.MachineConfigPool.IsNull() {
		t.Errorf("machine_config_pool = %s, want it left null", model.MachineConfigPool)
	}
}

// createTestPool creates a custom pool of three machines named name, with a finished
// rollout, and deletes it when the test ends.
func createTestPool(t *testing.T, client dynamic.Interface, name string) {
	t.Helper()
	err := testcluster.CreatePool(context.Background(), client, name, 3,
		map[string]string{"imagedist-test": name})
	if err != nil {
		t.Fatalf("creating machine config pool %s: %v", name, err)
	}
	t.Cleanup(func() {
		err := client.Resource(machineConfigPoolGVR).Delete(context.Background(), name,
			metav1.DeleteOptions{})
		if err != nil {
			t.Logf("deleting machine config pool %s: %v", name, err)
		}
	})
}

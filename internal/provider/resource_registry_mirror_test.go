package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

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

	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
)

const registryMirrorAddress = "imagedist_registry_mirror.test"

// registryMirrorCluster is one acceptance test's object name and source prefix. Sources are
// random too, because the plan compares them with every mirror set on the shared cluster.
type registryMirrorCluster struct {
	t      *testing.T
	client dynamic.Interface
	name   string
	source string
}

func newRegistryMirrorCluster(t *testing.T) *registryMirrorCluster {
	t.Helper()
	client := acceptanceDynamicClient(t)
	return &registryMirrorCluster{
		t:      t,
		client: client,
		name:   acctest.RandomWithPrefix("mirror"),
		source: "quay.io/" + acctest.RandomWithPrefix("team"),
	}
}

// config renders the resource with the test's name and the given body.
func (c *registryMirrorCluster) config(body string) string {
	return fmt.Sprintf(`
resource "imagedist_registry_mirror" "test" {
  name = %q
%s
}
`, c.name, body)
}

// object reads the test's object of kind, or returns nil when it does not exist.
func (c *registryMirrorCluster) object(kind string) (*unstructured.Unstructured, error) {
	object, err := c.client.Resource(mirrorKindResource(kind)).Get(context.Background(),
		c.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return object, err
}

// checkDestroyed reads both kinds from the API server and fails when either still exists.
func (c *registryMirrorCluster) checkDestroyed(*terraform.State) error {
	for _, kind := range []string{mirrors.KindImageDigestMirrorSet,
		mirrors.KindImageTagMirrorSet} {
		object, err := c.object(kind)
		if err != nil {
			return fmt.Errorf("reading %s %s: %w", kind, c.name, err)
		}
		if object != nil {
			return fmt.Errorf("%s %s still exists after destroy", kind, c.name)
		}
	}
	return nil
}

// checkRules compares the rules in the spec of the object of kind with want, in order.
func (c *registryMirrorCluster) checkRules(kind string, want []mirrors.Rule) resource.TestCheckFunc {
	return func(*terraform.State) error {
		object, err := c.object(kind)
		if err != nil {
			return err
		}
		if object == nil {
			return fmt.Errorf("%s %s does not exist", kind, c.name)
		}
		field := "imageDigestMirrors"
		if kind == mirrors.KindImageTagMirrorSet {
			field = "imageTagMirrors"
		}
		items, _, err := unstructured.NestedSlice(object.Object, "spec", field)
		if err != nil {
			return err
		}
		got := fmt.Sprint(items)
		expected := make([]any, len(want))
		for i, rule := range want {
			item := map[string]any{"source": rule.Source}
			if len(rule.Mirrors) > 0 {
				mirrorList := make([]any, len(rule.Mirrors))
				for j, mirror := range rule.Mirrors {
					mirrorList[j] = mirror
				}
				item["mirrors"] = mirrorList
			}
			if rule.Policy != "" {
				item["mirrorSourcePolicy"] = rule.Policy
			}
			expected[i] = item
		}
		if got != fmt.Sprint(expected) {
			return fmt.Errorf("%s spec.%s = %s, want %s", kind, field, got, fmt.Sprint(expected))
		}
		return nil
	}
}

// checkAbsent checks that the test's object of kind does not exist.
func (c *registryMirrorCluster) checkAbsent(kind string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		object, err := c.object(kind)
		if err != nil {
			return err
		}
		if object != nil {
			return fmt.Errorf("%s %s exists, want none", kind, c.name)
		}
		return nil
	}
}

// edit changes the first rule of the object of kind outside Terraform.
func (c *registryMirrorCluster) edit(kind string, change func(rule map[string]any)) {
	c.t.Helper()
	object, err := c.object(kind)
	if err != nil || object == nil {
		c.t.Fatalf("reading %s %s for the edit: %v", kind, c.name, err)
	}
	field := "imageDigestMirrors"
	if kind == mirrors.KindImageTagMirrorSet {
		field = "imageTagMirrors"
	}
	items, _, _ := unstructured.NestedSlice(object.Object, "spec", field)
	change(items[0].(map[string]any))
	if err := unstructured.SetNestedSlice(object.Object, items, "spec", field); err != nil {
		c.t.Fatalf("editing %s: %v", kind, err)
	}
	_, err = c.client.Resource(mirrorKindResource(kind)).Update(context.Background(), object,
		metav1.UpdateOptions{})
	if err != nil {
		c.t.Fatalf("updating %s %s: %v", kind, c.name, err)
	}
}

func (c *registryMirrorCluster) delete(kind string) {
	c.t.Helper()
	err := c.client.Resource(mirrorKindResource(kind)).Delete(context.Background(), c.name,
		metav1.DeleteOptions{})
	if err != nil {
		c.t.Fatalf("deleting %s %s: %v", kind, c.name, err)
	}
}

func TestAccRegistryMirrorPullTypes(t *testing.T) {
	for _, pullType := range mirrors.PullTypes {
		t.Run(pullType, func(t *testing.T) {
			cluster := newRegistryMirrorCluster(t)
			rules := []mirrors.Rule{{Source: cluster.source,
				Mirrors: []string{"mirror-b.example.com/q", "mirror-a.example.com:5000/q"},
				Policy:  mirrors.PolicyNeverContactSource}}
			kinds := mirrors.OwnObjects(cluster.name, pullType)
			var checks []resource.TestCheckFunc
			kindValues := make([]knownvalue.Check, len(kinds))
			for i, ref := range kinds {
				checks = append(checks, cluster.checkRules(ref.Kind, rules))
				kindValues[i] = knownvalue.StringExact(ref.Kind)
			}
			if pullType == mirrors.PullTypeDigest {
				checks = append(checks, cluster.checkAbsent(mirrors.KindImageTagMirrorSet))
			}
			if pullType == mirrors.PullTypeTag {
				checks = append(checks, cluster.checkAbsent(mirrors.KindImageDigestMirrorSet))
			}

			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				CheckDestroy:             cluster.checkDestroyed,
				Steps: []resource.TestStep{
					{
						Config: cluster.config(fmt.Sprintf(`
  pull_type = %q
  labels = {
    team = "platform"
  }
  mirror {
    source               = %q
    mirrors              = ["mirror-b.example.com/q", "mirror-a.example.com:5000/q"]
    mirror_source_policy = "NeverContactSource"
  }
`, pullType, cluster.source)),
						ConfigPlanChecks: resource.ConfigPlanChecks{
							PreApply: []plancheck.PlanCheck{
								plancheck.ExpectResourceAction(registryMirrorAddress,
									plancheck.ResourceActionCreate),
								plancheck.ExpectKnownValue(registryMirrorAddress,
									tfjsonpath.New("object_kinds"),
									knownvalue.ListExact(kindValues)),
							},
							PostApplyPostRefresh: []plancheck.PlanCheck{
								plancheck.ExpectEmptyPlan(),
							},
						},
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(registryMirrorAddress,
								tfjsonpath.New("id"), knownvalue.StringExact(cluster.name)),
							statecheck.ExpectKnownValue(registryMirrorAddress,
								tfjsonpath.New("pull_type"), knownvalue.StringExact(pullType)),
						},
						Check: resource.ComposeTestCheckFunc(checks...),
					},
					{
						ResourceName:      registryMirrorAddress,
						ImportState:       true,
						ImportStateId:     cluster.name,
						ImportStateVerify: true,
					},
				},
			})
		})
	}
}

func TestAccRegistryMirrorUpdate(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	other := "docker.io/" + acctest.RandomWithPrefix("lib")
	body := func(first, second, policy string) string {
		return cluster.config(fmt.Sprintf(`
  mirror {
    source  = %q
    mirrors = [%q, %q]%s
  }
  mirror {
    source = %q
    mirrors = ["m.example.com/docker"]
  }
`, cluster.source, first, second, policy, other))
	}
	rules := func(first, second, policy string) []mirrors.Rule {
		return []mirrors.Rule{
			{Source: cluster.source, Mirrors: []string{first, second}, Policy: policy},
			{Source: other, Mirrors: []string{"m.example.com/docker"}},
		}
	}
	const a, b = "a.example.com/q", "b.example.com/q"
	policyLine := "\n    mirror_source_policy = \"NeverContactSource\""

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: body(a, b, ""),
				Check: cluster.checkRules(mirrors.KindImageDigestMirrorSet,
					rules(a, b, "")),
			},
			{
				// Reordering mirrors keeps every mirror, so no drain is predicted.
				Config: body(b, a, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(registryMirrorAddress,
							plancheck.ResourceActionUpdate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: cluster.checkRules(mirrors.KindImageDigestMirrorSet,
					rules(b, a, "")),
			},
			{
				Config: body(b, a, policyLine),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(registryMirrorAddress,
							plancheck.ResourceActionUpdate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: cluster.checkRules(mirrors.KindImageDigestMirrorSet,
					rules(b, a, mirrors.PolicyNeverContactSource)),
			},
			{
				// A pull type change adds the ImageTagMirrorSet in place.
				Config: strings.Replace(body(b, a, policyLine), "\n  mirror {",
					"\n  pull_type = \"both\"\n  mirror {", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(registryMirrorAddress,
							plancheck.ResourceActionUpdate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeTestCheckFunc(
					cluster.checkRules(mirrors.KindImageDigestMirrorSet,
						rules(b, a, mirrors.PolicyNeverContactSource)),
					cluster.checkRules(mirrors.KindImageTagMirrorSet,
						rules(b, a, mirrors.PolicyNeverContactSource)),
				),
			},
			{
				Config: strings.Replace(body(b, a, policyLine), "\n  mirror {",
					"\n  pull_type = \"tag\"\n  mirror {", 1),
				Check: resource.ComposeTestCheckFunc(
					cluster.checkAbsent(mirrors.KindImageDigestMirrorSet),
					cluster.checkRules(mirrors.KindImageTagMirrorSet,
						rules(b, a, mirrors.PolicyNeverContactSource)),
				),
			},
		},
	})
}

func TestAccRegistryMirrorDrift(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	config := cluster.config(fmt.Sprintf(`
  pull_type = "both"
  mirror {
    source               = %q
    mirrors              = ["a.example.com/q", "b.example.com/q"]
    mirror_source_policy = "AllowContactingSource"
  }
`, cluster.source))
	driftPlan := resource.ConfigPlanChecks{
		PreApply: []plancheck.PlanCheck{
			plancheck.ExpectResourceAction(registryMirrorAddress,
				plancheck.ResourceActionUpdate),
		},
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: config},
			{
				// Mirror order changed on the ImageDigestMirrorSet.
				PreConfig: func() {
					cluster.edit(mirrors.KindImageDigestMirrorSet, func(rule map[string]any) {
						rule["mirrors"] = []any{"b.example.com/q", "a.example.com/q"}
					})
				},
				Config:           config,
				ConfigPlanChecks: driftPlan,
			},
			{
				// Policy changed on the ImageTagMirrorSet only.
				PreConfig: func() {
					cluster.edit(mirrors.KindImageTagMirrorSet, func(rule map[string]any) {
						rule["mirrorSourcePolicy"] = mirrors.PolicyNeverContactSource
					})
				},
				Config:           config,
				ConfigPlanChecks: driftPlan,
				Check: cluster.checkRules(mirrors.KindImageTagMirrorSet, []mirrors.Rule{{
					Source: cluster.source, Mirrors: []string{"a.example.com/q",
						"b.example.com/q"}, Policy: mirrors.PolicyAllowContactingSource,
				}}),
			},
			{
				// A mirror added on the cluster.
				PreConfig: func() {
					cluster.edit(mirrors.KindImageDigestMirrorSet, func(rule map[string]any) {
						rule["mirrors"] = []any{"a.example.com/q", "b.example.com/q",
							"c.example.com/q"}
					})
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

func TestAccRegistryMirrorDeletedOutside(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	config := cluster.config(fmt.Sprintf(`
  mirror {
    source  = %q
    mirrors = ["a.example.com/q"]
  }
`, cluster.source))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() { cluster.delete(mirrors.KindImageDigestMirrorSet) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(registryMirrorAddress,
							plancheck.ResourceActionCreate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: cluster.checkRules(mirrors.KindImageDigestMirrorSet, []mirrors.Rule{{
					Source: cluster.source, Mirrors: []string{"a.example.com/q"},
				}}),
			},
		},
	})
}

func TestAccRegistryMirrorImportErrors(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	config := cluster.config(fmt.Sprintf(`
  mirror {
    source  = %q
    mirrors = ["a.example.com/q"]
  }
`, cluster.source))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:        config,
				ResourceName:  registryMirrorAddress,
				ImportState:   true,
				ImportStateId: "Not_A_Name",
				ExpectError:   regexp.MustCompile(`Invalid Import ID`),
			},
			{
				Config:        config,
				ResourceName:  registryMirrorAddress,
				ImportState:   true,
				ImportStateId: cluster.name,
				ExpectError: regexp.MustCompile(`(?s)Unable to Import Registry Mirror.*` +
					regexp.QuoteMeta(cluster.name)),
			},
		},
	})
}

func TestAccRegistryMirrorConflict(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	otherName := acctest.RandomWithPrefix("existing")
	existing := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "config.openshift.io/v1",
		"kind":       mirrors.KindImageDigestMirrorSet,
		"metadata":   map[string]any{"name": otherName},
		"spec": map[string]any{"imageDigestMirrors": []any{map[string]any{
			"source":             cluster.source,
			"mirrors":            []any{"other.example.com/q"},
			"mirrorSourcePolicy": mirrors.PolicyNeverContactSource,
		}}},
	}}
	resources := cluster.client.Resource(digestMirrorSetsResource)
	if _, err := resources.Create(context.Background(), existing,
		metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the existing ImageDigestMirrorSet: %v", err)
	}
	t.Cleanup(func() {
		_ = resources.Delete(context.Background(), otherName, metav1.DeleteOptions{})
	})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: cluster.config(fmt.Sprintf(`
  mirror {
    source               = %q
    mirrors              = ["a.example.com/q"]
    mirror_source_policy = "AllowContactingSource"
  }
`, cluster.source)),
				ExpectError: regexp.MustCompile(`(?s)Conflicting Mirror Source Policy.*` +
					`ImageDigestMirrorSet/` + regexp.QuoteMeta(cluster.name) + `.*` +
					`ImageDigestMirrorSet/` + regexp.QuoteMeta(otherName)),
			},
			{
				// The same policy is no conflict.
				Config: cluster.config(fmt.Sprintf(`
  mirror {
    source               = %q
    mirrors              = ["a.example.com/q"]
    mirror_source_policy = "NeverContactSource"
  }
`, cluster.source)),
				Check: cluster.checkRules(mirrors.KindImageDigestMirrorSet, []mirrors.Rule{{
					Source: cluster.source, Mirrors: []string{"a.example.com/q"},
					Policy: mirrors.PolicyNeverContactSource,
				}}),
			},
			{
				// A conflict that another object brings later only warns, because this
				// resource's apply does not change it and must not block the destroy
				// that resolves it.
				PreConfig: func() {
					object, err := resources.Get(context.Background(), otherName,
						metav1.GetOptions{})
					if err != nil {
						t.Fatalf("reading the existing ImageDigestMirrorSet: %v", err)
					}
					rules, _, _ := unstructured.NestedSlice(object.Object, "spec",
						"imageDigestMirrors")
					rules[0].(map[string]any)["mirrorSourcePolicy"] =
						mirrors.PolicyAllowContactingSource
					_ = unstructured.SetNestedSlice(object.Object, rules, "spec",
						"imageDigestMirrors")
					if _, err := resources.Update(context.Background(), object,
						metav1.UpdateOptions{}); err != nil {
						t.Fatalf("changing the existing ImageDigestMirrorSet: %v", err)
					}
				},
				Config: cluster.config(fmt.Sprintf(`
  mirror {
    source               = %q
    mirrors              = ["a.example.com/q", "b.example.com/q"]
    mirror_source_policy = "NeverContactSource"
  }
`, cluster.source)),
				Check: cluster.checkRules(mirrors.KindImageDigestMirrorSet, []mirrors.Rule{{
					Source:  cluster.source,
					Mirrors: []string{"a.example.com/q", "b.example.com/q"},
					Policy:  mirrors.PolicyNeverContactSource,
				}}),
			},
		},
	})
}

func TestAccRegistryMirrorValidation(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	tests := []struct {
		name  string
		block string
		want  string
	}{
		{"source tag", `source = "quay.io/team:latest"`, `Invalid Mirror Source`},
		{"source digest", `source = "quay.io/team@sha256:abc"`, `Invalid Mirror Source`},
		{"source scheme", `source = "https://quay.io/team"`, `Invalid Mirror Source`},
		{"source empty", `source = ""`, `Missing Mirror Source`},
		{"wildcard path", `source = "*.example.com/team"`, `Invalid Mirror Source`},
		{"mirror wildcard", `
    source  = "quay.io/team"
    mirrors = ["*.example.com"]`, `Invalid Mirror`},
		{"mirror duplicate", `
    source  = "quay.io/team"
    mirrors = ["m.example.com/q", "m.example.com/q"]`, `Duplicate Mirror`},
		{"policy invalid", `
    source               = "quay.io/team"
    mirrors              = ["m.example.com/q"]
    mirror_source_policy = "neverContactSource"`, `Invalid Mirror Source Policy`},
		{"policy empty", `
    source               = "quay.io/team"
    mirrors              = ["m.example.com/q"]
    mirror_source_policy = ""`, `(?s)Invalid Mirror Source Policy.*is empty`},
		{"policy without mirrors", `
    source               = "quay.io/team"
    mirror_source_policy = "NeverContactSource"`, `Mirror Source Policy Without Mirrors`},
		{"source among mirrors", `
    source               = "quay.io/team"
    mirrors              = ["quay.io/team"]
    mirror_source_policy = "NeverContactSource"`, `Source Listed As Its Own Mirror`},
	}

	var steps []resource.TestStep
	for _, test := range tests {
		steps = append(steps, resource.TestStep{
			Config:      cluster.config("  mirror {\n    " + test.block + "\n  }\n"),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(test.want),
		})
	}
	steps = append(steps,
		resource.TestStep{
			Config: cluster.config(`
  mirror {
    source = "quay.io/team"
  }
  mirror {
    source = "QUAY.io/team"
  }
`),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`Duplicate Mirror Source`),
		},
		resource.TestStep{
			Config:      cluster.config(`  pull_type = "all"`),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`pull_type`),
		},
		resource.TestStep{
			Config:      cluster.config(""),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`mirror`),
		},
		resource.TestStep{
			// Valid edges: a wildcard source, a port, and a rule without mirrors.
			Config: cluster.config(`
  mirror {
    source = "*.example.com"
  }
  mirror {
    source               = "registry.example.com:5000/a/b"
    mirrors              = ["mirror.example.com:5000/a__b", "registry.example.com:5000/a/b"]
    mirror_source_policy = "AllowContactingSource"
  }
`),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		},
	)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps:                    steps,
	})
}

// An unknown provider host defers the clients. The plan then skips the cluster checks
// silently and still validates the rules.
func TestAccRegistryMirrorUnknownProvider(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	providerBlock := `
resource "terraform_data" "cluster" {
  input = "https://127.0.0.1:1"
}

provider "imagedist" {
  host  = terraform_data.cluster.output
  token = "not-a-real-token"
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: providerBlock + cluster.config(fmt.Sprintf(`
  pull_type = "tag"
  mirror {
    source  = %q
    mirrors = ["m.example.com/q"]
  }
`, cluster.source)),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: providerBlock + cluster.config(`
  mirror {
    source = "quay.io/team:latest"
  }
`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Invalid Mirror Source`),
			},
		},
	})
}

// handMade creates an object of kind with the test's name outside Terraform, as another team
// would, and returns a check that it is unchanged. The object is deleted after the test.
func (c *registryMirrorCluster) handMade(kind, policy string) func() error {
	c.t.Helper()
	field := "imageDigestMirrors"
	if kind == mirrors.KindImageTagMirrorSet {
		field = "imageTagMirrors"
	}
	object := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "config.openshift.io/v1",
		"kind":       kind,
		"metadata": map[string]any{"name": c.name,
			"labels": map[string]any{"owner": "other-team"}},
		"spec": map[string]any{field: []any{map[string]any{
			"source":             c.source,
			"mirrors":            []any{"handmade.example.com/q"},
			"mirrorSourcePolicy": policy,
		}}},
	}}
	resources := c.client.Resource(mirrorKindResource(kind))
	created, err := resources.Create(context.Background(), object, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatalf("creating the hand-made %s: %v", kind, err)
	}
	c.t.Cleanup(func() {
		_ = resources.Delete(context.Background(), c.name, metav1.DeleteOptions{})
	})
	return func() error {
		current, err := c.object(kind)
		if err != nil {
			return err
		}
		if current == nil {
			return fmt.Errorf("the hand-made %s %s was deleted", kind, c.name)
		}
		if current.GetResourceVersion() != created.GetResourceVersion() {
			return fmt.Errorf("the hand-made %s %s was changed: spec %v, labels %v", kind,
				c.name, current.Object["spec"], current.GetLabels())
		}
		return nil
	}
}

// An object of the resource's name that someone else made is never adopted: create fails and
// leaves it as it was, and the conflict check treats it as any other object.
func TestAccRegistryMirrorExistingObject(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	unchanged := cluster.handMade(mirrors.KindImageDigestMirrorSet,
		mirrors.PolicyNeverContactSource)
	body := func(policy string) string {
		return cluster.config(fmt.Sprintf(`
  mirror {
    source               = %q
    mirrors              = ["a.example.com/q"]
    mirror_source_policy = %q
  }
`, cluster.source, policy))
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return unchanged() },
		Steps: []resource.TestStep{
			{
				Config:             body(mirrors.PolicyAllowContactingSource),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ExpectError: regexp.MustCompile(`(?s)Conflicting Mirror Source Policy.*` +
					`but\s+ImageDigestMirrorSet/` + regexp.QuoteMeta(cluster.name) +
					`.*not\s+managed\s+by\s+this\s+resource`),
			},
			{
				Config: body(mirrors.PolicyNeverContactSource),
				ExpectError: regexp.MustCompile(`(?s)Mirror Set Already Exists.*` +
					`ImageDigestMirrorSet\s+` + regexp.QuoteMeta(cluster.name) +
					`\s+already\s+exists;\s+import\s+it\s+with\s+terraform\s+import,\s+` +
					`or\s+choose\s+another\s+name`),
			},
		},
	})
}

// A pull_type change to "both" does not take over a hand-made ImageTagMirrorSet.
func TestAccRegistryMirrorExistingObjectOnPullTypeChange(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	body := func(pullType string) string {
		return cluster.config(fmt.Sprintf(`
  pull_type = %q
  mirror {
    source               = %q
    mirrors              = ["a.example.com/q"]
    mirror_source_policy = "NeverContactSource"
  }
`, pullType, cluster.source))
	}
	var unchanged func() error

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if err := cluster.checkAbsent(mirrors.KindImageDigestMirrorSet)(nil); err != nil {
				return err
			}
			return unchanged()
		},
		Steps: []resource.TestStep{
			{Config: body(mirrors.PullTypeDigest)},
			{
				PreConfig: func() {
					unchanged = cluster.handMade(mirrors.KindImageTagMirrorSet,
						mirrors.PolicyNeverContactSource)
				},
				Config: body(mirrors.PullTypeBoth),
				ExpectError: regexp.MustCompile(`(?s)Mirror Set Already Exists.*` +
					`ImageTagMirrorSet\s+` + regexp.QuoteMeta(cluster.name) + `\s+already\s+exists`),
			},
			{
				Config: body(mirrors.PullTypeDigest),
				Check: resource.ComposeTestCheckFunc(
					func(*terraform.State) error { return unchanged() },
					cluster.checkRules(mirrors.KindImageDigestMirrorSet, []mirrors.Rule{{
						Source: cluster.source, Mirrors: []string{"a.example.com/q"},
						Policy: mirrors.PolicyNeverContactSource,
					}}),
				),
			},
		},
	})
}

// With pull_type "both", an edit to either object shows as drift on every refresh, the state
// is the same on repeated refreshes, and an apply rewrites both objects.
func TestAccRegistryMirrorBothDrift(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	config := cluster.config(fmt.Sprintf(`
  pull_type = "both"
  labels = {
    team = "platform"
  }
  mirror {
    source  = %q
    mirrors = ["a.example.com/q", "b.example.com/q"]
  }
`, cluster.source))
	want := []mirrors.Rule{{Source: cluster.source,
		Mirrors: []string{"a.example.com/q", "b.example.com/q"}}}
	var refreshed map[string]string
	recordState := func(state *terraform.State) error {
		refreshed = state.RootModule().Resources[registryMirrorAddress].Primary.Attributes
		return nil
	}
	sameState := func(state *terraform.State) error {
		got := state.RootModule().Resources[registryMirrorAddress].Primary.Attributes
		if fmt.Sprint(got) != fmt.Sprint(refreshed) {
			return fmt.Errorf("second refresh gave %v, first gave %v", got, refreshed)
		}
		return nil
	}
	repaired := resource.ConfigPlanChecks{
		PreApply: []plancheck.PlanCheck{
			plancheck.ExpectResourceAction(registryMirrorAddress,
				plancheck.ResourceActionUpdate),
		},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
	bothRepaired := resource.ComposeTestCheckFunc(
		cluster.checkRules(mirrors.KindImageDigestMirrorSet, want),
		cluster.checkRules(mirrors.KindImageTagMirrorSet, want),
	)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					cluster.edit(mirrors.KindImageDigestMirrorSet, func(rule map[string]any) {
						rule["mirrors"] = []any{"c.example.com/q"}
					})
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check:              recordState,
			},
			{RefreshState: true, ExpectNonEmptyPlan: true, Check: sameState},
			{Config: config, ConfigPlanChecks: repaired, Check: bothRepaired},
			{
				// A label changed on the ImageTagMirrorSet only.
				PreConfig: func() {
					object, err := cluster.object(mirrors.KindImageTagMirrorSet)
					if err != nil || object == nil {
						t.Fatalf("reading the ImageTagMirrorSet: %v", err)
					}
					object.SetLabels(map[string]string{"team": "edited"})
					_, err = cluster.client.Resource(tagMirrorSetsResource).Update(
						context.Background(), object, metav1.UpdateOptions{})
					if err != nil {
						t.Fatalf("updating the ImageTagMirrorSet: %v", err)
					}
				},
				Config:           config,
				ConfigPlanChecks: repaired,
				Check: func(*terraform.State) error {
					object, err := cluster.object(mirrors.KindImageTagMirrorSet)
					if err != nil {
						return err
					}
					if got := object.GetLabels()["team"]; got != "platform" {
						return fmt.Errorf("ImageTagMirrorSet label team = %q, want platform", got)
					}
					return nil
				},
			},
		},
	})
}

package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// deniedIdentity is a service account bound to a copy of the shipped ClusterRole that lacks
// one verb on one resource.
type deniedIdentity struct {
	t          *testing.T
	kubeconfig string
	role       rbacv1.ClusterRole
	shipped    []rbacv1.PolicyRule
	denied     authorizationv1.ResourceAttributes
}

// newDeniedIdentity creates the service account and its ClusterRole, and deletes both when
// the test ends.
func newDeniedIdentity(t *testing.T, group, resourceName, verb string) *deniedIdentity {
	t.Helper()
	client := acceptanceClient(t)
	admin, err := testcluster.RESTConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}

	clusterRoles, _, err := testcluster.ReadRBACExamples(
		filepath.Join("..", "..", testcluster.RBACExamplesDir))
	if err != nil {
		t.Fatalf("reading the shipped roles: %v", err)
	}
	role := *clusterRoles[0].DeepCopy()
	role.Name = acctest.RandomWithPrefix("imagedist-denied")
	role.Rules = withoutVerb(t, role.Rules, group, resourceName, verb)

	identity := testcluster.Identity{
		Namespace:      acctest.RandomWithPrefix("denied"),
		ServiceAccount: "terraform",
		ClusterRoles:   []rbacv1.ClusterRole{role},
	}
	ctx := context.Background()
	t.Cleanup(func() {
		rbac := client.RbacV1()
		_ = rbac.ClusterRoleBindings().Delete(ctx, identity.ClusterRoleBindingName(role.Name),
			metav1.DeleteOptions{})
		_ = rbac.ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{})
		_ = client.CoreV1().Namespaces().Delete(ctx, identity.Namespace, metav1.DeleteOptions{})
	})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testcluster.CreateIdentity(ctx, admin, identity, kubeconfig); err != nil {
		t.Fatalf("creating the service account: %v", err)
	}

	return &deniedIdentity{
		t:          t,
		kubeconfig: kubeconfig,
		role:       role,
		shipped:    clusterRoles[0].Rules,
		denied: authorizationv1.ResourceAttributes{
			Verb: verb, Group: group, Resource: resourceName,
		},
	}
}

// withoutVerb removes verb from the rules for group and resource, and fails the test when no
// rule grants it, so that the test cannot pass against a role that never had the rule.
func withoutVerb(t *testing.T, rules []rbacv1.PolicyRule, group, resource, verb string,
) []rbacv1.PolicyRule {
	t.Helper()
	var result []rbacv1.PolicyRule
	removed := false
	for _, rule := range rules {
		if !slices.Contains(rule.APIGroups, group) || !slices.Contains(rule.Resources, resource) ||
			!slices.Contains(rule.Verbs, verb) {
			result = append(result, rule)
			continue
		}
		removed = true

		// The other resources of the rule keep the verb.
		others := slices.DeleteFunc(slices.Clone(rule.Resources),
			func(name string) bool { return name == resource })
		if len(others) > 0 {
			otherResources := *rule.DeepCopy()
			otherResources.Resources = others
			result = append(result, otherResources)
		}
		verbs := slices.DeleteFunc(slices.Clone(rule.Verbs),
			func(name string) bool { return name == verb })
		if len(verbs) > 0 {
			otherVerbs := *rule.DeepCopy()
			otherVerbs.Resources = []string{resource}
			otherVerbs.Verbs = verbs
			result = append(result, otherVerbs)
		}
	}
	if !removed {
		t.Fatalf("no shipped rule grants %s on %s in API group %q", verb, resource, group)
	}
	return result
}

// provider is a provider block that authenticates as the service account.
func (d *deniedIdentity) provider() string {
	return fmt.Sprintf(`provider "imagedist" {
  config_path    = %q
  config_context = %q
}
`, d.kubeconfig, testcluster.LeastPrivilegeContext)
}

// grant restores the shipped rules and waits until the authorizer allows the denied verb.
func (d *deniedIdentity) grant() {
	d.t.Helper()
	client := acceptanceClient(d.t)
	ctx := context.Background()

	role, err := client.RbacV1().ClusterRoles().Get(ctx, d.role.Name, metav1.GetOptions{})
	if err != nil {
		d.t.Fatalf("reading ClusterRole %s: %v", d.role.Name, err)
	}
	role.Rules = d.shipped
	_, err = client.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{})
	if err != nil {
		d.t.Fatalf("updating ClusterRole %s: %v", d.role.Name, err)
	}
	if err := testcluster.WaitUntilAllowed(ctx, d.kubeconfig, d.denied); err != nil {
		d.t.Fatal(err)
	}
}

// permissionError matches a diagnostic that names the denied verb and resource, the rule to
// grant and the shipped ClusterRole.
func permissionError(summary, verb, resource, group, scope string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`(?s)%s.*may\s+not\s+%s\s+%s\s+%s.*`+
		`apiGroups\s+\[%q\],\s+resources\s+\[%q\],\s+verbs\s+\[%q\].*`+
		`examples/rbac/clusterrole.yaml`, summary, verb, resource, scope, group, resource, verb))
}

// TestAccPermissionMissingServiceAccountUpdate links a pull secret as an identity that may not
// update service accounts. The error names the verb, the resource and the rule to grant, and
// after the rule is granted the next apply completes.
func TestAccPermissionMissingServiceAccountUpdate(t *testing.T) {
	cluster := newPullSecretCluster(t)
	cluster.createServiceAccount("deployer")
	identity := newDeniedIdentity(t, "", "serviceaccounts", "update")
	configuration := identity.provider() + cluster.config(`
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
			{
				Config: configuration,
				ExpectError: permissionError("Unable to Link Pull Secret", "update",
					"serviceaccounts", "", fmt.Sprintf(`in\s+namespace\s+%q`, cluster.namespace)),
			},
			{
				PreConfig: identity.grant,
				Config:    configuration,
				Check:     cluster.checkAccountPullSecrets("deployer", cluster.name),
			},
		},
	})
}

// TestAccPermissionMissingMirrorSetCreate creates a mirror set as an identity that may not
// create ImageDigestMirrorSets, a cluster-scoped kind of a named API group.
func TestAccPermissionMissingMirrorSetCreate(t *testing.T) {
	cluster := newRegistryMirrorCluster(t)
	identity := newDeniedIdentity(t, "config.openshift.io", "imagedigestmirrorsets", "create")
	configuration := identity.provider() + cluster.config(fmt.Sprintf(`
  pull_type = "digest"
  mirror {
    source  = %q
    mirrors = ["mirror.example.com/q"]
  }
`, cluster.source))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: configuration,
				ExpectError: permissionError("Unable to Write Mirror Set", "create",
					"imagedigestmirrorsets", "config.openshift.io", `at\s+the\s+cluster\s+scope`),
			},
			{
				PreConfig: identity.grant,
				Config:    configuration,
			},
		},
	})
}

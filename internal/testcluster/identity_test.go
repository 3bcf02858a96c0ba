package testcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestReadRBACExamplesShipped(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	clusterRoles, roles, err := ReadRBACExamples(filepath.Join(root, RBACExamplesDir))
	if err != nil {
		t.Fatalf("ReadRBACExamples: %v", err)
	}

	if len(clusterRoles) != 1 || clusterRoles[0].Name != "imagedist-provider" {
		t.Errorf("ClusterRoles = %v, expected imagedist-provider only", names(clusterRoles))
	}
	for _, role := range clusterRoles {
		checkLeastPrivilegeRules(t, "ClusterRole "+role.Name, role.Rules)
	}
	for _, role := range roles {
		checkLeastPrivilegeRules(t, "Role "+role.Namespace+"/"+role.Name, role.Rules)
	}
}

// checkLeastPrivilegeRules checks that rules name every group, resource and verb explicitly.
func checkLeastPrivilegeRules(t *testing.T, role string, rules []rbacv1.PolicyRule) {
	t.Helper()
	if len(rules) == 0 {
		t.Errorf("%s has no rules", role)
	}
	for i, rule := range rules {
		if len(rule.APIGroups) == 0 || len(rule.Resources) == 0 || len(rule.Verbs) == 0 {
			t.Errorf("%s rule %d lacks API groups, resources or verbs: %+v", role, i, rule)
		}
		if len(rule.NonResourceURLs) > 0 {
			t.Errorf("%s rule %d grants non-resource URLs %v", role, i, rule.NonResourceURLs)
		}
		for _, values := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs} {
			for _, value := range values {
				if strings.Contains(value, "*") {
					t.Errorf("%s rule %d has the wildcard %q", role, i, value)
				}
			}
		}
	}
}

func names(roles []rbacv1.ClusterRole) []string {
	var result []string
	for _, role := range roles {
		result = append(result, role.Name)
	}
	return result
}

func TestReadRBACExamplesRejectsOtherKinds(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "binding.yaml"), `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: imagedist-provider
`)

	_, _, err := ReadRBACExamples(dir)
	if err == nil || !strings.Contains(err.Error(), "ClusterRoleBinding") {
		t.Errorf("error = %v, expected one naming the unsupported ClusterRoleBinding", err)
	}
}

func TestReadRBACExamplesRoleWithoutNamespace(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "role.yaml"), `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get"]
`)

	_, _, err := ReadRBACExamples(dir)
	if err == nil || !strings.Contains(err.Error(), "no namespace") {
		t.Errorf("error = %v, expected one about the missing namespace", err)
	}
}

func TestReadRBACExamplesSeveralDocuments(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "roles.yaml"), `# comment only
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: a
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: b
  namespace: ns
rules: []
`)

	clusterRoles, roles, err := ReadRBACExamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(clusterRoles) != 1 || clusterRoles[0].Name != "a" {
		t.Errorf("ClusterRoles = %v, expected [a]", names(clusterRoles))
	}
	if len(roles) != 1 || roles[0].Name != "b" || roles[0].Namespace != "ns" {
		t.Errorf("Roles = %+v, expected ns/b", roles)
	}
}

func TestLeastPrivilegeNeedsAdminKubeconfig(t *testing.T) {
	t.Setenv(EnvIdentity, IdentityLeastPrivilege)
	t.Setenv(EnvAdminKubeconfig, "")
	if LeastPrivilege() {
		t.Errorf("LeastPrivilege() = true without %s", EnvAdminKubeconfig)
	}

	t.Setenv(EnvAdminKubeconfig, filepath.Join(t.TempDir(), "kubeconfig"))
	if !LeastPrivilege() {
		t.Errorf("LeastPrivilege() = false with both variables set")
	}
}

func TestRunTestsRejectsUnknownIdentity(t *testing.T) {
	t.Setenv(EnvIdentity, "root")

	ran := false
	code := runTests(runnerFunc(func() int { ran = true; return 0 }), Options{Logf: t.Logf})
	if ran {
		t.Errorf("the tests ran with an invalid %s", EnvIdentity)
	}
	if code != 2 {
		t.Errorf("exit code = %d, expected 2", code)
	}
}

func TestRunTestsLeastPrivilegeNeedsLocalCluster(t *testing.T) {
	t.Setenv(EnvIdentity, IdentityLeastPrivilege)
	t.Setenv(EnvAcceptance, "1")
	t.Setenv(EnvKubeconfig, "/nonexistent/kubeconfig")

	ran := false
	code := runTests(runnerFunc(func() int { ran = true; return 0 }), Options{Logf: t.Logf})
	if ran {
		t.Errorf("the tests ran against a caller's cluster in the least-privilege mode")
	}
	if code != 2 {
		t.Errorf("exit code = %d, expected 2", code)
	}
}

func TestRESTConfigFromEnvPrefersAdmin(t *testing.T) {
	dir := t.TempDir()
	admin := filepath.Join(dir, "admin")
	provider := filepath.Join(dir, "provider")
	hosts := map[string]string{admin: "https://127.0.0.1:1", provider: "https://127.0.0.1:2"}
	for path, host := range hosts {
		content := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " +
			host + "\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n" +
			"current-context: c\nusers:\n- name: u\n  user:\n    token: t\n"
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(EnvKubeconfig, provider)
	t.Setenv(EnvKubeContext, "")

	t.Setenv(EnvAdminKubeconfig, "")
	config, err := RESTConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if config.Host != "https://127.0.0.1:2" {
		t.Errorf("host = %s without the admin kubeconfig, expected the provider's", config.Host)
	}

	// KUBE_CTX names the provider's context, which the admin kubeconfig need not have.
	t.Setenv(EnvKubeContext, LeastPrivilegeContext)
	t.Setenv(EnvAdminKubeconfig, admin)
	config, err = RESTConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if config.Host != "https://127.0.0.1:1" {
		t.Errorf("host = %s with the admin kubeconfig, expected the admin's", config.Host)
	}

	// The provider's own configuration ignores the admin kubeconfig.
	t.Setenv(EnvKubeContext, "")
	config, err = ProviderRESTConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if config.Host != "https://127.0.0.1:2" {
		t.Errorf("ProviderRESTConfigFromEnv host = %s, expected the provider's", config.Host)
	}
}

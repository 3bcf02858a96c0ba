package provider

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// authorizerForbidden builds the 403 that kube-apiserver returns when RBAC denies a request.
func authorizerForbidden(resource schema.GroupResource, name, verb, namespace string) error {
	reason := fmt.Sprintf("User %q cannot %s resource %q in API group %q",
		"system:serviceaccount:ops:terraform", verb, resource.Resource, resource.Group)
	if namespace != "" {
		reason += fmt.Sprintf(" in the namespace %q", namespace)
	} else {
		reason += " at the cluster scope"
	}
	return apierrors.NewForbidden(resource, name, errors.New(reason))
}

func TestForbiddenAdvice(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		expected []string
	}{
		{
			name: "namespaced core resource",
			err: authorizerForbidden(corev1.Resource("serviceaccounts"), "deployer", "update",
				"apps"),
			expected: []string{
				`may not update serviceaccounts in namespace "apps"`,
				`apiGroups [""], resources ["serviceaccounts"], verbs ["update"]`,
				`RoleBinding in namespace "apps"`,
				shippedClusterRole,
			},
		},
		{
			name: "cluster-scoped resource",
			err:  authorizerForbidden(corev1.Resource("nodes"), "", "list", ""),
			expected: []string{
				"may not list nodes at the cluster scope",
				`apiGroups [""], resources ["nodes"], verbs ["list"]`,
				"through a ClusterRoleBinding",
				shippedClusterRole,
			},
		},
		{
			name: "named API group",
			err: authorizerForbidden(appsv1.Resource("daemonsets"), "puller", "delete",
				"cache"),
			expected: []string{
				`may not delete daemonsets in namespace "cache"`,
				`apiGroups ["apps"], resources ["daemonsets"], verbs ["delete"]`,
			},
		},
		{
			name: "wrapped error",
			err: fmt.Errorf("linking: %w", authorizerForbidden(
				corev1.Resource("serviceaccounts"), "default", "get", "apps")),
			expected: []string{`verbs ["get"]`},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			grant := forbiddenAdvice(test.err)
			for _, text := range test.expected {
				if !strings.Contains(grant, text) {
					t.Errorf("forbiddenAdvice() = %q, expected it to contain %q", grant, text)
				}
			}
		})
	}
}

func TestForbiddenAdvicePath(t *testing.T) {
	err := fmt.Errorf("get node %q: %w", "worker-0", apierrors.NewForbidden(
		schema.GroupResource{}, "", errors.New(`User "system:serviceaccount:ops:terraform" `+
			`cannot get path "/k8s/api/v1/nodes/worker-0"`)))

	advice := forbiddenAdvice(err)
	for _, text := range []string{`path "/k8s/api/v1/nodes/worker-0"`, "`host`"} {
		if !strings.Contains(advice, text) {
			t.Errorf("forbiddenAdvice() = %q, expected it to contain %q", advice, text)
		}
	}
	if strings.Contains(advice, "Grant") {
		t.Errorf("forbiddenAdvice() = %q names a rule, but no rule grants a wrong path", advice)
	}
	if !isPathForbidden(err) {
		t.Errorf("isPathForbidden() = false for a denied path")
	}
	if isPathForbidden(authorizerForbidden(corev1.Resource("nodes"), "", "list", "")) {
		t.Errorf("isPathForbidden() = true for a denied resource")
	}
}

func TestForbiddenAdviceOtherErrors(t *testing.T) {
	errs := map[string]error{
		// ResourceQuota admission also returns 403 Forbidden, but no rule would help.
		"quota": apierrors.NewForbidden(corev1.Resource("pods"), "puller-x",
			errors.New("exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10")),
		"not found": apierrors.NewNotFound(corev1.Resource("secrets"), "registry"),
		"plain":     errors.New(`cannot get resource "secrets" in API group ""`),
	}
	for name, err := range errs {
		t.Run(name, func(t *testing.T) {
			if grant := forbiddenAdvice(err); grant != "" {
				t.Errorf("forbiddenAdvice() = %q, expected no rule", grant)
			}
		})
	}
}

func TestAddAPIErrorForbidden(t *testing.T) {
	var diags diag.Diagnostics
	err := authorizerForbidden(corev1.Resource("secrets"), "registry", "create", "apps")
	addAPIError(&diags, "Unable to Create Pull Secret", "Creating Secret apps/registry failed.",
		err)

	detail := diags.Errors()[0].Detail()
	grant := strings.Index(detail, "Grant a role")
	apiError := strings.Index(detail, err.Error())
	if grant < 0 {
		t.Fatalf("detail %q does not name the rule to grant", detail)
	}
	if apiError < grant {
		t.Errorf("detail %q does not end with the API error after the rule", detail)
	}
}

func TestAddPermissionErrorAddsNoRule(t *testing.T) {
	var diags diag.Diagnostics
	err := authorizerForbidden(corev1.Resource("nodes"), "", "list", "")
	addPermissionError(&diags, "Unable to List Nodes", "The provider's credentials may not "+
		"list nodes.", err)

	detail := diags.Errors()[0].Detail()
	if strings.Contains(detail, "Grant a role") {
		t.Errorf("detail %q repeats the rule that the caller's detail names", detail)
	}
	if !strings.HasSuffix(detail, err.Error()) {
		t.Errorf("detail %q does not end with the API error", detail)
	}
}

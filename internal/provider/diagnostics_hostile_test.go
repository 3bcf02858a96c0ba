package provider

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TestAPIErrorDetailAdviceRedacted checks that the RBAC advice, which quotes parts of the
// server's message, does not repeat a credential that the API error line has redacted.
func TestAPIErrorDetailAdviceRedacted(t *testing.T) {
	const password = "hunter2-registry-password"
	err := apierrors.NewForbidden(corev1.Resource("secrets"), "pull",
		errors.New(`User "u" cannot create resource "`+password+`" in API group "" `+
			`in the namespace "`+password+`"`))

	detail := apiErrorDetail("Creating the Secret failed.", err, password)
	if strings.Contains(detail, password) {
		t.Errorf("detail repeats the credential:\n%s", detail)
	}
}

// TestForbiddenAdviceBoundedSize checks that a server message with an endless verb or
// resource does not make the advice repeat it in full.
func TestForbiddenAdviceBoundedSize(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	err := apierrors.NewForbidden(corev1.Resource("secrets"), "pull",
		errors.New(`User "u" cannot `+long+` resource "`+long+`" in API group "`+long+`"`))

	advice := forbiddenAdvice(err)
	if len(advice) > 4096 {
		t.Errorf("advice has %d bytes, expected it to quote no more than a bounded part of "+
			"the server's message", len(advice))
	}
}

// TestForbiddenAdviceWebhookDenial checks that a 403 from an admission webhook whose message
// quotes an RBAC denial of some other request does not get RBAC advice.
func TestForbiddenAdviceWebhookDenial(t *testing.T) {
	err := &apierrors.StatusError{ErrStatus: apierrors.NewForbidden(corev1.Resource("pods"),
		"", errors.New("x")).Status()}
	err.ErrStatus.Message = `admission webhook "policy.example.com" denied the request: ` +
		`the image pull secret is managed elsewhere; User "u" cannot create resource ` +
		`"secrets" in API group "" in the namespace "apps"`

	if advice := forbiddenAdvice(err); advice != "" {
		t.Errorf("advice for a webhook denial = %q, expected none", advice)
	}
}

package provider

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestFailureDetail(t *testing.T) {
	const detail = "Check the provider's permissions."
	object := secretObject("team-a", "registry")
	cases := []struct {
		name     string
		err      error
		pathHint bool
	}{
		{"path not found", pathNotFound("get", "secrets", "registry"), true},
		{"object not found", apierrors.NewNotFound(secretsResource, "registry"), false},
		{"other object not found", apierrors.NewNotFound(serviceAccountsResource, "builder"),
			false},
		{"forbidden", apierrors.NewForbidden(secretsResource, "registry",
			errors.New("denied")), false},
		{"plain error", errors.New("connection refused"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := failureDetail(detail, object, tc.err)

			if !tc.pathHint {
				if got != detail {
					t.Errorf("detail = %q, expected %q", got, detail)
				}
				return
			}
			for _, fragment := range []string{object, "404 Not Found", "`host`", "/k8s"} {
				if !strings.Contains(got, fragment) {
					t.Errorf("detail %q lacks %q", got, fragment)
				}
			}
		})
	}
}

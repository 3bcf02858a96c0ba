package kubeerrors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

var secrets = corev1.Resource("secrets")

func TestNotFoundErrorValues(t *testing.T) {
	cases := []struct {
		name string
		err  error
		// object and path are the expected results of IsObjectNotFound for Secret
		// "registry" and of IsPathNotFound.
		object, path bool
	}{
		{"nil", nil, false, false},
		{"same name", apierrors.NewNotFound(secrets, "registry"), true, false},
		{"wrapped", fmt.Errorf("get: %w", apierrors.NewNotFound(secrets, "registry")), true,
			false},
		{"other name", apierrors.NewNotFound(secrets, "other"), false, false},
		{"empty name", apierrors.NewNotFound(secrets, ""), false, true},
		{"other resource", apierrors.NewNotFound(corev1.Resource("serviceaccounts"),
			"registry"), false, false},
		{"other group", apierrors.NewNotFound(schema.GroupResource{Group: "example.com",
			Resource: "secrets"}, "registry"), false, false},
		{"namespace missing", apierrors.NewNotFound(corev1.Resource("namespaces"),
			"registry"), false, false},
		{"forbidden", apierrors.NewForbidden(secrets, "registry", fmt.Errorf("denied")), false,
			false},
		{"plain error", fmt.Errorf("connection refused"), false, false},
		{"generic 404", apierrors.NewGenericServerResponse(http.StatusNotFound, "GET", secrets,
			"registry", "404 page not found", 0, true), false, true},
		{"wrapped generic 404", fmt.Errorf("get: %w", apierrors.NewGenericServerResponse(
			http.StatusNotFound, "GET", secrets, "registry", "404 page not found", 0, true)),
			false, true},
		{"status without details", &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusNotFound,
			Reason: metav1.StatusReasonNotFound,
		}}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsObjectNotFound(tc.err, secrets, "registry"); got != tc.object {
				t.Errorf("IsObjectNotFound(%v) = %t, expected %t", tc.err, got, tc.object)
			}
			if got := IsPathNotFound(tc.err); got != tc.path {
				t.Errorf("IsPathNotFound(%v) = %t, expected %t", tc.err, got, tc.path)
			}
		})
	}
}

func getSecretFrom(t *testing.T, respond http.HandlerFunc) error {
	t.Helper()
	server := httptest.NewServer(respond)
	t.Cleanup(server.Close)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: server.URL + "/k8s"})
	if err != nil {
		t.Fatalf("building the client: %v", err)
	}
	_, err = client.CoreV1().Secrets("team").Get(context.Background(), "registry",
		metav1.GetOptions{})
	if err == nil {
		t.Fatal("Get succeeded, expected a 404 error")
	}
	return err
}

func writeStatus(w http.ResponseWriter, status metav1.Status) {
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(status.Code))
	_ = json.NewEncoder(w).Encode(&status)
}

func TestNotFoundFromServer(t *testing.T) {
	cases := []struct {
		name    string
		respond http.HandlerFunc
		// object and path are the expected results of IsObjectNotFound for Secret
		// "registry" and of IsPathNotFound.
		object, path bool
	}{
		{
			// kube-apiserver's response for a path it does not serve, such as a wrong prefix.
			name:    "plain text 404",
			respond: http.NotFound,
			path:    true,
		},
		{
			name: "JSON that is not a Status",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"error":"no route"}`))
			},
			path: true,
		},
		{
			name: "Status without details",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				writeStatus(w, metav1.Status{Status: metav1.StatusFailure,
					Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
					Message: "the server could not find the requested resource"})
			},
			path: true,
		},
		{
			name: "Status for another Secret",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				writeStatus(w, apierrors.NewNotFound(secrets, "other").Status())
			},
		},
		{
			name: "Status for the Secret",
			respond: func(w http.ResponseWriter, _ *http.Request) {
				writeStatus(w, apierrors.NewNotFound(secrets, "registry").Status())
			},
			object: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := getSecretFrom(t, tc.respond)

			if !apierrors.IsNotFound(err) {
				t.Fatalf("apierrors.IsNotFound(%v) = false, so the case tests nothing", err)
			}
			if got := IsObjectNotFound(err, secrets, "registry"); got != tc.object {
				t.Errorf("IsObjectNotFound(%v) = %t, expected %t", err, got, tc.object)
			}
			if got := IsPathNotFound(err); got != tc.path {
				t.Errorf("IsPathNotFound(%v) = %t, expected %t", err, got, tc.path)
			}
		})
	}
}

package provider

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"
)

// The resources whose 404 responses kubeerrors.IsObjectNotFound checks, as the API server
// names them in a Status.
var (
	secretsResource         = corev1.Resource("secrets")
	serviceAccountsResource = corev1.Resource("serviceaccounts")
	namespacesResource      = corev1.Resource("namespaces")
)

// failureDetail returns detail for a failed request, unless err is a 404 Not Found that
// names no object, as for a URL path that the server does not serve. For that 404 it returns
// pathNotFoundDetail(object) instead, because detail would point the user at permissions.
// object names the requested object, such as `Secret "a" in namespace "b"`.
func failureDetail(detail, object string, err error) string {
	if !kubeerrors.IsPathNotFound(err) {
		return detail
	}
	return pathNotFoundDetail(object)
}

// pathNotFoundDetail explains a 404 Not Found that names no object.
func pathNotFoundDetail(object string) string {
	return fmt.Sprintf("The API server returned 404 Not Found for the request for %s, but "+
		"the response does not name that object as missing, so the request path itself was "+
		"not found. Check that `host` in the provider configuration (or the server of the "+
		"kubeconfig context) is the address of the Kubernetes API server, with no path "+
		"prefix such as \"/k8s\" unless a proxy at that address serves the API under it.",
		object)
}

// secretObject names a Secret for pathNotFoundDetail.
func secretObject(namespace, name string) string {
	return fmt.Sprintf("Secret %q in namespace %q", name, namespace)
}

// serviceAccountObject names a service account for pathNotFoundDetail.
func serviceAccountObject(namespace, name string) string {
	return fmt.Sprintf("service account %q in namespace %q", name, namespace)
}

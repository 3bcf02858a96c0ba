// Package kubeerrors distinguishes an API server's 404 for one object from other 404 responses.
//
// apierrors.IsNotFound is true for any 404. A request sent to a path the API server does not
// serve, for example because the configured host has a wrong path prefix such as "/k8s",
// also gets a 404, although the object may well exist. Code that removes an object from
// Terraform state, or reports it missing, must only do so for the first kind of 404.
package kubeerrors

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// IsObjectNotFound reports whether err is the API server's 404 Not Found for the object of
// the given resource and name: a Status with reason NotFound whose details name that object.
//
// Every other 404 returns false. That includes a Status without details, or with details
// that name another object or resource. It also includes a response without a Status body,
// such as the plain text "404 page not found" that kube-apiserver (v1.37) sends for a path
// it does not serve. client-go fills in the requested resource and name for such a response
// itself, so that error is recognized by the UnexpectedServerResponse cause that client-go
// adds to it.
//
// The API server names the resource in the details' Kind field ("secrets", not "Secret"),
// and resource.Group is "" for the core API group.
func IsObjectNotFound(err error, resource schema.GroupResource, name string) bool {
	if !apierrors.IsNotFound(err) || apierrors.IsUnexpectedServerError(err) {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	details := status.Status().Details
	return details != nil && details.Name == name && details.Kind == resource.Resource &&
		details.Group == resource.Group
}

// IsPathNotFound reports whether err is a 404 Not Found that names no object: a response
// without a Status body, or a Status without an object name in its details. A server returns
// such a 404 for a request path it does not serve, as for a host with a wrong path prefix, so
// the requested object may well exist.
func IsPathNotFound(err error) bool {
	if !apierrors.IsNotFound(err) {
		return false
	}
	if apierrors.IsUnexpectedServerError(err) {
		return true
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true
	}
	details := status.Status().Details
	return details == nil || details.Name == ""
}

package pullevents

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/paging"
)

// PageSize is the number of events requested per list page.
const PageSize = 500

// podEventSelector is the field selector for events about pods, which kubelets write image
// events about.
const podEventSelector = "involvedObject.kind=Pod"

// ListError is a failed list request, with the namespace it was for.
type ListError struct {
	// Namespace is empty for all namespaces.
	Namespace string
	// Expired is set when the list's continue token expired twice before its last page.
	Expired bool
	Err     error
}

func (e *ListError) Error() string {
	scope := "in all namespaces"
	if e.Namespace != "" {
		scope = fmt.Sprintf("in namespace %q", e.Namespace)
	}
	if e.Expired {
		return fmt.Sprintf("listing events %s: the continue token expired twice: %v", scope,
			e.Err)
	}
	return fmt.Sprintf("listing events %s: %v", scope, e.Err)
}

func (e *ListError) Unwrap() error { return e.Err }

// Read lists the events about pods in namespace, or in all namespaces when it is empty, page
// by page, and passes each to aggregator.Add. When the continue token expires, because the
// events changed faster than the pages were read, it starts over once with an empty
// aggregator. onRestart, when not nil, is called with the error before that.
func Read(ctx context.Context, client corev1client.EventsGetter, namespace string,
	aggregator *Aggregator, onRestart func(error)) error {
	err := listPages(ctx, client, namespace, aggregator)
	if err == nil || !isExpired(err) {
		return wrapListError(namespace, err, false)
	}

	if onRestart != nil {
		onRestart(err)
	}
	aggregator.Reset()
	err = listPages(ctx, client, namespace, aggregator)
	return wrapListError(namespace, err, err != nil && isExpired(err))
}

func wrapListError(namespace string, err error, expired bool) error {
	if err == nil {
		return nil
	}
	return &ListError{Namespace: namespace, Expired: expired, Err: err}
}

func listPages(ctx context.Context, client corev1client.EventsGetter, namespace string,
	aggregator *Aggregator) error {
	options := metav1.ListOptions{FieldSelector: podEventSelector, Limit: PageSize}
	tokens := paging.Tokens{}
	for {
		page, err := client.Events(namespace).List(ctx, options)
		if err != nil {
			return err
		}
		for i := range page.Items {
			aggregator.Add(&page.Items[i])
		}
		if page.Continue == "" {
			return nil
		}
		if err := tokens.Follow(page.Continue); err != nil {
			return err
		}
		options.Continue = page.Continue
	}
}

// isExpired reports whether err is the API server's response to an expired continue token:
// 410 Gone with reason Expired, or with reason Gone from older servers.
func isExpired(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}

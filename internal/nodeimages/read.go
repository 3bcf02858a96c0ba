package nodeimages

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeerrors"

	"github.com/imagedist/terraform-provider-imagedist/internal/paging"
)

const (
	// DefaultPageSize is the number of nodes requested per list page.
	DefaultPageSize = 500
	// MaxPageSize bounds the page size: a page of 5000 nodes with 50 images each is a
	// response of roughly 100 MB of JSON.
	MaxPageSize = 5000

	// maxNodeGets is the largest number of names read with one GET each. Beyond it, one
	// paginated list of all nodes, filtered here, takes fewer requests.
	maxNodeGets = 100
	// getConcurrency bounds the GET requests in flight, well under the client's burst.
	getConcurrency = 8
)

var nodesResource = corev1.Resource("nodes")

// NewNodeClient returns a client for Node objects that requests protobuf, which the API
// server encodes and client-go decodes several times faster than JSON. The config is copied,
// not changed.
func NewNodeClient(config *rest.Config) (corev1client.NodeInterface, error) {
	protobufConfig := rest.CopyConfig(config)
	protobufConfig.ContentType = runtime.ContentTypeProtobuf
	protobufConfig.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON

	client, err := corev1client.NewForConfig(protobufConfig)
	if err != nil {
		return nil, fmt.Errorf("building the node client: %w", err)
	}
	return client.Nodes(), nil
}

// Reader reads the selected nodes into an Inventory.
type Reader struct {
	Nodes corev1client.NodeInterface
	// PageSize is the list page size; zero means DefaultPageSize.
	PageSize int64
	// OnRestart, when set, is called when the list restarts from the beginning because its
	// continue token expired. err is the API server's error.
	OnRestart func(err error)
}

// RequestError is a failed API request for nodes. It unwraps to the API error, so
// apierrors.IsForbidden and similar functions work on it.
type RequestError struct {
	// Verb is "list" or "get".
	Verb string
	// Name is the node name for a get.
	Name string
	Err  error
}

// Error returns the request and the API error.
func (e *RequestError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("%s node %q: %v", e.Verb, e.Name, e.Err)
	}
	return fmt.Sprintf("%s nodes: %v", e.Verb, e.Err)
}

// Unwrap returns the API error.
func (e *RequestError) Unwrap() error { return e.Err }

// NotFoundError reports requested node names that do not exist.
type NotFoundError struct {
	// Names is sorted.
	Names []string
}

// Error names the missing nodes.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("nodes not found: %s", strings.Join(e.Names, ", "))
}

// ExpiredError reports a list whose continue token expired again after one restart: the
// nodes changed faster than the pages could be read.
type ExpiredError struct {
	// Err is the API server's second error.
	Err error
}

// Error describes the failure and suggests a retry or a larger page size.
func (e *ExpiredError) Error() string {
	return fmt.Sprintf("the node list expired twice before its last page was read; retry, or "+
		"raise the page size so the list needs fewer requests: %v", e.Err)
}

// Unwrap returns the API error.
func (e *ExpiredError) Unwrap() error { return e.Err }

// ReadAll lists the nodes that match labelSelector (all nodes when it is empty), page by page,
// and adds each to inventory.
func (r *Reader) ReadAll(ctx context.Context, labelSelector string, inventory *Inventory) error {
	return r.list(ctx, labelSelector, inventory.Reset, inventory.Add)
}

// ReadNamed adds the nodes with the given names to inventory. Names that do not exist give a
// *NotFoundError naming all of them; nothing is added then.
func (r *Reader) ReadNamed(ctx context.Context, names []string, inventory *Inventory) error {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)

	if len(names) > maxNodeGets {
		return r.listNamed(ctx, names, inventory)
	}

	nodes, err := r.getAll(ctx, names)
	if err != nil {
		return err
	}
	for _, node := range nodes {
		inventory.Add(node)
	}
	return nil
}

// listNamed lists all nodes and keeps those in names, which is sorted.
func (r *Reader) listNamed(ctx context.Context, names []string, inventory *Inventory) error {
	found := make([]bool, len(names))
	visit := func(node *corev1.Node) {
		index, ok := slices.BinarySearch(names, node.Name)
		if !ok {
			return
		}
		found[index] = true
		inventory.Add(node)
	}
	reset := func() {
		inventory.Reset()
		clear(found)
	}
	if err := r.list(ctx, "", reset, visit); err != nil {
		return err
	}

	var missing []string
	for index, name := range names {
		if !found[index] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		inventory.Reset()
		return &NotFoundError{Names: missing}
	}
	return nil
}

// list pages through the nodes and calls visit for each. When a continue token expires, it
// calls reset to drop what was visited and starts over once with a fresh snapshot.
func (r *Reader) list(ctx context.Context, labelSelector string, reset func(),
	visit func(*corev1.Node)) error {
	err := r.listPages(ctx, labelSelector, visit)
	if err == nil || !isExpired(err) {
		return err
	}

	if r.OnRestart != nil {
		r.OnRestart(err)
	}
	reset()

	err = r.listPages(ctx, labelSelector, visit)
	if err != nil && isExpired(err) {
		reset()
		return &ExpiredError{Err: err}
	}
	return err
}

func (r *Reader) listPages(ctx context.Context, labelSelector string,
	visit func(*corev1.Node)) error {
	options := metav1.ListOptions{LabelSelector: labelSelector, Limit: r.pageSize()}
	tokens := paging.Tokens{}
	for {
		page, err := r.Nodes.List(ctx, options)
		if err != nil {
			return &RequestError{Verb: "list", Err: err}
		}
		for i := range page.Items {
			visit(&page.Items[i])
		}
		if page.Continue == "" {
			return nil
		}
		if err := tokens.Follow(page.Continue); err != nil {
			return &RequestError{Verb: "list", Err: err}
		}
		// Later pages come from the first page's snapshot, named by the continue token.
		options.Continue = page.Continue
	}
}

func (r *Reader) pageSize() int64 {
	if r.PageSize <= 0 {
		return DefaultPageSize
	}
	return r.PageSize
}

// isExpired reports whether err is the API server's response to an expired continue token.
// That is 410 Gone with reason Expired, or with reason Gone from older servers.
func isExpired(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}

// getAll gets each named node, a few at a time, and returns them in the order of names.
func (r *Reader) getAll(ctx context.Context, names []string) ([]*corev1.Node, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	nodes := make([]*corev1.Node, len(names))
	errs := make([]error, len(names))
	slots := make(chan struct{}, getConcurrency)
	var wait sync.WaitGroup
	for index, name := range names {
		wait.Add(1)
		slots <- struct{}{}
		go func() {
			defer wait.Done()
			defer func() { <-slots }()
			node, err := r.Nodes.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				errs[index] = err
				if !kubeerrors.IsObjectNotFound(err, nodesResource, name) {
					// Stop the other requests: any failure other than a 404 for the node
					// itself fails the read.
					cancel()
				}
				return
			}
			nodes[index] = node
		}()
	}
	wait.Wait()

	return nodes, getErrors(names, errs)
}

// getErrors turns per-name errors into one: the first error other than a 404 for the node
// itself, else a NotFoundError naming every missing node. A 404 that does not name the node,
// as for a wrong path prefix in the API server address, is such an other error.
func getErrors(names []string, errs []error) error {
	var missing []string
	var firstOther error
	for index, err := range errs {
		switch {
		case err == nil:
		case kubeerrors.IsObjectNotFound(err, nodesResource, names[index]):
			missing = append(missing, names[index])
		case firstOther == nil || errors.Is(firstOther, context.Canceled):
			// A request cancelled because another one failed is not the cause.
			firstOther = &RequestError{Verb: "get", Name: names[index], Err: err}
		}
	}
	if firstOther != nil {
		return firstOther
	}
	if len(missing) > 0 {
		return &NotFoundError{Names: missing}
	}
	return nil
}

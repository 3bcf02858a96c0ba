package nodeimages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
)

// fakeNodeAPI serves the Node list and get endpoints of the Kubernetes API from memory, with
// pagination, so the Reader runs against client-go's real HTTP path.
type fakeNodeAPI struct {
	nodes []corev1.Node

	mu sync.Mutex
	// requests records each request's path and query.
	requests []string
	// fail, when set, returns an error status for a request, or nil to serve it.
	fail func(request *http.Request, number int) *metav1.Status
}

func (f *fakeNodeAPI) ServeHTTP(w http.ResponseWriter, request *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, request.URL.RequestURI())
	number := len(f.requests)
	fail := f.fail
	f.mu.Unlock()

	if fail != nil {
		if status := fail(request, number); status != nil {
			writeJSON(w, int(status.Code), status)
			return
		}
	}

	name, isGet := strings.CutPrefix(request.URL.Path, "/api/v1/nodes/")
	switch {
	case isGet:
		f.serveGet(w, name)
	case request.URL.Path == "/api/v1/nodes":
		f.serveList(w, request)
	default:
		http.NotFound(w, request)
	}
}

func (f *fakeNodeAPI) serveGet(w http.ResponseWriter, name string) {
	for i := range f.nodes {
		if f.nodes[i].Name == name {
			writeJSON(w, http.StatusOK, &f.nodes[i])
			return
		}
	}
	status := apierrors.NewNotFound(corev1.Resource("nodes"), name).Status()
	writeJSON(w, http.StatusNotFound, &status)
}

func (f *fakeNodeAPI) serveList(w http.ResponseWriter, request *http.Request) {
	query := request.URL.Query()
	selector, err := labels.Parse(query.Get("labelSelector"))
	if err != nil {
		status := apierrors.NewBadRequest(err.Error()).Status()
		writeJSON(w, http.StatusBadRequest, &status)
		return
	}
	var matching []corev1.Node
	for _, n := range f.nodes {
		if selector.Matches(labels.Set(n.Labels)) {
			matching = append(matching, n)
		}
	}

	start, _ := strconv.Atoi(query.Get("continue"))
	end := len(matching)
	if limit, _ := strconv.Atoi(query.Get("limit")); limit > 0 && start+limit < end {
		end = start + limit
	}
	list := corev1.NodeList{
		TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"},
		Items:    matching[start:end],
	}
	if end < len(matching) {
		list.Continue = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, &list)
}

func writeJSON(w http.ResponseWriter, code int, value any) {
	if status, ok := value.(*metav1.Status); ok {
		// The API server always sends the kind, and client-go decodes no Status without it.
		status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(value)
}

func (f *fakeNodeAPI) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// startFakeNodeAPI serves api on loopback and returns a Reader for it.
func startFakeNodeAPI(t *testing.T, api *fakeNodeAPI, pageSize int64) *Reader {
	t.Helper()
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)

	client, err := NewNodeClient(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatalf("NewNodeClient: %v", err)
	}
	return &Reader{Nodes: client, PageSize: pageSize}
}

// namedNodes returns nodes worker-00 ... with one shared image and the given labels.
func namedNodes(count int, nodeLabels map[string]string) []corev1.Node {
	nodes := make([]corev1.Node, count)
	for i := range nodes {
		n := node(fmt.Sprintf("worker-%02d", i), "cri-o://1.33.4",
			image(100, "docker.io/library/nginx:1.27"))
		n.Labels = nodeLabels
		nodes[i] = *n
	}
	return nodes
}

func expiredStatus() *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Reason:   metav1.StatusReasonExpired,
		Code:     http.StatusGone,
		Message:  "The provided continue parameter is too old to display a consistent list result.",
	}
}

func nodeNames(inventory *Inventory) []string {
	var names []string
	for _, n := range inventory.Nodes() {
		names = append(names, n.Name)
	}
	return names
}

func TestReadAllPaginates(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(7, nil)}
	reader := startFakeNodeAPI(t, api, 3)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	if err := reader.ReadAll(context.Background(), "", inventory); err != nil {
		t.Fatalf("ReadAll: %v", err)
	}

	if got := inventory.NodeCount(); got != 7 {
		t.Errorf("node count = %d, want 7", got)
	}
	requests := api.requestLog()
	if len(requests) != 3 {
		t.Fatalf("got %d requests, want 3 pages: %q", len(requests), requests)
	}
	for _, request := range requests {
		if !strings.Contains(request, "limit=3") {
			t.Errorf("request %q lacks limit=3", request)
		}
	}
	if !strings.Contains(requests[2], "continue=6") {
		t.Errorf("last request %q does not continue from the second page", requests[2])
	}
	if got := inventory.ImageNodes()[0].NodeCount; got != 7 {
		t.Errorf("nginx node count = %d, want 7", got)
	}
}

func TestReadAllDefaultPageSize(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(2, nil)}
	reader := startFakeNodeAPI(t, api, 0)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	if err := reader.ReadAll(context.Background(), "", inventory); err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if requests := api.requestLog(); !strings.Contains(requests[0], "limit=500") {
		t.Errorf("request %q lacks the default limit=500", requests[0])
	}
}

func TestReadAllLabelSelector(t *testing.T) {
	workers := namedNodes(3, map[string]string{"node-role.kubernetes.io/worker": ""})
	control := node("control-0", "cri-o://1.33.4")
	control.Labels = map[string]string{"node-role.kubernetes.io/control-plane": ""}
	api := &fakeNodeAPI{nodes: append(workers, *control)}
	reader := startFakeNodeAPI(t, api, 500)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	err := reader.ReadAll(context.Background(), "node-role.kubernetes.io/worker", inventory)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	want := []string{"worker-00", "worker-01", "worker-02"}
	if got := nodeNames(inventory); !slices.Equal(got, want) {
		t.Errorf("nodes = %q, want %q", got, want)
	}
}

func TestReadAllRestartsOnExpiredContinue(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(7, nil)}
	api.fail = func(request *http.Request, number int) *metav1.Status {
		// The third request is the second page of the first pass.
		if number == 3 {
			return expiredStatus()
		}
		return nil
	}
	reader := startFakeNodeAPI(t, api, 3)
	var restartErrors []error
	reader.OnRestart = func(err error) { restartErrors = append(restartErrors, err) }
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	if err := reader.ReadAll(context.Background(), "", inventory); err != nil {
		t.Fatalf("ReadAll: %v", err)
	}

	if len(restartErrors) != 1 || !apierrors.IsResourceExpired(restartErrors[0]) {
		t.Errorf("OnRestart got %v, want one expired error", restartErrors)
	}
	if got := inventory.NodeCount(); got != 7 {
		t.Errorf("node count = %d, want 7 without duplicates from the first pass", got)
	}
	if got := inventory.ImageNodes()[0].NodeCount; got != 7 {
		t.Errorf("nginx node count = %d, want 7", got)
	}
	requests := api.requestLog()
	if strings.Contains(requests[3], "continue=") {
		t.Errorf("restart request %q still carries a continue token", requests[3])
	}
}

func TestReadAllRestartsOnGone(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(4, nil)}
	api.fail = func(request *http.Request, number int) *metav1.Status {
		if number == 2 {
			status := apierrors.NewGone("too old resource version").Status()
			return &status
		}
		return nil
	}
	reader := startFakeNodeAPI(t, api, 2)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	if err := reader.ReadAll(context.Background(), "", inventory); err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if got := inventory.NodeCount(); got != 4 {
		t.Errorf("node count = %d, want 4", got)
	}
}

func TestReadAllExpiresTwice(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(7, nil)}
	api.fail = func(request *http.Request, number int) *metav1.Status {
		if request.URL.Query().Get("continue") != "" {
			return expiredStatus()
		}
		return nil
	}
	reader := startFakeNodeAPI(t, api, 3)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	err := reader.ReadAll(context.Background(), "", inventory)
	var expired *ExpiredError
	if !errors.As(err, &expired) {
		t.Fatalf("ReadAll error = %v, want an *ExpiredError", err)
	}
	if !apierrors.IsResourceExpired(err) {
		t.Errorf("error %v does not unwrap to the API error", err)
	}
	if !strings.Contains(err.Error(), "page size") {
		t.Errorf("error %q does not suggest a larger page size", err)
	}
	if got := len(api.requestLog()); got != 4 {
		t.Errorf("got %d requests, want 4 (two passes of two pages)", got)
	}
	if got := inventory.NodeCount(); got != 0 {
		t.Errorf("node count = %d, want 0 after a failed read", got)
	}
}

func TestReadAllForbidden(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(1, nil)}
	api.fail = func(*http.Request, int) *metav1.Status {
		status := apierrors.NewForbidden(corev1.Resource("nodes"), "",
			errors.New(`User "reader" cannot list resource "nodes"`)).Status()
		return &status
	}
	reader := startFakeNodeAPI(t, api, 500)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	err := reader.ReadAll(context.Background(), "", inventory)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("ReadAll error = %v, want forbidden", err)
	}
	var request *RequestError
	if !errors.As(err, &request) || request.Verb != "list" {
		t.Errorf("error %v is not a list *RequestError", err)
	}
}

func TestReadNamedGetsEachNode(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(5, nil)}
	reader := startFakeNodeAPI(t, api, 500)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	names := []string{"worker-03", "worker-01", "worker-03"}
	if err := reader.ReadNamed(context.Background(), names, inventory); err != nil {
		t.Fatalf("ReadNamed: %v", err)
	}

	want := []string{"worker-01", "worker-03"}
	if got := nodeNames(inventory); !slices.Equal(got, want) {
		t.Errorf("nodes = %q, want %q", got, want)
	}
	requests := api.requestLog()
	slices.Sort(requests)
	wantRequests := []string{"/api/v1/nodes/worker-01", "/api/v1/nodes/worker-03"}
	if !slices.Equal(requests, wantRequests) {
		t.Errorf("requests = %q, want one GET per distinct name %q", requests, wantRequests)
	}
}

func TestReadNamedNotFound(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(2, nil)}
	reader := startFakeNodeAPI(t, api, 500)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	names := []string{"worker-00", "ghost-b", "ghost-a"}
	err := reader.ReadNamed(context.Background(), names, inventory)
	var notFound *NotFoundError
	if !errors.As(err, &notFound) {
		t.Fatalf("ReadNamed error = %v, want a *NotFoundError", err)
	}
	if want := []string{"ghost-a", "ghost-b"}; !slices.Equal(notFound.Names, want) {
		t.Errorf("missing names = %q, want %q", notFound.Names, want)
	}
	if got := inventory.NodeCount(); got != 0 {
		t.Errorf("node count = %d, want 0 after a failed read", got)
	}
}

func TestReadNamedForbidden(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(3, nil)}
	api.fail = func(request *http.Request, _ int) *metav1.Status {
		if strings.HasSuffix(request.URL.Path, "/worker-01") {
			status := apierrors.NewForbidden(corev1.Resource("nodes"), "worker-01",
				errors.New(`User "reader" cannot get resource "nodes"`)).Status()
			return &status
		}
		return nil
	}
	reader := startFakeNodeAPI(t, api, 500)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	names := []string{"worker-00", "worker-01", "worker-02", "ghost"}
	err := reader.ReadNamed(context.Background(), names, inventory)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("ReadNamed error = %v, want forbidden rather than not found", err)
	}
	var request *RequestError
	if !errors.As(err, &request) || request.Verb != "get" || request.Name != "worker-01" {
		t.Errorf("error %v is not a get *RequestError for worker-01", err)
	}
}

func TestReadNamedManyNamesLists(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(maxNodeGets+20, nil)}
	reader := startFakeNodeAPI(t, api, 50)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	var names []string
	for i := 0; i <= maxNodeGets; i++ {
		names = append(names, fmt.Sprintf("worker-%02d", i))
	}
	if err := reader.ReadNamed(context.Background(), names, inventory); err != nil {
		t.Fatalf("ReadNamed: %v", err)
	}

	if got := inventory.NodeCount(); got != len(names) {
		t.Errorf("node count = %d, want %d", got, len(names))
	}
	if got := len(api.requestLog()); got != 3 {
		t.Errorf("got %d requests, want 3 list pages instead of one GET per name", got)
	}

	inventory.Reset()
	names = append(names, "ghost")
	err := reader.ReadNamed(context.Background(), names, inventory)
	var notFound *NotFoundError
	if !errors.As(err, &notFound) || !slices.Equal(notFound.Names, []string{"ghost"}) {
		t.Errorf("ReadNamed error = %v, want ghost not found", err)
	}
}

func TestReadNamedWrongPathPrefix(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(2, nil)}
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)
	// The fake serves /api/v1/nodes only, so every request under /k8s gets the plain text
	// "404 page not found" that kube-apiserver sends for a path it does not serve.
	client, err := NewNodeClient(&rest.Config{Host: server.URL + "/k8s"})
	if err != nil {
		t.Fatalf("NewNodeClient: %v", err)
	}
	reader := &Reader{Nodes: client}
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	err = reader.ReadNamed(context.Background(), []string{"worker-00", "worker-01"}, inventory)
	var notFound *NotFoundError
	if errors.As(err, &notFound) {
		t.Fatalf("ReadNamed error = %v, a *NotFoundError although the nodes exist", err)
	}
	var request *RequestError
	if !errors.As(err, &request) || request.Verb != "get" {
		t.Errorf("error %v is not a get *RequestError", err)
	}
	if !apierrors.IsNotFound(err) {
		t.Errorf("error %v does not unwrap to the 404", err)
	}
}

func TestReadNamedStatusWithoutDetails(t *testing.T) {
	api := &fakeNodeAPI{nodes: namedNodes(2, nil)}
	api.fail = func(*http.Request, int) *metav1.Status {
		return &metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusNotFound,
			Reason:  metav1.StatusReasonNotFound,
			Message: "the server could not find the requested resource",
		}
	}
	reader := startFakeNodeAPI(t, api, 500)
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})

	err := reader.ReadNamed(context.Background(), []string{"worker-00"}, inventory)
	var notFound *NotFoundError
	if errors.As(err, &notFound) {
		t.Errorf("ReadNamed error = %v, a *NotFoundError for a 404 that names no node", err)
	}
}
